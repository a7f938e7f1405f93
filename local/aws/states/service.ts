/**
 * A local AWS Step Functions (DESIGN.md §7) behind the one AWS endpoint
 * (JSON 1.0, `X-Amz-Target: AWSStepFunctions.<Operation>`), so handlers, the
 * AWS CLI and any SDK use it unchanged. The state machines' real ASL
 * definitions run in aws-local-stepfunctions (JSONPath); this room adds what
 * that interpreter lacks:
 *
 * - executions as the API knows them: StartExecution (idempotent on name and
 *   input as AWS is), DescribeExecution, ListExecutions, StopExecution,
 *   GetExecutionHistory in AWS's event types;
 * - tasks: `lambda:invoke` and direct Lambda ARNs through the runtime's
 *   Lambda (the `lambda:Invoke` chaos rules apply), `events:putEvents`,
 *   `sqs:sendMessage` (through the dispatcher) and `states:startExecution`,
 *   each with AWS's output and error names, so Retry and Catch see what they
 *   would see on AWS;
 * - task tokens: `$$.Task.Token` is a fresh token the runtime issued; a
 *   `.waitForTaskToken` task waits for SendTaskSuccess/SendTaskFailure,
 *   with HeartbeatSeconds and TimeoutSeconds;
 * - time: Wait states, Retry back-off and every timeout on the runtime's
 *   clock (`timeScale` speeds them up), see definition.ts;
 * - a dispatcher target: EventBridge rules and schedules start executions
 *   with the event as input.
 *
 * Executions live in memory: a restart of the runtime loses the running
 * ones (the deployment record is the source of truth, and the reconciler
 * restarts what is lost).
 */
import './polyfill.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { ExecutionAbortedError, ExecutionError, StateMachine } from 'aws-local-stepfunctions';
import type { Clock, ClockTimer } from '../../clock.js';
import { DispatchError, type Dispatcher } from '../../dispatch.js';
import { invokeFunction, type PollerDependencies } from '../../esm/mapping.js';
import type { LambdaService } from '../../lambda/service.js';
import { AwsServiceError, type AwsJsonService } from '../endpoint.js';
import type { EventBridgeService } from '../events/service.js';
import { evaluateJsonPath } from '../events/transform.js';
import {
  describeDefinition,
  interpreterDefinition,
  InvalidDefinitionError,
  parseDefinition,
  type PreparedDefinition,
  type StateInfo,
  type TaskInfo,
} from './definition.js';
import { historyEventOutput, payloadDetails, translateInterpreterEvent, type HistoryEvent, type InterpreterEvent } from './history.js';

export interface StepFunctionsServiceOptions {
  region: string;
  accountId: string;
  clock: Clock;
  dispatcher: Dispatcher;
  /** Runs Lambda tasks (absent: Lambda tasks fail with Lambda.ResourceNotFoundException). */
  lambda?: LambdaService;
  /** Serves `events:putEvents` tasks. */
  events?: EventBridgeService;
  /** Faults on demand (local/aws/chaos): asked before each task's AWS call (`lambda:Invoke`, `events:PutEvents`, `sqs:SendMessage`). */
  fault?(call: { service: string; operation: string }): { code: string; message: string } | undefined;
  warn?(message: string): void;
}

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

interface Machine {
  arn: string;
  name: string;
  type: 'STANDARD' | 'EXPRESS';
  roleArn: string;
  definitionText: string;
  prepared: PreparedDefinition;
  interpreter: StateMachine;
  creationDate: number;
}

interface Execution {
  arn: string;
  name: string;
  machine: Machine;
  input: string;
  status: ExecutionStatus;
  startDate: number;
  stopDate?: number;
  output?: string;
  error?: string;
  cause?: string;
  history: HistoryEvent[];
  /** Tokens `$$.Task.Token` handed out in this execution (a task claims the one its input carries). */
  issuedTokens: Set<string>;
  waiters: Set<TaskWaiter>;
  /** Aborted when the execution ends: the runtime's sleeps and waits in it stop. */
  controller: AbortController;
  abortInterpreter?: () => void;
  timeout?: ClockTimer;
  done: Promise<void>;
}

/** A `.waitForTaskToken` task waiting for SendTaskSuccess/Failure. */
interface TaskWaiter {
  token: string;
  execution: Execution;
  stateName: string;
  promise: Promise<unknown>;
  resolve(output: unknown): void;
  reject(error: Error): void;
  heartbeat(): void;
}

/** A task's error as Retry, Catch and the history see it: `name` is the Error, `message` the Cause. */
class TaskError extends Error {
  constructor(error: string, cause: string) {
    super(cause);
    this.name = error;
  }
}

/** A task timed out (TimeoutSeconds or HeartbeatSeconds), on the runtime's clock. */
class TaskTimeout extends Error {
  constructor(readonly error: 'States.Timeout' | 'States.HeartbeatTimeout') {
    super(error);
  }
}

/** Thrown into a task whose execution has ended; never recorded. */
class ExecutionClosed extends Error {}

type Input = Record<string, unknown>;

const MAX_RESULTS = 1000;
/** Lambda service errors a task sees as `Lambda.<name>` (the common AWS errors as the Lambda API names them). */
const LAMBDA_ERROR_NAMES: Record<string, string> = {
  InternalFailure: 'ServiceException',
  ServiceUnavailable: 'ServiceException',
  ThrottlingException: 'TooManyRequestsException',
};
/** Execution and state machine names: 1–80 characters, no whitespace, brackets, wildcards or `"#%\\^|~`$&,;:/`. */
const NAME_CHARACTERS = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/]{1,80}$/;
const isValidName = (name: string) =>
  NAME_CHARACTERS.test(name) && [...name].every((c) => c.charCodeAt(0) >= 0x20 && (c.charCodeAt(0) < 0x7f || c.charCodeAt(0) > 0x9f));
