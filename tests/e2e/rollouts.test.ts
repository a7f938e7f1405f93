/**
 * Rollouts end to end (issue 10, DESIGN.md §6) on the running stack: a
 * fleet of simulated edges (bin/edge-sim.ts) pulls desired-config and posts
 * heartbeats whose metrics follow each version's `simulate` block, while
 * the rollout and rollback state machines run from the template. Targets
 * are the fleet's edge ids, so other suites' edges are never touched.
 */
import { InvokeCommand, LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Fleet } from '../../bin/edge-sim.js';
import { call } from '../support/http.js';
import { approvedConfiguration, deploymentUntil, fleet, operator } from '../support/rollouts.js';

const FROM = '127.0.9.1';
/**
 * Good versions report steady figures (±5 %: medians at most 6 ms and 0.07
 * points apart), below the judge's minimum effect, so a good canary passes
 * for what it is. With the simulator's default healthy noise (p95 40–80 ms)
 * a good stage is failed on noise about 0.4 % of the time
 * (bench/false-rollbacks.ts): rare for a product, a flake for a suite.
 */
const STEADY = { errorRate: 0.007, p95LatencyMs: 60 };
const GOOD_1 = { routes: [{ path: '/', origin: 'origin-a', ttlSeconds: 60 }], simulate: STEADY };
const GOOD_2 = { routes: [{ path: '/', origin: 'origin-a', ttlSeconds: 120 }], simulate: STEADY };
const BAD_3 = { routes: [{ path: '/', origin: 'origin-b', ttlSeconds: 120 }], simulate: { errorRate: 0.3, p95LatencyMs: 900 } };
const THRESHOLDS = { maxErrorRate: 0.05, maxP95LatencyMs: 500 };

let approver: { id: string; bearer: string };
const fleets: Fleet[] = [];

beforeAll(async () => {
  approver = await operator(FROM);
});

afterAll(async () => {
  await Promise.all(fleets.map((f) => f.stop()));
});

async function newFleet(prefix: string, edges: number, regions: number): Promise<Fleet> {
  const f = await fleet(prefix, { edges, regions });
  fleets.push(f);
  return f;
}

// Each test's fleet stops with it: a fleet left polling loads the runtime every other e2e file shares.
afterEach(async () => {
  await Promise.all(fleets.splice(0).map((f) => f.stop()));
});

const final = (d: { status: string }) => ['SUCCEEDED', 'ROLLED_BACK', 'FAILED'].includes(d.status);

async function deploy(body: Record<string, unknown>): Promise<string> {
  const res = await call('POST', '/api/v1/deployments', { json: body });
  expect(res.status, res.text).toBe(202);
  expect(res.body).toMatchObject({ status: 'PENDING', executionArn: expect.stringContaining(':execution:') });
  expect(res.headers.get('location')).toBe(`/api/v1/deployments/${res.body.id}`);
  return res.body.id as string;
}

/** Every edge of the fleet reports `version` of `configurationId` as active. */
const allOn = (configurationId: string, version: number) => (snapshot: ReturnType<Fleet['snapshot']>) =>
  snapshot.every((e) => e.active?.configurationId === configurationId && e.active.version === version);

/** Version 1 to every edge of the fleet at once, a one-second bake. */
const directV1 = (f: Fleet, configurationId: string) => ({
  configurationId,
  version: 1,
  strategy: 'direct',
  targets: { edgeIds: f.edges.map((e) => e.id) },
  bakeSeconds: 1,
  thresholds: THRESHOLDS,
});

/** Deploys version 1 to the whole fleet directly, so later deployments have a version to roll back to. */
async function baseline(f: Fleet, configurationId: string): Promise<void> {
  const id = await deploy(directV1(f, configurationId));
  expect((await deploymentUntil(id, final, 60_000)).status).toBe('SUCCEEDED');
  await f.waitUntil(allOn(configurationId, 1), 20_000);
}

