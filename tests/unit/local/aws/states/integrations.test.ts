import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, until, type Harness, type HistoryEventOut } from './support.js';

let h: Harness;
let workerArn: string;
const sent: Array<{ arn: string; payload: unknown; options: unknown }> = [];

beforeAll(async () => {
  h = await startHarness({ timeScale: 600 });
  workerArn = h.lambda.definitions().map((def) => h.lambda.functionArn(def.functionName))[0]!;
  h.dispatcher.register('sqs', async (arn, payload, options) => {
    sent.push({ arn, payload, options });
    return { payload: { MessageId: 'm-1', MD5OfMessageBody: 'x' } };
  });
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

let machines = 0;
async function machine(definition: object): Promise<string> {
  const created = await h.sfn<{ stateMachineArn: string }>('CreateStateMachine', {
    name: `m${++machines}`,
    definition: JSON.stringify(definition),
    roleArn: 'arn:aws:iam::000000000000:role/sfn',
  });
  return created.stateMachineArn;
}

async function run(stateMachineArn: string, input: unknown) {
  const { executionArn } = await h.sfn<{ executionArn: string }>('StartExecution', { stateMachineArn, input: JSON.stringify(input) });
  await until(async () => (await h.sfn<{ status: string }>('DescribeExecution', { executionArn })).status !== 'RUNNING');
  const described = await h.sfn<{ status: string; output?: string; error?: string; cause?: string }>('DescribeExecution', { executionArn });
  const { events } = await h.sfn<{ events: HistoryEventOut[] }>('GetExecutionHistory', { executionArn });
  return { ...described, events, types: events.map((e) => e.type) };
}

describe('local Step Functions: integrations and states', () => {
  it('a direct Lambda ARN records LambdaFunction* events and answers the function result', async () => {
    const arn = await machine({ StartAt: 'Call', States: { Call: { Type: 'Task', Resource: workerArn, End: true } } });
    const done = await run(arn, { value: 4 });
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output!)).toMatchObject({ value: 8 });
    expect(done.types).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionSucceeded',
      'TaskStateExited',
      'ExecutionSucceeded',
    ]);
    const failed = await run(arn, { fail: 'BadInput' });
    expect(failed).toMatchObject({ status: 'FAILED', error: 'BadInput' });
    expect(failed.types).toContain('LambdaFunctionFailed');
  });

  it('Map and Parallel run, with Map iteration events', async () => {
    const arn = await machine({
      StartAt: 'Each',
      States: {
        Each: {
          Type: 'Map',
          ItemsPath: '$.items',
          ItemProcessor: { StartAt: 'Double', States: { Double: { Type: 'Task', Resource: workerArn, End: true } } },
          ResultSelector: { 'values.$': '$[*].value' },
          Next: 'Both',
        },
        Both: {
          Type: 'Parallel',
          Branches: [
            { StartAt: 'A', States: { A: { Type: 'Pass', Result: 'a', End: true } } },
            { StartAt: 'B', States: { B: { Type: 'Pass', Result: 'b', End: true } } },
          ],
          ResultPath: '$.branches',
          End: true,
        },
      },
    });
    const done = await run(arn, { items: [{ value: 1 }, { value: 2 }] });
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output!)).toEqual({ values: [2, 4], branches: ['a', 'b'] });
    expect(done.types.filter((t) => t === 'MapIterationStarted')).toHaveLength(2);
    expect(done.types.filter((t) => t === 'MapIterationSucceeded')).toHaveLength(2);
    expect(done.types).toContain('MapStateSucceeded');
    expect(done.types).toContain('ParallelStateStarted');
    expect(done.types).toContain('ParallelStateSucceeded');
  });

  it('Wait SecondsPath and TimestampPath, and the machine TimeoutSeconds, on the clock', async () => {
    const waits = await machine({
      StartAt: 'ForSeconds',
      States: {
        ForSeconds: { Type: 'Wait', SecondsPath: '$.seconds', Next: 'Until' },
        Until: { Type: 'Wait', TimestampPath: '$.until', End: true },
      },
    });
    const untilAt = new Date(h.clock.now() + 240_000).toISOString();
    const started = Date.now();
    const done = await run(waits, { seconds: 120, until: untilAt });
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output!)).toEqual({ seconds: 120, until: untilAt });
    expect(Date.now() - started).toBeGreaterThanOrEqual(350); // 240 s at 600×
    const entered = done.events.find((e) => e.type === 'WaitStateEntered')!;
    const exited = done.events.filter((e) => e.type === 'WaitStateExited')[1]!;
    expect(exited.timestamp - entered.timestamp).toBeGreaterThanOrEqual(230); // 240 s after the input was made

    const slow = await machine({ StartAt: 'Long', TimeoutSeconds: 60, States: { Long: { Type: 'Wait', Seconds: 3600, End: true } } });
    const timedOut = await run(slow, {});
    expect(timedOut).toMatchObject({ status: 'TIMED_OUT', error: 'States.Timeout' });
    expect(timedOut.types.at(-1)).toBe('ExecutionTimedOut');
  });

  it('events:putEvents puts on the local bus; sqs:sendMessage goes through the dispatcher', async () => {
    h.events.handle('CreateEventBus', { Name: 'rollouts' });
    const arn = await machine({
      StartAt: 'Announce',
      States: {
        Announce: {
          Type: 'Task',
          Resource: 'arn:aws:states:::events:putEvents',
          Parameters: { Entries: [{ EventBusName: 'rollouts', Source: 'switchyard.rollout', DetailType: 'stage', 'Detail.$': '$' }] },
          ResultPath: '$.put',
          Next: 'Queue',
        },
        Queue: {
          Type: 'Task',
          Resource: 'arn:aws:states:::sqs:sendMessage',
          Parameters: { QueueUrl: 'http://127.0.0.1:4599/000000000000/decisions', 'MessageBody.$': '$', MessageGroupId: 'g' },
          ResultSelector: { 'id.$': '$.MessageId' },
          ResultPath: '$.sent',
          End: true,
        },
      },
    });
    const done = await run(arn, { stage: 1 });
    expect(done.status).toBe('SUCCEEDED');
    const output = JSON.parse(done.output!) as {
      put: { FailedEntryCount: number; Entries: Array<{ EventId: string }> };
      sent: { id: string };
    };
    expect(output.put.FailedEntryCount).toBe(0);
    expect(output.put.Entries[0]!.EventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(output.sent).toEqual({ id: 'm-1' });
    expect(sent.at(-1)).toMatchObject({ arn: 'arn:aws:sqs:us-east-1:000000000000:decisions', options: { sqs: { messageGroupId: 'g' } } });
    expect(JSON.parse(sent.at(-1)!.payload as string)).toMatchObject({ stage: 1, put: { FailedEntryCount: 0 } });
    const scheduled = done.events.filter((e) => e.type === 'TaskScheduled').map((e) => e.taskScheduledEventDetails);
    expect(scheduled).toMatchObject([
      { resourceType: 'events', resource: 'putEvents' },
      { resourceType: 'sqs', resource: 'sendMessage' },
    ]);
  });

  it('HeartbeatSeconds on the clock: no heartbeat is States.HeartbeatTimeout; States.TaskFailed does not catch States.Timeout', async () => {
    const waiting = (extra: object) => ({
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: { FunctionName: workerArn, Payload: { 'token.$': '$$.Task.Token' } },
      ...extra,
    });
    const heartbeat = await machine({ StartAt: 'Wait', States: { Wait: waiting({ HeartbeatSeconds: 60, End: true }) } });
    const beat = await run(heartbeat, {});
    expect(beat).toMatchObject({ status: 'FAILED', error: 'States.HeartbeatTimeout' });
    expect(beat.events.find((e) => e.type === 'TaskTimedOut')?.taskTimedOutEventDetails).toMatchObject({
      error: 'States.HeartbeatTimeout',
    });

    const timeout = await machine({
      StartAt: 'Wait',
      States: {
        Wait: waiting({
          TimeoutSeconds: 60,
          Catch: [
            { ErrorEquals: ['States.TaskFailed'], Next: 'Wrong' },
            { ErrorEquals: ['States.Timeout'], Next: 'Right' },
          ],
          End: true,
        }),
        Wrong: { Type: 'Fail', Error: 'Wrong' },
        Right: { Type: 'Succeed' },
      },
    });
    const timedOut = await run(timeout, {});
    expect(timedOut.status).toBe('SUCCEEDED');
    expect(timedOut.types).toContain('TaskTimedOut');
  });

  it('states:startExecution.sync:2 runs a child execution and answers its output', async () => {
    const child = await machine({ StartAt: 'Double', States: { Double: { Type: 'Task', Resource: workerArn, End: true } } });
    const parent = await machine({
      StartAt: 'Child',
      States: {
        Child: {
          Type: 'Task',
          Resource: 'arn:aws:states:::states:startExecution.sync:2',
          Parameters: { StateMachineArn: child, 'Input.$': '$' },
          OutputPath: '$.Output',
          End: true,
        },
      },
    });
    const done = await run(parent, { value: 10 });
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output!)).toMatchObject({ value: 20 });
  });

  it('an unsupported integration fails its task (and is warned about when the machine is created)', async () => {
    const arn = await machine({
      StartAt: 'Put',
      States: { Put: { Type: 'Task', Resource: 'arn:aws:states:::dynamodb:putItem', End: true } },
    });
    expect(h.states.warningsFor(arn)[0]).toMatch(/dynamodb:putItem integration is not run locally/);
    const done = await run(arn, {});
    expect(done.status).toBe('FAILED');
    expect(done.cause).toMatch(/dynamodb:putItem/);
  });

  it('refuses JSONata with InvalidDefinition', async () => {
    await expect(
      h.sfn('CreateStateMachine', {
        name: 'jsonata',
        definition: JSON.stringify({ QueryLanguage: 'JSONata', StartAt: 'P', States: { P: { Type: 'Pass', End: true } } }),
        roleArn: 'arn:aws:iam::000000000000:role/sfn',
      }),
    ).rejects.toMatchObject({ type: 'InvalidDefinition', message: expect.stringMatching(/JSONata .* JSONPath/) });
  });
});
