/**
 * Rollouts through the local runtime (issue 10, DESIGN.md §6): the real
 * rollout and rollback state machines of the template, driving simulated
 * edges (bin/edge-sim.ts) that poll desired-config and post heartbeats.
 * Prints figures, asserts nothing.
 *
 * 1. Deploy → every edge on the new version: 50 edges over 5 regions,
 *    `direct`, bake 1 s, 3 runs (v1 → v2 → v1 → v2 of one configuration,
 *    each a new deployment); beside it the part before the edges poll (202 →
 *    the record's `stages[0].appliedAt`) and the edges' own share (appliedAt
 *    → all 50 report it).
 * 2. Decision → every edge restored: 100 edges on v1, a bad v2 (its
 *    `simulate` block: 30 % errors at 900 ms) by `direct` with
 *    `maxErrorRate` 0.05 and a 5 s bake: FAIL decision → deployment
 *    ROLLED_BACK (`finishedAt`: assignments restored), and → all 100 edges
 *    report v1 again; the rollback's steps from the executions' histories.
 * 3. Bad version's first heartbeats → FAIL decision, in run 2 (heartbeats
 *    read back from `GET /edge-locations/{id}/metrics`), against the bake.
 * 4. Executions per second of the real `<stack>-rollback` machine in the
 *    runtime (each a Lambda task that reads the record and one that leaves
 *    it alone), beside the same ASL in-process in the interpreter the
 *    runtime uses (aws-local-stepfunctions) with tasks answered at once.
 *
 * The stack runs with `-c switchyard:rolloutPollSeconds=1` (a rollout looks
 * at its record every second) and a 1 s rate-limit window.
 *
 *   tsx bench/rollouts.ts [--edges 50] [--rollback-edges 100] [--runs 3] [--poll-ms 1000] [--bake 5] [--executions 100] [--concurrency 10]
 */
import '../local/aws/states/polyfill.js';
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  ListStateMachinesCommand,
  SFNClient,
  StartExecutionCommand,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { StateMachine } from 'aws-local-stepfunctions';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startFleet, type EdgeSnapshot, type Fleet } from '../bin/edge-sim.js';
import { LOCAL_CREDENTIALS } from '../local/aws/dynamodb/local-process.js';
import { describeDefinition, interpreterDefinition, parseDefinition } from '../local/aws/states/definition.js';
import { latencyRow, median, startBenchStack, throughput, type BenchReply } from './support.js';
import { readFileSync } from 'node:fs';

const { values } = parseArgs({
  options: {
    edges: { type: 'string', default: '50' },
    regions: { type: 'string', default: '5' },
    'rollback-edges': { type: 'string', default: '100' },
    runs: { type: 'string', default: '3' },
    'poll-ms': { type: 'string', default: '1000' },
    bake: { type: 'string', default: '5' },
    executions: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '10' },
  },
});
const edgeCount = Number(values.edges);
const regionCount = Number(values.regions);
const rollbackEdgeCount = Number(values['rollback-edges']);
const runs = Number(values.runs);
const pollMs = Number(values['poll-ms']);
const bakeSeconds = Number(values.bake);
const executions = Number(values.executions);
const concurrency = Number(values.concurrency);
const ROLLOUT_POLL_SECONDS = '1';

interface Decision {
  at: string;
  stage: number;
  verdict: string;
  reason: string;
}
interface Deployment {
  id: string;
  status: string;
  stages: Array<{ appliedAt?: string; completedAt?: string; status: string; edgeIds: string[] }>;
  decisions: Decision[];
  createdAt: string;
  finishedAt?: string;
  executionArn?: string;
  rollbackExecutionArn?: string;
}

const machineFacts = () => {
  const [one, five] = os.loadavg();
  return `${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? '?'}), load average ${one!.toFixed(2)} (1 min) ${five!.toFixed(2)} (5 min)`;
};
const startFacts = machineFacts();
const ms = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '–' : n.toFixed(0));
const sleep = (n: number) => new Promise((r) => setTimeout(r, n));
const FINAL = ['SUCCEEDED', 'ROLLED_BACK', 'FAILED'];