describe('rollouts', { timeout: 120_000 }, () => {
  it('a good regional canary completes stage by stage and every edge ends on the new version', async () => {
    const f = await newFleet('canary', 10, 2);
    const configurationId = await approvedConfiguration('canary', [GOOD_1, GOOD_2], approver, FROM);
    await baseline(f, configurationId);

    const id = await deploy({
      configurationId,
      version: 2,
      strategy: 'regional-canary',
      targets: { edgeIds: f.edges.map((e) => e.id) },
      steps: [20, 50, 100],
      // Long enough for ten heartbeats (one a second each) from the two canary edges (fewer: INSUFFICIENT_DATA, bake again).
      bakeSeconds: 8,
      thresholds: THRESHOLDS,
    });
    const done = await deploymentUntil(id, final, 120_000);
    expect(done.status, JSON.stringify(done.decisions)).toBe('SUCCEEDED');
    expect(done.stages.map((s: { edgeIds: string[]; status: string }) => [s.edgeIds.length, s.status])).toEqual([
      [2, 'PASSED'],
      [5, 'PASSED'],
      [10, 'PASSED'],
    ]);
    // Every stage was judged, each verdict logged with its figures; the last one had no baseline left.
    const passes = done.decisions.filter((d: { verdict: string }) => d.verdict === 'PASS');
    expect(
      passes.map((d: { stage: number }) => d.stage),
      JSON.stringify(done.decisions, null, 1),
    ).toEqual([0, 1, 2]);
    for (const decision of passes) expect(decision.metrics.map((m: { metric: string }) => m.metric)).toEqual(['errorRate', 'p95LatencyMs']);
    expect(done).not.toHaveProperty('taskToken');
    await f.waitUntil(allOn(configurationId, 2), 20_000);
    const desired = await call('GET', `/api/v1/edge-locations/${f.edges[0]!.id}/desired-config`);
    expect(desired.body).toMatchObject({ configurationId, version: 2, weight: 100, content: GOOD_2 });
  });

  it('a bad version rolls back by itself and every touched edge returns to its previous version', async () => {
    const f = await newFleet('bad', 10, 2);
    const configurationId = await approvedConfiguration('bad', [GOOD_1, BAD_3], approver, FROM);
    await baseline(f, configurationId);

    const id = await deploy({
      configurationId,
      version: 2,
      strategy: 'regional-canary',
      targets: { edgeIds: f.edges.map((e) => e.id) },
      steps: [20, 100],
      bakeSeconds: 2,
      thresholds: THRESHOLDS,
    });
    // The canary edges take the bad version before the verdict.
    await f.waitUntil((s) => s.filter((e) => e.active?.version === 2).length === 2, 30_000);
    const done = await deploymentUntil(id, final, 90_000);
    expect(done.status).toBe('ROLLED_BACK');
    const fail = done.decisions.find((d: { verdict: string }) => d.verdict === 'FAIL');
    expect(fail).toMatchObject({ stage: 0, reason: expect.stringContaining('errorRate') });
    expect(fail.metrics.find((m: { metric: string }) => m.metric === 'errorRate')).toMatchObject({
      thresholdBreached: true,
      threshold: 0.05,
    });
    expect(done.rollbackReason).toContain('above the threshold');
    expect(done.stages[0]).toMatchObject({ status: 'ROLLED_BACK' });
    // The rollout handed over to the rollback machine and both executions ended cleanly: nothing was left for the reconciler.
    if (inject('awsEndpoint')) {
      const sfn = new SFNClient({
        endpoint: inject('awsEndpoint'),
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      });
      for (const executionArn of [done.executionArn, done.rollbackExecutionArn]) {
        expect((await sfn.send(new DescribeExecutionCommand({ executionArn }))).status, executionArn).toBe('SUCCEEDED');
      }
      expect(done).toMatchObject({ attempt: 1, rollbackAttempt: 1 });
    }
    expect(done.stages[1]).toMatchObject({ status: 'PENDING' });
    // The two canary edges are back on version 1, the rest never left it.
    await f.waitUntil(allOn(configurationId, 1), 20_000);
    for (const edge of f.edges) {
      const desired = await call('GET', `/api/v1/edge-locations/${edge.id}/desired-config`);
      expect(desired.body).toMatchObject({ configurationId, version: 1, weight: 100 });
    }
  });

  it('pause holds the next stage, promote skips a bake, and an operator rolls back', async () => {
    const f = await newFleet('steer', 4, 2);
    const configurationId = await approvedConfiguration('steer', [GOOD_1, GOOD_2], approver, FROM);
    await baseline(f, configurationId);
    const id = await deploy({
      configurationId,
      version: 2,
      strategy: 'regional-canary',
      targets: { edgeIds: f.edges.map((e) => e.id) },
      steps: [50, 100],
      bakeSeconds: 600,
      thresholds: THRESHOLDS,
    });
    // Baking with its edges assigned (assignedAt): before that a promote is a 409 STAGE_BEING_APPLIED.
    await deploymentUntil(id, (d) => d.stages[0].status === 'BAKING' && d.stages[0].assignedAt !== undefined, 30_000);

    const paused = await call('POST', `/api/v1/deployments/${id}/pause`, { json: {} });
    expect(paused.status, paused.text).toBe(200);
    expect(paused.body).toMatchObject({ status: 'PAUSED', pausedFrom: 'IN_PROGRESS' });
    const refused = await call('POST', `/api/v1/deployments/${id}/promote`, { json: {} });
    expect(refused.status).toBe(422);
    expect(refused.body.code).toBe('DEPLOYMENT_PAUSED');
    expect((await call('POST', `/api/v1/deployments/${id}/resume`, { json: {} })).body.status).toBe('IN_PROGRESS');

    // Promote ends a ten-minute bake now: stage 1 is applied within a poll or two.
    const promoted = await call('POST', `/api/v1/deployments/${id}/promote`, { json: {} });
    expect(promoted.status, promoted.text).toBe(200);
    expect(promoted.body.decisions.at(-1)).toMatchObject({ stage: 0, verdict: 'PROMOTED' });
    await deploymentUntil(id, (d) => d.stages[1].status === 'BAKING', 30_000);
    await f.waitUntil(allOn(configurationId, 2), 20_000);

    const rolledBack = await call('POST', `/api/v1/deployments/${id}/rollback`, { json: { reason: 'cache hit rate dropped' } });
    expect(rolledBack.status, rolledBack.text).toBe(200);
    expect(rolledBack.body).toMatchObject({ status: 'ROLLING_BACK', rollbackExecutionArn: expect.stringContaining('-rollback-1') });
    const done = await deploymentUntil(id, final, 30_000);
    expect(done.status).toBe('ROLLED_BACK');
    expect(done.decisions.at(-1)).toMatchObject({
      verdict: 'ROLLBACK_REQUESTED',
      reason: expect.stringContaining('cache hit rate dropped'),
    });
    await f.waitUntil(allOn(configurationId, 1), 20_000);
    // A finished deployment is not steered any more.
    const again = await call('POST', `/api/v1/deployments/${id}/rollback`, { json: {} });
    expect(again.status).toBe(422);
    expect(again.body.code).toBe('DEPLOYMENT_FINISHED');
  });

  it('an approval gate waits for an operator, and the edges it holds are refused to another deployment', async () => {
    const f = await newFleet('gate', 4, 2);
    const configurationId = await approvedConfiguration('gate', [GOOD_1, GOOD_2], approver, FROM);
    await baseline(f, configurationId);
    const edgeIds = f.edges.map((e) => e.id);
    const id = await deploy({
      configurationId,
      version: 2,
      strategy: 'rolling-regional',
      targets: { edgeIds },
      bakeSeconds: 1,
      thresholds: THRESHOLDS,
    });
    const waiting = await deploymentUntil(id, (d) => d.status === 'WAITING_APPROVAL' || final(d), 60_000);
    expect(waiting).toMatchObject({ status: 'WAITING_APPROVAL', currentStage: 1 });
    expect(waiting.stages[1]).toMatchObject({ status: 'WAITING_APPROVAL', requiresApproval: true });

    const overlapping = await call('POST', '/api/v1/deployments', {
      json: { configurationId, version: 1, strategy: 'direct', targets: { edgeIds: [edgeIds[3]] }, bakeSeconds: 1, thresholds: {} },
    });
    expect(overlapping.status).toBe(409);
    expect(overlapping.body).toMatchObject({ code: 'EDGE_IN_DEPLOYMENT', detail: expect.stringContaining(id) });

    const approved = await call('POST', `/api/v1/deployments/${id}/approve`, { as: { bearer: approver.bearer }, from: FROM, json: {} });
    expect(approved.status, approved.text).toBe(200);
    expect(approved.body.decisions.at(-1)).toMatchObject({ verdict: 'APPROVED', by: approver.id });
    expect((await deploymentUntil(id, final, 60_000)).status).toBe('SUCCEEDED');
    await f.waitUntil(allOn(configurationId, 2), 20_000);

    // Released: the same edge may be deployed again.
    const later = await call('POST', '/api/v1/deployments', {
      json: { configurationId, version: 1, strategy: 'direct', targets: { edgeIds: [edgeIds[3]] }, bakeSeconds: 1, thresholds: {} },
    });
    expect(later.status, later.text).toBe(202);
    await deploymentUntil(later.body.id, final, 60_000);
  });

  // Fault injection (DESIGN.md §7): Step Functions refuses every StartExecution while the deployment is created.
  it.runIf(inject('awsEndpoint'))('accepts a deployment whose execution could not start, and the reconciler starts it', async () => {
    const aws = inject('awsEndpoint');
    const f = await newFleet('chaos', 2, 1);
    const configurationId = await approvedConfiguration('chaos', [GOOD_1], approver, FROM);
    const chaos = (rules: unknown[]) =>
      fetch(`${aws}/_switchyard/chaos`, {
        method: rules.length ? 'PUT' : 'DELETE',
        body: JSON.stringify(rules),
        headers: { 'Content-Type': 'application/json' },
      });
    expect((await chaos([{ service: 'states', operation: 'StartExecution', probability: 1, error: 'ServiceUnavailable' }])).ok).toBe(true);
    let id: string;
    try {
      id = await deploy(directV1(f, configurationId));
    } finally {
      await chaos([]);
    }
    const sfn = new SFNClient({ endpoint: aws, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const stored = (await call('GET', `/api/v1/deployments/${id}`)).body;
    expect(stored).toMatchObject({ status: 'PENDING', attempt: 1 });
    await expect(sfn.send(new DescribeExecutionCommand({ executionArn: stored.executionArn }))).rejects.toMatchObject({
      name: 'ExecutionDoesNotExist',
    });

    // What the reconciler's schedule does every minute, now.
    const lambda = new LambdaClient({
      endpoint: aws,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const reconciler = ((await lambda.send(new ListFunctionsCommand({}))).Functions ?? []).find((fn) =>
      fn.FunctionName?.includes('Reconciler'),
    )!.FunctionName;
    const scheduled = readFileSync(path.join(import.meta.dirname, '../../events/deployment-reconciler-scheduled.json'));
    const report = JSON.parse(
      Buffer.from((await lambda.send(new InvokeCommand({ FunctionName: reconciler, Payload: scheduled }))).Payload!).toString(),
    );
    expect(report.report).toContainEqual({ deploymentId: id, status: 'PENDING', execution: 'MISSING', action: 'restarted' });
    expect((await deploymentUntil(id, final, 60_000)).status).toBe('SUCCEEDED');
    await f.waitUntil(allOn(configurationId, 1), 20_000);
  });

  it('refuses what cannot be deployed with a clear problem, and stores nothing', async () => {
    const configurationId = await approvedConfiguration('refused', [GOOD_1], approver, FROM);
    const unapproved = await call('PUT', `/api/v1/configurations/${configurationId}`, { json: { revision: 1, content: GOOD_2 } });
    expect(unapproved.status).toBe(200);
    const f = await newFleet('refused', 2, 1);
    const edgeIds = f.edges.map((e) => e.id);
    const before = (await call('GET', '/api/v1/deployments?limit=100')).body.items.length;

    const notApproved = await call('POST', '/api/v1/deployments', {
      json: { configurationId, version: 2, strategy: 'direct', targets: { edgeIds }, bakeSeconds: 1, thresholds: {} },
    });
    expect(notApproved.status).toBe(422);
    expect(notApproved.body.code).toBe('VERSION_NOT_APPROVED');

    const unknownEdge = await call('POST', '/api/v1/deployments', {
      json: {
        configurationId,
        version: 1,
        strategy: 'direct',
        targets: { edgeIds: ['00000000-0000-4000-8000-000000000000'] },
        bakeSeconds: 1,
        thresholds: {},
      },
    });
    expect(unknownEdge.status).toBe(400);
    expect(unknownEdge.body.errors[0].path).toBe('body.targets.edgeIds.0');

    const badStrategy = await call('POST', '/api/v1/deployments', {
      json: { configurationId, version: 1, strategy: 'yolo', targets: { edgeIds }, bakeSeconds: 1, thresholds: {} },
    });
    expect(badStrategy.status).toBe(400);

    const missingVersion = await call('POST', `/api/v1/configurations/${configurationId}/versions/9/deploy`, {
      json: { strategy: 'direct', targets: { edgeIds }, bakeSeconds: 1, thresholds: {} },
    });
    expect(missingVersion.status).toBe(404);

    expect((await call('GET', '/api/v1/deployments?limit=100')).body.items.length).toBe(before);
    expect((await call('GET', '/api/v1/deployments/00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });
});
