/**
 * Reading a state machine's Amazon States Language definition for the local
 * Step Functions (DESIGN.md §7): what it is made of, what the runtime can
 * run, and the copy the interpreter (aws-local-stepfunctions) runs.
 *
 * The interpreter runs the real definition (JSONPath: InputPath, Parameters,
 * ResultSelector, ResultPath, OutputPath, intrinsics, Choice, Map, Parallel,
 * Retry/Catch), with three changes in the copy it gets, so that every
 * duration is on the runtime's clock:
 *
 * - a Wait state becomes a Task state the runtime answers (its Parameters
 *   read SecondsPath/TimestampPath, so the interpreter's JSONPath evaluates
 *   them): the runtime sleeps on the clock; the history still says Wait;
 * - Retry intervals and MaxDelaySeconds are divided by the clock's scale
 *   (the interpreter sleeps in real time: `IntervalSeconds × BackoffRate^n`
 *   real seconds is then the same span of simulated time);
 * - Task TimeoutSeconds/HeartbeatSeconds (and the machine's TimeoutSeconds)
 *   are taken out: the runtime applies them on the clock. The interpreter's
 *   own default of 60 s per task (AWS has none) is replaced by its longest
 *   timer.
 *
 * JSONata is refused: the interpreter ignores it silently, which would run a
 * different machine than AWS does.
 */
import './polyfill.js';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';

export type JsonObject = Record<string, unknown>;

/** The definition cannot be run (AWS's `InvalidDefinition`, or JSONata, which the local runtime refuses). */
export class InvalidDefinitionError extends Error {
  override readonly name = 'InvalidDefinitionError';
}

/** How a Task state's resource is served locally. */
export type Integration =
  | { kind: 'lambda-invoke'; waitForTaskToken: boolean }
  | { kind: 'lambda-function'; functionArn: string }
  | { kind: 'events-put'; waitForTaskToken: boolean }
  | { kind: 'sqs-send'; waitForTaskToken: boolean }
  | { kind: 'states-start'; mode: 'start' | 'waitForTaskToken' | 'sync' | 'sync:2' }
  | { kind: 'unsupported'; reason: string };

export interface TaskInfo {
  resource: string;
  integration: Integration;
  /** `resourceType`/`resource` of the history's Task events (`lambda` / `invoke.waitForTaskToken`). */
  resourceType: string;
  resourceName: string;
  timeoutSeconds?: number;
  timeoutSecondsPath?: string;
  heartbeatSeconds?: number;
  heartbeatSecondsPath?: string;
}

export interface WaitInfo {
  seconds?: number;
  timestamp?: string;
  secondsPath?: string;
  timestampPath?: string;
}

/** One state of the definition (nested Map and Parallel states included: names are unique in a machine). */
export interface StateInfo {
  name: string;
  /** The state's type in the definition (the interpreter sees Wait states as Task states). */
  type: string;
  task?: TaskInfo;
  wait?: WaitInfo;
}

export interface PreparedDefinition {
  definition: JsonObject;
  states: Map<string, StateInfo>;
  /** The machine's TimeoutSeconds, applied by the runtime on the clock. */
  timeoutSeconds?: number;
  /** What the local runtime will not run as AWS does (unsupported integrations, fields the interpreter ignores). */
  warnings: string[];
}

/** The resource of a Wait state turned into a Task state (never called on AWS: the runtime answers it). */
export const LOCAL_WAIT_RESOURCE = 'arn:aws:states:::switchyard:wait';
/** Longest timer Node accepts, in seconds: the interpreter's per-task timeout when the runtime applies the real one. */
const INTERPRETER_NO_TIMEOUT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);
/** Fields the interpreter ignores silently (variables, distributed Map, cross-account tasks). */
const IGNORED_FIELDS = [
  'Assign',
  'ItemReader',
  'ItemBatcher',
  'ResultWriter',
  'Credentials',
  'ToleratedFailurePercentage',
  'ToleratedFailureCount',
];

const isObject = (value: unknown): value is JsonObject => value !== null && typeof value === 'object' && !Array.isArray(value);