const stack = await startBenchStack({ 'switchyard:rolloutPollSeconds': ROLLOUT_POLL_SECONDS });
const { runtime } = stack;
/** The admin client, again once after a dropped keep-alive socket (seen under the fleet's load: "other side closed"). */
const api = async (method: string, url: string, body?: unknown): Promise<BenchReply> => {
  try {
    return await stack.api(method, url, body);
  } catch (error) {
    if (!(error instanceof TypeError) || method === 'POST') throw error;
    return stack.api(method, url, body);
  }
};
const adminKey = 'sy_bench_admin_key_0123456789abcdef';
const sfn = new SFNClient({ endpoint: runtime.awsEndpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
const keyDir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-bench-edges-'));
const fleets: Fleet[] = [];

const must = (reply: BenchReply, status: number, what: string) => {
  if (reply.status !== status) throw new Error(`${what}: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body;
};

/** An operator other than the admin key's principal: the author may not approve its own versions. */
async function approverBearer(): Promise<string> {
  const username = `bench-approver-${randomUUID().slice(0, 8)}`;
  const password = randomBytes(18).toString('base64url');
  must(await api('POST', '/api/v1/users', { username, password, roles: ['operator'] }), 201, 'operator user');
  const res = await fetch(`${runtime.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`login: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { accessToken: string }).accessToken;
}

/** A configuration whose version n has contents[n-1], every version approved by the operator. */
async function approvedConfiguration(name: string, contents: Array<Record<string, unknown>>, bearer: string): Promise<string> {
  const id = must(
    await api('POST', '/api/v1/configurations', { name: `${name}-${randomUUID().slice(0, 8)}`, content: contents[0] }),
    201,
    'configuration',
  ).id as string;
  for (const [i, content] of contents.slice(1).entries())
    must(await api('PUT', `/api/v1/configurations/${id}`, { revision: i + 1, content }), 200, 'configuration version');
  for (let v = 1; v <= contents.length; v++) {
    const res = await fetch(`${runtime.url}/api/v1/configurations/${id}/versions/${v}/approve`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${bearer}` },
    });
    if (res.status !== 200) throw new Error(`approve v${v}: ${res.status} ${await res.text()}`);
  }
  return id;
}

const getDeployment = async (id: string) =>
  must(await api('GET', `/api/v1/deployments/${id}`), 200, 'GET deployment') as unknown as Deployment;

/** POST /deployments; answers the id and the wall time (Date ms) the 202 came back. */
async function deploy(body: Record<string, unknown>): Promise<{ id: string; acceptedAt: number }> {
  const reply = await api('POST', '/api/v1/deployments', body);
  const acceptedAt = Date.now();
  return { id: must(reply, 202, 'POST deployment').id as string, acceptedAt };
}

/** GETs the deployment every 100 ms until `done`; answers the record and when (wall ms) each polled condition was first seen. */
async function follow(id: string, done: (d: Deployment) => boolean, timeoutMs: number): Promise<Deployment> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await getDeployment(id);
    if (done(d)) return d;
    if (Date.now() > deadline) throw new Error(`deployment ${id} stuck: ${JSON.stringify(d).slice(0, 2000)}`);
    await sleep(100);
  }
}

/**
 * Samples the fleet every 20 ms: for each edge, the wall time it was first
 * seen on `version` and (after that) the time it was last seen arriving back
 * on `restoreTo`.
 */
function watchFleet(fleet: Fleet, configurationId: string, version: number, restoreTo?: number) {
  const onNew = new Map<string, number>();
  const back = new Map<string, number>();
  const is = (e: EdgeSnapshot, v: number) => e.active?.configurationId === configurationId && e.active.version === v;
  const timer = setInterval(() => {
    const now = Date.now();
    for (const e of fleet.snapshot()) {
      if (is(e, version)) {
        if (!onNew.has(e.id)) onNew.set(e.id, now);
        back.delete(e.id);
      } else if (restoreTo !== undefined && onNew.has(e.id) && is(e, restoreTo) && !back.has(e.id)) back.set(e.id, now);
    }
  }, 20);
  return {
    allOnNew: () => (onNew.size === fleet.edges.length ? Math.max(...onNew.values()) : undefined),
    // Restored: every edge serves restoreTo again, each one that took the new version included (an edge that had not
    // polled before the rollback never left restoreTo: its assignment was put back before it looked).
    allBack: () => {
      if (restoreTo === undefined || back.size === 0) return undefined;
      if ([...onNew.keys()].some((id) => !back.has(id))) return undefined;
      return fleet.snapshot().every((e) => is(e, restoreTo)) ? Math.max(...back.values()) : undefined;
    },
    stop: () => clearInterval(timer),
  };
}

