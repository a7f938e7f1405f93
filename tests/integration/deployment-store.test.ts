/**
 * The deployment store on DynamoDB Local (issue 10): the deployment record
 * with its `deployment.*` events and audit lines, one active deployment per
 * edge under concurrent creates, transitions guarded by revision, edges
 * released by a final status, lists, the edges' assignments and their
 * restore, and heartbeats by time range.
 */
import { randomUUID } from 'node:crypto';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  awaitApproval,
  bakeDone,
  newDeployment,
  recordVerdict,
  rollback,
  rollbackDone,
  stageApplied,
  start,
  type Deployment,
  type EdgePriorState,
  type Transition,
} from '../../shared/domain/deployments.js';
import type { EdgeAssignment, EdgeLocation, HeartbeatRecord } from '../../shared/domain/edges.js';
import { ConflictError, NotFoundError, VersionConflictError } from '../../shared/domain/errors.js';
import type { MetricFigures } from '../../shared/domain/rollout-evaluation.js';
import { MAX_TARGET_EDGES, planDeployment, type DeploymentRequest } from '../../shared/domain/rollout-plan.js';
import { DynamoDeploymentStore } from '../../shared/store/deployment-store.js';
import { keys } from '../../shared/store/keys.js';
import { freshTable, scanTable, TEST_AUDIT } from '../support/table.js';

let tableName: string;
let client: DynamoDBDocumentClient;
let store: DynamoDeploymentStore;

beforeAll(async () => {
  ({ tableName, client } = await freshTable());
  store = new DynamoDeploymentStore(client, tableName, { audit: TEST_AUDIT });
});

const T0 = '2026-11-23T12:00:00.000Z';
const at = (s: number) => new Date(Date.parse(T0) + s * 1000).toISOString();

const edge = (id: string, region = 'eu-west-1'): EdgeLocation => ({
  id,
  name: id,
  region,
  continent: 'EU',
  tags: {},
  health: 'healthy',
  revision: 1,
  createdAt: T0,
  updatedAt: T0,
});
const ids = (n: number): string[] => Array.from({ length: n }, () => randomUUID());

/** A new deployment of `edgeIds` (PENDING, revision 1), made by the domain as the API will. */
function created(edgeIds: string[], extra: Partial<DeploymentRequest> & { now?: string; configurationId?: string } = {}): Transition {
  const { now = T0, ...rest } = extra;
  const request: DeploymentRequest = {
    configurationId: randomUUID(),
    version: 2,
    strategy: 'direct',
    targets: { edgeIds },
    bakeSeconds: 60,
    thresholds: { maxErrorRate: 0.05 },
    ...rest,
  };
  return newDeployment(
    request,
    planDeployment(
      request,
      edgeIds.map((id) => edge(id)),
    ),
    { id: randomUUID(), createdBy: 'op', now },
  );
}

const prior = (edgeIds: string[]): Record<string, EdgePriorState> =>
  Object.fromEntries(edgeIds.map((id) => [id, { configurationId: 'cfg-old', version: 1, weight: 100 }]));

const PASS = { verdict: 'PASS' as const, reason: 'within thresholds', metrics: [] };

/** Created, started and applied: IN_PROGRESS, stage 0 BAKING (revision 3). */
async function applied(edgeIds: string[]): Promise<Deployment> {
  const t = created(edgeIds);
  await store.createDeployment(t);
  const s = start(t.deployment, { executionArn: `arn:aws:states:us-east-1:000000000000:execution:rollout:${t.deployment.id}-1` }, at(1));
  await store.saveTransition(s);
  const a = stageApplied(s.deployment, { stage: 0, prior: prior(edgeIds) }, at(2));
  await store.saveTransition(a);
  return a.deployment;
}

const scanAll = () => scanTable(client, tableName);

type Event = { type: string; time: string; data: Record<string, unknown> };
const outboxOf = async (id: string): Promise<Event[]> =>
  (await scanAll())
    .filter((i) => i.type === 'Outbox' && (i.event as { subject: string }).subject === id)
    .map((i) => i.event as Event)
    .sort((a, b) => a.time.localeCompare(b.time) || Number(a.data.revision) - Number(b.data.revision));
