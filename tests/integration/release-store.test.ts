/** The domain services against the real store on DynamoDB Local: what a caller of the API relies on. */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AlreadyExistsError,
  NotFoundError,
  PreconditionFailedError,
  RuleViolationError,
  ValidationError,
  VersionConflictError,
} from '../../shared/domain/errors.js';
import { EventService } from '../../shared/domain/events.js';
import { GroupService } from '../../shared/domain/groups.js';
import { ReceiverService } from '../../shared/domain/receivers.js';
import { DynamoReleaseStore } from '../../shared/store/release-store.js';
import { systemClock, uuidIds } from '../../shared/store/index.js';
import { eventBody, receiverBody } from '../support/samples.js';
import { freshTable, TEST_AUDIT } from '../support/table.js';

let store: DynamoReleaseStore;
let receivers: ReceiverService;
let groups: GroupService;
let events: EventService;

const receiverInput = (name = 'pipeline') => receiverBody({ name });

beforeAll(async () => {
  const { tableName, client } = await freshTable();
  store = new DynamoReleaseStore(client, tableName, { audit: TEST_AUDIT });
  receivers = new ReceiverService(store, systemClock, uuidIds);
  groups = new GroupService(store, systemClock, uuidIds);
  events = new EventService(store, systemClock, uuidIds);
});

