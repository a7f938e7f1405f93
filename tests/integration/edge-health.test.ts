/**
 * The edge-health job on DynamoDB Local (shared/domain/edge-health.ts over
 * shared/store/edge-store.ts): each health change recorded once on the edge
 * item, with its audit line and `edge.unhealthy` / `edge.healthy` outbox
 * event in the same transaction; the edge's revision untouched; a heartbeat
 * that lands while the job runs never gets a false `edge.unhealthy`.
 *
 * The job judges every edge of the table on each run; each test follows its
 * own edge (events by subject), with a clock that only moves forward.
 */
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateEdgeKey, hashApiKey } from '../../shared/auth/secrets.js';
import { healthChanges, runEdgeHealth } from '../../shared/domain/edge-health.js';
import { EdgeService } from '../../shared/domain/edge-service.js';
import type { Heartbeat } from '../../shared/domain/edges.js';
import type { Clock } from '../../shared/domain/ports.js';
import { DynamoEdgeStore } from '../../shared/store/edge-store.js';
import { uuidIds } from '../../shared/store/index.js';
import { keys } from '../../shared/store/keys.js';
import { freshTable, scanTable, TEST_AUDIT } from '../support/table.js';

const JOB_AUDIT = { ...TEST_AUDIT, actor: { id: 'edge-health', kind: 'system', name: 'edge-health' }, action: 'recordEdgeHealth' };
const config = { heartbeatIntervalSeconds: 10, missedIntervals: 3 };
const BEAT: Heartbeat = { configurationId: 'c1', activeVersion: 1, requests: 10, errorRate: 0, p95LatencyMs: 20, cacheHitRate: 0.9 };

let tableName: string;
let client: DynamoDBDocumentClient;
/** The API's store (request audit) and the job's (its own audit context), over one table. */
let api: DynamoEdgeStore;
let job: DynamoEdgeStore;
let service: EdgeService;
let now = Date.parse('2026-11-23T10:00:00.000Z');
const iso = () => new Date(now).toISOString();
const clock: Clock = { now: iso };
const advance = (seconds: number) => {
  now += seconds * 1000;
};
const runJob = () => runEdgeHealth(job, iso(), config);

beforeAll(async () => {
  ({ tableName, client } = await freshTable());
  api = new DynamoEdgeStore(client, tableName, { audit: TEST_AUDIT });
  job = new DynamoEdgeStore(client, tableName, { audit: JOB_AUDIT });
  service = new EdgeService(api, api, clock, uuidIds, { generate: generateEdgeKey, hash: hashApiKey }, config);
});

const scanAll = () => scanTable(client, tableName);

/** An edge's health events, oldest first. */
const healthEvents = async (edgeId: string) =>
  (await scanAll())
    .filter((i) => i.type === 'Outbox' && (i.event as { subject: string }).subject === edgeId)
    .map((i) => i.event as { type: string; time: string; source: string; data: Record<string, unknown> })
    .filter((e) => e.type === 'edge.healthy' || e.type === 'edge.unhealthy')
    .sort((a, b) => a.time.localeCompare(b.time));
const jobAudit = async (edgeId: string) =>
  (await scanAll())
    .filter((i) => i.type === 'Audit' && (i.data as { resourceId: string }).resourceId === edgeId)
    .map((i) => i.data as { actor: { id: string }; action: string; status: number })
    .filter((a) => a.actor.id === 'edge-health');
const edgeItem = async (edgeId: string) =>
  (await client.send(new GetCommand({ TableName: tableName, Key: keys.edge(edgeId), ConsistentRead: true }))).Item as Record<
    string,
    unknown
  >;

async function newEdge(name: string) {
  return service.create({ name, region: 'eu-central-1', continent: 'EU' });
}