/** For an error message: versions by region, totals and the fleet's last errors. */
function fleetState(fleet: Fleet): string {
  const errors = [...new Set(fleet.snapshot().flatMap((e) => (e.lastError ? [e.lastError] : [])))].slice(0, 3);
  return `(fleet: ${JSON.stringify(fleet.versionsByRegion())}, ${JSON.stringify(fleet.totals())}, last errors: ${errors.join('; ') || 'none'})`;
}

async function untilDefined<T>(read: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = read();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(20);
  }
}

async function newFleet(edges: number, prefix: string): Promise<Fleet> {
  const fleet = await startFleet({
    api: runtime.url,
    adminKey,
    edges,
    regions: regionCount,
    prefix: `${prefix}-${randomUUID().slice(0, 6)}`,
    pollMs,
    heartbeatMs: pollMs,
    seed: 11,
    reuse: false,
    keyFile: path.join(keyDir, `${prefix}.json`),
  });
  fleets.push(fleet);
  return fleet;
}

/**
 * While it runs: one of the fleet's own edges' desired-config GETs, timed
 * every 250 ms with its key (what each edge's poll costs under the fleet's
 * load), and the fleet's achieved request rate against the nominal one.
 */
function probeFleet(fleet: Fleet, prefix: string) {
  const keys = JSON.parse(readFileSync(path.join(keyDir, `${prefix}.json`), 'utf8')) as {
    edges: Record<string, { id: string; edgeKey: string }>;
  };
  const [probe] = Object.values(keys.edges);
  const latencies: number[] = [];
  const before = fleet.totals();
  const startedAt = performance.now();
  let running = true;
  const loop = (async () => {
    while (running && probe) {
      const t0 = performance.now();
      const res = await fetch(`${runtime.url}/api/v1/edge-locations/${probe.id}/desired-config`, {
        headers: { 'X-API-Key': probe.edgeKey },
      }).catch(() => undefined);
      await res?.text();
      if (res && res.status < 400) latencies.push(performance.now() - t0);
      await sleep(250);
    }
  })();
  return async () => {
    running = false;
    await loop;
    const after = fleet.totals();
    const seconds = (performance.now() - startedAt) / 1000;
    return {
      latencies,
      requestsPerSecond: (after.polls + after.heartbeats - before.polls - before.heartbeats) / seconds,
      nominal: (fleet.edges.length * 2 * 1000) / pollMs,
      errors: after.errors - before.errors,
      lastErrors: [...new Set(fleet.snapshot().flatMap((e) => (e.lastError ? [e.lastError] : [])))].slice(0, 3),
    };
  };
}

/** `count` desired-config GETs of one edge, one after the other, with nothing else running: what a poll costs on a quiet runtime. */
async function idleGets(prefix: string, count: number): Promise<number[]> {
  const keys = JSON.parse(readFileSync(path.join(keyDir, `${prefix}.json`), 'utf8')) as {
    edges: Record<string, { id: string; edgeKey: string }>;
  };
  const [probe] = Object.values(keys.edges);
  const out: number[] = [];
  for (let n = 0; probe && n < count; n++) {
    const t0 = performance.now();
    const res = await fetch(`${runtime.url}/api/v1/edge-locations/${probe.id}/desired-config`, { headers: { 'X-API-Key': probe.edgeKey } });
    await res.text();
    out.push(performance.now() - t0);
  }
  return out;
}

async function history(executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, ...(nextToken ? { nextToken } : {}) }));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