const auditOf = async (id: string) =>
  (await scanAll()).filter((i) => i.type === 'Audit' && (i.data as { resourceId: string }).resourceId === id);
const markerOf = async (id: string) =>
  (await client.send(new GetCommand({ TableName: tableName, Key: keys.activeDeployment(id), ConsistentRead: true }))).Item;

async function conflictOf(promise: Promise<unknown>): Promise<ConflictError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConflictError);
  return error as ConflictError;
}

describe('creating a deployment', () => {
  it('stores it PENDING at revision 1 with one audit line and a deployment.created event carrying its summary only', async () => {
    const edges = ids(3);
    const t = created(edges);
    await store.createDeployment(t);
    expect(await store.getDeployment(t.deployment.id)).toEqual(t.deployment);
    const events = await outboxOf(t.deployment.id);
    expect(events.map((e) => e.type)).toEqual(['deployment.created']);
    expect(events[0]?.data).toEqual({
      id: t.deployment.id,
      configurationId: t.deployment.configurationId,
      version: 2,
      strategy: 'direct',
      status: 'PENDING',
      currentStage: 0,
      createdBy: 'op',
      createdAt: T0,
      updatedAt: T0,
      revision: 1,
    });
    expect(await auditOf(t.deployment.id)).toHaveLength(1);
    expect((await auditOf(t.deployment.id))[0]?.data).toMatchObject({ status: 201 });
    expect(await markerOf(t.deployment.id)).toMatchObject({ id: t.deployment.id, edgeIds: t.deployment.edgeIds, status: 'PENDING' });
  });

  it('refuses one that overlaps an active deployment by one edge (409 EDGE_IN_DEPLOYMENT naming it) and writes nothing', async () => {
    const [shared, a, b] = ids(3) as [string, string, string];
    const first = created([a, shared]);
    await store.createDeployment(first);
    const second = created([shared, b]);
    const before = await scanAll();
    const error = await conflictOf(store.createDeployment(second));
    expect(error.code).toBe('EDGE_IN_DEPLOYMENT');
    expect(error.message).toContain(first.deployment.id);
    expect(error.message).toContain('PENDING');
    expect(error.message).toContain(shared);
    expect(error.message).not.toContain(a);
    const after = await scanAll();
    expect(after).toHaveLength(before.length);
    expect(after.filter((i) => JSON.stringify(i).includes(second.deployment.id))).toEqual([]);
    expect(await store.getDeployment(second.deployment.id)).toBeUndefined();
  });

  it('names the holder with its current status and at most ten overlapping edges, then how many more', async () => {
    const edges = ids(15);
    const first = await applied(edges);
    const error = await conflictOf(store.createDeployment(created(edges)));
    expect(error.message).toContain(`${first.id} (IN_PROGRESS)`);
    // In the holder's plan order.
    expect(error.message).toContain(`Edges ${first.edgeIds.slice(0, 10).join(', ')} and 5 more`);
    expect(error.message).not.toContain(first.edgeIds[10]);
    expect(error.message).toContain('and 5 more');
  });

  it('takes deployments on disjoint edges side by side', async () => {
    const one = created(ids(2));
    const two = created(ids(2));
    await store.createDeployment(one);
    await store.createDeployment(two);
    const active = (await store.activeDeployments()).map((d) => d.id);
    expect(active).toEqual(expect.arrayContaining([one.deployment.id, two.deployment.id]));
  });

  it('lets exactly one of 10 concurrent creates that share one edge succeed', async () => {
    const [shared] = ids(1) as [string];
    const racers = Array.from({ length: 10 }, () => created([shared, randomUUID()]));
    const results = await Promise.allSettled(racers.map((t) => store.createDeployment(t)));
    const won = racers.filter((_, i) => results[i]?.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results)
      if (r.status === 'rejected')
        expect(r.reason).toMatchObject({ code: 'EDGE_IN_DEPLOYMENT', message: expect.stringContaining(won[0]!.deployment.id) });
    const holding = (await store.activeDeployments()).filter((d) => d.edgeIds.includes(shared));
    expect(holding.map((d) => d.id)).toEqual([won[0]!.deployment.id]);
    for (const loser of racers.filter((t) => t !== won[0])) expect(await store.getDeployment(loser.deployment.id)).toBeUndefined();
  });

  it('lets 10 concurrent creates on disjoint edges all succeed', async () => {
    const racers = Array.from({ length: 10 }, () => created(ids(2)));
    const results = await Promise.allSettled(racers.map((t) => store.createDeployment(t)));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill('fulfilled'));
    for (const t of racers) expect(await store.getDeployment(t.deployment.id)).toEqual(t.deployment);
  });

  it(`stores a ${MAX_TARGET_EDGES}-edge deployment through its largest plan, every prior state and a full decision log`, async () => {
    const edges = ids(MAX_TARGET_EDGES);
    const steps = [91, 92, 93, 94, 95, 96, 97, 98, 99, 100];
    const t = created(edges, { strategy: 'regional-canary', steps });
    await store.createDeployment(t);
    const figures = (metric: MetricFigures['metric']): MetricFigures => ({
      metric,
      stageCount: 1234,
      baselineCount: 5678,
      stageMean: 0.012345678,
      baselineMean: 0.011223344,
      stageMedian: 0.0101010101,
      baselineMedian: 0.0099887766,
      threshold: 0.05,
      thresholdBreached: false,
      u: 123456.5,
      z: -1.23456789,
      pValue: 0.21734567,
      significantlyWorse: false,
    });
    const evaluation = { verdict: 'PASS' as const, reason: 'within thresholds', metrics: [figures('errorRate'), figures('p95LatencyMs')] };
    // The record at its largest, made by the domain (pure), then stored in one write: the size is what is tested.
    let d = t.deployment;
    const step = (next: Transition) => (d = next.deployment);
    step(start(d, {}, at(1)));
    for (let stage = 0; stage < steps.length; stage++) {
      step(stageApplied(d, { stage, prior: prior(edges) }, at(10 * stage + 2)));
      step(bakeDone(d, { stage }, at(10 * stage + 3)));
      step(recordVerdict(d, { stage, evaluation: { ...evaluation, verdict: 'INSUFFICIENT_DATA' } }, at(10 * stage + 4)));
      step(bakeDone(d, { stage }, at(10 * stage + 5)));
      step(recordVerdict(d, { stage, evaluation }, at(10 * stage + 6)));
    }
    d = { ...d, revision: 2 };
    await store.saveTransition({ deployment: d, event: 'deployment.succeeded' });
    expect(d.status).toBe('SUCCEEDED');
    expect(Object.keys(d.previous)).toHaveLength(MAX_TARGET_EDGES);
    expect(d.stages.reduce((n, s) => n + s.edgeIds.length, 0)).toBeGreaterThan(4700);
    expect(d.decisions).toHaveLength(2 * steps.length);
    expect(await store.getDeployment(d.id)).toEqual(d);
  });
});

