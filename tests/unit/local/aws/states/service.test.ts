import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, SfnError, until, type Harness, type HistoryEventOut } from './support.js';

interface Described {
  executionArn: string;
  status: string;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  startDate: number;
  stopDate?: number;
}

let h: Harness;

beforeAll(async () => {
  // 600×: the 300 s Wait takes half a second, a 60 s retry interval 100 ms.
  h = await startHarness({ timeScale: 600 });
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

const describeExecution = (executionArn: string) => h.sfn<Described>('DescribeExecution', { executionArn });
const history = async (executionArn: string, extra: Record<string, unknown> = {}) =>
  (await h.sfn<{ events: HistoryEventOut[]; nextToken?: string }>('GetExecutionHistory', { executionArn, ...extra })).events;
async function finished(executionArn: string): Promise<Described> {
  await until(async () => (await describeExecution(executionArn)).status !== 'RUNNING');
  return describeExecution(executionArn);
}
async function start(stateMachineArn: string, input: unknown, name?: string): Promise<string> {
  const started = await h.sfn<{ executionArn: string }>('StartExecution', {
    stateMachineArn,
    input: JSON.stringify(input),
    ...(name ? { name } : {}),
  });
  return started.executionArn;
}
async function expectError(call: Promise<unknown>, type: string): Promise<SfnError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SfnError);
  expect((error as SfnError).type).toBe(type);
  return error as SfnError;
}

