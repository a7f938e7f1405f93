/**
 * The outbox relay (DESIGN.md §5): on the table's stream, filtered to new
 * outbox items, it puts each CloudEvent on the bus and reports the records
 * whose entries failed as batch item failures, so Lambda retries from the
 * first of them (bisecting, bounded, then the on-failure queue; the sweeper
 * picks up whatever is left pending).
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { parser } from '@aws-lambda-powertools/batch/parser';
import { DynamoDBMarshalled } from '@aws-lambda-powertools/parser/helpers/dynamodb';
import { DynamoDBStreamChangeRecordBase, DynamoDBStreamRecord } from '@aws-lambda-powertools/parser/schemas/dynamodb';
import type { Context, DynamoDBStreamEvent } from 'aws-lambda';
import type * as z from 'zod';
import { busPutter } from '../../shared/events/bus.js';
import { OutboxItemSchema } from '../../shared/events/outbox-schema.js';
import { RelayBatcher } from '../../shared/events/relay.js';
import { dynamoDocumentClient, tableNameFromEnv } from '../../shared/store/client.js';
import { OutboxStore } from '../../shared/store/outbox-store.js';
import { eventFunction } from '../../shared/event-function.js';
import { logger, metrics } from '../../shared/telemetry.js';
import { MetricUnit } from '@aws-lambda-powertools/metrics';

// The whole record's schema: an INSERT has no OldImage, so only NewImage is read as an outbox item.
const OutboxStreamRecord = DynamoDBStreamRecord.extend({
  dynamodb: DynamoDBStreamChangeRecordBase.extend({ NewImage: DynamoDBMarshalled(OutboxItemSchema) }),
});
const processor = new BatchProcessor(EventType.DynamoDBStreams, { parser, schema: OutboxStreamRecord, logger });

function busName(): string {
  const name = process.env.EVENT_BUS_NAME;
  if (!name) throw new Error('EVENT_BUS_NAME is not set');
  return name;
}

const relay = async (event: DynamoDBStreamEvent, context: Context) => {
  const outbox = new OutboxStore(dynamoDocumentClient(), tableNameFromEnv());
  const batcher = new RelayBatcher({
    relayedAmong: (ids) => outbox.relayedAmong(ids),
    putEntries: busPutter(busName()),
    markRelayed: (ids) => outbox.markRelayed(ids),
  });
  const response = await processPartialResponse(
    event,
    async (record: z.infer<typeof OutboxStreamRecord>) => {
      const outcome = await batcher.submit(record.dynamodb.NewImage.event);
      metrics.addMetric(outcome.status === 'relayed' ? 'EventsRelayed' : 'EventsAlreadyRelayed', MetricUnit.Count, 1);
    },
    processor,
    { context },
  );
  if (response.batchItemFailures.length > 0) {
    metrics.addMetric('RelayFailures', MetricUnit.Count, response.batchItemFailures.length);
    logger.warn('records not relayed; Lambda retries them', { failed: response.batchItemFailures.length, of: event.Records.length });
  }
  return response;
};

export const handler = eventFunction(relay);