describe('transitions', () => {
  it('are written on the revision read: a stale one is a 409, a missing deployment a 404, and nothing changes', async () => {
    const t = created(ids(2));
    await store.createDeployment(t);
    const started = start(t.deployment, {}, at(1));
    await store.saveTransition(started);
    await expect(store.saveTransition(start(t.deployment, {}, at(2)))).rejects.toBeInstanceOf(VersionConflictError);
    await expect(store.saveTransition(rollback(t.deployment, { by: 'op' }, at(2)))).rejects.toBeInstanceOf(VersionConflictError);
    expect(await store.getDeployment(t.deployment.id)).toEqual(started.deployment);
    expect((await outboxOf(t.deployment.id)).map((e) => e.type)).toEqual(['deployment.created', 'deployment.started']);
    const ghost = created(ids(1)).deployment;
    await expect(store.saveTransition(start(ghost, {}, at(1)))).rejects.toBeInstanceOf(NotFoundError);
  });

  it('with an event commit their audit line and event, with the decision, never the task token', async () => {
    const edges = ids(2);
    const t = created(edges, { requireApproval: true });
    await store.createDeployment(t);
    const s = start(t.deployment, {}, at(1));
    await store.saveTransition(s);
    const token = `AQCEAAAAKgAAAAMAAAAA-${randomUUID()}`;
    const waiting = awaitApproval(s.deployment, { stage: 0, taskToken: token }, at(2));
    await store.saveTransition(waiting);
    expect(await store.getDeployment(t.deployment.id)).toMatchObject({ status: 'WAITING_APPROVAL', taskToken: token, revision: 3 });
    const rolled = rollback(waiting.deployment, { by: 'ada', reason: 'wrong version' }, at(3));
    await store.saveTransition(rolled);
    const events = await outboxOf(t.deployment.id);
    expect(events.map((e) => e.type)).toEqual([
      'deployment.created',
      'deployment.started',
      'deployment.waiting_approval',
      'deployment.rolling_back',
    ]);
    expect(JSON.stringify(events)).not.toContain(token);
    for (const e of events) expect(Object.keys(e.data)).not.toEqual(expect.arrayContaining(['previous']));
    expect(events[3]?.data).toMatchObject({
      status: 'ROLLING_BACK',
      revision: 4,
      decision: { verdict: 'ROLLBACK_REQUESTED', by: 'ada', reason: 'rollback requested by ada: wrong version' },
    });
    expect(events.every((e) => e.data.stages === undefined && e.data.edgeIds === undefined)).toBe(true);
    expect((await auditOf(t.deployment.id)).map((a) => (a.data as { status: number }).status).sort()).toEqual([200, 200, 200, 201]);
  });

  it('without an event (bake over → EVALUATING) are a plain write: no outbox, no audit', async () => {
    const d = await applied(ids(2));
    const before = { events: (await outboxOf(d.id)).length, audit: (await auditOf(d.id)).length };
    const evaluating = bakeDone(d, { stage: 0 }, at(70));
    expect(evaluating.event).toBeUndefined();
    await store.saveTransition(evaluating);
    expect(await store.getDeployment(d.id)).toMatchObject({ revision: 4, stages: [{ status: 'EVALUATING' }] });
    expect((await outboxOf(d.id)).length).toBe(before.events);
    expect((await auditOf(d.id)).length).toBe(before.audit);
    await expect(store.saveTransition(evaluating)).rejects.toBeInstanceOf(VersionConflictError);
  });

  it('into SUCCEEDED release the edges in the same write: the marker is gone and an overlapping create succeeds', async () => {
    const edges = ids(3);
    const d = await applied(edges);
    const evaluating = bakeDone(d, { stage: 0 }, at(70));
    await store.saveTransition(evaluating);
    await expect(store.createDeployment(created([edges[0]!]))).rejects.toBeInstanceOf(ConflictError);
    const done = recordVerdict(evaluating.deployment, { stage: 0, evaluation: PASS }, at(71));
    await store.saveTransition(done);
    expect(await store.getDeployment(d.id)).toMatchObject({ status: 'SUCCEEDED', finishedAt: at(71) });
    expect(await markerOf(d.id)).toBeUndefined();
    expect((await store.activeDeployments()).map((x) => x.id)).not.toContain(d.id);
    const next = created(edges);
    await store.createDeployment(next);
    expect(await store.getDeployment(next.deployment.id)).toMatchObject({ status: 'PENDING' });
    expect((await outboxOf(d.id)).at(-1)?.type).toBe('deployment.succeeded');
  });

  it('into ROLLED_BACK release the edges likewise', async () => {
    const edges = ids(2);
    const d = await applied(edges);
    const rolling = rollback(d, { by: 'op' }, at(10));
    await store.saveTransition(rolling);
    expect(await markerOf(d.id)).toBeDefined();
    await store.saveTransition(rollbackDone(rolling.deployment, at(12)));
    expect(await markerOf(d.id)).toBeUndefined();
    await store.createDeployment(created([edges[1]!]));
    expect((await outboxOf(d.id)).map((e) => e.type).slice(-2)).toEqual(['deployment.rolling_back', 'deployment.rolled_back']);
  });
});

