/**
 * Every change writes its CloudEvent into the outbox in the same transaction
 * as the change and its audit record (DESIGN.md §5): one event per committed
 * change, none for a refused one, each a valid CloudEvent 1.0 whose data
 * holds the entity's public fields only.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { CloudEvent } from 'cloudevents';
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyService } from '../../shared/domain/api-keys.js';
import { VersionConflictError } from '../../shared/domain/errors.js';
import { EventService } from '../../shared/domain/events.js';
import { GroupService } from '../../shared/domain/groups.js';
import { ReceiverService } from '../../shared/domain/receivers.js';
import { UserService } from '../../shared/domain/users.js';
import type { SwitchyardCloudEvent } from '../../shared/events/cloudevent.js';
import { EVENT_TYPES } from '../../shared/events/catalog.js';
import { systemClock, uuidIds } from '../../shared/store/index.js';
import { DynamoIdentityStore } from '../../shared/store/identity-store.js';
import { DynamoReleaseStore } from '../../shared/store/release-store.js';
import { eventBody, receiverBody } from '../support/samples.js';
import { freshTable, TEST_AUDIT } from '../support/table.js';

let table: Awaited<ReturnType<typeof freshTable>>;
let receivers: ReceiverService;
let groups: GroupService;
let events: EventService;
let users: UserService;
let apiKeys: ApiKeyService;

beforeAll(async () => {
  table = await freshTable();
  const releases = new DynamoReleaseStore(table.client, table.tableName, { audit: TEST_AUDIT });
  const identity = new DynamoIdentityStore(table.client, table.tableName, { audit: TEST_AUDIT });
  receivers = new ReceiverService(releases, systemClock, uuidIds);
  groups = new GroupService(releases, systemClock, uuidIds);
  events = new EventService(releases, systemClock, uuidIds);
  users = new UserService(identity, systemClock, uuidIds);
  apiKeys = new ApiKeyService(identity, systemClock, uuidIds);
});

async function itemsOfType(type: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await table.client.send(
      new ScanCommand({
        TableName: table.tableName,
        ExclusiveStartKey: start,
        ConsistentRead: true,
        FilterExpression: '#t = :t',
        ExpressionAttributeNames: { '#t': 'type' },
        ExpressionAttributeValues: { ':t': type },
      }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}
const outbox = async () => (await itemsOfType('Outbox')).map((item) => item.event as SwitchyardCloudEvent);
const newEvents = async (before: SwitchyardCloudEvent[]) => {
  const seen = new Set(before.map((e) => e.id));
  return (await outbox()).filter((e) => !seen.has(e.id));
};

describe('the outbox', () => {
  it('holds one valid CloudEvent per change, of the type the catalog names, with the public data', async () => {
    const before = await outbox();
    const receiver = await receivers.create(receiverBody());
    const updated = await receivers.update(receiver.id, { revision: 1, description: 'changed' });
    const group = await groups.create({ name: `g-${randomUUID()}` });
    await groups.addMember(group.id, receiver.id);
    await groups.removeMember(group.id, receiver.id);
    const ingested = await events.ingest(eventBody(receiver.id));
    await groups.delete(group.id, (await groups.get(group.id)).revision);
    const user = await users.create({ username: `u${randomUUID().slice(0, 8)}`, password: 'a long enough password', roles: ['viewer'] });
    const key = await apiKeys.create({ name: 'ci', role: 'developer' }, user.id);
    await apiKeys.revoke(key.id);

    const emitted = await newEvents(before);
    const byType = (type: string) => emitted.filter((e) => e.type === type);
    expect(emitted.map((e) => e.type).sort()).toEqual(
      [
        'receiver.created',
        'receiver.updated',
        'group.created',
        'group.member_added',
        'group.member_removed',
        'event.created',
        'group.deleted',
        'user.created',
        'apikey.created',
        'apikey.revoked',
      ].sort(),
    );
    for (const event of emitted) {
      // The CloudEvents SDK's own validation of the envelope (spec version, required attributes, extension names).
      expect(() => new CloudEvent({ ...event }).validate()).not.toThrow();
      expect(event.source).toBe(`switchyard/${EVENT_TYPES[event.type].area}`);
      expect(EVENT_TYPES[event.type].data.safeParse(event.data).success).toBe(true);
    }
    expect(byType('receiver.updated')[0]).toMatchObject({
      subject: receiver.id,
      data: { description: 'changed', revision: updated.revision },
    });
    expect(byType('event.created')[0]?.data).toEqual(ingested);
    expect(byType('group.member_removed')[0]?.data).toMatchObject({ groupId: group.id, receiverId: receiver.id });
    // Stored-only fields never ride along: no password hash, no key, no key hash.
    const text = JSON.stringify(emitted);
    expect(text).not.toContain('passwordHash');
    expect(text).not.toContain(key.key);
    expect(byType('user.created')[0]?.data).toEqual(user);
  });

  it('holds nothing for a refused change, and one event per committed audit record', async () => {
    const receiver = await receivers.create(receiverBody());
    const before = await outbox();
    await expect(receivers.update(receiver.id, { revision: 7, description: 'stale' })).rejects.toBeInstanceOf(VersionConflictError);
    await expect(events.ingest(eventBody(receiver.id, { payload: { buildUrl: 42 } }))).rejects.toMatchObject({
      code: 'PAYLOAD_SCHEMA_MISMATCH',
    });
    expect(await newEvents(before)).toEqual([]);
    const [audit, pending] = [await itemsOfType('Audit'), await outbox()];
    expect(pending.length).toBe(audit.length);
  });

  it('keeps each event pending in the sharded index until it is relayed, with the trace of the request', async () => {
    const before = await outbox();
    process.env._X_AMZN_TRACE_ID = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
    try {
      await receivers.create(receiverBody());
    } finally {
      delete process.env._X_AMZN_TRACE_ID;
    }
    const [event] = await newEvents(before);
    expect(event?.traceparent).toBe('00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01');
    const [item] = (await itemsOfType('Outbox')).filter((i) => (i.event as SwitchyardCloudEvent).id === event?.id);
    expect(item).toMatchObject({ pk: `OUTBOX#${event?.id}`, gsi1sk: `${event?.time}#${event?.id}` });
    expect(String(item?.gsi1pk)).toMatch(/^OUTBOX#PENDING#[0-7]$/);
  });
});
