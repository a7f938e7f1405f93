/**
 * Edge locations on DynamoDB Local (issue 10): CRUD with audit and `edge.*`
 * events in the same transaction, the key lookup item, heartbeats (TTL, no
 * audit, no event) and their time-range pages, desired-config from the
 * assignment and the configuration version's content.
 */
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateEdgeKey, hashApiKey } from '../../shared/auth/secrets.js';
import { ConfigurationService } from '../../shared/domain/configurations.js';
import { EdgeService } from '../../shared/domain/edge-service.js';
import type { Heartbeat } from '../../shared/domain/edges.js';
import { NotFoundError, ValidationError, VersionConflictError } from '../../shared/domain/errors.js';
import type { Clock } from '../../shared/domain/ports.js';
import { DynamoConfigurationStore } from '../../shared/store/configuration-store.js';
import { DynamoEdgeStore, HEARTBEAT_RETENTION_SECONDS } from '../../shared/store/edge-store.js';
import { uuidIds } from '../../shared/store/index.js';
import { keys } from '../../shared/store/keys.js';
import { freshTable, scanTable, TEST_AUDIT } from '../support/table.js';

let tableName: string;
let client: DynamoDBDocumentClient;
let store: DynamoEdgeStore;
let now = '2026-11-23T10:00:00.000Z';
const clock: Clock = { now: () => now };
let service: EdgeService;

const BEAT: Heartbeat = { configurationId: 'c1', activeVersion: 1, requests: 100, errorRate: 0.01, p95LatencyMs: 40, cacheHitRate: 0.9 };

beforeAll(async () => {
  ({ tableName, client } = await freshTable());
  store = new DynamoEdgeStore(client, tableName, { audit: TEST_AUDIT });
  service = new EdgeService(store, store, clock, uuidIds, { generate: generateEdgeKey, hash: hashApiKey });
});

const scanAll = () => scanTable(client, tableName);

/** An edge's outbox events in the order they happened (a Scan answers in hash order). */
const outboxOf = async (edgeId: string) =>
  (await scanAll())
    .filter((i) => i.type === 'Outbox' && (i.event as { subject: string }).subject === edgeId)
    .map((i) => i.event as { type: string; time: string; data: Record<string, unknown> })
    .sort((a, b) => a.time.localeCompare(b.time));
const auditOf = async (edgeId: string) =>
  (await scanAll()).filter((i) => i.type === 'Audit' && (i.data as { resourceId: string }).resourceId === edgeId);

