/** Putting outbox events on the bus: at most once per event as far as the outbox knows, within EventBridge's limits, each event's fate its own. */
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../../shared/events/catalog.js';
import { cloudEvent, traceparentFromXRay, type SwitchyardCloudEvent } from '../../../shared/events/cloudevent.js';
import {
  busEntry,
  entrySize,
  MAX_BYTES_PER_CALL,
  RelayBatcher,
  relayEvents,
  xrayTraceHeader,
  type BusEntry,
  type EntryResult,
  type RelayPorts,
} from '../../../shared/events/relay.js';
import { EVENT_TYPE_FIELDS, eventData, type SwitchyardEventType } from '../../../shared/events/types.js';

const event = (n: number, data: unknown = { id: `r${n}`, name: 'pipeline' }): SwitchyardCloudEvent =>
  cloudEvent({ id: `e${n}`, type: 'receiver.created', subject: `r${n}`, time: '2026-11-23T10:00:00.000Z', data });

/** A table and a bus in memory: the bus answers each entry by `fail`, the table remembers what was marked. */
function fakes(fail: (entry: BusEntry, call: number) => string | undefined = () => undefined) {
  const marked = new Set<string>();
  const calls: BusEntry[][] = [];
  const onBus: string[] = [];
  const ports: RelayPorts = {
    relayedAmong: async (ids) => new Set(ids.filter((id) => marked.has(id))),
    putEntries: async (entries) => {
      calls.push([...entries]);
      return entries.map((entry): EntryResult => {
        const code = fail(entry, calls.length);
        if (code) return { ok: false, code, message: 'injected' };
        onBus.push((JSON.parse(entry.Detail) as SwitchyardCloudEvent).id);
        return { ok: true };
      });
    },
    markRelayed: async (ids) => ids.forEach((id) => marked.add(id)),
  };
  return { ports, marked, calls, onBus };
}

describe('relayEvents', () => {
  it('puts 25 events in calls of at most 10, marks them, and puts none twice when asked again', async () => {
    const { ports, calls, onBus, marked } = fakes();
    const events = Array.from({ length: 25 }, (_, n) => event(n));
    const outcomes = await relayEvents(events, ports);
    expect(calls.map((c) => c.length)).toEqual([10, 10, 5]);
    expect([...outcomes.values()].every((o) => o.status === 'relayed')).toBe(true);
    expect(marked.size).toBe(25);
    const again = await relayEvents([...events, events[0] as SwitchyardCloudEvent], ports);
    expect([...again.values()].every((o) => o.status === 'already-relayed')).toBe(true);
    expect(onBus).toHaveLength(25);
  });

  it('fails only the entries the bus refused, leaving them unmarked for the retry', async () => {
    const { ports, marked } = fakes((entry) => ((JSON.parse(entry.Detail) as { id: string }).id === 'e3' ? 'InternalFailure' : undefined));
    const outcomes = await relayEvents([event(1), event(2), event(3), event(4)], ports);
    expect(outcomes.get('e3')).toMatchObject({ status: 'failed', reason: expect.stringContaining('InternalFailure') });
    expect([...marked].sort()).toEqual(['e1', 'e2', 'e4']);
  });

  it('fails every entry of a call that failed as a whole (throttled, timed out)', async () => {
    const { ports } = fakes();
    ports.putEntries = async () => {
      throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    };
    const outcomes = await relayEvents([event(1), event(2)], ports);
    expect([...outcomes.values()].map((o) => o.status)).toEqual(['failed', 'failed']);
  });

  it('keeps each call within 256 KB, and sends an event too large for the bus as a claim check (dataref)', async () => {
    const { ports, calls } = fakes();
    const big = (n: number, kib: number) => event(n, { id: `r${n}`, description: 'x'.repeat(kib * 1024) });
    await relayEvents([big(1, 100), big(2, 100), big(3, 100), big(4, 300)], ports);
    for (const call of calls) expect(call.reduce((sum, e) => sum + entrySize(e), 0)).toBeLessThanOrEqual(MAX_BYTES_PER_CALL);
    const claim = calls
      .flat()
      .map((e) => JSON.parse(e.Detail) as SwitchyardCloudEvent)
      .find((e) => e.id === 'e4');
    expect(claim).toMatchObject({ id: 'e4', dataref: '/api/v1/receivers/r4' });
    expect(claim?.data).toBeUndefined();
  });
});

describe('the bus entry', () => {
  it('is source switchyard.<area>, detail-type the CloudEvent type, detail the whole CloudEvent, with the trace header', () => {
    const traceparent = traceparentFromXRay('Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1');
    const e = cloudEvent({
      id: 'e1',
      type: 'event.created',
      subject: 'x',
      time: '2026-11-23T10:00:00.000Z',
      data: { id: 'x' },
      ...(traceparent ? { traceparent } : {}),
    });
    const entry = busEntry(e);
    expect(entry).toMatchObject({
      Source: 'switchyard.events',
      DetailType: 'event.created',
      TraceHeader: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
    });
    expect(JSON.parse(entry.Detail)).toEqual(e);
    expect(xrayTraceHeader('not a traceparent')).toBeUndefined();
    expect(traceparentFromXRay('Root=garbage')).toBeUndefined();
  });
});

describe('RelayBatcher', () => {
  it('gathers the records one invocation submits into shared calls, and rejects only the failed ones', async () => {
    const { ports, calls } = fakes((entry) => ((JSON.parse(entry.Detail) as { id: string }).id === 'e7' ? 'InternalFailure' : undefined));
    const batcher = new RelayBatcher(ports);
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, n) => batcher.submit(event(n))));
    expect(calls.map((c) => c.length)).toEqual([10, 2]);
    expect(results.map((r) => r.status)).toEqual(Array.from({ length: 12 }, (_, n) => (n === 7 ? 'rejected' : 'fulfilled')));
  });
});

describe('the event catalog', () => {
  it.each(Object.keys(EVENT_TYPES))('%s: the write path keeps exactly the fields its documented schema has', (type) => {
    const schema = EVENT_TYPES[type as SwitchyardEventType].data as unknown as { shape: Record<string, unknown> };
    expect([...EVENT_TYPE_FIELDS[type as SwitchyardEventType].fields].sort()).toEqual(Object.keys(schema.shape).sort());
  });

  it('drops every field a type does not list', () => {
    expect(eventData('user.created', { id: 'u', username: 'ada', passwordHash: 'scrypt$…', sessionGeneration: 3 })).toEqual({
      id: 'u',
      username: 'ada',
    });
  });
});
