import { ArnFormat, Duration, Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  Choice,
  Condition,
  DefinitionBody,
  Fail,
  IntegrationPattern,
  JsonPath,
  LogLevel,
  Map as MapState,
  StateMachine,
  Succeed,
  TaskInput,
  Timeout,
  Wait,
  WaitTime,
  type IChainable,
  type INextable,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { SwitchyardFunction } from './function.js';
import { grantTableAccess, TABLE_ACCESS } from './grants.js';

export interface RolloutsProps {
  table: Table;
  serviceVersion: string;
  /** The longest the rollout sleeps before looking at the record again (promote, pause, resume take effect within it); default 5 s. */
  pollSeconds?: number;
  /** How often the reconciler looks for deployments whose execution is gone; default every minute. */
  reconcileMinutes?: number;
}

/** `-c switchyard:rolloutPollSeconds=5`: a whole number of seconds, 1–60, checked at synth. */
export function pollSecondsFromContext(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 60)
    throw new Error(`switchyard:rolloutPollSeconds must be a whole number of seconds from 1 to 60, not ${String(value)}`);
  return n;
}

/** The task errors a stage goes back to its gate on: the record moved (an operator acted) between two tasks. */
const STATE_CHANGED = 'Deployment.StateChanged';
/** Someone else drives the deployment now (an operator's rollback), or it is over: the rollout stops quietly. */
const SUPERSEDED = 'Deployment.Superseded';
/** A stage failed its evaluation: the rollout starts the rollback. */
const ROLLBACK_NEEDED = 'Deployment.RollbackNeeded';

/**
 * Rollouts on Step Functions (DESIGN.md §6). The `rollout` machine runs the
 * plan the deployment record holds, a Map over its stages one at a time:
 * gate (approval by task token, or hold while paused) → apply → bake (Wait)
 * → evaluate; a failed stage (or a failed execution) goes to the `rollback`
 * machine, which restores every touched edge. Every task is the
 * `rollout-tasks` function (shared/domain/rollout-service.ts): it reads the
 * record, acts, and answers `next` for the Choice that follows, so a
 * restarted execution picks up from the recorded stage. The reconciler
 * restarts the execution of any active deployment whose execution is gone.
 *
 * The machines have fixed names (`<stack>-rollout`, `<stack>-rollback`) so
 * the functions can name them and their executions without a reference to
 * the machine resources, which reference the functions (a cycle otherwise).
 */
export class Rollouts extends Construct {
  readonly tasks: SwitchyardFunction;
  readonly reconciler: SwitchyardFunction;
  readonly rollout: StateMachine;
  readonly rollback: StateMachine;
  /** What every function that starts or steers executions needs in its environment. */
  readonly workflowEnvironment: Record<string, string>;
  private readonly rolloutName: string;
  private readonly rollbackName: string;