describe('edges', () => {
  it('are created with their key stored hashed only, an audit line and an edge.created event without the key', async () => {
    const created = await service.create({ name: 'fra-1', region: 'eu-central-1', continent: 'EU', tags: { tier: 'gold' } });
    expect(created.edgeKey).toMatch(/^sye_/);
    expect(created).toMatchObject({ revision: 1, health: 'unknown', tags: { tier: 'gold' } });
    const items = await scanAll();
    expect(JSON.stringify(items)).not.toContain(created.edgeKey);
    expect(await store.findEdgeByKeyHash(hashApiKey(created.edgeKey))).toEqual({ edgeId: created.id, name: 'fra-1' });
    const events = await outboxOf(created.id);
    expect(events.map((e) => e.type)).toEqual(['edge.created']);
    expect(events[0]?.data).toEqual({
      id: created.id,
      name: 'fra-1',
      region: 'eu-central-1',
      continent: 'EU',
      tags: { tier: 'gold' },
      revision: 1,
      createdAt: now,
      updatedAt: now,
    });
    expect(await auditOf(created.id)).toHaveLength(1);
  });

  it('refuse bad input with every field named, and store nothing', async () => {
    const before = (await scanAll()).length;
    const error = await service.create({ name: ' ', region: 'EU WEST', continent: 'XX' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).errors?.map((e) => e.path).sort()).toEqual(['body.continent', 'body.name', 'body.region']);
    expect((await scanAll()).length).toBe(before);
  });

  it('are listed newest first and filtered by region, with cursor pages', async () => {
    const region = `ap-test-${Date.now()}`;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      now = `2026-11-23T10:0${i + 1}:00.000Z`;
      ids.push((await service.create({ name: `e${i}`, region, continent: 'AS' })).id);
    }
    const first = await service.list({ limit: 2, region });
    expect(first.items.map((e) => e.id)).toEqual([ids[2], ids[1]]);
    const second = await service.list({ limit: 2, region, ...(first.nextCursor ? { cursor: first.nextCursor } : {}) });
    expect(second.items.map((e) => e.id)).toEqual([ids[0]]);
    expect(second.nextCursor).toBeUndefined();
  });

  it('change at a known revision (409 on a stale one) and keep their heartbeat summary', async () => {
    now = '2026-11-23T11:00:00.000Z';
    const edge = await service.create({ name: 'lhr-1', region: 'eu-west-2', continent: 'EU' });
    await service.heartbeat(edge.id, BEAT);
    const updated = await service.update(edge.id, { revision: 1, name: 'lhr-2', tags: { tier: 'silver' } });
    expect(updated).toMatchObject({ name: 'lhr-2', revision: 2, tags: { tier: 'silver' }, health: 'healthy' });
    await expect(service.update(edge.id, { revision: 1, name: 'x' })).rejects.toBeInstanceOf(VersionConflictError);
    await expect(service.update(edge.id, { revision: 2, region: 'Not A Region' })).rejects.toBeInstanceOf(ValidationError);
    const read = await service.get(edge.id);
    expect(read).toMatchObject({ name: 'lhr-2', revision: 2, lastHeartbeatAt: now, lastHeartbeat: { ...BEAT, edgeId: edge.id, at: now } });
    expect((await outboxOf(edge.id)).map((e) => e.type)).toEqual(['edge.created', 'edge.updated']);
  });

  it('are deleted with their key and assignment; heartbeats stay until their TTL; an edge.deleted event', async () => {
    now = '2026-11-23T12:00:00.000Z';
    const edge = await service.create({ name: 'gone', region: 'us-east-1', continent: 'NA' });
    await service.heartbeat(edge.id, BEAT);
    await client.send(
      new PutCommand({
        TableName: tableName,
        Item: {
          ...keys.edgeAssignment(edge.id),
          type: 'EdgeAssignment',
          data: { edgeId: edge.id, configurationId: 'c', version: 1, weight: 100, updatedAt: now },
        },
      }),
    );
    await expect(service.delete(edge.id, 2)).rejects.toBeInstanceOf(VersionConflictError);
    await service.delete(edge.id, 1);
    await expect(service.get(edge.id)).rejects.toBeInstanceOf(NotFoundError);
    expect(await store.findEdgeByKeyHash(hashApiKey(edge.edgeKey))).toBeUndefined();
    expect(await store.getAssignment(edge.id)).toBeUndefined();
    expect((await outboxOf(edge.id)).map((e) => e.type)).toEqual(['edge.created', 'edge.deleted']);
    await expect(service.delete(edge.id, 1)).rejects.toBeInstanceOf(NotFoundError);
    // A heartbeat from a deleted edge's (cached) key: 404, nothing stored.
    await expect(service.heartbeat(edge.id, BEAT)).rejects.toBeInstanceOf(NotFoundError);
    expect((await store.listHeartbeats(edge.id, { limit: 10 })).items).toHaveLength(1);
  });
});

