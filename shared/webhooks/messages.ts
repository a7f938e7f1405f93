/**
 * The SQS records of the webhook pipeline, as schemas for the Powertools
 * batch parser (a malformed record fails that record only):
 *
 * - `webhook-fanout`: the EventBridge rule's target, so each body is the bus
 *   entry (`{version, id, detail-type, source, …, detail}`) whose `detail` is
 *   the whole CloudEvent the relay put (shared/events/relay.ts busEntry).
 * - `webhook-delivery`: `{ deliveryId }` (DeliveryMessage), sent by the
 *   fan-out, the API's test ping and manual retry, and the dispatcher itself.
 */
import { JSONStringified } from '@aws-lambda-powertools/parser/helpers';
import { EventBridgeSchema } from '@aws-lambda-powertools/parser/schemas/eventbridge';
import { SqsRecordSchema } from '@aws-lambda-powertools/parser/schemas/sqs';
import * as z from 'zod';
import type { DeliveryMessage } from '../domain/webhooks.js';

/**
 * What the fan-out needs of a CloudEvent. The type is any dotted name, not
 * the catalog's enum: an event type this build does not know yet still fans
 * out to `*` subscribers instead of failing its record for ever.
 */
export interface FanoutCloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  traceparent?: string;
  [extension: string]: unknown;
}

const CloudEventFields = z.looseObject({
  specversion: z.literal('1.0'),
  id: z.string().min(1),
  source: z.string().min(1),
  type: z.string().min(1),
  traceparent: z.string().optional(),
});

/**
 * A CloudEvent, checked but not rebuilt: the value is the object JSON.parse
 * made, keys and extensions in their order, so the delivery body
 * (JSON.stringify of it) is the event as the relay serialized it. A zod
 * object would answer a new object with its shape's keys first.
 */
export const CloudEventDetailSchema = z
  .unknown()
  .superRefine((value, ctx) => {
    const result = CloudEventFields.safeParse(value);
    if (!result.success) {
      for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
    }
  })
  .transform((value) => value as FanoutCloudEvent);

/** The bus entry the `webhook-fanout` queue receives. */
export const FanoutBusEventSchema = EventBridgeSchema.extend({ detail: CloudEventDetailSchema });

/** One `webhook-fanout` record. */
export const FanoutRecordSchema = SqsRecordSchema.extend({ body: JSONStringified(FanoutBusEventSchema) });
export type FanoutRecord = z.infer<typeof FanoutRecordSchema>;

export const DeliveryMessageSchema = z.object({ deliveryId: z.uuid() }) satisfies z.ZodType<DeliveryMessage>;

/** One `webhook-delivery` record. */
export const DeliveryRecordSchema = SqsRecordSchema.extend({ body: JSONStringified(DeliveryMessageSchema) });
export type DeliveryRecord = z.infer<typeof DeliveryRecordSchema>;