  constructor(scope: Construct, id: string, props: RolloutsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.rolloutName = `${stack.stackName}-rollout`;
    this.rollbackName = `${stack.stackName}-rollback`;
    const machineArn = (name: string) =>
      stack.formatArn({ service: 'states', resource: 'stateMachine', resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    this.workflowEnvironment = {
      ROLLOUT_STATE_MACHINE_ARN: machineArn(this.rolloutName),
      ROLLBACK_STATE_MACHINE_ARN: machineArn(this.rollbackName),
    };
    const environment = {
      TABLE_NAME: props.table.tableName,
      ROLLOUT_POLL_SECONDS: String(props.pollSeconds ?? 5),
      ...this.workflowEnvironment,
    };

    this.tasks = new SwitchyardFunction(this, 'TasksFunction', {
      name: 'rollout-tasks',
      description: 'The tasks of the rollout and rollback state machines: gate, apply, watch, evaluate, restore',
      serviceVersion: props.serviceVersion,
      timeout: Duration.seconds(30),
      environment,
    });
    grantTableAccess(props.table, this.tasks, TABLE_ACCESS['rollout-tasks']);
    this.grantWorkflows(this.tasks);

    this.rollback = this.rollbackMachine();
    this.rollout = this.rolloutMachine(props.pollSeconds ?? 5);

    this.reconciler = new SwitchyardFunction(this, 'ReconcilerFunction', {
      name: 'deployment-reconciler',
      description: 'Restarts the execution of any active deployment whose execution is gone',
      serviceVersion: props.serviceVersion,
      timeout: Duration.seconds(60),
      environment,
    });
    grantTableAccess(props.table, this.reconciler, TABLE_ACCESS['deployment-reconciler']);
    this.grantWorkflows(this.reconciler);
    new Rule(this, 'ReconcileSchedule', {
      description: 'Runs the deployment reconciler',
      schedule: Schedule.rate(Duration.minutes(props.reconcileMinutes ?? 1)),
      targets: [new LambdaFunction(this.reconciler, { retryAttempts: 2 })],
    });

    // Stack-wide: the deployments API function (outside this construct) has the same grant.
    const acknowledge = (id: string, reason: string) => Validations.of(stack).acknowledge({ id: `AwsSolutions::${id}`, reason });
    for (const name of [this.rolloutName, this.rollbackName]) {
      acknowledge(
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${name}:*]`,
        `DescribeExecution on the executions of ${name} only: they are named per deployment (<id>-<attempt>), so they cannot be listed in advance.`,
      );
    }
    acknowledge(
      `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(this.tasks.node.defaultChild as CfnElement)}.Arn>:*]`,
      'Generated by the CDK LambdaInvoke task: the machines may invoke the rollout-tasks function and its versions, nothing else.',
    );
  }

  /** Start, describe and answer the tokens of both machines' executions (by name: see the class comment). */
  grantWorkflows(grantee: IGrantable): void {
    const stack = Stack.of(this);
    const arn = (resource: string, name: string) =>
      stack.formatArn({ service: 'states', resource, resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['states:StartExecution'],
        resources: [arn('stateMachine', this.rolloutName), arn('stateMachine', this.rollbackName)],
      }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['states:DescribeExecution'],
        resources: [arn('execution', `${this.rolloutName}:*`), arn('execution', `${this.rollbackName}:*`)],
      }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'],
        resources: [arn('stateMachine', this.rolloutName)],
      }),
    );
  }

  /** A task of the `rollout-tasks` function: `{action, …fields}` in, its answer out (payloadResponseOnly: the answer is the state's output). */
  private task(id: string, action: string, fields: Record<string, unknown>, extra: { resultPath?: string } = {}): LambdaInvoke {
    const task = new LambdaInvoke(this, id, {
      lambdaFunction: this.tasks,
      payloadResponseOnly: true,
      payload: TaskInput.fromObject({ action, ...fields }),
      taskTimeout: Timeout.duration(Duration.seconds(60)),
      ...(extra.resultPath ? { resultPath: extra.resultPath } : {}),
    });
    // CDK retries Lambda's service errors already; a throttle or a hung invocation is retried too. A task's own error (StateChanged…) is not.
    task.addRetry({
      errors: ['Lambda.TooManyRequestsException', 'States.Timeout'],
      interval: Duration.seconds(2),
      maxAttempts: 6,
      backoffRate: 2,
    });
    return task;
  }

  private rolloutMachine(pollSeconds: number): StateMachine {
    const ref = { 'deploymentId.$': '$.deploymentId', 'stage.$': '$.stage' };
    const stageDone = new Succeed(this, 'StageDone');
    const superseded = new Fail(this, 'Superseded', {
      error: SUPERSEDED,
      cause: 'The deployment is rolled back by an operator, or is over',
    });
    const rollbackNeeded = new Fail(this, 'RollbackNeeded', { error: ROLLBACK_NEEDED, cause: 'A stage failed its evaluation' });
    const settle = new Wait(this, 'Settle', {
      comment: 'The record moved under a task: look again',
      time: WaitTime.duration(Duration.seconds(1)),
    });

    const gate = this.task('Gate', 'gate', ref);
    const awaitApproval = new LambdaInvoke(this, 'AwaitApproval', {
      comment: 'Waits for an operator: approve or promote answer the token, rollback fails it',
      lambdaFunction: this.tasks,
      integrationPattern: IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: TaskInput.fromObject({ action: 'awaitApproval', ...ref, taskToken: JsonPath.taskToken }),
      resultPath: JsonPath.DISCARD,
    });
    const hold = new Wait(this, 'Hold', { comment: 'Paused: look again later', time: WaitTime.secondsPath('$.waitSeconds') });
    const apply = this.task('Apply', 'apply', ref);
    const watch = this.task('Watch', 'watch', ref);
    const bake = new Wait(this, 'Bake', {
      comment: 'The stage bakes; at most pollSeconds at a time',
      time: WaitTime.secondsPath('$.waitSeconds'),
    });
    const evaluate = this.task('Evaluate', 'evaluate', ref);

    const back = (task: INextable & { addCatch: LambdaInvoke['addCatch'] }) =>
      task.addCatch(settle, { errors: [STATE_CHANGED], resultPath: JsonPath.DISCARD });
    for (const t of [gate, apply, watch, evaluate, awaitApproval]) back(t);
    settle.next(gate);
    hold.next(gate);
    bake.next(watch);
    awaitApproval.next(gate);

    const on = (next: string) => Condition.stringEquals('$.next', next);
    const stop = (choice: Choice): Choice =>
      choice.when(on('done'), stageDone).when(on('rollback'), rollbackNeeded).when(on('superseded'), superseded);
    gate.next(
      stop(new Choice(this, 'AfterGate'))
        .when(on('approval'), awaitApproval)
        .when(on('hold'), hold)
        .when(on('apply'), apply)
        .when(on('watch'), watch)
        .otherwise(settle),
    );
    apply.next(stop(new Choice(this, 'AfterApply')).when(on('watch'), watch).otherwise(settle));
    watch.next(stop(new Choice(this, 'AfterWatch')).when(on('bake'), bake).when(on('evaluate'), evaluate).otherwise(settle));
    evaluate.next(stop(new Choice(this, 'AfterEvaluate')).when(on('watch'), watch).when(on('evaluate'), evaluate).otherwise(settle));

    const stages = new MapState(this, 'Stages', {
      comment: 'The plan, one stage at a time',
      itemsPath: '$.stages',
      maxConcurrency: 1,
      resultPath: JsonPath.DISCARD,
    });
    stages.itemProcessor(gate);

    const done = new Succeed(this, 'Done');
    const rollBack = this.task('RollBack', 'beginRollback', { 'deploymentId.$': '$.deploymentId', 'error.$': '$.error' });
    // Starting the rollback races an operator's action at worst: read again and start it.
    rollBack.addRetry({ errors: [STATE_CHANGED], interval: Duration.seconds(1), maxAttempts: 3, backoffRate: 2 });
    rollBack.next(done);
    stages.addCatch(done, { errors: [SUPERSEDED], resultPath: JsonPath.DISCARD });
    stages.addCatch(rollBack, { errors: ['States.ALL'], resultPath: '$.error' });
    stages.next(done);

    const begin = this.task('Begin', 'begin', { 'deploymentId.$': '$.deploymentId' });
    begin.next(new Choice(this, 'AfterBegin').when(on('run'), stages).when(on('rollback'), rollBack).otherwise(done));

    return this.machine(
      'RolloutMachine',
      this.rolloutName,
      begin,
      `Runs a deployment's plan: gate, apply, bake, evaluate per stage (poll ${pollSeconds} s)`,
    );
  }