describe('receivers', () => {
  it('creates, reads, updates at a revision and deletes', async () => {
    const created = await receivers.create(receiverInput());
    expect(created.revision).toBe(1);
    expect(await receivers.get(created.id)).toEqual(created);

    const updated = await receivers.update(created.id, { revision: 1, description: 'main pipeline' });
    expect(updated).toMatchObject({ revision: 2, description: 'main pipeline' });
    expect(await receivers.get(created.id)).toEqual(updated);

    await receivers.delete(created.id, 2);
    await expect(receivers.get(created.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('refuses a stale revision (409) and a failed If-Match (412), changing nothing', async () => {
    const created = await receivers.create(receiverInput());
    await receivers.update(created.id, { revision: 1, description: 'first' });
    await expect(receivers.update(created.id, { revision: 1, description: 'stale' })).rejects.toBeInstanceOf(VersionConflictError);
    await expect(receivers.update(created.id, { description: 'stale' }, '"1"')).rejects.toBeInstanceOf(PreconditionFailedError);
    await expect(receivers.update(created.id, { description: 'no revision' })).rejects.toBeInstanceOf(ValidationError);
    expect((await receivers.get(created.id)).description).toBe('first');
  });

  it('lets exactly one of two concurrent updates at the same revision win', async () => {
    const created = await receivers.create(receiverInput());
    const results = await Promise.allSettled([
      receivers.update(created.id, { revision: 1, description: 'a' }),
      receivers.update(created.id, { revision: 1, description: 'b' }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason)).toEqual([
      expect.any(VersionConflictError),
    ]);
  });

  it('rejects a schema ajv cannot compile', async () => {
    await expect(
      receivers.create({ ...receiverInput(), schema: { type: 'object', properties: { a: { type: 'strin' } } } }),
    ).rejects.toMatchObject({
      code: 'INVALID_SCHEMA',
    });
  });

  it('pages newest first with an opaque cursor and filters by name', async () => {
    const { tableName, client } = await freshTable();
    const own = new ReceiverService(new DynamoReleaseStore(client, tableName, { audit: TEST_AUDIT }), systemClock, uuidIds);
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await own.create(receiverInput(i % 2 ? 'odd' : 'even')));
    const first = await own.list({ limit: 2 });
    expect(first.items.map((r) => r.id)).toEqual([made[4]?.id, made[3]?.id]);
    const second = await own.list({ limit: 2, cursor: first.nextCursor as string });
    const third = await own.list({ limit: 2, cursor: second.nextCursor as string });
    expect([...first.items, ...second.items, ...third.items].map((r) => r.id)).toEqual(made.map((r) => r.id).reverse());
    expect(third.nextCursor).toBeUndefined();
    expect((await own.list({ limit: 10, name: 'odd' })).items).toHaveLength(2);
    await expect(own.list({ limit: 2, name: 'odd', cursor: first.nextCursor as string })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
    await expect(own.list({ limit: 2, cursor: 'not-a-cursor' })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
  });
});

describe('filtered pages', () => {
  it('are full even when many newer items do not match, and resume exactly after the last item returned', async () => {
    const { tableName, client } = await freshTable();
    const own = new ReceiverService(new DynamoReleaseStore(client, tableName, { audit: TEST_AUDIT }), systemClock, uuidIds);
    const wanted = [
      await own.create(receiverInput('wanted')),
      await own.create(receiverInput('wanted')),
      await own.create(receiverInput('wanted')),
    ];
    for (let i = 0; i < 120; i++) await own.create(receiverInput(`noise-${i}`));
    const first = await own.list({ limit: 2, name: 'wanted' });
    expect(first.items.map((r) => r.id)).toEqual([wanted[2]?.id, wanted[1]?.id]);
    const second = await own.list({ limit: 2, name: 'wanted', cursor: first.nextCursor as string });
    expect(second.items.map((r) => r.id)).toEqual([wanted[0]?.id]);
  });
});

describe('groups', () => {
  it('tracks membership and protects members and non-empty groups from deletion', async () => {
    const a = await receivers.create(receiverInput('a'));
    const b = await receivers.create(receiverInput('b'));
    const group = await groups.create({ name: 'prod', receiverIds: [a.id] });
    expect(group).toMatchObject({ memberCount: 1, enabled: true, revision: 1 });

    expect(await groups.addMember(group.id, b.id)).toBe(true);
    expect(await groups.addMember(group.id, b.id)).toBe(false);
    expect(await groups.get(group.id)).toMatchObject({ memberCount: 2, revision: 2 });
    expect((await groups.members(group.id, { limit: 10 })).items.map((m) => m.receiverId).sort()).toEqual([a.id, b.id].sort());
    expect((await store.listGroupsOfReceiver(a.id, { limit: 10 })).items.map((m) => m.groupId)).toEqual([group.id]);

    await expect(receivers.delete(a.id, 1)).rejects.toMatchObject({ code: 'RECEIVER_IN_USE' });
    await expect(groups.delete(group.id, 2)).rejects.toMatchObject({ code: 'GROUP_NOT_EMPTY' });

    await groups.removeMember(group.id, a.id);
    await groups.removeMember(group.id, b.id);
    await expect(groups.removeMember(group.id, b.id)).rejects.toBeInstanceOf(NotFoundError);
    await receivers.delete(a.id, 1);
    await groups.delete(group.id, 4);
    await expect(groups.get(group.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('refuses unknown receivers atomically', async () => {
    const a = await receivers.create(receiverInput('a'));
    const missing = '00000000-0000-4000-8000-000000000000';
    await expect(groups.create({ name: 'x', receiverIds: [a.id, missing] })).rejects.toBeInstanceOf(RuleViolationError);
    expect((await store.listGroupsOfReceiver(a.id, { limit: 10 })).items).toEqual([]);
    const g = await groups.create({ name: 'y' });
    await expect(groups.addMember(g.id, missing)).rejects.toBeInstanceOf(NotFoundError);
    expect((await groups.get(g.id)).memberCount).toBe(0);
  });
});

describe('events', () => {
  it('validates payloads against the receiver schema and stores nothing on failure', async () => {
    const r = await receivers.create(receiverInput());
    const ok = await events.ingest(eventBody(r.id));
    expect(await events.get(ok.id)).toEqual(ok);
    await expect(events.ingest(eventBody(r.id, { payload: { buildUrl: 42 } }))).rejects.toMatchObject({ code: 'PAYLOAD_SCHEMA_MISMATCH' });
    await expect(events.ingest(eventBody('00000000-0000-4000-8000-000000000000'))).rejects.toMatchObject({ code: 'UNKNOWN_RECEIVER' });
    await expect(events.ingest(eventBody(r.id, { eventEnd: '2026-11-20T09:00:00Z' }))).rejects.toBeInstanceOf(ValidationError);
    expect((await events.list({ limit: 10, receiverId: r.id })).items).toEqual([ok]);
  });

  it('queries by receiver, filters and time range, newest eventStart first', async () => {
    const r1 = await receivers.create(receiverInput('r1'));
    const r2 = await receivers.create(receiverInput('r2'));
    const at = (day: number) => `2026-10-${String(day).padStart(2, '0')}T12:00:00.000Z`;
    const e1 = await events.ingest(eventBody(r1.id, { eventStart: at(1), eventEnd: at(1), success: true, platformId: 'linux' }));
    const e2 = await events.ingest(eventBody(r1.id, { eventStart: at(2), eventEnd: at(2), success: false, platformId: 'linux' }));
    const e3 = await events.ingest(
      eventBody(r1.id, { eventStart: at(3), eventEnd: at(3), success: true, platformId: 'windows', package: 'ui' }),
    );
    await events.ingest(eventBody(r2.id, { eventStart: at(2), eventEnd: at(2) }));

    const ids = async (q: Parameters<EventService['list']>[0]) => (await events.list(q)).items.map((e) => e.id);
    expect(await ids({ limit: 10, receiverId: r1.id })).toEqual([e3.id, e2.id, e1.id]);
    expect(await ids({ limit: 10, receiverId: r1.id, success: true })).toEqual([e3.id, e1.id]);
    expect(await ids({ limit: 10, receiverId: r1.id, platformId: 'linux', success: false })).toEqual([e2.id]);
    expect(await ids({ limit: 10, receiverId: r1.id, package: 'ui' })).toEqual([e3.id]);
    expect(await ids({ limit: 10, receiverId: r1.id, from: at(2), to: at(3) })).toEqual([e3.id, e2.id]);
    expect(await ids({ limit: 10, receiverId: r1.id, to: '2026-10-02T12:00:00Z' })).toEqual([e2.id, e1.id]);
    const page1 = await events.list({ limit: 1, receiverId: r1.id, success: true });
    const page2 = await events.list({ limit: 1, receiverId: r1.id, success: true, cursor: page1.nextCursor as string });
    expect([...page1.items, ...page2.items].map((e) => e.id)).toEqual([e3.id, e1.id]);
    expect((await events.list({ limit: 50, from: at(1), to: at(3) })).items.length).toBeGreaterThanOrEqual(4);
  });

  it('refuses an event whose receiver changed schema after validation', async () => {
    const r = await receivers.create(receiverInput());
    const event = {
      ...eventBody(r.id),
      id: '11111111-1111-4111-8111-111111111111',
      description: '',
      payload: {},
      createdAt: new Date().toISOString(),
    };
    await expect(store.createEvent(event, 7)).rejects.toBeInstanceOf(VersionConflictError);
    await store.createEvent(event, 1);
    await expect(store.createEvent(event, 1)).rejects.toBeInstanceOf(AlreadyExistsError);
  });
});
