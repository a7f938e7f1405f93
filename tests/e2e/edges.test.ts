/**
 * Edge locations over HTTP (issue 10): an admin registers an edge and gets
 * its key once; the edge posts heartbeats and polls its desired-config with
 * that key (304 when unchanged); the key reaches nothing else, not even
 * another edge's desired-config; an operator reads the heartbeats in a time
 * range; deleting the edge stops its key.
 */
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { keys } from '../../shared/store/keys.js';
import { call } from '../support/http.js';

const EDGES = '/api/v1/edge-locations';
const BEAT = { configurationId: 'c-1', activeVersion: 1, requests: 120, errorRate: 0.01, p95LatencyMs: 42, cacheHitRate: 0.9 };

/** What a rollout will write: the assignment and the configuration version it names (the local runtime's table; skipped elsewhere). */
async function assign(edgeId: string, content: Record<string, unknown>): Promise<boolean> {
  const endpoint = inject('dynamoEndpoint');
  if (!endpoint) return false;
  const raw = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const tables = (await raw.send(new ListTablesCommand({}))).TableNames ?? [];
  const TableName = tables.find((t) => /Data/i.test(t)) ?? tables[0];
  const doc = DynamoDBDocumentClient.from(raw);
  const configurationId = randomUUID();
  await doc.send(
    new PutCommand({
      TableName,
      Item: {
        ...keys.configurationVersion(configurationId, 1),
        type: 'ConfigurationVersion',
        data: { configurationId, version: 1, content },
      },
    }),
  );
  await doc.send(
    new PutCommand({
      TableName,
      Item: {
        ...keys.edgeAssignment(edgeId),
        type: 'EdgeAssignment',
        data: { edgeId, configurationId, version: 1, weight: 100, updatedAt: new Date().toISOString() },
      },
    }),
  );
  return true;
}

let edge: { id: string; edgeKey: string; revision: number };
let other: { id: string; edgeKey: string };

beforeAll(async () => {
  const region = `e2e-${Date.now()}`;
  const created = await call('POST', EDGES, { json: { name: 'fra-1', region, continent: 'EU', tags: { tier: 'gold' } } });
  expect(created.status).toBe(201);
  edge = created.body;
  other = (await call('POST', EDGES, { json: { name: 'ams-1', region, continent: 'EU' } })).body;
});