describe('reading deployments', () => {
  it('activeDeployments answers the active ones (current records), oldest first, and not the finished', async () => {
    const pending = created(ids(1), { now: at(-100) });
    await store.createDeployment(pending);
    const running = await applied(ids(1));
    const finished = await applied(ids(1));
    const rolling = rollback(finished, { by: 'op' }, at(5));
    await store.saveTransition(rolling);
    await store.saveTransition(rollbackDone(rolling.deployment, at(6)));
    const active = await store.activeDeployments();
    const byId = new Map(active.map((d) => [d.id, d]));
    expect(byId.get(pending.deployment.id)).toEqual(pending.deployment);
    expect(byId.get(running.id)).toEqual(running);
    expect(byId.has(finished.id)).toBe(false);
    expect(active.every((d) => ['PENDING', 'IN_PROGRESS', 'WAITING_APPROVAL', 'PAUSED', 'ROLLING_BACK'].includes(d.status))).toBe(true);
    const times = active.map((d) => d.createdAt);
    expect(times).toEqual([...times].sort());
  });

  it('lists newest first, filtered by configuration and status, in cursor pages', async () => {
    const configurationId = randomUUID();
    const made: Deployment[] = [];
    for (let i = 0; i < 5; i++) {
      const t = created(ids(1), { configurationId, now: at(1000 + i) });
      await store.createDeployment(t);
      made.push(t.deployment);
    }
    const started = start(made[1]!, {}, at(1100));
    await store.saveTransition(started);
    await store.createDeployment(created(ids(1), { now: at(1010) })); // another configuration, newest of all

    const first = await store.listDeployments({ configurationId, limit: 2 });
    expect(first.items.map((d) => d.id)).toEqual([made[4]!.id, made[3]!.id]);
    const second = await store.listDeployments({ configurationId, limit: 2, cursor: first.nextCursor });
    expect(second.items.map((d) => d.id)).toEqual([made[2]!.id, made[1]!.id]);
    expect(second.items[1]).toEqual(started.deployment);
    const third = await store.listDeployments({ configurationId, limit: 2, cursor: second.nextCursor });
    expect(third.items.map((d) => d.id)).toEqual([made[0]!.id]);
    expect(third.nextCursor).toBeUndefined();

    const pending = await store.listDeployments({ configurationId, status: 'PENDING', limit: 10 });
    expect(pending.items.map((d) => d.id)).toEqual([made[4]!.id, made[3]!.id, made[2]!.id, made[0]!.id]);
    const inProgress = await store.listDeployments({ configurationId, status: 'IN_PROGRESS', limit: 10 });
    expect(inProgress.items.map((d) => d.id)).toEqual([made[1]!.id]);
    const all = await store.listDeployments({ status: 'PENDING', limit: 100 });
    expect(all.items.every((d) => d.status === 'PENDING')).toBe(true);
    expect(all.items.some((d) => d.configurationId !== configurationId)).toBe(true);
  });
});