describe('local Step Functions: a synthesized CDK state machine', () => {
  it('runs Pass → LambdaInvoke → Wait 300 s (on the clock) → Choice → Succeed, with AWS history events in order', async () => {
    const started = Date.now();
    const arn = await start(h.machines.main, { value: 21 });
    expect(arn).toMatch(/^arn:aws:states:us-east-1:000000000000:execution:StatesFixture-Main[A-Z0-9]+:[0-9a-f-]{36}$/);
    const done = await finished(arn);
    const realMs = Date.now() - started;
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output!)).toMatchObject({ value: 42 });
    expect(JSON.parse(done.input)).toEqual({ value: 21 });
    expect(done.stopDate! - done.startDate).toBeGreaterThanOrEqual(299);
    // Half a second of real time for 300 s of Wait; far less than 300 s.
    expect(realMs).toBeGreaterThanOrEqual(450);
    expect(realMs).toBeLessThan(10_000);

    const events = await history(arn);
    expect(events.map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'PassStateEntered',
      'PassStateExited',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSucceeded',
      'TaskStateExited',
      'WaitStateEntered',
      'WaitStateExited',
      'ChoiceStateEntered',
      'ChoiceStateExited',
      'SucceedStateEntered',
      'SucceedStateExited',
      'ExecutionSucceeded',
    ]);
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
    const scheduled = events.find((e) => e.type === 'TaskScheduled')!.taskScheduledEventDetails as Record<string, string>;
    expect(scheduled).toMatchObject({ resourceType: 'lambda', resource: 'invoke', region: 'us-east-1' });
    expect(JSON.parse(scheduled.parameters!)).toMatchObject({
      FunctionName: expect.stringMatching(/:function:StatesFixture-Worker/),
      Payload: { value: 21 },
    });
    const succeeded = events.find((e) => e.type === 'TaskSucceeded')!.taskSucceededEventDetails as Record<string, string>;
    expect(JSON.parse(succeeded.output!)).toMatchObject({ StatusCode: 200, ExecutedVersion: '$LATEST', Payload: { value: 42 } });
    const entered = events.find((e) => e.type === 'WaitStateEntered')!;
    const exited = events.find((e) => e.type === 'WaitStateExited')!;
    expect(exited.timestamp - entered.timestamp).toBeGreaterThanOrEqual(299);
    expect(exited.timestamp - entered.timestamp).toBeLessThan(600); // up to half a second of real lag on a busy machine
    expect(events.find((e) => e.type === 'SucceedStateEntered')!.stateEnteredEventDetails).toMatchObject({ name: 'Big' });

    // reverseOrder and paging
    const reversed = await history(arn, { reverseOrder: true });
    expect(reversed.map((e) => e.id)).toEqual(events.map((e) => e.id).reverse());
    const first = await h.sfn<{ events: HistoryEventOut[]; nextToken?: string }>('GetExecutionHistory', {
      executionArn: arn,
      maxResults: 4,
    });
    expect(first.events.map((e) => e.id)).toEqual([1, 2, 3, 4]);
    const second = await h.sfn<{ events: HistoryEventOut[]; nextToken?: string }>('GetExecutionHistory', {
      executionArn: arn,
      maxResults: 4,
      nextToken: first.nextToken,
    });
    expect(second.events.map((e) => e.id)).toEqual([5, 6, 7, 8]);
    const noData = await history(arn, { includeExecutionData: false });
    expect(noData[0]!.executionStartedEventDetails).not.toHaveProperty('input');
  }, 30_000);

  it('retries a failing task with back-off on the clock, then catches', async () => {
    const arn = await start(h.machines.retry, { attempt: 'x' });
    const done = await finished(arn);
    expect(done.status).toBe('SUCCEEDED');
    const output = JSON.parse(done.output!) as { error: { Error: string; Cause: string } };
    expect(output.error.Error).toBe('DeployError');
    expect(JSON.parse(output.error.Cause)).toMatchObject({ errorType: 'DeployError', errorMessage: 'failing on purpose (DeployError)' });

    const events = await history(arn);
    const failed = events.filter((e) => e.type === 'TaskFailed');
    expect(failed).toHaveLength(3);
    expect(failed[0]!.taskFailedEventDetails).toMatchObject({ resourceType: 'lambda', resource: 'invoke', error: 'DeployError' });
    const scheduled = events.filter((e) => e.type === 'TaskScheduled').map((e) => e.timestamp);
    const failedAt = failed.map((e) => e.timestamp);
    // 60 s, then 120 s of simulated time from a failure to the next attempt (100 ms and 200 ms of real time;
    // the function's own run is real time too, ×600 on this clock, so it is left out of the measure).
    expect(scheduled[1]! - failedAt[0]!).toBeGreaterThanOrEqual(59);
    expect(scheduled[1]! - failedAt[0]!).toBeLessThan(360); // up to 0.5 s of real lag allowed; the lower bounds show the back-off
    expect(scheduled[2]! - failedAt[1]!).toBeGreaterThanOrEqual(119);
    expect(scheduled[2]! - failedAt[1]!).toBeLessThan(420);
    expect(events.map((e) => e.type).slice(-3)).toEqual(['PassStateEntered', 'PassStateExited', 'ExecutionSucceeded']);
  }, 30_000);

  it('recovers from injected Lambda faults through the CDK default retry (chaos lambda:Invoke)', async () => {
    h.endpoint.chaos.set([{ service: 'lambda', operation: 'Invoke', probability: 1, error: 'ServiceException', times: 2 }]);
    try {
      const arn = await start(h.machines.main, { value: 1 });
      const done = await finished(arn);
      expect(done.status).toBe('SUCCEEDED');
      expect(JSON.parse(done.output!)).toMatchObject({ value: 2 });
      const failed = (await history(arn)).filter((e) => e.type === 'TaskFailed');
      expect(failed.map((e) => (e.taskFailedEventDetails as { error: string }).error)).toEqual([
        'Lambda.ServiceException',
        'Lambda.ServiceException',
      ]);
      expect(h.endpoint.chaos.status().rules[0]).toMatchObject({ faults: 2 });
    } finally {
      h.endpoint.chaos.clear();
    }
  }, 30_000);

  it('waits for a task token: SendTaskSuccess resumes, SendTaskFailure fails, a closed token is TaskTimedOut', async () => {
    const tokenOf = async (arn: string) => {
      let token: string | undefined;
      await until(async () => {
        const scheduled = (await history(arn)).find((e) => e.type === 'TaskScheduled');
        if (!scheduled) return false;
        token = (JSON.parse((scheduled.taskScheduledEventDetails as { parameters: string }).parameters) as { Payload: { token: string } })
          .Payload.token;
        return true;
      });
      return token!;
    };

    const approved = await start(h.machines.callback, { value: 5 });
    const token = await tokenOf(approved);
    expect(token).toMatch(/^AQ/);
    await until(async () => (await history(approved)).some((e) => e.type === 'TaskSubmitted'));
    expect((await describeExecution(approved)).status).toBe('RUNNING');
    await h.sfn('SendTaskHeartbeat', { taskToken: token });
    await h.sfn('SendTaskSuccess', { taskToken: token, output: JSON.stringify({ approvedBy: 'ops' }) });
    const done = await finished(approved);
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output!)).toEqual({ approvedBy: 'ops' });
    const types = (await history(approved)).map((e) => e.type);
    expect(types).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSubmitted',
      'TaskSucceeded',
      'TaskStateExited',
      'SucceedStateEntered',
      'SucceedStateExited',
      'ExecutionSucceeded',
    ]);
    await expectError(h.sfn('SendTaskSuccess', { taskToken: token, output: '{}' }), 'TaskTimedOut');
    await expectError(h.sfn('SendTaskSuccess', { taskToken: 'not-a-token', output: '{}' }), 'InvalidToken');

    const rejected = await start(h.machines.callback, { value: 6 });
    const rejectToken = await tokenOf(rejected);
    await expectError(h.sfn('SendTaskSuccess', { taskToken: rejectToken, output: 'not json' }), 'InvalidOutput');
    await h.sfn('SendTaskFailure', { taskToken: rejectToken, error: 'Rejected', cause: 'not today' });
    const failed = await finished(rejected);
    expect(failed).toMatchObject({ status: 'FAILED', error: 'Rejected', cause: 'not today' });
    expect((await history(rejected)).find((e) => e.type === 'TaskFailed')!.taskFailedEventDetails).toMatchObject({
      error: 'Rejected',
      cause: 'not today',
    });
  }, 30_000);

  it('times a waiting task out after its TimeoutSeconds on the clock (States.Timeout)', async () => {
    const arn = await start(h.machines.callback, { value: 7 });
    const done = await finished(arn); // 600 s at 600× ≈ 1 s
    expect(done).toMatchObject({ status: 'FAILED', error: 'States.Timeout' });
    const timedOut = (await history(arn)).find((e) => e.type === 'TaskTimedOut');
    expect(timedOut?.taskTimedOutEventDetails).toMatchObject({ error: 'States.Timeout' });
    expect(done.stopDate! - done.startDate).toBeGreaterThanOrEqual(599);
  }, 30_000);

  it('StopExecution aborts a running execution', async () => {
    const arn = await start(h.machines.main, { value: 3 });
    await until(async () => (await history(arn)).some((e) => e.type === 'WaitStateEntered'));
    const stopped = await h.sfn<{ stopDate: number }>('StopExecution', { executionArn: arn, error: 'Operator', cause: 'manual stop' });
    expect(typeof stopped.stopDate).toBe('number');
    const done = await describeExecution(arn);
    expect(done).toMatchObject({ status: 'ABORTED', error: 'Operator', cause: 'manual stop' });
    await new Promise((resolve) => setTimeout(resolve, 700)); // past the Wait: nothing more happens
    const events = await history(arn);
    expect(events.at(-1)).toMatchObject({
      type: 'ExecutionAborted',
      executionAbortedEventDetails: { error: 'Operator', cause: 'manual stop' },
    });
    expect(events.map((e) => e.type)).not.toContain('WaitStateExited');
  }, 30_000);

  it('StartExecution is idempotent on name and input, as on AWS', async () => {
    const first = await h.sfn<{ executionArn: string; startDate: number }>('StartExecution', {
      stateMachineArn: h.machines.callback,
      name: 'deploy-42',
      input: '{"value":1}',
    });
    const again = await h.sfn<{ executionArn: string; startDate: number }>('StartExecution', {
      stateMachineArn: h.machines.callback,
      name: 'deploy-42',
      input: '{"value":1}',
    });
    expect(again).toEqual(first);
    expect(first.executionArn).toMatch(/:execution:StatesFixture-Callback[A-Z0-9]+:deploy-42$/);
    await expectError(
      h.sfn('StartExecution', { stateMachineArn: h.machines.callback, name: 'deploy-42', input: '{"value":2}' }),
      'ExecutionAlreadyExists',
    );
    await h.sfn('StopExecution', { executionArn: first.executionArn });
    await expectError(
      h.sfn('StartExecution', { stateMachineArn: h.machines.callback, name: 'deploy-42', input: '{"value":1}' }),
      'ExecutionAlreadyExists',
    );
  });

  it('answers errors in AWS shape', async () => {
    await expectError(h.sfn('StartExecution', { stateMachineArn: h.machines.main, input: '{' }), 'InvalidExecutionInput');
    await expectError(h.sfn('StartExecution', { stateMachineArn: `${h.machines.main}Nope` }), 'StateMachineDoesNotExist');
    await expectError(h.sfn('DescribeExecution', { executionArn: 'arn:nope' }), 'InvalidArn');
    await expectError(
      h.sfn('DescribeExecution', { executionArn: h.machines.main.replace(':stateMachine:', ':execution:') + ':missing' }),
      'ExecutionDoesNotExist',
    );
    const bad = await expectError(h.sfn('StartExecution', { stateMachineArn: h.machines.main, name: 'has space' }), 'InvalidName');
    expect(bad.status).toBe(400);
  });

  it('lists state machines and executions (statusFilter), describes a state machine', async () => {
    const machines = await h.sfn<{ stateMachines: Array<{ stateMachineArn: string; type: string }> }>('ListStateMachines', {});
    expect(machines.stateMachines.map((m) => m.stateMachineArn).sort()).toEqual(Object.values(h.machines).sort());
    const described = await h.sfn<{ definition: string; status: string; type: string; name: string }>('DescribeStateMachine', {
      stateMachineArn: h.machines.main,
    });
    expect(described).toMatchObject({ status: 'ACTIVE', type: 'STANDARD' });
    expect(JSON.parse(described.definition)).toMatchObject({ StartAt: 'Prepare' });
    const all = await h.sfn<{ executions: Array<{ status: string; startDate: number }> }>('ListExecutions', {
      stateMachineArn: h.machines.main,
    });
    expect(all.executions.length).toBeGreaterThanOrEqual(3);
    const aborted = await h.sfn<{ executions: Array<{ status: string }> }>('ListExecutions', {
      stateMachineArn: h.machines.main,
      statusFilter: 'ABORTED',
    });
    expect(aborted.executions.length).toBeGreaterThanOrEqual(1);
    expect(aborted.executions.every((e) => e.status === 'ABORTED')).toBe(true);
    const starts = all.executions.map((e) => e.startDate);
    expect(starts).toEqual([...starts].sort((a, b) => b - a));
  });

  it('is a dispatcher target: an EventBridge rule starts an execution with the event as input', async () => {
    h.events.handle('PutRule', { Name: 'to-main', EventPattern: JSON.stringify({ source: ['switchyard.test'] }) });
    h.events.handle('PutTargets', { Rule: 'to-main', Targets: [{ Id: 'main', Arn: h.machines.main, InputPath: '$.detail' }] });
    const before = (await h.sfn<{ executions: unknown[] }>('ListExecutions', { stateMachineArn: h.machines.main })).executions.length;
    h.events.handle('PutEvents', { Entries: [{ Source: 'switchyard.test', DetailType: 'go', Detail: JSON.stringify({ value: 50 }) }] });
    let newest: { executionArn: string } | undefined;
    await until(async () => {
      const list = await h.sfn<{ executions: Array<{ executionArn: string }> }>('ListExecutions', { stateMachineArn: h.machines.main });
      newest = list.executions[0];
      return list.executions.length > before;
    });
    const done = await finished(newest!.executionArn);
    expect(JSON.parse(done.input)).toEqual({ value: 50 });
    expect(done.status).toBe('SUCCEEDED');
    await expect(h.dispatcher.deliver(`${h.machines.main}Missing`, {})).rejects.toMatchObject({ code: 'ResourceNotFoundException' });
  }, 30_000);
});

describe('the AWS SDK against the endpoint', () => {
  it('starts, lists and describes executions with @aws-sdk/client-sfn, as the functions and the AWS CLI do', async () => {
    const { SFNClient, StartExecutionCommand, DescribeExecutionCommand, ListExecutionsCommand } = await import('@aws-sdk/client-sfn');
    const client = new SFNClient({
      endpoint: h.endpoint.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const { executionArn } = await client.send(
      new StartExecutionCommand({ stateMachineArn: h.machines.main, input: JSON.stringify({ value: 21 }) }),
    );
    await until(async () => (await client.send(new DescribeExecutionCommand({ executionArn }))).status !== 'RUNNING');
    const described = await client.send(new DescribeExecutionCommand({ executionArn }));
    expect(described.status).toBe('SUCCEEDED');
    expect(described.startDate).toBeInstanceOf(Date);
    const listed = await client.send(new ListExecutionsCommand({ stateMachineArn: h.machines.main, statusFilter: 'SUCCEEDED' }));
    expect(listed.executions?.map((e) => e.executionArn)).toContain(executionArn);
    client.destroy();
  });
});
