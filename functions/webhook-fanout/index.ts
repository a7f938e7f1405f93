/**
 * The webhook fan-out (DESIGN.md §5), on the `webhook-fanout` queue that an
 * EventBridge rule fills with every Switchyard event: for each record, one
 * delivery per enabled subscription that wants the event's type, each queued
 * on `webhook-delivery`. A record that fails (unparsable, a store or queue
 * error) is reported as a batch item failure, so SQS redelivers that record
 * only; fanning out again creates no second delivery (shared/webhooks/fanout.ts).
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { parser } from '@aws-lambda-powertools/batch/parser';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSEvent } from 'aws-lambda';
import { eventFunction } from '../../shared/event-function.js';
import { webhookStore } from '../../shared/store/index.js';
import { logger, metrics } from '../../shared/telemetry.js';
import { deliveryQueueFromEnv } from '../../shared/webhooks/adapters.js';
import { fanOut } from '../../shared/webhooks/fanout.js';
import { FanoutRecordSchema, type FanoutRecord } from '../../shared/webhooks/messages.js';
import { fanoutDeps } from '../../shared/webhooks/pipeline-deps.js';

const processor = new BatchProcessor(EventType.SQS, { parser, schema: FanoutRecordSchema, logger });

const fanout = async (event: SQSEvent, context: Context) => {
  const deps = fanoutDeps(webhookStore(), deliveryQueueFromEnv());
  const response = await processPartialResponse(
    event,
    async (record: FanoutRecord) => {
      const cloudEvent = record.body.detail;
      const result = await fanOut(cloudEvent, deps);
      metrics.addMetric('FanoutDeliveriesCreated', MetricUnit.Count, result.created);
      if (result.matched > 0 || result.ignored) {
        logger.info('event fanned out', { eventId: cloudEvent.id, type: cloudEvent.type, ...result });
      }
    },
    processor,
    { context },
  );
  if (response.batchItemFailures.length > 0) {
    metrics.addMetric('FanoutFailures', MetricUnit.Count, response.batchItemFailures.length);
    logger.warn('events not fanned out; SQS redelivers them', { failed: response.batchItemFailures.length, of: event.Records.length });
  }
  return response;
};

export const handler = eventFunction(fanout);
