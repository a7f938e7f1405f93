/** The EventBridge side of the relay: one PutEvents call, answered per entry. */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SDK_TIMEOUTS } from '../sdk-timeouts.js';
import { tracer } from '../telemetry.js';
import type { BusEntry, EntryResult } from './relay.js';

let client: EventBridgeClient | undefined;
const eventBridge = () => (client ??= tracer.captureAWSv3Client(new EventBridgeClient({ requestHandler: SDK_TIMEOUTS })));

export function busPutter(busName: string): (entries: readonly BusEntry[]) => Promise<EntryResult[]> {
  return async (entries) => {
    const out = await eventBridge().send(new PutEventsCommand({ Entries: entries.map((entry) => ({ ...entry, EventBusName: busName })) }));
    return entries.map((_, i) => {
      const result = out.Entries?.[i];
      if (result?.EventId && !result.ErrorCode) return { ok: true };
      return { ok: false, code: result?.ErrorCode ?? 'Unknown', message: result?.ErrorMessage ?? 'no result for this entry' };
    });
  };
}