const TOKEN_PREFIX = 'AQCEAAAAKgAAAA';
const MAX_TOKEN_LENGTH = 1024;

const validation = (message: string) => new AwsServiceError('ValidationException', message);

function requiredString(input: Input, key: string): string {
  const value = input[key];
  if (typeof value !== 'string' || value === '') {
    throw validation(`1 validation error detected: Value null at '${key}' failed to satisfy constraint: Member must not be null`);
  }
  return value;
}

function optionalString(input: Input, key: string): string | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new AwsServiceError('SerializationException', `${key} must be a string`);
  return value;
}

/** Offset pagination: `{ items, nextToken }`. */
function page<T>(items: T[], input: Input): { items: T[]; nextToken?: string } {
  const token = optionalString(input, 'nextToken');
  const start = token === undefined ? 0 : Number(token);
  if (!Number.isInteger(start) || start < 0 || start > items.length) throw new AwsServiceError('InvalidToken', `Invalid Token: '${token}'`);
  const asked = typeof input.maxResults === 'number' && input.maxResults > 0 ? input.maxResults : 100;
  const limit = Math.min(asked, MAX_RESULTS);
  const slice = items.slice(start, start + limit);
  return start + limit < items.length ? { items: slice, nextToken: String(start + limit) } : { items: slice };
}

/** Resolves after the current macrotask: every event the interpreter logged so far has been read by then. */
const afterPendingEvents = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Tokens from this runtime found in a task's input (wherever its Parameters put `$$.Task.Token`). */
function tokensIn(value: unknown, issued: Set<string>, found: string[] = []): string[] {
  if (typeof value === 'string') {
    if (issued.has(value)) found.push(value);
  } else if (Array.isArray(value)) {
    for (const item of value) tokensIn(item, issued, found);
  } else if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) tokensIn(item, issued, found);
  }
  return found;
}

/** aws-local-stepfunctions' own States.Timeout error class (not exported): Retry/Catch treat it apart from States.TaskFailed. */
let statesTimeoutClass: Promise<(new () => Error) | undefined> | undefined;
function statesTimeoutError(): Promise<(new () => Error) | undefined> {
  statesTimeoutClass ??= (async () => {
    const probe = new StateMachine(
      {
        StartAt: 'Probe',
        States: {
          Probe: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:000000000000:function:probe', TimeoutSeconds: 0.001, End: true },
        },
      },
      { validationOptions: { noValidate: true } },
    );
    try {
      await probe.run({}, { overrides: { taskResourceLocalHandlers: { Probe: () => new Promise<never>(() => undefined) } } }).result;
    } catch (error) {
      const cause = (error as Error).cause;
      if (cause instanceof Error && cause.name === 'States.Timeout') return cause.constructor as new () => Error;
    }
    return undefined;
  })();
  return statesTimeoutClass;
}

export class StepFunctionsService implements AwsJsonService {
  readonly targetPrefix = 'AWSStepFunctions';
  readonly jsonVersion = '1.0' as const;
  private readonly machines = new Map<string, Machine>();
  private readonly executions = new Map<string, Execution>();
  /** Every token handed out, to the execution it belongs to. */
  private readonly issued = new Map<string, Execution>();
  /** Tokens a task is waiting on. */
  private readonly waiting = new Map<string, TaskWaiter>();
  /** Tokens whose task has ended (SendTask* answers TaskTimedOut). */
  private readonly closedTokens = new Set<string>();
  private readonly warn: (message: string) => void;
  private readonly pollerDeps: PollerDependencies | undefined;
  private stopped = false;

  constructor(private readonly options: StepFunctionsServiceOptions) {
    this.warn = options.warn ?? ((message) => console.warn(`switchyard: ${message}`));
    void statesTimeoutError();
    this.pollerDeps = options.lambda
      ? {
          lambda: options.lambda,
          dispatcher: options.dispatcher,
          clock: options.clock,
          env: { stackName: '', region: options.region, accountId: options.accountId },
          warn: this.warn,
          log: () => undefined,
          ...(options.fault ? { fault: options.fault } : {}),
        }
      : undefined;
    // A rule or schedule target that is a state machine: an execution with the event as input.
    options.dispatcher.register('states', async (arn, payload) => {
      const fault = options.fault?.({ service: 'states', operation: 'StartExecution' });
      if (fault) throw new DispatchError(arn, `${fault.code}: ${fault.message} (injected)`, fault.code);
      try {
        const started = this.startExecution({
          stateMachineArn: arn,
          input: typeof payload === 'string' ? payload : JSON.stringify(payload ?? {}),
        });
        return { payload: started };
      } catch (error) {
        if (!(error instanceof AwsServiceError)) throw error;
        const code = error.type === 'StateMachineDoesNotExist' ? 'ResourceNotFoundException' : error.type;
        throw new DispatchError(arn, error.message, code);
      }
    });
  }

  // ---- ARNs ----

  stateMachineArn(name: string): string {
    return `arn:aws:states:${this.options.region}:${this.options.accountId}:stateMachine:${name}`;
  }