/** Each state's entry and exit in an execution's history, in ms after `origin` (wall ms). */
function stateSpans(events: HistoryEvent[], origin: number, only?: readonly string[]): Array<[string, string]> {
  const rows: Array<[string, string]> = [];
  const entered = new Map<string, number>();
  for (const e of events) {
    const at = (e.timestamp as Date).getTime() - origin;
    if (e.type === 'ExecutionStarted') rows.push(['execution started', `+${ms(at)}`]);
    const name = e.stateEnteredEventDetails?.name ?? e.stateExitedEventDetails?.name;
    if (!name || (only && !only.includes(name))) continue;
    if (e.stateEnteredEventDetails) entered.set(name, at);
    if (e.stateExitedEventDetails) rows.push([name, `+${ms(entered.get(name))} → +${ms(at)}`]);
  }
  // A failed task or execution says why: a rollout that fails instead of entering RollBack leaves the rollback to the reconciler.
  for (const e of events) {
    const failed = e.lambdaFunctionFailedEventDetails ?? e.taskFailedEventDetails ?? e.executionFailedEventDetails;
    if (failed)
      rows.push([
        `${e.type}`,
        `+${ms((e.timestamp as Date).getTime() - origin)} ${failed.error ?? ''}: ${(failed.cause ?? '').slice(0, 200)}`,
      ]);
  }
  const end = events.find((e) => e.type === 'ExecutionSucceeded' || e.type === 'ExecutionFailed');
  if (end)
    rows.push([
      `execution ${end.type === 'ExecutionSucceeded' ? 'succeeded' : 'failed'}`,
      `+${ms((end.timestamp as Date).getTime() - origin)}`,
    ]);
  return rows;
}

const GOOD_1 = { routes: [{ path: '/', origin: 'origin-a', ttlSeconds: 60 }] };
const GOOD_2 = { routes: [{ path: '/', origin: 'origin-a', ttlSeconds: 120 }] };
const BAD_2 = { routes: [{ path: '/', origin: 'origin-b', ttlSeconds: 120 }], simulate: { errorRate: 0.3, p95LatencyMs: 900 } };