describe('the edge-health job', () => {
  it('gives an edge that beat long ago exactly one edge.unhealthy across two runs, audited, its revision unchanged', async () => {
    const edge = await newEdge('quiet-1');
    const beat = await service.heartbeat(edge.id, BEAT);
    advance(3600);

    await runJob();
    await runJob();

    const events = await healthEvents(edge.id);
    expect(events.map((e) => e.type)).toEqual(['edge.unhealthy']);
    expect(events[0]?.source).toBe('switchyard/edges');
    expect(events[0]?.data).toEqual({
      id: edge.id,
      name: 'quiet-1',
      region: 'eu-central-1',
      health: 'unhealthy',
      lastHeartbeatAt: beat.at,
    });
    const audit = await jobAudit(edge.id);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action: 'recordEdgeHealth', status: 200 });
    const item = await edgeItem(edge.id);
    expect(item).toMatchObject({ healthState: 'unhealthy', healthChangedAt: iso(), version: 1 });
    expect(item.data).not.toHaveProperty('healthState');
    expect((await service.get(edge.id)).revision).toBe(1);
  });

  it('records a first healthy observation silently, then healthy → unhealthy → healthy with one event each', async () => {
    const edge = await newEdge('flappy-1');
    await service.heartbeat(edge.id, BEAT);
    advance(5);
    await runJob();
    expect(await healthEvents(edge.id)).toEqual([]);
    expect(await jobAudit(edge.id)).toEqual([]);
    expect(await edgeItem(edge.id)).toMatchObject({ healthState: 'healthy', version: 1 });

    advance(30); // 35 s since the beat: three intervals missed
    await runJob();
    advance(60);
    await runJob();
    expect((await healthEvents(edge.id)).map((e) => e.type)).toEqual(['edge.unhealthy']);

    const back = await service.heartbeat(edge.id, BEAT);
    advance(1);
    await runJob();
    await runJob();
    const events = await healthEvents(edge.id);
    expect(events.map((e) => e.type)).toEqual(['edge.unhealthy', 'edge.healthy']);
    expect(events[1]?.data).toMatchObject({ health: 'healthy', lastHeartbeatAt: back.at });
    expect(await jobAudit(edge.id)).toHaveLength(2);
    expect(await edgeItem(edge.id)).toMatchObject({ healthState: 'healthy', version: 1 });
  });

  it('writes nothing when a heartbeat lands between the read and the write', async () => {
    const edge = await newEdge('raced-1');
    await service.heartbeat(edge.id, BEAT);
    advance(5);
    await runJob(); // recorded healthy
    advance(60);

    // The job reads and judges: unhealthy, on the beat 65 s old.
    const changes = healthChanges(await job.listEdgeHealth(), iso(), config).filter((c) => c.edge.id === edge.id);
    expect(changes).toMatchObject([{ from: 'healthy', to: 'unhealthy', event: 'edge.unhealthy' }]);
    // The edge reports before the job writes.
    await service.heartbeat(edge.id, BEAT);

    expect(await job.recordHealth(changes[0]!, iso())).toBe(false);
    expect(await healthEvents(edge.id)).toEqual([]);
    expect(await jobAudit(edge.id)).toEqual([]);
    expect(await edgeItem(edge.id)).toMatchObject({ healthState: 'healthy', version: 1 });

    // The next run sees the fresh beat: still healthy, nothing to emit.
    await runJob();
    expect(await healthEvents(edge.id)).toEqual([]);
  });

  it('skips a change whose recorded health moved on (another run got there first)', async () => {
    const edge = await newEdge('twice-1');
    await service.heartbeat(edge.id, BEAT);
    advance(3600);
    const [change] = healthChanges(await job.listEdgeHealth(), iso(), config).filter((c) => c.edge.id === edge.id);
    expect(await job.recordHealth(change!, iso())).toBe(true);
    expect(await job.recordHealth(change!, iso())).toBe(false);
    expect((await healthEvents(edge.id)).map((e) => e.type)).toEqual(['edge.unhealthy']);
  });

  it('leaves an edge that never reported alone, and an admin’s update at its revision does not conflict with the job', async () => {
    const silent = await newEdge('silent-1');
    const edge = await newEdge('patched-1');
    await service.heartbeat(edge.id, BEAT);
    advance(3600);
    await runJob();
    expect(await healthEvents(silent.id)).toEqual([]);
    expect(await edgeItem(silent.id)).not.toHaveProperty('healthState');

    const updated = await service.update(edge.id, { revision: 1, name: 'patched-2' });
    expect(updated.revision).toBe(2);
    // The job's state survives the admin's write, and the admin's data survives the job's.
    expect(await edgeItem(edge.id)).toMatchObject({ healthState: 'unhealthy', version: 2, data: { name: 'patched-2' } });
    await service.heartbeat(edge.id, BEAT);
    advance(1);
    await runJob();
    const events = await healthEvents(edge.id);
    expect(events.map((e) => e.type)).toEqual(['edge.unhealthy', 'edge.healthy']);
    expect(events[1]?.data).toMatchObject({ name: 'patched-2' });
    expect(await edgeItem(edge.id)).toMatchObject({ healthState: 'healthy', version: 2, data: { name: 'patched-2' } });
  });

  it('lists every edge with its recorded health and newest heartbeat only', async () => {
    const listed = await job.listEdgeHealth();
    expect(listed.length).toBeGreaterThanOrEqual(6);
    for (const o of listed) {
      expect(Object.keys(o.edge).sort()).toEqual(['id', 'name', 'region']);
      expect(['unknown', 'healthy', 'unhealthy']).toContain(o.recorded);
    }
  });
});