  private executionArn(machine: Machine, name: string): string {
    return `arn:aws:states:${this.options.region}:${this.options.accountId}:execution:${machine.name}:${name}`;
  }

  private machine(arn: string): Machine {
    if (!/^arn:aws[\w-]*:states:[^:]+:[^:]+:stateMachine:[^:]+$/.test(arn))
      throw new AwsServiceError('InvalidArn', `Invalid Arn: '${arn}'`);
    const machine = this.machines.get(arn);
    if (!machine) throw new AwsServiceError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return machine;
  }

  private execution(arn: string): Execution {
    if (!/^arn:aws[\w-]*:states:[^:]+:[^:]+:execution:[^:]+:[^:]+$/.test(arn))
      throw new AwsServiceError('InvalidArn', `Invalid Arn: '${arn}'`);
    const execution = this.executions.get(arn);
    if (!execution) throw new AwsServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return execution;
  }

  /** What the local runtime will not run as AWS does in a machine's definition (unsupported integrations…). */
  warningsFor(stateMachineArn: string): string[] {
    return [...(this.machines.get(stateMachineArn)?.prepared.warnings ?? [])];
  }

  // ---- the JSON protocol ----

  handle(operation: string, input: Input): unknown {
    switch (operation) {
      case 'CreateStateMachine':
        return this.createStateMachine(input);
      case 'DescribeStateMachine':
        return this.describeStateMachine(this.machine(requiredString(input, 'stateMachineArn')));
      case 'DescribeStateMachineForExecution':
        return this.describeStateMachine(this.execution(requiredString(input, 'executionArn')).machine);
      case 'ListStateMachines': {
        const { items, nextToken } = page([...this.machines.values()], input);
        return {
          stateMachines: items.map((m) => ({ stateMachineArn: m.arn, name: m.name, type: m.type, creationDate: m.creationDate / 1000 })),
          ...(nextToken ? { nextToken } : {}),
        };
      }
      case 'DeleteStateMachine': {
        const arn = requiredString(input, 'stateMachineArn');
        this.machines.delete(arn);
        return {};
      }
      case 'StartExecution':
        return this.startExecution(input);
      case 'DescribeExecution':
        return this.describeExecution(this.execution(requiredString(input, 'executionArn')));
      case 'ListExecutions':
        return this.listExecutions(input);
      case 'StopExecution':
        return this.stopExecution(input);
      case 'GetExecutionHistory':
        return this.getExecutionHistory(input);
      case 'SendTaskSuccess':
        return this.sendTaskSuccess(input);
      case 'SendTaskFailure':
        return this.sendTaskFailure(input);
      case 'SendTaskHeartbeat':
        this.waiter(requiredString(input, 'taskToken')).heartbeat();
        return {};
      default:
        throw new AwsServiceError('UnknownOperationException', `The local Step Functions does not support ${operation}`);
    }
  }

  // ---- state machines ----

  private createStateMachine(input: Input) {
    const name = requiredString(input, 'name');
    if (!isValidName(name)) throw new AwsServiceError('InvalidName', `Invalid Name: '${name}'`);
    const definitionText = requiredString(input, 'definition');
    const type = optionalString(input, 'type') ?? 'STANDARD';
    if (type !== 'STANDARD' && type !== 'EXPRESS')
      throw validation(`Value '${type}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]`);
    const arn = this.stateMachineArn(name);
    const existing = this.machines.get(arn);
    if (existing) {
      if (existing.definitionText === definitionText) return { stateMachineArn: arn, creationDate: existing.creationDate / 1000 };
      throw new AwsServiceError('StateMachineAlreadyExists', `State Machine Already Exists: '${arn}'`);
    }
    let prepared: PreparedDefinition;
    let interpreter: StateMachine;
    try {
      prepared = describeDefinition(parseDefinition(definitionText));
      interpreter = new StateMachine(interpreterDefinition(prepared.definition, this.options.clock.timeScale), {
        // Checked by parseDefinition; the copy has the runtime's own Wait tasks.
        validationOptions: { noValidate: true },
      });
    } catch (error) {
      if (error instanceof InvalidDefinitionError) throw new AwsServiceError('InvalidDefinition', error.message);
      throw error;
    }
    const machine: Machine = {
      arn,
      name,
      type,
      roleArn: optionalString(input, 'roleArn') ?? `arn:aws:iam::${this.options.accountId}:role/local`,
      definitionText,
      prepared,
      interpreter,
      creationDate: this.options.clock.now(),
    };
    this.machines.set(arn, machine);
    return { stateMachineArn: arn, creationDate: machine.creationDate / 1000 };
  }

  private describeStateMachine(machine: Machine) {
    return {
      stateMachineArn: machine.arn,
      name: machine.name,
      status: 'ACTIVE',
      definition: machine.definitionText,
      roleArn: machine.roleArn,
      type: machine.type,
      creationDate: machine.creationDate / 1000,
      loggingConfiguration: { level: 'OFF', includeExecutionData: false },
      tracingConfiguration: { enabled: false },
    };
  }

  // ---- executions ----

