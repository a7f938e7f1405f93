/** The outbox item as the relay reads it back from the table's stream: a schema, so a malformed item fails its own record only. */
import * as z from 'zod';
import { EVENT_TYPE_FIELDS, type SwitchyardEventType } from './types.js';

export const StoredCloudEventSchema = z.object({
  specversion: z.literal('1.0'),
  id: z.string().min(1),
  source: z.string().min(1),
  type: z.enum(Object.keys(EVENT_TYPE_FIELDS) as [SwitchyardEventType, ...SwitchyardEventType[]]),
  subject: z.string(),
  time: z.string(),
  datacontenttype: z.literal('application/json'),
  data: z.unknown().optional(),
  dataref: z.string().optional(),
  traceparent: z.string().optional(),
});

/** An outbox item on the table's stream (shared/store/table-store.ts outboxItem). */
export const OutboxItemSchema = z.object({ pk: z.string(), type: z.literal('Outbox'), event: StoredCloudEventSchema });
