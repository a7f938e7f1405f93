/**
 * The outbox on DynamoDB Local, as the relay and the sweeper use it: pending
 * events are found oldest first, relayed ones are marked (out of the pending
 * index, expiring by TTL) and never put twice.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { ReceiverService } from '../../shared/domain/receivers.js';
import type { SwitchyardCloudEvent } from '../../shared/events/cloudevent.js';
import { relayEvents, type BusEntry, type RelayPorts } from '../../shared/events/relay.js';
import { systemClock, uuidIds } from '../../shared/store/index.js';
import { keys } from '../../shared/store/keys.js';
import { OutboxStore } from '../../shared/store/outbox-store.js';
import { DynamoReleaseStore } from '../../shared/store/release-store.js';
import { receiverBody } from '../support/samples.js';
import { freshTable, TEST_AUDIT } from '../support/table.js';

let table: Awaited<ReturnType<typeof freshTable>>;
let outbox: OutboxStore;
let receivers: ReceiverService;

beforeAll(async () => {
  table = await freshTable();
  outbox = new OutboxStore(table.client, table.tableName);
  receivers = new ReceiverService(new DynamoReleaseStore(table.client, table.tableName, { audit: TEST_AUDIT }), systemClock, uuidIds);
});

function bus(failFirst = 0) {
  const put: string[] = [];
  let failures = failFirst;
  const ports: RelayPorts = {
    relayedAmong: (ids) => outbox.relayedAmong(ids),
    putEntries: async (entries: readonly BusEntry[]) =>
      entries.map((entry) => {
        if (failures > 0) {
          failures--;
          return { ok: false, code: 'InternalFailure', message: 'injected' };
        }
        put.push((JSON.parse(entry.Detail) as SwitchyardCloudEvent).id);
        return { ok: true };
      }),
    markRelayed: (ids) => outbox.markRelayed(ids),
  };
  return { ports, put };
}

describe('sweeping the outbox', () => {
  it('re-drives what was never relayed, once: marked items leave the pending index and expire by TTL', async () => {
    for (let n = 0; n < 12; n++) await receivers.create(receiverBody());
    const pending = await outbox.pendingBefore(new Date(Date.now() + 1000), 100);
    expect(pending).toHaveLength(12);
    expect(pending.map((e) => e.time)).toEqual([...pending.map((e) => e.time)].sort());

    // The bus refuses the first two entries: those stay pending for the next sweep.
    const first = bus(2);
    const outcomes = await relayEvents(pending, first.ports);
    expect([...outcomes.values()].filter((o) => o.status === 'failed')).toHaveLength(2);
    expect(await outbox.pendingBefore(new Date(Date.now() + 1000), 100)).toHaveLength(2);

    const second = bus();
    await relayEvents(await outbox.pendingBefore(new Date(Date.now() + 1000), 100), second.ports);
    expect(await outbox.pendingBefore(new Date(Date.now() + 1000), 100)).toEqual([]);
    expect(new Set([...first.put, ...second.put]).size).toBe(12);
    expect(first.put.length + second.put.length).toBe(12);

    // A stream batch retried after all this puts nothing again.
    const again = bus();
    const replay = await relayEvents(pending, again.ports);
    expect(again.put).toEqual([]);
    expect([...replay.values()].every((o) => o.status === 'already-relayed')).toBe(true);

    const { Item } = await table.client.send(
      new GetCommand({ TableName: table.tableName, Key: keys.outbox((pending[0] as SwitchyardCloudEvent).id), ConsistentRead: true }),
    );
    expect(Item).toMatchObject({ relayedAt: expect.any(String), expiresAt: expect.any(Number) });
    expect(Item?.gsi1pk).toBeUndefined();
  });

  it('leaves events younger than the threshold to the relay', async () => {
    await receivers.create(receiverBody());
    expect(await outbox.pendingBefore(new Date(Date.now() - 60_000), 100)).toEqual([]);
  });
});