  /** StartExecution (also the dispatcher target and `states:startExecution` tasks). */
  startExecution(input: Input): { executionArn: string; startDate: number } {
    if (this.stopped) throw new AwsServiceError('ServiceUnavailable', 'The local Step Functions has stopped', 503);
    const machine = this.machine(requiredString(input, 'stateMachineArn'));
    const name = optionalString(input, 'name') ?? randomUUID();
    if (!isValidName(name)) throw new AwsServiceError('InvalidName', `Invalid Name: '${name}'`);
    const inputText = optionalString(input, 'input') ?? '{}';
    let parsed: unknown;
    try {
      parsed = JSON.parse(inputText);
    } catch (error) {
      throw new AwsServiceError('InvalidExecutionInput', `Invalid State Machine Execution Input: '${(error as Error).message}'`);
    }
    const arn = this.executionArn(machine, name);
    const existing = this.executions.get(arn);
    if (existing) {
      // AWS: the same name and input while it runs is the same execution; otherwise the name is taken.
      if (existing.status === 'RUNNING' && existing.input === inputText) return { executionArn: arn, startDate: existing.startDate / 1000 };
      throw new AwsServiceError('ExecutionAlreadyExists', `Execution Already Exists: '${arn}'`);
    }
    const execution = this.run(machine, arn, name, inputText, parsed);
    return { executionArn: arn, startDate: execution.startDate / 1000 };
  }