describe('assignments', () => {
  const assignment = (edgeId: string, deploymentId: string, version = 2): EdgeAssignment => ({
    edgeId,
    configurationId: 'cfg',
    version,
    weight: 100,
    deploymentId,
    updatedAt: at(10),
  });

  it('are set and read back per edge; an edge with none is absent', async () => {
    const edges = ids(130);
    const list = edges.slice(0, 120).map((id) => assignment(id, 'dep-a'));
    await store.assign(list);
    await store.assign(list); // the same stage applied again
    const read = await store.assignments([...edges, edges[0]!]);
    expect(read.size).toBe(120);
    expect(read.get(edges[0]!)).toEqual(list[0]);
    expect(read.get(edges[119]!)).toEqual(list[119]);
    expect(read.has(edges[125]!)).toBe(false);
  });

  it('are restored: the prior put back, removed where there was none, skipped where another deployment owns the edge; twice is harmless', async () => {
    const [kept, fresh, taken, untouched] = ids(4) as [string, string, string, string];
    const dep = randomUUID();
    await store.assign([assignment(kept, dep), assignment(fresh, dep), assignment(taken, 'someone-else')]);
    const targets = [
      { edgeId: kept, configurationId: 'cfg-old', version: 1, weight: 100 },
      { edgeId: fresh, weight: 0 },
      { edgeId: taken, configurationId: 'cfg-old', version: 1, weight: 100 },
      { edgeId: untouched, weight: 0 },
    ];
    const first = await store.restore(dep, targets, at(20));
    expect(first).toEqual({ restored: [kept, fresh, untouched], skipped: [taken] });
    const read = await store.assignments([kept, fresh, taken, untouched]);
    expect(read.get(kept)).toEqual({
      edgeId: kept,
      configurationId: 'cfg-old',
      version: 1,
      weight: 100,
      deploymentId: dep,
      updatedAt: at(20),
    });
    expect(read.has(fresh)).toBe(false);
    expect(read.has(untouched)).toBe(false);
    expect(read.get(taken)).toEqual(assignment(taken, 'someone-else'));
    expect(await store.restore(dep, targets, at(21))).toEqual(first);
    expect((await store.assignments([kept])).get(kept)).toMatchObject({ version: 1, updatedAt: at(21) });
    expect((await store.assignments([taken])).get(taken)).toEqual(assignment(taken, 'someone-else'));
  });

  it('restores 100 edges in one or two requests, well within the 5 s rollback target', async () => {
    const edges = ids(100);
    const dep = randomUUID();
    await store.assign(edges.map((id) => assignment(id, dep)));
    await store.assign([assignment(edges[7]!, 'someone-else')]);
    // The same store over a client that counts its requests: per-edge writes would be 100 of them.
    let requests = 0;
    const counting = Object.create(client) as DynamoDBDocumentClient;
    counting.send = ((command: never) => {
      requests++;
      return client.send(command);
    }) as DynamoDBDocumentClient['send'];
    const counted = new DynamoDeploymentStore(counting, tableName, { audit: TEST_AUDIT });
    const started = performance.now();
    const result = await counted.restore(
      dep,
      edges.map((edgeId, i) => (i % 2 ? { edgeId, weight: 0 } : { edgeId, configurationId: 'cfg-old', version: 1, weight: 100 })),
      at(30),
    );
    const elapsed = performance.now() - started;
    expect(result.skipped).toEqual([edges[7]]);
    expect(result.restored).toHaveLength(99);
    expect(requests).toBe(2);
    // A loose bound: DynamoDB Local on a loaded 2-core machine; it takes ~0.1–0.7 s when the machine is quiet.
    expect(elapsed).toBeLessThan(5000);
    const after = await store.assignments(edges);
    expect(after.size).toBe(51);
    expect(after.get(edges[7]!)).toMatchObject({ deploymentId: 'someone-else' });
  });
});

