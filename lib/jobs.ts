import { Duration } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Construct } from 'constructs';
import { DEFAULT_HEALTH } from '../shared/domain/edges.js';
import { HEALTH_ENV } from '../shared/domain/edge-health.js';
import { SwitchyardFunction } from './function.js';
import { grantTableAccess, TABLE_ACCESS } from './grants.js';

/** A whole number in [min, max] from CDK context (a number, or a string as `-c key=value` passes it); undefined when not set. */
export function wholeNumberFromContext(key: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${key} must be a whole number from ${min} to ${max}; got ${JSON.stringify(value)}`);
  }
  return n;
}

/** `switchyard:edgeHealthMinutes`: how often the edge-health job runs (1–60 minutes; default 1). */
export const edgeHealthMinutesFromContext = (value: unknown) => wholeNumberFromContext('switchyard:edgeHealthMinutes', value, 1, 60);

/** `switchyard:edgeHeartbeatSeconds`: how often edges are expected to report (1–3600 seconds; default 10). */
export const edgeHeartbeatSecondsFromContext = (value: unknown) =>
  wholeNumberFromContext('switchyard:edgeHeartbeatSeconds', value, 1, 3600);

/**
 * The health configuration every function that judges edge health gets in its
 * environment (the edges API computes it on read, the job records it), so
 * both call the same edge unhealthy. Missed intervals stay three (DESIGN.md §6).
 */
export function edgeHealthEnvironment(heartbeatSeconds = DEFAULT_HEALTH.heartbeatIntervalSeconds): Record<string, string> {
  return { [HEALTH_ENV.interval]: String(heartbeatSeconds), [HEALTH_ENV.missed]: String(DEFAULT_HEALTH.missedIntervals) };
}

export interface JobsProps {
  table: Table;
  serviceVersion: string;
  /** How often the edge-health job runs (default 1 minute). */
  edgeHealthMinutes?: number;
  /** The edges' heartbeat interval (default 10 s). */
  edgeHeartbeatSeconds?: number;
}

/**
 * Scheduled jobs (DESIGN.md §2, §6): the edge-health job, which records an
 * edge's health changes and emits `edge.unhealthy` / `edge.healthy`. (The
 * outbox sweeper belongs to the event backbone, lib/events.ts; the
 * deployment reconciler to the rollouts, lib/rollouts.ts.)
 */
export class Jobs extends Construct {
  readonly edgeHealth: SwitchyardFunction;

  constructor(scope: Construct, id: string, props: JobsProps) {
    super(scope, id);
    const minutes = props.edgeHealthMinutes ?? 1;
    this.edgeHealth = new SwitchyardFunction(this, 'EdgeHealth', {
      name: 'edge-health',
      description: 'Records edges that stopped or resumed reporting heartbeats (edge.unhealthy / edge.healthy)',
      serviceVersion: props.serviceVersion,
      timeout: Duration.seconds(60),
      environment: { TABLE_NAME: props.table.tableName, ...edgeHealthEnvironment(props.edgeHeartbeatSeconds) },
    });
    new Rule(this, 'EdgeHealthSchedule', {
      description: 'Runs the edge-health job',
      schedule: Schedule.rate(Duration.minutes(minutes)),
      // A missed run is not worth retrying for long: the next one looks again.
      targets: [new LambdaFunction(this.edgeHealth, { retryAttempts: 2 })],
    });
    grantTableAccess(props.table, this.edgeHealth, TABLE_ACCESS['edge-health']);
  }
}