try {
  console.log(`# Rollouts (local runtime, rolloutPollSeconds ${ROLLOUT_POLL_SECONDS}, rate-limit window 1 s)`);
  console.log(`  machine at start: ${startFacts}; node ${process.version}; runtime ready in ${(runtime.readyMs / 1000).toFixed(1)} s`);
  console.log(`  command: npx tsx bench/rollouts.ts ${process.argv.slice(2).join(' ')}`.trimEnd());
  const bearer = await approverBearer();

  // ---- 1: deploy → every edge on the new version --------------------------------------------------
  const fleet50 = await newFleet(edgeCount, 'bench-direct');
  const configA = await approvedConfiguration('bench-direct', [GOOD_1, GOOD_2], bearer);
  const targets50 = { edgeIds: fleet50.edges.map((e) => e.id) };
  const directRun = async (version: number) => {
    const watch = watchFleet(fleet50, configA, version);
    const { id, acceptedAt } = await deploy({
      configurationId: configA,
      version,
      strategy: 'direct',
      targets: targets50,
      bakeSeconds: 1,
      thresholds: { maxErrorRate: 0.05, maxP95LatencyMs: 500 },
    });
    const allOn = await untilDefined(watch.allOnNew, 120_000, `all ${edgeCount} edges on v${version} ${fleetState(fleet50)}`);
    watch.stop();
    const d = await follow(id, (x) => FINAL.includes(x.status), 60_000);
    if (d.status !== 'SUCCEEDED') throw new Error(`direct v${version}: ${d.status} ${JSON.stringify(d.decisions)}`);
    const applied = Date.parse(d.stages[0]!.appliedAt!);
    return {
      id,
      version,
      applied: applied - acceptedAt,
      allEdges: allOn - acceptedAt,
      edgesShare: allOn - applied,
      finished: Date.parse(d.finishedAt!) - acceptedAt,
    };
  };
  // Warm-up (and the fleet's first version): from nothing to v1, not counted.
  const warm = await directRun(1);
  const direct: Array<Awaited<ReturnType<typeof directRun>>> = [];
  const stopProbe50 = probeFleet(fleet50, 'bench-direct');
  for (let n = 0; n < runs; n++) direct.push(await directRun(n % 2 === 0 ? 2 : 1));
  const load50 = await stopProbe50();
  // The 50 edges stop here: part 2's 100 edges get the runtime to themselves.
  await fleet50.stop();
  const idle = await idleGets('bench-direct', 20);
  console.log(
    `\n## 1. Deploy → every edge reporting the new version: ${edgeCount} edges over ${regionCount} regions, direct, bake 1 s, edges poll desired-config every ${pollMs} ms (±10 %)`,
  );
  const row = (label: string, pick: (r: (typeof direct)[number]) => number) => ({
    [label]: {
      median: ms(median(direct.map(pick))),
      ...Object.fromEntries(direct.map((r, i) => [`run ${i + 1} (v${r.version})`, ms(pick(r))])),
      'warm-up (v1 from none)': ms(pick(warm)),
    },
  });
  console.table({
    ...row('202 → stage applied (record appliedAt), ms', (r) => r.applied),
    ...row('stage applied → all edges report it (edge polling), ms', (r) => r.edgesShare),
    ...row('202 → all edges report the new version, ms', (r) => r.allEdges),
    ...row('202 → deployment SUCCEEDED (finishedAt; after the 1 s bake), ms', (r) => r.finished),
  });
  console.table({
    [`one edge's desired-config GET while the ${edgeCount} edges run, ms`]: latencyRow(load50.latencies),
    'reference: the same GET with the fleet stopped, ms': latencyRow(idle),
  });
  console.log(
    `  fleet load: ${load50.requestsPerSecond.toFixed(1)} requests/s achieved (polls + heartbeats) of ${load50.nominal} nominal; ${load50.errors} failed${load50.lastErrors.length ? ` (${load50.lastErrors.join('; ')})` : ''}`,
  );
  console.log(
    `  "stage applied" is the rollout machine's Begin → Gate → Apply (3 Lambda tasks); the edges then see it at their next poll: with ${edgeCount} edges polling every ${pollMs} ms the last one is due ~${pollMs} ms later (reference: the poll interval).`,
  );

  // ---- 2 and 3: a bad version on 100 edges, and its rollback ------------------------------------------
  const fleet100 = await newFleet(rollbackEdgeCount, 'bench-rollback');
  const configB = await approvedConfiguration('bench-rollback', [GOOD_1, BAD_2], bearer);
  const targets100 = { edgeIds: fleet100.edges.map((e) => e.id) };
  const base = await deploy({
    configurationId: configB,
    version: 1,
    strategy: 'direct',
    targets: targets100,
    bakeSeconds: 1,
    thresholds: {},
  });
  if ((await follow(base.id, (x) => FINAL.includes(x.status), 90_000)).status !== 'SUCCEEDED')
    throw new Error('baseline v1 did not succeed');
  await fleet100
    .waitUntil((s) => s.every((e) => e.active?.configurationId === configB && e.active.version === 1), 120_000)
    .catch((error: Error) => {
      throw new Error(`${error.message} ${fleetState(fleet100)}`);
    });
  await sleep(2 * pollMs); // a few healthy heartbeats on v1 before the bad version
  const watchBad = watchFleet(fleet100, configB, 2, 1);
  const stopProbe100 = probeFleet(fleet100, 'bench-rollback');
  const errorsBefore = fleet100.totals().errors;
  const bad = await deploy({
    configurationId: configB,
    version: 2,
    strategy: 'direct',
    targets: targets100,
    bakeSeconds,
    thresholds: { maxErrorRate: 0.05 },
  });
  const badEnd = await follow(bad.id, (x) => FINAL.includes(x.status), 120_000);
  const allBack = await untilDefined(watchBad.allBack, 60_000, `all ${rollbackEdgeCount} edges back on v1`).catch((error: Error) => {
    console.log(`  ${error.message} ${fleetState(fleet100)}`);
    return undefined;
  });
  const allOnBad = watchBad.allOnNew();
  watchBad.stop();
  const load100 = await stopProbe100();
  const fail = badEnd.decisions.find((d) => d.verdict === 'FAIL');
  if (!fail) throw new Error(`no FAIL decision: ${badEnd.status} ${JSON.stringify(badEnd.decisions)}`);
  const decidedAt = Date.parse(fail.at);
  const badApplied = Date.parse(badEnd.stages[0]!.appliedAt!);

  // First heartbeat reporting v2, per edge, as the API stored it.
  const firstBad: number[] = [];
  for (const edge of fleet100.edges) {
    const page = must(
      await api(
        'GET',
        `/api/v1/edge-locations/${edge.id}/metrics?from=${encodeURIComponent(new Date(bad.acceptedAt - 1000).toISOString())}&limit=100`,
      ),
      200,
      'edge metrics',
    ) as unknown as { items: Array<{ at: string; activeVersion?: number; configurationId?: string }> };
    const onBad = page.items.filter((h) => h.configurationId === configB && h.activeVersion === 2).map((h) => Date.parse(h.at));
    if (onBad.length) firstBad.push(Math.min(...onBad));
  }
  const firstBadAt = Math.min(...firstBad);
  const lastFirstBadAt = Math.max(...firstBad);

  // Part 4 runs on a quiet runtime.
  await fleet100.stop();
  const rolloutHistory = badEnd.executionArn ? await history(badEnd.executionArn) : [];
  const rollbackHistory = badEnd.rollbackExecutionArn ? await history(badEnd.rollbackExecutionArn) : [];

  console.log(
    `\n## 2. Decision → every edge restored: ${rollbackEdgeCount} edges on v1, bad v2 (simulate errorRate 0.3, p95 900 ms) by direct, maxErrorRate 0.05, bake ${bakeSeconds} s, edges poll every ${pollMs} ms`,
  );
  console.table({
    'FAIL decision → deployment ROLLED_BACK (finishedAt: assignments restored), ms': {
      value: ms(Date.parse(badEnd.finishedAt!) - decidedAt),
      target: '',
    },
    [`FAIL decision → all ${rollbackEdgeCount} edges report v1 again (simulator), ms`]: {
      value: allBack === undefined ? 'not within 60 s' : ms(allBack - decidedAt),
      target: '≤ 5000 (DESIGN.md §6)',
    },
    'of which the edges’ own polling (finishedAt → all report v1), ms': {
      value: allBack === undefined ? '–' : ms(allBack - Date.parse(badEnd.finishedAt!)),
      target: `reference: pollMs ${pollMs}`,
    },
  });
  console.log(`  final status ${badEnd.status}; reason: ${fail.reason}`);
  console.table({ [`one edge's desired-config GET while the ${rollbackEdgeCount} edges run, ms`]: latencyRow(load100.latencies) });
  console.log(
    `  fleet load: ${load100.requestsPerSecond.toFixed(1)} requests/s achieved (polls + heartbeats) of ${load100.nominal} nominal; ${fleet100.totals().errors - errorsBefore} failed${load100.lastErrors.length ? ` (${load100.lastErrors.join('; ')})` : ''}`,
  );
  console.log('  where the time went, ms after the FAIL decision (state entered → exited, from GetExecutionHistory):');
  console.table(
    Object.fromEntries([
      ...stateSpans(rolloutHistory, decidedAt, ['Evaluate', 'RollBack'])
        .filter(([name]) => !name.startsWith('execution started'))
        .map(([k, v]) => [`rollout: ${k}`, v]),
      ...stateSpans(rollbackHistory, decidedAt).map(([k, v]) => [`rollback: ${k}`, v]),
      ['deployment finishedAt', `+${ms(Date.parse(badEnd.finishedAt!) - decidedAt)}`],
      [`all ${rollbackEdgeCount} edges report v1`, allBack === undefined ? '–' : `+${ms(allBack - decidedAt)}`],
    ]),
  );

  console.log(
    `\n## 3. Bad version's first heartbeats → rollback decision (run 2: direct, ${rollbackEdgeCount} edges, bake ${bakeSeconds} s)`,
  );
  console.table({
    '202 → stage applied (appliedAt), ms': { ms: ms(badApplied - bad.acceptedAt) },
    'stage applied → first heartbeat reporting v2 (metrics endpoint), ms': { ms: ms(firstBadAt - badApplied) },
    [`stage applied → all ${rollbackEdgeCount} edges report v2 (simulator), ms`]: {
      ms: allOnBad === undefined ? '–' : ms(allOnBad - badApplied),
    },
    'first heartbeat on v2 → FAIL decision (decisions[].at), ms': { ms: ms(decidedAt - firstBadAt) },
    'stage applied → the last edge’s first stored heartbeat on v2 (after the decision if > the row below), ms': {
      ms: ms(lastFirstBadAt - badApplied),
    },
    'stage applied → FAIL decision, ms': { ms: ms(decidedAt - badApplied) },
    'the bake (lower bound of applied → decision), ms': { ms: ms(bakeSeconds * 1000) },
    'decision exceeds the end of the bake by, ms': { ms: ms(decidedAt - badApplied - bakeSeconds * 1000) },
  });
  console.log(
    `  The design evaluates only after the bake (bakeUntil = appliedAt + ${bakeSeconds} s), so applied → decision ≥ the bake; the rollout looks at its record every ${ROLLOUT_POLL_SECONDS} s while baking, so the excess is ≤ that plus a Watch and an Evaluate task. First heartbeat → decision is the bake less the edges' apply-and-report lag, plus that excess. ${firstBad.length} of ${rollbackEdgeCount} edges reported v2.`,
  );

  // ---- 4: executions per second of the rollback machine --------------------------------------------------
  const machines = (await sfn.send(new ListStateMachinesCommand({}))).stateMachines ?? [];
  const rollbackMachine = machines.find((m) => m.name?.endsWith('-rollback'));
  if (!rollbackMachine?.stateMachineArn) throw new Error(`no rollback machine among ${machines.map((m) => m.name).join(', ')}`);
  const definition = (await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: rollbackMachine.stateMachineArn }))).definition!;
  const succeededId = direct[0]!.id;
  const runOne = async (n: number, tag: string) => {
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: rollbackMachine.stateMachineArn,
        name: `bench-${tag}-${n}-${randomUUID().slice(0, 6)}`,
        input: JSON.stringify({ deploymentId: succeededId }),
      }),
    );
    for (;;) {
      const { status } = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      if (status !== 'RUNNING') {
        if (status !== 'SUCCEEDED') throw new Error(`${executionArn}: ${status}`);
        return executionArn!;
      }
      await sleep(20);
    }
  };
  await throughput(concurrency, concurrency, (n) => runOne(n, 'warm')); // one warm environment per concurrent task
  const startedAt = performance.now();
  let sampleArn = '';
  const runtimeRate = await throughput(executions, concurrency, async (n) => {
    const arn = await runOne(n, 'rate');
    if (!sampleArn) sampleArn = arn;
  });
  const runtimeSeconds = (performance.now() - startedAt) / 1000;
  const sample = await history(sampleArn);
  const transitions = sample.filter((e) => e.type?.endsWith('StateEntered')).length;

  const prepared = describeDefinition(parseDefinition(definition));
  const interpreter = new StateMachine(interpreterDefinition(prepared.definition, 1), { validationOptions: { noValidate: true } });
  const handlers = {
    RestoreEdges: async (input: { deploymentId: string }) => ({ deploymentId: input.deploymentId, restored: 0, skipped: [] }),
    MarkRolledBack: async (input: { deploymentId: string }) => ({ deploymentId: input.deploymentId, status: 'SUCCEEDED' }),
  };
  const inProcess = (executions * 10) | 0;
  const reference = async () =>
    interpreter.run({ deploymentId: succeededId }, { overrides: { taskResourceLocalHandlers: handlers as never } }).result;
  await throughput(100, concurrency, reference);
  const referenceRate = await throughput(inProcess, concurrency, reference);

  console.log(
    `\n## 4. Executions per second of ${rollbackMachine.name} (input: deployment ${succeededId}, SUCCEEDED, so its tasks change nothing)`,
  );
  console.table({
    'runtime: StartExecution → DescribeExecution SUCCEEDED (real Lambda + DynamoDB)': {
      executions,
      concurrency,
      'per s': runtimeRate.toFixed(1),
      'ms each (at that concurrency)': ((runtimeSeconds * 1000 * concurrency) / executions).toFixed(0),
    },
    'reference: same ASL in-process (aws-local-stepfunctions), tasks answered at once': {
      executions: inProcess,
      concurrency,
      'per s': referenceRate.toFixed(0),
      'ms each (at that concurrency)': ((1000 * concurrency) / referenceRate).toFixed(2),
    },
  });
  console.log(
    `  One execution: ${sample.length} history events, ${transitions} states entered (${sample
      .filter((e) => e.type?.endsWith('StateEntered'))
      .map((e) => e.stateEnteredEventDetails?.name)
      .join(
        ' → ',
      )}); ${sample.filter((e) => e.type === 'LambdaFunctionScheduled' || e.type === 'TaskScheduled').length} Lambda invocations.`,
  );
  console.log(
    `  The runtime figure includes the bench's DescribeExecution polling (every 20 ms per execution in flight) and the SDK calls; the gap to the reference is the Lambda invocations (each task reads the deployment from DynamoDB Local) and the runtime's bookkeeping.`,
  );
  console.log(`\n  machine at end: ${machineFacts()}`);
} finally {
  await Promise.all(fleets.map((f) => f.stop()));
  sfn.destroy();
  await runtime.stop();
  rmSync(keyDir, { recursive: true, force: true });
}