describe('heartbeats', () => {
  it('are bookkeeping: stored with a TTL, no audit line and no event', async () => {
    now = '2026-11-23T13:00:00.000Z';
    const edge = await service.create({ name: 'hb', region: 'eu-west-1', continent: 'EU' });
    const [auditBefore, outboxBefore] = [(await auditOf(edge.id)).length, (await outboxOf(edge.id)).length];
    const record = await service.heartbeat(edge.id, BEAT);
    expect(record).toEqual({ ...BEAT, edgeId: edge.id, at: now });
    const items = (await scanAll()).filter((i) => i.pk === `EDGE#${edge.id}` && String(i.sk).startsWith('HB#'));
    expect(items).toHaveLength(1);
    expect(items[0]?.expiresAt).toBe(Date.parse(now) / 1000 + HEARTBEAT_RETENTION_SECONDS);
    expect((await auditOf(edge.id)).length).toBe(auditBefore);
    expect((await outboxOf(edge.id)).length).toBe(outboxBefore);
    const { Item } = await client.send(new GetCommand({ TableName: tableName, Key: keys.edge(edge.id) }));
    expect(Item?.version).toBe(1);
  });

  it('set health from the age of the newest: healthy, then unhealthy after three missed 10 s intervals', async () => {
    now = '2026-11-23T14:00:00.000Z';
    const edge = await service.create({ name: 'health', region: 'eu-west-1', continent: 'EU' });
    await service.heartbeat(edge.id, BEAT);
    now = '2026-11-23T14:00:30.000Z';
    expect((await service.get(edge.id)).health).toBe('healthy');
    now = '2026-11-23T14:00:30.001Z';
    expect((await service.get(edge.id)).health).toBe('unhealthy');
  });

  it('are paged newest first within an inclusive time range', async () => {
    now = '2026-11-23T15:00:00.000Z';
    const edge = await service.create({ name: 'metrics', region: 'eu-west-1', continent: 'EU' });
    const times: string[] = [];
    for (let i = 0; i < 5; i++) {
      now = `2026-11-23T15:0${i}:10.000Z`;
      times.push((await service.heartbeat(edge.id, { ...BEAT, requests: i })).at);
    }
    const all = await service.metrics(edge.id, { limit: 10 });
    expect(all.items.map((h) => h.requests)).toEqual([4, 3, 2, 1, 0]);
    const first = await service.metrics(edge.id, { limit: 2, from: times[1], to: times[3] });
    expect(first.items.map((h) => h.requests)).toEqual([3, 2]);
    const second = await service.metrics(edge.id, {
      limit: 2,
      from: times[1],
      to: times[3],
      ...(first.nextCursor ? { cursor: first.nextCursor } : {}),
    });
    expect(second.items.map((h) => h.requests)).toEqual([1]);
    // Offsets are normalized to UTC, so `+01:00` means the same instant.
    const shifted = await service.metrics(edge.id, { limit: 10, from: '2026-11-23T16:02:10+01:00', to: '2026-11-23T16:02:10+01:00' });
    expect(shifted.items.map((h) => h.requests)).toEqual([2]);
    await expect(service.metrics(edge.id, { limit: 10, from: times[3], to: times[1] })).rejects.toBeInstanceOf(ValidationError);
    await expect(service.metrics('0b7f7c8e-0000-4000-8000-000000000000', { limit: 10 })).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('desired-config', () => {
  it('is 404 until a deployment assigns a version, then the content with a stable ETag', async () => {
    const edge = await service.create({ name: 'dc', region: 'eu-west-1', continent: 'EU' });
    await expect(service.desiredConfig(edge.id)).rejects.toThrow(/DesiredConfig/);
    // Written by the configurations feature itself, so desired-config reads the version item where it really is.
    const configurations = new ConfigurationService(new DynamoConfigurationStore(client, tableName, { audit: TEST_AUDIT }), clock, uuidIds);
    const created = await configurations.create({ name: 'dc-config', content: { cache: { ttl: 30 } } }, 'user:ada');
    const configurationId = created.configuration.id;
    await configurations.update(configurationId, { revision: 1, content: { cache: { ttl: 45 } } }, 'user:ada');
    await configurations.update(configurationId, { revision: 2, content: { cache: { ttl: 60 } } }, 'user:ada');
    await client.send(
      new PutCommand({
        TableName: tableName,
        Item: {
          ...keys.edgeAssignment(edge.id),
          type: 'EdgeAssignment',
          data: { edgeId: edge.id, configurationId, version: 3, weight: 10, updatedAt: now },
        },
      }),
    );
    const desired = await service.desiredConfig(edge.id);
    expect(desired).toMatchObject({ configurationId, version: 3, weight: 10, content: { cache: { ttl: 60 } } });
    expect(desired.etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    expect((await service.desiredConfig(edge.id)).etag).toBe(desired.etag);
    await expect(service.desiredConfig('0b7f7c8e-0000-4000-8000-000000000000')).rejects.toBeInstanceOf(NotFoundError);
  });
});