/** How a Task's `Resource` is served. */
export function integrationOf(resource: string): { integration: Integration; resourceType: string; resourceName: string } {
  const lambdaArn = /^arn:aws[\w-]*:lambda:[^:]*:[^:]*:function:[^:]+(:[^:]+)?$/.exec(resource);
  if (lambdaArn) return { integration: { kind: 'lambda-function', functionArn: resource }, resourceType: 'lambda', resourceName: resource };
  const optimized = /^arn:aws[\w-]*:states:[^:]*:[^:]*:([a-z0-9-]+):([A-Za-z0-9]+)(?:\.(waitForTaskToken|sync(?::2)?))?$/.exec(resource);
  if (!optimized) {
    const reason = /:activity:/.test(resource) ? 'activities are not run locally' : 'the local runtime does not know this resource';
    return { integration: { kind: 'unsupported', reason }, resourceType: 'unknown', resourceName: resource };
  }
  const [, service = '', api = '', suffix] = optimized;
  const resourceName = suffix ? `${api}.${suffix}` : api;
  const wait = suffix === 'waitForTaskToken';
  const plain = { resourceType: service, resourceName };
  if (service === 'lambda' && api === 'invoke' && (!suffix || wait))
    return { integration: { kind: 'lambda-invoke', waitForTaskToken: wait }, ...plain };
  if (service === 'events' && api === 'putEvents' && (!suffix || wait))
    return { integration: { kind: 'events-put', waitForTaskToken: wait }, ...plain };
  if (service === 'sqs' && api === 'sendMessage' && (!suffix || wait))
    return { integration: { kind: 'sqs-send', waitForTaskToken: wait }, ...plain };
  if (service === 'states' && api === 'startExecution') {
    return {
      integration: { kind: 'states-start', mode: (suffix ?? 'start') as 'start' | 'waitForTaskToken' | 'sync' | 'sync:2' },
      ...plain,
    };
  }
  return {
    integration: {
      kind: 'unsupported',
      reason: `the ${service}:${resourceName} integration is not run locally (lambda:invoke, events:putEvents, sqs:sendMessage and states:startExecution are)`,
    },
    ...plain,
  };
}

/** Every state of a states map, nested ones included, with the object that holds it (to rewrite in place). */
function* allStates(states: unknown): Generator<[string, JsonObject, JsonObject]> {
  if (!isObject(states)) return;
  for (const [name, state] of Object.entries(states)) {
    if (!isObject(state)) continue;
    yield [name, state, states];
    if (state.Type === 'Parallel' && Array.isArray(state.Branches)) {
      for (const branch of state.Branches) if (isObject(branch)) yield* allStates(branch.States);
    }
    if (state.Type === 'Map') {
      const processor = state.ItemProcessor ?? state.Iterator;
      if (isObject(processor)) yield* allStates(processor.States);
    }
  }
}

const optionalNumber = (value: unknown) => (typeof value === 'number' ? value : undefined);
const optionalString = (value: unknown) => (typeof value === 'string' ? value : undefined);

/** Parses and checks a definition as CreateStateMachine does; throws `InvalidDefinitionError` with the reason. */
export function parseDefinition(text: string): JsonObject {
  let definition: unknown;
  try {
    definition = JSON.parse(text);
  } catch (error) {
    throw new InvalidDefinitionError(`Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: ${(error as Error).message}'`);
  }
  if (!isObject(definition))
    throw new InvalidDefinitionError("Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: the definition is not a JSON object'");
  const jsonata = definition.QueryLanguage === 'JSONata' ? ['the machine'] : [];
  for (const [name, state] of allStates(definition.States)) if (state.QueryLanguage === 'JSONata') jsonata.push(`state ${name}`);
  if (jsonata.length > 0) {
    throw new InvalidDefinitionError(
      `QueryLanguage JSONata (${jsonata.join(', ')}) is not run by the local runtime: its interpreter (aws-local-stepfunctions) would silently ignore the JSONata fields and run something else than AWS. Write the state machine in JSONPath.`,
    );
  }
  try {
    new StateMachine(definition as unknown as StateMachineDefinition, { validationOptions: { checkArn: false } });
  } catch (error) {
    throw new InvalidDefinitionError(`Invalid State Machine Definition: ${(error as Error).message}`);
  }
  return definition;
}