  private rollbackMachine(): StateMachine {
    const id = { 'deploymentId.$': '$.deploymentId' };
    const restore = this.task('RestoreEdges', 'restoreEdges', id);
    const finish = this.task('MarkRolledBack', 'finishRollback', id);
    const failed = this.task('MarkFailed', 'failRollback', { 'deploymentId.$': '$.deploymentId', 'error.$': '$.error.Cause' });
    failed.next(new Fail(this, 'RollbackFailed', { error: 'Deployment.RollbackFailed', cause: 'An edge could not be restored' }));
    for (const t of [restore, finish]) {
      t.addRetry({ errors: ['States.ALL'], interval: Duration.seconds(1), maxAttempts: 3, backoffRate: 2 });
      t.addCatch(failed, { errors: ['States.ALL'], resultPath: '$.error' });
    }
    restore.next(finish);
    finish.next(new Succeed(this, 'RolledBack'));
    return this.machine('RollbackMachine', this.rollbackName, restore, 'Restores every edge a deployment touched to what it ran before');
  }

  private machine(id: string, name: string, start: IChainable, comment: string): StateMachine {
    const logs = new LogGroup(this, `${id}Logs`, { retention: RetentionDays.ONE_MONTH });
    return new StateMachine(this, id, {
      stateMachineName: name,
      comment,
      definitionBody: DefinitionBody.fromChainable(start),
      tracingEnabled: true,
      // Every state transition is logged (cdk-nag SF1), without the execution data: inputs carry task tokens.
      logs: { destination: logs, level: LogLevel.ALL, includeExecutionData: false },
    });
  }
}
