/**
 * The edge-health job's rules (DESIGN.md §6: "an edge whose heartbeats stop
 * for three intervals is unhealthy"): given every edge with the health last
 * recorded for it and its newest heartbeat, and `now`, which edges change
 * health and which event each change emits. Pure: the schedule, the store
 * and the clock are elsewhere (functions/edge-health, shared/store/edge-store.ts).
 *
 * The recorded health is the job's memory, kept on the edge item beside (not
 * in) what an administrator set, so recording it never changes the edge's
 * revision. Absent means `unknown`: the job has never recorded this edge.
 */
import { DEFAULT_HEALTH, edgeHealth, healthTransition, type EdgeHealth, type EdgeHealthEvent, type HealthConfig } from './edges.js';
import type { EdgeRecord } from './edge-service.js';

/** One edge as the job reads it. */
export interface EdgeHealthObservation {
  edge: Pick<EdgeRecord, 'id' | 'name' | 'region'>;
  /** The health last recorded by the job (`unknown`: never recorded). */
  recorded: EdgeHealth;
  /** The newest heartbeat's time; absent if the edge never reported. */
  lastHeartbeatAt?: string;
}

/** A change of an edge's recorded health, and the event it emits (none for a first healthy observation). */
export interface EdgeHealthChange {
  edge: Pick<EdgeRecord, 'id' | 'name' | 'region'>;
  /** What is recorded now: the write is conditional on it still being so. */
  from: EdgeHealth;
  to: Exclude<EdgeHealth, 'unknown'>;
  /** The heartbeat the judgement was made on: the write is conditional on it still being the newest. */
  lastHeartbeatAt: string;
  event?: EdgeHealthEvent;
}

/**
 * The change each edge gets at `now`, for those whose health differs from
 * the one recorded:
 *
 * | recorded \ now | unknown (never reported) | healthy | unhealthy |
 * |---|---|---|---|
 * | unknown | — | recorded, no event | `edge.unhealthy` |
 * | healthy | — | — | `edge.unhealthy` |
 * | unhealthy | — | `edge.healthy` | — |
 *
 * Unhealthy means the newest heartbeat is strictly older than `interval ×
 * missedIntervals` (./edges.ts edgeHealth: at exactly three intervals the
 * third heartbeat is only just due).
 */
export function healthChanges(
  observations: readonly EdgeHealthObservation[],
  now: string,
  config: HealthConfig = DEFAULT_HEALTH,
): EdgeHealthChange[] {
  const changes: EdgeHealthChange[] = [];
  for (const { edge, recorded, lastHeartbeatAt } of observations) {
    const current = edgeHealth(lastHeartbeatAt, now, config);
    if (current === 'unknown' || lastHeartbeatAt === undefined || current === recorded) continue;
    const event = healthTransition(recorded, current);
    changes.push({ edge, from: recorded, to: current, lastHeartbeatAt, ...(event ? { event } : {}) });
  }
  return changes;
}

/** Environment names of the health configuration, set by the CDK stack on every function that judges health. */
export const HEALTH_ENV = { interval: 'EDGE_HEARTBEAT_SECONDS', missed: 'EDGE_MISSED_INTERVALS' } as const;

/**
 * The health configuration from an environment (process.env in a function),
 * so the API's computed health and the job agree; DEFAULT_HEALTH for what is
 * not set. A value that is not a positive whole number is a deployment error.
 */
export function healthConfigFrom(env: Record<string, string | undefined>): HealthConfig {
  const read = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a whole number from 1; got ${raw}`);
    return value;
  };
  return {
    heartbeatIntervalSeconds: read(HEALTH_ENV.interval, DEFAULT_HEALTH.heartbeatIntervalSeconds),
    missedIntervals: read(HEALTH_ENV.missed, DEFAULT_HEALTH.missedIntervals),
  };
}

/** What the job needs from persistence (shared/store/edge-store.ts). */
export interface EdgeHealthStore {
  /** Every edge (all pages), with its recorded health and newest heartbeat. */
  listEdgeHealth(): Promise<EdgeHealthObservation[]>;
  /**
   * Records `change.to` if the recorded health is still `change.from` and the
   * newest heartbeat is still the one judged; with its event, audit record
   * and outbox item in one transaction when it emits one. False when the
   * condition failed (a heartbeat landed, the edge is gone, another run
   * recorded it): nothing is written, and the next run looks again.
   */
  recordHealth(change: EdgeHealthChange, at: string): Promise<boolean>;
}

export interface EdgeHealthRun {
  edges: number;
  unhealthy: number;
  /** Changes recorded (with or without an event). */
  recorded: number;
  /** Events emitted, by type. */
  events: Record<EdgeHealthEvent, number>;
  /** Changes whose condition failed (left for the next run). */
  skipped: number;
}

/** One run of the job: read, judge, record each change (one at a time: a fleet's changes per minute are few). */
export async function runEdgeHealth(store: EdgeHealthStore, now: string, config: HealthConfig = DEFAULT_HEALTH): Promise<EdgeHealthRun> {
  const observations = await store.listEdgeHealth();
  const run: EdgeHealthRun = {
    edges: observations.length,
    unhealthy: observations.filter((o) => edgeHealth(o.lastHeartbeatAt, now, config) === 'unhealthy').length,
    recorded: 0,
    events: { 'edge.healthy': 0, 'edge.unhealthy': 0 },
    skipped: 0,
  };
  for (const change of healthChanges(observations, now, config)) {
    if (await store.recordHealth(change, now)) {
      run.recorded++;
      if (change.event) run.events[change.event]++;
    } else {
      run.skipped++;
    }
  }
  return run;
}
