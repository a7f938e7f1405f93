/**
 * The outbox sweeper (DESIGN.md §5), every minute by an EventBridge schedule:
 * re-drives outbox events still pending after OUTBOX_SWEEP_AFTER_SECONDS (the
 * relay gave up on them: its retries ran out, or its stream records expired)
 * through the same relay logic, so nothing committed is ever left off the bus.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { EventBridgeSchema } from '@aws-lambda-powertools/parser/schemas/eventbridge';
import { busPutter } from '../../shared/events/bus.js';
import { relayEvents } from '../../shared/events/relay.js';
import { dynamoDocumentClient, tableNameFromEnv } from '../../shared/store/client.js';
import { OutboxStore } from '../../shared/store/outbox-store.js';
import { eventFunction } from '../../shared/event-function.js';
import { logger, metrics } from '../../shared/telemetry.js';

/** Pending events read per shard per run; a backlog drains over successive runs. */
const BATCH_PER_SHARD = 100;

export interface SweepResult {
  pending: number;
  relayed: number;
  alreadyRelayed: number;
  failed: number;
}

const sweep = async (): Promise<SweepResult> => {
  const afterSeconds = Number(process.env.OUTBOX_SWEEP_AFTER_SECONDS ?? '300');
  const busName = process.env.EVENT_BUS_NAME;
  if (!busName) throw new Error('EVENT_BUS_NAME is not set');
  const outbox = new OutboxStore(dynamoDocumentClient(), tableNameFromEnv());
  const pending = await outbox.pendingBefore(new Date(Date.now() - afterSeconds * 1000), BATCH_PER_SHARD);
  const outcomes = await relayEvents(pending, {
    relayedAmong: (ids) => outbox.relayedAmong(ids),
    putEntries: busPutter(busName),
    markRelayed: (ids) => outbox.markRelayed(ids),
  });
  const result: SweepResult = { pending: pending.length, relayed: 0, alreadyRelayed: 0, failed: 0 };
  for (const outcome of outcomes.values()) {
    if (outcome.status === 'relayed') result.relayed++;
    else if (outcome.status === 'already-relayed') result.alreadyRelayed++;
    else result.failed++;
  }
  metrics.addMetric('OutboxRedriven', MetricUnit.Count, result.relayed);
  if (result.failed > 0) metrics.addMetric('OutboxRedriveFailures', MetricUnit.Count, result.failed);
  if (result.pending > 0) logger.warn('re-drove outbox events the relay had not put on the bus', { ...result });
  return result;
};

export const handler = eventFunction(sweep).use(parser({ schema: EventBridgeSchema }));
