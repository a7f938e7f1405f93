/**
 * An execution's history as GetExecutionHistory answers it: AWS's event
 * types (`ExecutionStarted`, `TaskStateEntered`, `TaskScheduled`,
 * `LambdaFunctionSucceeded`, `WaitStateExited`, `MapIterationStarted`…),
 * ids from 1, and each event's details under AWS's member name
 * (`stateEnteredEventDetails`, `taskSucceededEventDetails`…).
 *
 * Two sources feed it: the interpreter's event log (states entered and
 * exited, Map iterations, Map/Parallel outcomes), translated here, and the
 * runtime's own task and execution events (scheduled, started, submitted,
 * succeeded, failed, timed out), recorded as they happen.
 */
import type { StateInfo } from './definition.js';

export interface HistoryEvent {
  /** Simulated epoch ms (the runtime's clock). */
  timestamp: number;
  type: string;
  id: number;
  previousEventId: number;
  details?: Record<string, unknown>;
}

/** The member of a history event that holds its details (`TaskStateEntered` → `stateEnteredEventDetails`). */
export function detailsMember(type: string): string {
  if (type.endsWith('StateEntered')) return 'stateEnteredEventDetails';
  if (type.endsWith('StateExited')) return 'stateExitedEventDetails';
  return `${type.charAt(0).toLowerCase()}${type.slice(1)}EventDetails`;
}

/** Details fields that carry execution data (left out when `includeExecutionData` is false). */
const DATA_FIELDS = new Set(['input', 'output', 'parameters', 'inputDetails', 'outputDetails']);

/** The event as the API answers it: epoch seconds, details under their member. */
export function historyEventOutput(event: HistoryEvent, includeExecutionData = true): Record<string, unknown> {
  const output: Record<string, unknown> = {
    timestamp: event.timestamp / 1000,
    type: event.type,
    id: event.id,
    previousEventId: event.previousEventId,
  };
  if (event.details) {
    output[detailsMember(event.type)] = includeExecutionData
      ? event.details
      : Object.fromEntries(Object.entries(event.details).filter(([key]) => !DATA_FIELDS.has(key)));
  }
  return output;
}

/** What the interpreter logs (aws-local-stepfunctions' EventLog, the fields read here). */
export interface InterpreterEvent {
  type: string;
  timestamp: number;
  state?: { name: string; type: string; input?: unknown; output?: unknown };
  parentState?: { name: string; type: string };
  index?: number;
  Error?: string;
  Cause?: unknown;
}

const json = (value: unknown) => JSON.stringify(value ?? null);
export const payloadDetails = { truncated: false };

/** The history events (type and details) an interpreter event becomes; none for the ones AWS has no event for. */
export function translateInterpreterEvent(
  event: InterpreterEvent,
  states: Map<string, StateInfo>,
): Array<{ type: string; details?: Record<string, unknown> }> {
  const state = event.state;
  const typeOf = (name: string, fallback: string) => states.get(name)?.type ?? fallback;
  switch (event.type) {
    case 'StateEntered': {
      if (!state) return [];
      const type = typeOf(state.name, state.type);
      const entered = {
        type: `${type}StateEntered`,
        details: { name: state.name, input: json(state.input), inputDetails: payloadDetails },
      };
      return type === 'Parallel' ? [entered, { type: 'ParallelStateStarted' }] : [entered];
    }
    case 'StateExited': {
      if (!state) return [];
      const type = typeOf(state.name, state.type);
      const exited = {
        type: `${type}StateExited`,
        details: { name: state.name, output: json(state.output), outputDetails: payloadDetails },
      };
      if (type === 'Map') return [{ type: 'MapStateSucceeded' }, exited];
      if (type === 'Parallel') return [{ type: 'ParallelStateSucceeded' }, exited];
      return [exited];
    }
    case 'StateFailed': {
      // Tasks record their own failure; a Fail state, a Choice without a match or a path error end in ExecutionFailed.
      const type = state ? typeOf(state.name, state.type) : '';
      if (type === 'Map') return [{ type: 'MapStateFailed' }];
      if (type === 'Parallel') return [{ type: 'ParallelStateFailed' }];
      return [];
    }
    case 'MapIterationStarted':
    case 'MapIterationSucceeded':
    case 'MapIterationFailed':
      return [{ type: event.type, details: { name: event.parentState?.name ?? '', index: event.index ?? 0 } }];
    default:
      // ExecutionStarted/Succeeded/Failed/Aborted/Timeout are recorded by the runtime with AWS's details;
      // StateRetried/StateCaught and Parallel branch events have no AWS event.
      return [];
  }
}
