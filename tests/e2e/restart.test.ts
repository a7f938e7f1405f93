/** `npm start` keeps data, secrets, bootstrap state and deployments on disk: a restart finds them, and Ctrl-C leaves no Java process behind. */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InvokeCommand, LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../../bin/edge-sim.js';
import { receiverBody } from '../support/samples.js';
import { startRuntimeProcess, type RuntimeProcess } from '../support/runtime-process.js';

const dataDir = mkdtempSync(path.join(tmpdir(), 'switchyard-data-'));
const outdir = mkdtempSync(path.join(tmpdir(), 'switchyard-cdk-'));
const keyDir = mkdtempSync(path.join(tmpdir(), 'switchyard-edge-keys-'));
const KEY = 'sy_restart_test_key_0123456789';
const context = { 'switchyard:rolloutPollSeconds': '1' };
/** Every runtime this file starts, so none outlives it whatever failed (a test that replaced its runtime used to leak one). */
const runtimes: RuntimeProcess[] = [];
let fleet: Fleet | undefined;

afterAll(async () => {
  await fleet?.stop();
  await Promise.all(runtimes.map((r) => r.stop()));
  for (const dir of [dataDir, outdir, keyDir]) rmSync(dir, { recursive: true, force: true });
});

async function start(env: Record<string, string> = {}): Promise<RuntimeProcess> {
  const runtime = await startRuntimeProcess({ dataDir, outdir, context, env });
  runtimes.push(runtime);
  return runtime;
}