describe('heartbeatsOf', () => {
  it('answers every heartbeat of the edges from `from` to `to`, both inclusive, across edges and pages', async () => {
    const [a, b, silent] = ids(3) as [string, string, string];
    const beat = (edgeId: string, s: number, n = 0): HeartbeatRecord => ({
      edgeId,
      at: at(s),
      configurationId: 'cfg',
      activeVersion: 2,
      requests: 100 + n,
      errorRate: 0.01,
      p95LatencyMs: 40,
      cacheHitRate: 0.9,
    });
    const records = [
      ...[-1, 0, 1, 2, 3].map((s) => beat(a, s)),
      beat(b, 0, 1),
      beat(b, 0, 2), // two in one millisecond both count
      beat(b, 2),
      beat(b, 4),
    ];
    for (const r of records)
      await client.send(
        new PutCommand({ TableName: tableName, Item: { ...keys.heartbeat(r.edgeId, r.at, randomUUID()), type: 'Heartbeat', data: r } }),
      );
    const found = await store.heartbeatsOf([a, b, silent], at(0), at(2));
    const seen = found.map((r) => `${r.edgeId === a ? 'a' : 'b'}@${r.at}#${r.requests}`).sort();
    expect(seen).toEqual(
      [`a@${at(0)}#100`, `a@${at(1)}#100`, `a@${at(2)}#100`, `b@${at(0)}#101`, `b@${at(0)}#102`, `b@${at(2)}#100`].sort(),
    );
    expect(await store.heartbeatsOf([silent], at(0), at(2))).toEqual([]);
  });
});