/** The states of a (parsed) definition, its integrations and what the local runtime will not run as AWS does. */
export function describeDefinition(definition: JsonObject): PreparedDefinition {
  const states = new Map<string, StateInfo>();
  const warnings: string[] = [];
  for (const [name, state] of allStates(definition.States)) {
    const info: StateInfo = { name, type: String(state.Type) };
    if (state.Type === 'Task') {
      const resource = String(state.Resource ?? '');
      const { integration, resourceType, resourceName } = integrationOf(resource);
      if (integration.kind === 'unsupported')
        warnings.push(`state ${name} uses ${resource}: ${integration.reason}; the task fails when it runs`);
      info.task = {
        resource,
        integration,
        resourceType,
        resourceName,
        ...defined('timeoutSeconds', optionalNumber(state.TimeoutSeconds)),
        ...defined('timeoutSecondsPath', optionalString(state.TimeoutSecondsPath)),
        ...defined('heartbeatSeconds', optionalNumber(state.HeartbeatSeconds)),
        ...defined('heartbeatSecondsPath', optionalString(state.HeartbeatSecondsPath)),
      };
    }
    if (state.Type === 'Wait') {
      info.wait = {
        ...defined('seconds', optionalNumber(state.Seconds)),
        ...defined('timestamp', optionalString(state.Timestamp)),
        ...defined('secondsPath', optionalString(state.SecondsPath)),
        ...defined('timestampPath', optionalString(state.TimestampPath)),
      };
    }
    const ignored = IGNORED_FIELDS.filter((field) => field in state);
    if (ignored.length > 0)
      warnings.push(`state ${name}: ${ignored.join(', ')} ${ignored.length > 1 ? 'are' : 'is'} ignored by the local runtime`);
    states.set(name, info);
  }
  const timeoutSeconds = optionalNumber(definition.TimeoutSeconds);
  return { definition, states, warnings, ...defined('timeoutSeconds', timeoutSeconds) };
}

function defined<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/**
 * The copy the interpreter runs (see the module comment): Wait states as
 * local tasks, Retry intervals divided by `timeScale`, timeouts left to the
 * runtime.
 */
export function interpreterDefinition(definition: JsonObject, timeScale: number): StateMachineDefinition {
  const copy = JSON.parse(JSON.stringify(definition)) as JsonObject;
  delete copy.TimeoutSeconds;
  for (const [name, state, holder] of [...allStates(copy.States)]) {
    if (Array.isArray(state.Retry)) {
      state.Retry = state.Retry.map((retrier: unknown) => {
        if (!isObject(retrier)) return retrier;
        const scaled: JsonObject = { ...retrier, IntervalSeconds: (optionalNumber(retrier.IntervalSeconds) ?? 1) / timeScale };
        const maxDelay = optionalNumber(retrier.MaxDelaySeconds);
        if (maxDelay !== undefined) scaled.MaxDelaySeconds = maxDelay / timeScale;
        return scaled;
      });
    }
    if (state.Type === 'Task') {
      delete state.TimeoutSecondsPath;
      delete state.HeartbeatSeconds;
      delete state.HeartbeatSecondsPath;
      state.TimeoutSeconds = INTERPRETER_NO_TIMEOUT_SECONDS;
    }
    if (state.Type === 'Wait') {
      const task: JsonObject = { Type: 'Task', Resource: LOCAL_WAIT_RESOURCE, TimeoutSeconds: INTERPRETER_NO_TIMEOUT_SECONDS };
      for (const key of ['Comment', 'InputPath', 'OutputPath', 'Next', 'End']) if (key in state) task[key] = state[key];
      if (typeof state.SecondsPath === 'string') task.Parameters = { 'seconds.$': state.SecondsPath, 'input.$': '$' };
      if (typeof state.TimestampPath === 'string') task.Parameters = { 'timestamp.$': state.TimestampPath, 'input.$': '$' };
      holder[name] = task;
    }
  }
  return copy as unknown as StateMachineDefinition;
}