function portAcceptsConnections(endpoint: string): Promise<boolean> {
  const { hostname, port } = new URL(endpoint);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * One scenario, two starts on one data folder (each start of a runtime costs
 * seconds of CI, and this file runs alone): what is stored survives, the
 * bootstrapped key still works, the unchanged assembly is reused, Ctrl-C
 * leaves no DynamoDB Local behind, and a rollout in flight at the stop ends.
 *
 * The deployment record is the source of truth (DESIGN.md §6): executions
 * live in the runtime's memory and die with it; the reconciler finds the
 * in-flight deployment without one and starts it again from its recorded stage.
 */
describe.skipIf(process.env.SWITCHYARD_BASE_URL)('local runtime on disk', () => {
  it('keeps data and an in-flight rollout across a restart: the assembly is reused, SIGINT stops cleanly, and the rollout ends with no edge on an unknown version', async () => {
    let runtime = await start({ SWITCHYARD_ADMIN_API_KEY: KEY });
    expect(runtime.output()).toMatch(/ready in [\d.]+ s: synth [\d.]+ s/);
    const api = async (method: string, route: string, body?: unknown, auth: Record<string, string> = { 'X-API-Key': KEY }) => {
      const res = await fetch(`${runtime.url}${route}`, {
        method,
        headers: { ...auth, 'Content-Type': 'application/json' },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
    };
    const created = await api('POST', '/api/v1/receivers', receiverBody({ name: 'survives-restart' }));
    expect(created.status).toBe(201);
    const receiverId = created.body.id as string;

    const fleetOn = (url: string) =>
      startFleet({
        api: url,
        adminKey: KEY,
        edges: 4,
        regions: 2,
        prefix: 'restart',
        pollMs: 300,
        heartbeatMs: 300,
        seed: 3,
        keyFile: path.join(keyDir, 'restart.json'),
      });
    fleet = await fleetOn(runtime.url);
    const edgeIds = fleet.edges.map((e) => e.id);
    expect(
      (await api('POST', '/api/v1/users', { username: 'restart-approver', password: 'restart-approver-pass-1', roles: ['operator'] }))
        .status,
    ).toBe(201);
    const token = (await api('POST', '/api/v1/auth/login', { username: 'restart-approver', password: 'restart-approver-pass-1' }, {})).body
      .accessToken as string;
    // Steady figures (as in rollouts.test.ts): the canary's verdict is about the restart, not the judge's noise.
    const content = (ttl: number) => ({
      routes: [{ path: '/', origin: 'origin-a', ttlSeconds: ttl }],
      simulate: { errorRate: 0.007, p95LatencyMs: 60 },
    });
    const config = (await api('POST', '/api/v1/configurations', { name: 'restart', content: content(60) })).body.id as string;
    expect((await api('PUT', `/api/v1/configurations/${config}`, { revision: 1, content: content(120) })).status).toBe(200);
    for (const v of [1, 2])
      expect(
        (await api('POST', `/api/v1/configurations/${config}/versions/${v}/approve`, undefined, { Authorization: `Bearer ${token}` }))
          .status,
      ).toBe(200);

    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON read field by field, as a client does
    const until = async (id: string, done: (d: Record<string, any>) => boolean, ms: number) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const d = (await api('GET', `/api/v1/deployments/${id}`)).body;
        if (done(d)) return d;
        if (Date.now() > deadline) throw new Error(`deployment ${id} stuck: ${JSON.stringify(d).slice(0, 2000)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    const deploy = async (version: number, strategy: string, bakeSeconds: number, steps?: number[]) => {
      const res = await api('POST', '/api/v1/deployments', {
        configurationId: config,
        version,
        strategy,
        targets: { edgeIds },
        ...(steps ? { steps } : {}),
        bakeSeconds,
        thresholds: { maxErrorRate: 0.05 },
      });
      expect(res.status).toBe(202);
      return res.body.id as string;
    };
    const first = await deploy(1, 'direct', 1);
    expect((await until(first, (d) => d.status === 'SUCCEEDED', 60_000)).status).toBe('SUCCEEDED');

    const id = await deploy(2, 'regional-canary', 6, [50, 100]);
    const mid = await until(id, (d) => d.stages[0].status === 'BAKING', 60_000);
    expect(mid).toMatchObject({ status: 'IN_PROGRESS', currentStage: 0, attempt: 1 });

    // The runtime goes away mid-bake (SIGINT, as Ctrl-C); the edges keep polling (and count their failed requests).
    const firstDynamo = runtime.dynamoEndpoint;
    expect(await runtime.stop()).toBe(0);
    expect(await portAcceptsConnections(firstDynamo)).toBe(false);

    // No key in the environment this time: the one bootstrapped on the first start must still work. Nothing changed: no synth, no bundling.
    runtime = await start();
    expect(runtime.output()).toMatch(/ready in [\d.]+ s: assembly reused/);
    const read = await api('GET', `/api/v1/receivers/${receiverId}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id: receiverId, name: 'survives-restart' });

    await fleet.stop();
    fleet = await fleetOn(runtime.url); // the same four edges (their keys are in the key file), at the new address
    expect(fleet.edges.map((e) => e.id)).toEqual(edgeIds);

    // The reconciler's schedule runs every minute; run it now, with the event that schedule sends.
    const lambda = new LambdaClient({
      endpoint: runtime.awsEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const functions = (await lambda.send(new ListFunctionsCommand({}))).Functions ?? [];
    const reconciler = functions.find((f) => f.FunctionName?.includes('Reconciler'))?.FunctionName;
    expect(reconciler).toBeDefined();
    const scheduled = readFileSync(path.join(import.meta.dirname, '../../events/deployment-reconciler-scheduled.json'));
    const invoked = await lambda.send(new InvokeCommand({ FunctionName: reconciler, Payload: scheduled }));
    const report = JSON.parse(Buffer.from(invoked.Payload!).toString()) as {
      restarted: number;
      report: Array<{ deploymentId: string; execution: string }>;
    };
    expect(report.report).toContainEqual(expect.objectContaining({ deploymentId: id, execution: 'MISSING', action: 'restarted' }));

    const done = await until(id, (d) => ['SUCCEEDED', 'ROLLED_BACK', 'FAILED'].includes(d.status), 90_000);
    expect(done.status).toBe('SUCCEEDED');
    expect(done.stages.map((s: { status: string }) => s.status)).toEqual(['PASSED', 'PASSED']);
    // Every edge runs a version this configuration has, and the one the deployment left it on.
    await fleet.waitUntil((s) => s.every((e) => e.active?.configurationId === config && e.active.version === 2), 30_000);
    // Nothing left for the reconciler.
    const again = JSON.parse(
      Buffer.from((await lambda.send(new InvokeCommand({ FunctionName: reconciler, Payload: scheduled }))).Payload!).toString(),
    );
    expect(again.restarted).toBe(0);
  }, 300_000);
});