  private run(machine: Machine, arn: string, name: string, inputText: string, input: unknown): Execution {
    const { clock } = this.options;
    const execution: Execution = {
      arn,
      name,
      machine,
      input: inputText,
      status: 'RUNNING',
      startDate: clock.now(),
      history: [],
      issuedTokens: new Set(),
      waiters: new Set(),
      controller: new AbortController(),
      done: Promise.resolve(),
    };
    this.executions.set(arn, execution);
    this.record(execution, 'ExecutionStarted', { input: inputText, inputDetails: payloadDetails, roleArn: machine.roleArn });

    // `$$.Task.Token`: a fresh token at each read; the task whose input carries it claims it.
    const task = {};
    Object.defineProperty(task, 'Token', { enumerable: true, get: () => this.issueToken(execution) });
    const context = {
      Execution: { Id: arn, Name: name, RoleArn: machine.roleArn, StartTime: new Date(execution.startDate).toISOString() },
      StateMachine: { Id: machine.arn, Name: machine.name },
      Task: task,
    };
    const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const [stateName, info] of machine.prepared.states) {
      if (info.type === 'Task' || info.type === 'Wait') handlers[stateName] = (stateInput) => this.runTask(execution, info, stateInput);
    }
    const running = machine.interpreter.run(input as never, {
      overrides: { taskResourceLocalHandlers: handlers as never },
      context: context as never,
    });
    execution.abortInterpreter = running.abort;
    const logged = (async () => {
      for await (const event of running.eventLogs) {
        if (execution.status !== 'RUNNING') continue;
        for (const { type, details } of translateInterpreterEvent(event as InterpreterEvent, machine.prepared.states)) {
          this.record(execution, type, details, clock.now() - (Date.now() - event.timestamp) * clock.timeScale);
        }
      }
    })();
    if (machine.prepared.timeoutSeconds !== undefined) {
      execution.timeout = clock.setTimeout(
        () => this.close(execution, 'TIMED_OUT', { error: 'States.Timeout' }),
        machine.prepared.timeoutSeconds * 1000,
      );
    }
    execution.done = running.result.then(
      async (output) => {
        await logged;
        this.close(execution, 'SUCCEEDED', { output: JSON.stringify(output ?? null) });
      },
      async (error: unknown) => {
        await logged;
        if (error instanceof ExecutionAbortedError) return; // stopped or timed out: closed already
        const cause = error instanceof ExecutionError && error.cause instanceof Error ? error.cause : (error as Error);
        const failure = cause?.name === 'FailStateError' ? '' : (cause?.name ?? 'States.Runtime');
        this.close(execution, 'FAILED', { error: failure, cause: cause?.message ?? String(error) });
      },
    );
    return execution;
  }

  /** Ends an execution (once): its status, its last history event, its waits and timers. */
  private close(
    execution: Execution,
    status: Exclude<ExecutionStatus, 'RUNNING'>,
    outcome: { output?: string; error?: string; cause?: string },
  ) {
    if (execution.status !== 'RUNNING') return;
    const { error, cause, output } = outcome;
    execution.status = status;
    execution.stopDate = this.options.clock.now();
    if (output !== undefined) execution.output = output;
    if (error !== undefined) execution.error = error;
    if (cause !== undefined) execution.cause = cause;
    const errorDetails = { ...(error !== undefined ? { error } : {}), ...(cause !== undefined ? { cause } : {}) };
    if (status === 'SUCCEEDED') this.record(execution, 'ExecutionSucceeded', { output, outputDetails: payloadDetails });
    if (status === 'FAILED') this.record(execution, 'ExecutionFailed', errorDetails);
    if (status === 'TIMED_OUT') this.record(execution, 'ExecutionTimedOut', errorDetails);
    if (status === 'ABORTED') this.record(execution, 'ExecutionAborted', errorDetails);
    execution.timeout?.cancel();
    execution.controller.abort(new ExecutionClosed(`execution ${status}`));
    for (const waiter of execution.waiters) this.closeToken(waiter);
    if (status === 'ABORTED' || status === 'TIMED_OUT') execution.abortInterpreter?.();
  }

  private record(execution: Execution, type: string, details?: Record<string, unknown>, timestamp = this.options.clock.now()) {
    const id = execution.history.length + 1;
    const cleaned = details && Object.fromEntries(Object.entries(details).filter(([, value]) => value !== undefined));
    execution.history.push({
      timestamp,
      type,
      id,
      previousEventId: id - 1,
      ...(cleaned && Object.keys(cleaned).length > 0 ? { details: cleaned } : {}),
    });
  }

  private describeExecution(execution: Execution) {
    return {
      executionArn: execution.arn,
      stateMachineArn: execution.machine.arn,
      name: execution.name,
      status: execution.status,
      startDate: execution.startDate / 1000,
      ...(execution.stopDate !== undefined ? { stopDate: execution.stopDate / 1000 } : {}),
      input: execution.input,
      inputDetails: { included: true },
      ...(execution.output !== undefined ? { output: execution.output, outputDetails: { included: true } } : {}),
      ...(execution.error !== undefined ? { error: execution.error } : {}),
      ...(execution.cause !== undefined ? { cause: execution.cause } : {}),
      redriveCount: 0,
      redriveStatus: 'NOT_REDRIVABLE',
    };
  }

  private listExecutions(input: Input) {
    const machine = this.machine(requiredString(input, 'stateMachineArn'));
    const filter = optionalString(input, 'statusFilter');
    if (filter !== undefined && !['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'].includes(filter)) {
      throw validation(
        `Value '${filter}' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE]`,
      );
    }
    const matching = [...this.executions.values()]
      .filter((e) => e.machine === machine && (filter === undefined || e.status === filter))
      .sort((a, b) => b.startDate - a.startDate);
    const { items, nextToken } = page(matching, input);
    return {
      executions: items.map((e) => ({
        executionArn: e.arn,
        stateMachineArn: machine.arn,
        name: e.name,
        status: e.status,
        startDate: e.startDate / 1000,
        ...(e.stopDate !== undefined ? { stopDate: e.stopDate / 1000 } : {}),
      })),
      ...(nextToken ? { nextToken } : {}),
    };
  }

  private stopExecution(input: Input) {
    const execution = this.execution(requiredString(input, 'executionArn'));
    const error = optionalString(input, 'error');
    const cause = optionalString(input, 'cause');
    this.close(execution, 'ABORTED', { ...(error !== undefined ? { error } : {}), ...(cause !== undefined ? { cause } : {}) });
    return { stopDate: (execution.stopDate ?? this.options.clock.now()) / 1000 };
  }

  private getExecutionHistory(input: Input) {
    const execution = this.execution(requiredString(input, 'executionArn'));
    const events = input.reverseOrder === true ? [...execution.history].reverse() : execution.history;
    const { items, nextToken } = page(events, input);
    const includeData = input.includeExecutionData !== false;
    return { events: items.map((event) => historyEventOutput(event, includeData)), ...(nextToken ? { nextToken } : {}) };
  }

  /** Resolves when every execution under way has ended (tests). */
  async idle(): Promise<void> {
    await Promise.all([...this.executions.values()].map((e) => e.done));
  }

  /** Aborts every running execution (the runtime is stopping: executions are not kept). */
  stop(): void {
    this.stopped = true;
    for (const execution of this.executions.values()) {
      if (execution.status === 'RUNNING')
        this.close(execution, 'ABORTED', { error: 'Switchyard.RuntimeStopped', cause: 'the local runtime stopped' });
    }
  }

  // ---- task tokens ----

  private issueToken(execution: Execution): string {
    const token = `${TOKEN_PREFIX}${randomBytes(96).toString('base64')}`;
    this.issued.set(token, execution);
    execution.issuedTokens.add(token);
    return token;
  }

  private waiter(token: string): TaskWaiter {
    if (token.length > MAX_TOKEN_LENGTH || !token.startsWith(TOKEN_PREFIX) || !this.issued.has(token)) {
      throw new AwsServiceError('InvalidToken', "Invalid Token: 'Invalid token'");
    }
    const waiter = this.waiting.get(token);
    if (waiter) return waiter;
    if (this.closedTokens.has(token)) throw new AwsServiceError('TaskTimedOut', "Task Timed Out: 'Provided task does not exist anymore'");
    throw new AwsServiceError('TaskDoesNotExist', 'Task Does Not Exist: no task is waiting on this token');
  }

  private sendTaskSuccess(input: Input) {
    const waiter = this.waiter(requiredString(input, 'taskToken'));
    const outputText = requiredString(input, 'output');
    let output: unknown;
    try {
      output = JSON.parse(outputText);
    } catch (error) {
      throw new AwsServiceError('InvalidOutput', `Invalid Output: '${(error as Error).message}'`);
    }
    waiter.resolve(output);
    return {};
  }

  private sendTaskFailure(input: Input) {
    const waiter = this.waiter(requiredString(input, 'taskToken'));
    waiter.reject(new TaskError(optionalString(input, 'error') ?? '', optionalString(input, 'cause') ?? ''));
    return {};
  }

  private closeToken(waiter: TaskWaiter) {
    this.waiting.delete(waiter.token);
    this.closedTokens.add(waiter.token);
    waiter.execution.waiters.delete(waiter);
    waiter.reject(new ExecutionClosed('task closed'));
  }

  /** The token a `.waitForTaskToken` task waits on: the one its input carries (else a new one, with a warning). */
  private waitForToken(execution: Execution, stateName: string, input: unknown, heartbeatSeconds: number | undefined): TaskWaiter {
    const found = tokensIn(input, execution.issuedTokens).find((token) => !this.waiting.has(token) && !this.closedTokens.has(token));
    if (!found)
      this.warn(
        `state ${stateName} of ${execution.arn} waits for a task token its input does not carry ($$.Task.Token); it can only time out`,
      );
    const token = found ?? this.issueToken(execution);
    const { clock } = this.options;
    let heartbeat: ClockTimer | undefined;
    let settle!: { resolve(value: unknown): void; reject(error: Error): void };
    const promise = new Promise<unknown>((resolve, reject) => (settle = { resolve, reject }));
    promise.catch(() => undefined);
    const finish = () => {
      heartbeat?.cancel();
      if (this.waiting.get(token) === waiter) {
        this.waiting.delete(token);
        this.closedTokens.add(token);
      }
      execution.waiters.delete(waiter);
    };
    const arm = () => {
      heartbeat?.cancel();
      if (heartbeatSeconds !== undefined)
        heartbeat = clock.setTimeout(() => waiter.reject(new TaskTimeout('States.HeartbeatTimeout')), heartbeatSeconds * 1000);
    };
    const waiter: TaskWaiter = {
      token,
      execution,
      stateName,
      promise,
      resolve: (value) => {
        finish();
        settle.resolve(value);
      },
      reject: (error) => {
        finish();
        settle.reject(error);
      },
      heartbeat: arm,
    };
    this.waiting.set(token, waiter);
    execution.waiters.add(waiter);
    arm();
    return waiter;
  }

  // ---- tasks ----

  private assertRunning(execution: Execution) {
    if (execution.status !== 'RUNNING' || this.stopped) throw new ExecutionClosed('execution closed');
  }

  /** Every Task and Wait state of every execution runs here (the interpreter's local task handler). */
  private async runTask(execution: Execution, info: StateInfo, input: unknown): Promise<unknown> {
    // The interpreter logged StateEntered just before calling: let it be recorded before this task's events.
    await afterPendingEvents();
    this.assertRunning(execution);
    if (info.wait) return this.runWait(execution, info, input);
    const task = info.task as TaskInfo;
    const legacy = task.integration.kind === 'lambda-function';
    const timeoutSeconds = task.timeoutSeconds ?? this.secondsAt(input, task.timeoutSecondsPath);
    const heartbeatSeconds = task.heartbeatSeconds ?? this.secondsAt(input, task.heartbeatSecondsPath);
    const taskDetails = { resourceType: task.resourceType, resource: task.resourceName };
    if (legacy) {
      this.record(execution, 'LambdaFunctionScheduled', {
        resource: task.resource,
        input: JSON.stringify(input ?? null),
        inputDetails: payloadDetails,
        timeoutInSeconds: timeoutSeconds,
      });
      this.record(execution, 'LambdaFunctionStarted');
    } else {
      this.record(execution, 'TaskScheduled', {
        ...taskDetails,
        region: this.options.region,
        parameters: JSON.stringify(input ?? null),
        timeoutInSeconds: timeoutSeconds,
        heartbeatInSeconds: heartbeatSeconds,
      });
      this.record(execution, 'TaskStarted', taskDetails);
    }
    const waiter = waitsForToken(task) ? this.waitForToken(execution, info.name, input, heartbeatSeconds) : undefined;
    let deadline: ClockTimer | undefined;
    try {
      const work = this.perform(execution, task, input, waiter);
      const output =
        timeoutSeconds === undefined
          ? await work
          : await Promise.race([
              work,
              new Promise<never>((_, reject) => {
                deadline = this.options.clock.setTimeout(() => reject(new TaskTimeout('States.Timeout')), timeoutSeconds * 1000);
              }),
            ]);
      this.assertRunning(execution);
      if (legacy)
        this.record(execution, 'LambdaFunctionSucceeded', { output: JSON.stringify(output ?? null), outputDetails: payloadDetails });
      else
        this.record(execution, 'TaskSucceeded', { ...taskDetails, output: JSON.stringify(output ?? null), outputDetails: payloadDetails });
      return output;
    } catch (error) {
      if (error instanceof ExecutionClosed || execution.status !== 'RUNNING') throw error;
      if (error instanceof TaskTimeout) {
        this.record(execution, legacy ? 'LambdaFunctionTimedOut' : 'TaskTimedOut', {
          ...(legacy ? {} : taskDetails),
          error: error.error,
          cause: '',
        });
        if (error.error === 'States.Timeout') {
          const Timeout = await statesTimeoutError();
          throw Timeout ? new Timeout() : new TaskError('States.Timeout', 'States.Timeout');
        }
        throw new TaskError(error.error, '');
      }
      const failure = error instanceof TaskError ? error : new TaskError('States.TaskFailed', (error as Error)?.message ?? String(error));
      this.record(execution, legacy ? 'LambdaFunctionFailed' : 'TaskFailed', {
        ...(legacy ? {} : taskDetails),
        error: failure.name,
        cause: failure.message,
      });
      throw failure;
    } finally {
      deadline?.cancel();
      // However the task ended (a timeout, a failed call), its token is closed.
      if (waiter && this.waiting.get(waiter.token) === waiter) this.closeToken(waiter);
    }
  }

  /** TimeoutSecondsPath/HeartbeatSecondsPath, read from the task's input. */
  private secondsAt(input: unknown, path: string | undefined): number | undefined {
    if (path === undefined) return undefined;
    const value = evaluateJsonPath(input, path);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      throw new TaskError(
        'States.Runtime',
        `Path expression '${path}' evaluated to ${JSON.stringify(value)}, but expected an integer >= 1`,
      );
    }
    return value;
  }

  /** A Wait state, on the runtime's clock (the interpreter runs it as a task: see definition.ts). */
  private async runWait(execution: Execution, info: StateInfo, input: unknown): Promise<unknown> {
    const wait = info.wait ?? {};
    const { clock } = this.options;
    let output = input;
    let ms = 0;
    if (wait.secondsPath !== undefined || wait.timestampPath !== undefined) {
      const read = input as { seconds?: unknown; timestamp?: unknown; input?: unknown };
      output = read.input;
      if (wait.secondsPath !== undefined) {
        if (typeof read.seconds !== 'number' || !Number.isInteger(read.seconds) || read.seconds < 0) {
          throw new TaskError(
            'States.Runtime',
            `Path expression '${wait.secondsPath}' evaluated to ${JSON.stringify(read.seconds)}, but expected an integer >= 0`,
          );
        }
        ms = read.seconds * 1000;
      } else {
        const at = typeof read.timestamp === 'string' ? Date.parse(read.timestamp) : NaN;
        if (Number.isNaN(at))
          throw new TaskError(
            'States.Runtime',
            `Path expression '${wait.timestampPath}' evaluated to ${JSON.stringify(read.timestamp)}, but expected a timestamp`,
          );
        ms = at - clock.now();
      }
    } else if (wait.seconds !== undefined) {
      ms = wait.seconds * 1000;
    } else if (wait.timestamp !== undefined) {
      ms = Date.parse(wait.timestamp) - clock.now();
    }
    await clock.sleep(Math.max(0, ms), execution.controller.signal);
    return output;
  }

  private fault(service: string, operation: string): { code: string; message: string } | undefined {
    return this.options.fault?.({ service, operation });
  }

  /** The task's AWS call, and for `.waitForTaskToken` the wait for its token. */
  private async perform(execution: Execution, task: TaskInfo, input: unknown, waiter: TaskWaiter | undefined): Promise<unknown> {
    const integration = task.integration;
    let output: unknown;
    switch (integration.kind) {
      case 'lambda-function':
        return await this.invokeLambda(integration.functionArn, input, 'RequestResponse', false);
      case 'lambda-invoke': {
        const params = (input ?? {}) as Input;
        if (typeof params.FunctionName !== 'string') throw new TaskError('States.Runtime', 'lambda:invoke needs Parameters.FunctionName');
        const name = typeof params.Qualifier === 'string' ? `${params.FunctionName}:${params.Qualifier}` : params.FunctionName;
        const invocationType = params.InvocationType === 'Event' ? 'Event' : 'RequestResponse';
        output = await this.invokeLambda(name, params.Payload ?? {}, invocationType, true);
        break;
      }
      case 'events-put':
        output = this.putEvents(input);
        break;
      case 'sqs-send':
        output = await this.sendMessage(input);
        break;
      case 'states-start':
        output = await this.startChild(execution, input, integration.mode);
        break;
      case 'unsupported':
        throw new TaskError('States.Runtime', `${task.resource}: ${integration.reason}`);
    }
    if (!waiter) return output;
    this.assertRunning(execution);
    this.record(execution, 'TaskSubmitted', {
      resourceType: task.resourceType,
      resource: task.resourceName,
      output: JSON.stringify(output ?? null),
      outputDetails: payloadDetails,
    });
    return await waiter.promise;
  }

  /** Lambda through the runtime (`invokeFunction`: chaos `lambda:Invoke` rules apply), errors named as Step Functions names them. */
  private async invokeLambda(
    functionName: string,
    payload: unknown,
    invocationType: 'RequestResponse' | 'Event',
    optimized: boolean,
  ): Promise<unknown> {
    const lambdaError = (code: string, message: string, status: number) => {
      const name = LAMBDA_ERROR_NAMES[code] ?? code;
      return new TaskError(`Lambda.${name}`, `${message} (Service: Lambda, Status Code: ${status}, Request ID: ${randomUUID()})`);
    };
    const deps = this.pollerDeps;
    if (!deps) throw lambdaError('ResourceNotFoundException', `Function not found: ${functionName}`, 404);
    if (invocationType === 'Event') {
      const fault = deps.fault?.({ service: 'lambda', operation: 'Invoke' });
      if (fault) throw lambdaError(fault.code, fault.message, 500);
      try {
        deps.lambda.functionArn(functionName);
      } catch (error) {
        throw lambdaError('ResourceNotFoundException', (error as Error).message, 404);
      }
      await this.options.dispatcher.deliver(deps.lambda.functionArn(functionName), payload, {
        invocationType: 'Event',
        source: 'Step Functions',
      });
      return { ExecutedVersion: '$LATEST', Payload: '', StatusCode: 202, ...sdkMetadata(202) };
    }
    let result: Awaited<ReturnType<typeof invokeFunction>>;
    try {
      result = await invokeFunction(deps, functionName, payload);
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'ResourceNotFoundException') throw lambdaError(name, (error as Error).message, 404);
      throw lambdaError(
        name === 'Error' ? 'ServiceException' : name,
        (error as Error).message,
        name === 'TooManyRequestsException' ? 429 : 500,
      );
    }
    if (!result.ok) {
      throw new TaskError(result.payload.errorType, JSON.stringify(result.payload));
    }
    if (!optimized) return result.payload;
    return { ExecutedVersion: '$LATEST', Payload: result.payload ?? null, StatusCode: 200, ...sdkMetadata(200, result.requestId) };
  }

  private putEvents(input: unknown): unknown {
    const events = this.options.events;
    if (!events) throw new TaskError('EventBridge.ResourceNotFoundException', 'The local runtime has no EventBridge');
    const fault = this.fault('events', 'PutEvents');
    if (fault) throw new TaskError(`EventBridge.${fault.code}`, fault.message);
    const entries = Array.isArray((input as Input)?.Entries) ? ((input as Input).Entries as Input[]) : [];
    let output: { FailedEntryCount: number; Entries: unknown[] };
    try {
      output = events.handle('PutEvents', {
        Entries: entries.map((entry) => ({
          ...entry,
          ...(entry.Detail !== undefined && typeof entry.Detail !== 'string' ? { Detail: JSON.stringify(entry.Detail) } : {}),
        })),
      }) as typeof output;
    } catch (error) {
      if (error instanceof AwsServiceError) throw new TaskError(`EventBridge.${error.type}`, error.message);
      throw error;
    }
    if (output.FailedEntryCount > 0) throw new TaskError('EventBridge.FailedEntry', JSON.stringify(output));
    return { ...output, ...sdkMetadata(200) };
  }

  private async sendMessage(input: unknown): Promise<unknown> {
    const params = (input ?? {}) as Input;
    const url = typeof params.QueueUrl === 'string' ? params.QueueUrl : '';
    const [account, name] = new URL(url, 'http://local').pathname.split('/').filter(Boolean).slice(-2);
    if (!account || !name) throw new TaskError('SQS.InvalidAddressException', `The address ${url} is not valid for this endpoint.`);
    const fault = this.fault('sqs', 'SendMessage');
    if (fault) throw new TaskError(`SQS.${fault.code}`, fault.message);
    const body = params.MessageBody;
    try {
      const sent = await this.options.dispatcher.deliver(
        `arn:aws:sqs:${this.options.region}:${account}:${name}`,
        typeof body === 'string' ? body : JSON.stringify(body ?? null),
        {
          source: 'Step Functions',
          sqs: {
            ...(params.MessageAttributes ? { messageAttributes: params.MessageAttributes as never } : {}),
            ...(typeof params.MessageGroupId === 'string' ? { messageGroupId: params.MessageGroupId } : {}),
            ...(typeof params.MessageDeduplicationId === 'string' ? { messageDeduplicationId: params.MessageDeduplicationId } : {}),
            ...(typeof params.DelaySeconds === 'number' ? { delaySeconds: params.DelaySeconds } : {}),
          },
        },
      );
      return { ...(sent.payload as object), ...sdkMetadata(200) };
    } catch (error) {
      if (error instanceof DispatchError) throw new TaskError(`SQS.${error.code}`, error.message);
      throw error;
    }
  }

  /** `states:startExecution` (and `.sync`, `.sync:2`): a child execution in this service. */
  private async startChild(parent: Execution, input: unknown, mode: 'start' | 'waitForTaskToken' | 'sync' | 'sync:2'): Promise<unknown> {
    const params = (input ?? {}) as Input;
    let started: { executionArn: string; startDate: number };
    try {
      started = this.startExecution({
        stateMachineArn: params.StateMachineArn,
        ...(typeof params.Name === 'string' ? { name: params.Name } : {}),
        input: typeof params.Input === 'string' ? params.Input : JSON.stringify(params.Input ?? {}),
      });
    } catch (error) {
      if (error instanceof AwsServiceError)
        throw new TaskError(`StepFunctions.${error.type}Exception`.replace('ExceptionException', 'Exception'), error.message);
      throw error;
    }
    if (mode !== 'sync' && mode !== 'sync:2')
      return { ExecutionArn: started.executionArn, StartDate: started.startDate, ...sdkMetadata(200) };
    const child = this.executions.get(started.executionArn) as Execution;
    await Promise.race([child.done, new Promise((resolve) => parent.controller.signal.addEventListener('abort', resolve, { once: true }))]);
    this.assertRunning(parent);
    const described = this.describeExecution(child) as Record<string, unknown>;
    const json = mode === 'sync:2';
    const result = {
      ExecutionArn: child.arn,
      StateMachineArn: child.machine.arn,
      Name: child.name,
      Status: child.status,
      StartDate: described.startDate,
      StopDate: described.stopDate,
      Input: json ? JSON.parse(child.input) : child.input,
      ...(child.output !== undefined ? { Output: json ? JSON.parse(child.output) : child.output } : {}),
    };
    if (child.status !== 'SUCCEEDED')
      throw new TaskError('States.TaskFailed', JSON.stringify({ ...result, Error: child.error, Cause: child.cause }));
    return result;
  }
}

/** Whether a task waits for its token (`.waitForTaskToken`). */
function waitsForToken(task: TaskInfo): boolean {
  const integration = task.integration;
  if (integration.kind === 'lambda-invoke' || integration.kind === 'events-put' || integration.kind === 'sqs-send')
    return integration.waitForTaskToken;
  return integration.kind === 'states-start' && integration.mode === 'waitForTaskToken';
}

/** The SDK metadata Step Functions adds to an AWS SDK integration's output. */
function sdkMetadata(status: number, requestId: string = randomUUID()) {
  return {
    SdkHttpMetadata: {
      AllHttpHeaders: { 'Content-Type': ['application/json'], 'x-amzn-RequestId': [requestId] },
      HttpHeaders: { 'Content-Type': 'application/json', 'x-amzn-RequestId': requestId },
      HttpStatusCode: status,
    },
    SdkResponseMetadata: { RequestId: requestId },
  };
}