describe('edge locations', () => {
  it('show the edge key once: never in a read, and not cacheable', async () => {
    expect(edge.edgeKey).toMatch(/^sye_/);
    const read = await call('GET', `${EDGES}/${edge.id}`);
    expect(read.status).toBe(200);
    expect(read.text).not.toContain(edge.edgeKey);
    expect(read.body).toMatchObject({ id: edge.id, name: 'fra-1', continent: 'EU', health: 'unknown' });
    expect(read.headers.get('etag')).toBe('"1"');
  });

  it('refuse an Idempotency-Key replay of a create rather than answer the key again (secretResponse)', async () => {
    const key = `edge-${randomUUID()}`;
    const body = { name: 'replayed', region: 'eu-west-3', continent: 'EU' };
    const first = await call('POST', EDGES, { json: body, headers: { 'Idempotency-Key': key } });
    expect(first.status).toBe(201);
    expect(first.headers.get('cache-control')).toBe('no-store');
    const replay = await call('POST', EDGES, { json: body, headers: { 'Idempotency-Key': key } });
    expect(replay.status).toBe(409);
    expect(replay.body.code).toBe('IDEMPOTENT_SECRET_NOT_REPLAYED');
    expect(replay.headers.get('location')).toBe(`${EDGES}/${first.body.id}`);
    expect(replay.text).not.toContain(first.body.edgeKey);
  });

  it('take heartbeats from their own key (202) and then report healthy with the last heartbeat', async () => {
    const posted = await call('POST', `${EDGES}/${edge.id}/heartbeat`, { as: { apiKey: edge.edgeKey }, json: BEAT });
    expect(posted.status).toBe(202);
    expect(posted.body).toMatchObject({ ...BEAT, edgeId: edge.id });
    const read = await call('GET', `${EDGES}/${edge.id}`, { as: 'admin' });
    expect(read.body).toMatchObject({ health: 'healthy', lastHeartbeat: { ...BEAT, edgeId: edge.id }, lastHeartbeatAt: posted.body.at });
  });

  it('take a heartbeat without a configuration from an edge nothing is assigned to, but not one half of it', async () => {
    const { configurationId: _c, activeVersion: _v, ...unassigned } = BEAT;
    // An edge of its own: the other tests expect `other` to have no heartbeats.
    const fresh = (await call('POST', EDGES, { json: { name: 'lis-1', region: 'eu-south-2', continent: 'EU' } })).body;
    const as = { apiKey: fresh.edgeKey };
    const posted = await call('POST', `${EDGES}/${fresh.id}/heartbeat`, { as, json: unassigned });
    expect(posted.status).toBe(202);
    expect(posted.body).not.toHaveProperty('configurationId');
    const half = await call('POST', `${EDGES}/${fresh.id}/heartbeat`, { as, json: { ...unassigned, configurationId: 'c-1' } });
    expect(half.status).toBe(400);
    expect(half.body.errors).toEqual([expect.objectContaining({ path: 'body.activeVersion' })]);
    const otherHalf = await call('POST', `${EDGES}/${fresh.id}/heartbeat`, { as, json: { ...unassigned, activeVersion: 1 } });
    expect(otherHalf.status).toBe(400);
    expect(otherHalf.body.errors).toEqual([expect.objectContaining({ path: 'body.configurationId' })]);
    const read = await call('GET', `${EDGES}/${fresh.id}`);
    expect(read.body).toMatchObject({ health: 'healthy', lastHeartbeat: { ...unassigned, edgeId: fresh.id } });
    expect(read.body.lastHeartbeat).not.toHaveProperty('activeVersion');
  });

  it('refuse a bad heartbeat with a 400 naming the fields, and store nothing', async () => {
    const before = (await call('GET', `${EDGES}/${edge.id}/metrics`)).body.items.length;
    // Passes the gateway's coarse model, refused by the domain's limit (latency at most an hour), field named.
    const slow = await call('POST', `${EDGES}/${edge.id}/heartbeat`, {
      as: { apiKey: edge.edgeKey },
      json: { ...BEAT, p95LatencyMs: 99_999_999 },
    });
    expect(slow.status).toBe(400);
    expect(slow.body.errors).toEqual([expect.objectContaining({ path: 'body.p95LatencyMs' })]);
    const bad = await call('POST', `${EDGES}/${edge.id}/heartbeat`, {
      as: { apiKey: edge.edgeKey },
      json: { ...BEAT, errorRate: 5, extra: 1 },
    });
    expect(bad.status).toBe(400);
    const unparsable = await call('POST', `${EDGES}/${edge.id}/heartbeat`, {
      as: { apiKey: edge.edgeKey },
      body: '{"requests":',
      headers: { 'Content-Type': 'application/json' },
    });
    expect(unparsable.status).toBe(400);
    expect((await call('GET', `${EDGES}/${edge.id}/metrics`)).body.items.length).toBe(before);
    const badEdge = await call('POST', EDGES, { json: { name: 'x', region: 'Not A Region', continent: 'EU' } });
    expect(badEdge.status).toBe(400);
  });

  it('answer desired-config 404 until assigned, then 200 with an ETag and 304 on If-None-Match', async () => {
    const none = await call('GET', `${EDGES}/${edge.id}/desired-config`, { as: { apiKey: edge.edgeKey } });
    expect(none.status).toBe(404);
    if (!(await assign(edge.id, { cache: { ttl: 60 } }))) return;
    const first = await call('GET', `${EDGES}/${edge.id}/desired-config`, { as: { apiKey: edge.edgeKey } });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ version: 1, weight: 100, content: { cache: { ttl: 60 } } });
    expect(first.headers.get('etag')).toBe(first.body.etag);
    const again = await call('GET', `${EDGES}/${edge.id}/desired-config`, {
      as: { apiKey: edge.edgeKey },
      headers: { 'If-None-Match': first.body.etag },
    });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    // Operators may read it too.
    expect((await call('GET', `${EDGES}/${edge.id}/desired-config`, { as: 'admin' })).status).toBe(200);
  });

  it("refuse the key on another edge's id exactly as on an id that does not exist, and on every other route", async () => {
    const as = { apiKey: edge.edgeKey };
    const foreign = await call('GET', `${EDGES}/${other.id}/desired-config`, { as });
    const missing = await call('GET', `${EDGES}/${randomUUID()}/desired-config`, { as });
    expect([foreign.status, missing.status]).toEqual([403, 403]);
    expect(foreign.body.detail).toBe(missing.body.detail);
    expect((await call('POST', `${EDGES}/${other.id}/heartbeat`, { as, json: BEAT })).status).toBe(403);
    expect((await call('GET', `${EDGES}/${edge.id}`, { as })).status).toBe(403);
    expect((await call('GET', `${EDGES}/${edge.id}/metrics`, { as })).status).toBe(403);
    expect((await call('GET', EDGES, { as })).status).toBe(403);
    expect((await call('GET', '/api/v1/receivers', { as })).status).toBe(403);
    // And the other edge's heartbeats stayed empty.
    expect((await call('GET', `${EDGES}/${other.id}/metrics`)).body.items).toEqual([]);
  });

  it('give an operator the heartbeats of a time range, newest first, in pages', async () => {
    for (let i = 0; i < 3; i++) {
      expect(
        (await call('POST', `${EDGES}/${edge.id}/heartbeat`, { as: { apiKey: edge.edgeKey }, json: { ...BEAT, requests: i } })).status,
      ).toBe(202);
    }
    const all = (await call('GET', `${EDGES}/${edge.id}/metrics?limit=100`)).body.items as Array<{ at: string; requests: number }>;
    expect(all.length).toBeGreaterThanOrEqual(4);
    expect(all.map((h) => h.at)).toEqual([...all.map((h) => h.at)].sort().reverse());
    const [newest, , third] = all as [{ at: string }, unknown, { at: string }];
    const range = `from=${encodeURIComponent(third.at)}&to=${encodeURIComponent(newest.at)}`;
    const page1 = await call('GET', `${EDGES}/${edge.id}/metrics?${range}&limit=2`);
    expect(page1.status).toBe(200);
    expect(page1.body.items).toHaveLength(2);
    const page2 = await call('GET', `${EDGES}/${edge.id}/metrics?${range}&limit=2&cursor=${encodeURIComponent(page1.body.nextCursor)}`);
    expect(page2.body.items).toHaveLength(1);
    expect(page2.body.nextCursor).toBeUndefined();
    expect(
      (await call('GET', `${EDGES}/${edge.id}/metrics?from=${encodeURIComponent(newest.at)}&to=${encodeURIComponent(third.at)}`)).status,
    ).toBe(400);
    expect((await call('GET', `${EDGES}/${edge.id}/metrics?from=yesterday`)).status).toBe(400);
  });

  it('list by region', async () => {
    const region = (await call('GET', `${EDGES}/${edge.id}`)).body.region as string;
    const listed = await call('GET', `${EDGES}?region=${region}`);
    expect(listed.body.items.map((e: { id: string }) => e.id).sort()).toEqual([edge.id, other.id].sort());
  });

  it('are deleted with their key: the key is refused (401) once the authorizer cache has passed', async () => {
    expect((await call('DELETE', `${EDGES}/${edge.id}?revision=1`)).status).toBe(204);
    expect((await call('GET', `${EDGES}/${edge.id}`)).status).toBe(404);
    // The e2e runtime's authorizer cache is 2 s.
    let status = 0;
    for (let i = 0; i < 20 && status !== 401; i++) {
      await new Promise((r) => setTimeout(r, 500));
      status = (await call('POST', `${EDGES}/${edge.id}/heartbeat`, { as: { apiKey: edge.edgeKey }, json: BEAT })).status;
      // Within the cache time the heartbeat reaches the handler, which finds no edge: 404, nothing stored.
      expect([401, 404]).toContain(status);
    }
    expect(status).toBe(401);
  });
});
