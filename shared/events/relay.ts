/**
 * Putting outbox events on the bus (DESIGN.md §5), shared by the relay (on
 * the table's stream) and the sweeper (re-drives what was never relayed).
 * Domain logic only: the table and the bus are ports, so it is tested
 * without either.
 *
 * - Idempotent on the CloudEvent id: an event already marked relayed is not
 *   put again (a stream batch is retried from its first failure, so events
 *   after it come round a second time; the sweeper may meet the relay).
 * - PutEvents takes at most 10 entries and 256 KB a call; each entry's own
 *   result decides that event's fate, so one failed entry never fails the
 *   others.
 * - An event too large for the bus goes as a claim check: the CloudEvents
 *   `dataref` extension names where its data can be read, `data` is left out.
 */
import { busSourceOf, type SwitchyardCloudEvent } from './cloudevent.js';
import { EVENT_TYPE_FIELDS } from './types.js';

/** A PutEvents entry (the fields Switchyard sets). */
export interface BusEntry {
  Source: string;
  DetailType: string;
  Detail: string;
  Time: Date;
  TraceHeader?: string;
}

export type EntryResult = { ok: true } | { ok: false; code: string; message: string };

export interface RelayPorts {
  /** Which of these event ids the outbox already marks relayed (a consistent read). */
  relayedAmong(ids: readonly string[]): Promise<Set<string>>;
  /** One PutEvents call (≤ 10 entries, ≤ 256 KB); one result per entry, in order. */
  putEntries(entries: readonly BusEntry[]): Promise<EntryResult[]>;
  /** Marks these outbox items relayed: out of the pending index, expiring by TTL. */
  markRelayed(ids: readonly string[]): Promise<void>;
}

export type RelayOutcome = { status: 'relayed' } | { status: 'already-relayed' } | { status: 'failed'; reason: string };

/** EventBridge's limits on one PutEvents call. */
export const MAX_ENTRIES_PER_CALL = 10;
export const MAX_BYTES_PER_CALL = 256 * 1024;

/** An entry's size as EventBridge counts it: Time (14 bytes), Source, DetailType, Detail (and Resources, unused). */
export function entrySize(entry: BusEntry): number {
  return 14 + Buffer.byteLength(entry.Source) + Buffer.byteLength(entry.DetailType) + Buffer.byteLength(entry.Detail);
}

/** Where the API serves an event's entity, for a claim check. */
function dataref(event: SwitchyardCloudEvent): string {
  const area = EVENT_TYPE_FIELDS[event.type].area;
  return `/api/v1/${area === 'apikeys' ? 'api-keys' : area}/${event.subject}`;
}

/** X-Ray's trace header from a W3C traceparent (the inverse of traceparentFromXRay). */
export function xrayTraceHeader(traceparent: string | undefined): string | undefined {
  const match = /^00-([0-9a-f]{8})([0-9a-f]{24})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(traceparent ?? '');
  if (!match) return undefined;
  return `Root=1-${match[1]}-${match[2]};Parent=${match[3]};Sampled=${match[4] === '01' ? '1' : '0'}`;
}

/** The bus entry of an event: source `switchyard.<area>`, detail-type the CloudEvent type, detail the whole CloudEvent. */
export function busEntry(event: SwitchyardCloudEvent): BusEntry {
  const traceHeader = xrayTraceHeader(event.traceparent);
  const entry: BusEntry = {
    Source: busSourceOf(event),
    DetailType: event.type,
    Detail: JSON.stringify(event),
    Time: new Date(event.time),
    ...(traceHeader ? { TraceHeader: traceHeader } : {}),
  };
  if (entrySize(entry) <= MAX_BYTES_PER_CALL) return entry;
  const { data: _data, ...envelope } = event;
  return { ...entry, Detail: JSON.stringify({ ...envelope, dataref: dataref(event) }) };
}

/** Entries in calls of ≤ 10 and ≤ 256 KB, in order. */
export function chunkEntries<T extends { entry: BusEntry }>(items: readonly T[]): T[][] {
  const calls: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = entrySize(item.entry);
    if (current.length === MAX_ENTRIES_PER_CALL || (current.length > 0 && bytes + size > MAX_BYTES_PER_CALL)) {
      calls.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) calls.push(current);
  return calls;
}

/** Puts these events on the bus, each at most once as far as the outbox can tell; answers each one's outcome by id. */
export async function relayEvents(events: readonly SwitchyardCloudEvent[], ports: RelayPorts): Promise<Map<string, RelayOutcome>> {
  const outcomes = new Map<string, RelayOutcome>();
  const unique = [...new Map(events.map((event) => [event.id, event])).values()];
  if (unique.length === 0) return outcomes;
  const done = await ports.relayedAmong(unique.map((event) => event.id));
  for (const id of done) outcomes.set(id, { status: 'already-relayed' });
  const items = unique.filter((event) => !done.has(event.id)).map((event) => ({ event, entry: busEntry(event) }));
  const relayed: string[] = [];
  await Promise.all(
    chunkEntries(items).map(async (call) => {
      let results: EntryResult[];
      try {
        results = await ports.putEntries(call.map((item) => item.entry));
      } catch (error) {
        // The whole call failed (throttled, timed out): every entry in it failed, none is known to be on the bus.
        const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        for (const item of call) outcomes.set(item.event.id, { status: 'failed', reason });
        return;
      }
      call.forEach((item, i) => {
        const result = results[i];
        if (result?.ok) {
          relayed.push(item.event.id);
          outcomes.set(item.event.id, { status: 'relayed' });
        } else {
          outcomes.set(item.event.id, {
            status: 'failed',
            reason: result ? `${result.code}: ${result.message}` : 'no result for this entry',
          });
        }
      });
    }),
  );
  if (relayed.length > 0) {
    try {
      await ports.markRelayed(relayed);
    } catch {
      // On the bus already: not marking only means a retry or the sweeper may put them again, and consumers dedupe by id.
    }
  }
  return outcomes;
}

/**
 * Gathers the events of one invocation's records (Powertools processes them
 * concurrently) into shared PutEvents calls: each record's handler submits
 * its event and learns its own outcome. A flush runs once the submitting
 * handlers have yielded (setImmediate), so a batch of records becomes a few
 * calls of 10, not one call per record.
 */
export class RelayBatcher {
  private pending: { event: SwitchyardCloudEvent; settle: (outcome: RelayOutcome) => void }[] = [];
  private scheduled = false;

  constructor(private readonly ports: RelayPorts) {}

  /** Resolves when the event is on the bus (or was already); rejects with the reason it is not. */
  async submit(event: SwitchyardCloudEvent): Promise<RelayOutcome> {
    const outcome = await new Promise<RelayOutcome>((settle) => {
      this.pending.push({ event, settle });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
    if (outcome.status === 'failed') throw new Error(`event ${event.id} (${event.type}) was not put on the bus: ${outcome.reason}`);
    return outcome;
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
    let outcomes: Map<string, RelayOutcome>;
    try {
      outcomes = await relayEvents(
        batch.map((item) => item.event),
        this.ports,
      );
    } catch (error) {
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      outcomes = new Map(batch.map((item) => [item.event.id, { status: 'failed', reason } as const]));
    }
    for (const item of batch) item.settle(outcomes.get(item.event.id) ?? { status: 'failed', reason: 'no outcome' });
  }
}
