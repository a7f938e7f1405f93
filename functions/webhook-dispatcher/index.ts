/**
 * The webhook dispatcher (DESIGN.md §5), on the `webhook-delivery` queue:
 * each record names a delivery, which is signed (Standard Webhooks), POSTed
 * through the SSRF guard and stored with its attempt; retries go back on the
 * queue with DelaySeconds (shared/webhooks/dispatch.ts). An unexpected error
 * (a store or queue failure) fails that record only, so SQS redelivers it;
 * a delivery's own failures are not errors here, they are its state.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { parser } from '@aws-lambda-powertools/batch/parser';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSEvent } from 'aws-lambda';
import { eventFunction } from '../../shared/event-function.js';
import { webhookStore } from '../../shared/store/index.js';
import { logger, metrics } from '../../shared/telemetry.js';
import { deliveryQueueFromEnv } from '../../shared/webhooks/adapters.js';
import {
  dispatchDelivery,
  webhookDispatchConfigFromEnv,
  type DispatchResult,
  type WebhookDispatchConfig,
} from '../../shared/webhooks/dispatch.js';
import { DeliveryRecordSchema, type DeliveryRecord } from '../../shared/webhooks/messages.js';
import { dispatchDeps } from '../../shared/webhooks/pipeline-deps.js';

const processor = new BatchProcessor(EventType.SQS, { parser, schema: DeliveryRecordSchema, logger });

const COUNTED: Partial<Record<DispatchResult['action'], string>> = {
  delivered: 'WebhookDeliveriesDelivered',
  retrying: 'WebhookDeliveriesRetried',
  failed: 'WebhookDeliveriesFailed',
  deferred: 'WebhookDeliveriesDeferred',
  abandoned: 'WebhookDeliveriesAbandoned',
};

function report(result: DispatchResult): void {
  const metric = COUNTED[result.action];
  if (metric) metrics.addMetric(metric, MetricUnit.Count, 1);
  if (result.latencyMs !== undefined && result.attempt !== undefined) {
    metrics.addMetric('WebhookAttemptLatency', MetricUnit.Milliseconds, result.latencyMs);
  }
  if (result.disabledSubscription) logger.warn('webhook subscription disabled', { ...result });
  else if (result.action === 'failed' || result.action === 'retrying') logger.warn('webhook delivery attempt failed', { ...result });
  else logger.info('webhook delivery message handled', { ...result });
}

let config: WebhookDispatchConfig | undefined;

const dispatcher = async (event: SQSEvent, context: Context) => {
  config ??= webhookDispatchConfigFromEnv();
  const settings = config;
  const deps = dispatchDeps(webhookStore(), deliveryQueueFromEnv(), { logger, requestId: context.awsRequestId });
  const response = await processPartialResponse(
    event,
    async (record: DeliveryRecord) => report(await dispatchDelivery(record.body.deliveryId, deps, settings)),
    processor,
    { context },
  );
  if (response.batchItemFailures.length > 0) {
    logger.warn('delivery messages not handled; SQS redelivers them', {
      failed: response.batchItemFailures.length,
      of: event.Records.length,
    });
  }
  return response;
};

export const handler = eventFunction(dispatcher);
