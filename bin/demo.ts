/**
 * `npm run demo`: a rollout a person can follow, against a running
 * `npm start` (it reads .switchyard/session.json for the URL and the admin
 * key). It seeds a fleet of simulated edges (bin/edge-sim.ts), puts version
 * 1 of a configuration on every edge, rolls a good version 2 out by
 * regional canary to completion, then a bad version 3 (its `simulate` block
 * makes the edges that run it fail 25 % of requests at 900 ms) that the
 * rollout evaluates, fails and rolls back by itself, and prints a timeline
 * of stages, edges, verdicts with their metrics, and the rollback's duration.
 *
 * Options: --edges 20 --regions 4 --bake 15 (seconds per stage) --api <url>. The edges poll and report every 2 s:
 * an edge key may make 100 requests a minute.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { startFleet, type EdgeSnapshot, type Fleet } from './edge-sim.js';
import { readLocalSession } from './session.js';

interface Decision {
  at: string;
  stage: number;
  verdict: string;
  reason: string;
  metrics: Array<{
    metric: string;
    stageCount: number;
    baselineCount: number;
    stageMean?: number;
    baselineMean?: number;
    pValue?: number;
    thresholdBreached: boolean;
    significantlyWorse: boolean;
  }>;
}
interface Stage {
  index: number;
  name: string;
  edgeIds: string[];
  weight: number;
  status: string;
  appliedAt?: string;
  completedAt?: string;
}
interface Deployment {
  id: string;
  status: string;
  currentStage: number;
  stages: Stage[];
  decisions: Decision[];
  createdAt: string;
  finishedAt?: string;
  rollbackReason?: string;
}

const { values: args } = parseArgs({
  options: {
    api: { type: 'string' },
    edges: { type: 'string', default: '20' },
    regions: { type: 'string', default: '4' },
    bake: { type: 'string', default: '15' },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  console.log('npm run demo [-- --edges 20 --regions 4 --bake 15 --api http://127.0.0.1:3000]   (needs a running `npm start`)');
  process.exit(0);
}

const session = readLocalSession();
const api = (args.api ?? session?.url ?? '').replace(/\/$/, '');
const adminKey = process.env.SWITCHYARD_API_KEY ?? session?.adminApiKey;
if (!api || !adminKey) {
  console.error('No running Switchyard found: start it with `npm start` in another terminal (or pass --api and set SWITCHYARD_API_KEY).');
  process.exit(1);
}
const edgeCount = Number(args.edges);
const regionCount = Number(args.regions);
const bakeSeconds = Number(args.bake);
for (const [name, n, max] of [
  ['--edges', edgeCount, 500],
  ['--regions', regionCount, 10],
  ['--bake', bakeSeconds, 3600],
] as const) {
  if (!Number.isInteger(n) || n < 1 || n > max) {
    console.error(`${name} must be a whole number from 1 to ${max}`);
    process.exit(1);
  }
}

const started = Date.now();
const clock = () => `+${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s`;
const say = (line: string) => console.log(`${clock()}  ${line}`);

async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  auth: Record<string, string> = { 'X-API-Key': adminKey! },
): Promise<T> {
  const res = await fetch(`${api}${path}`, {
    method,
    headers: { ...auth, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

const fmt = (n: number | undefined, digits = 3) => (n === undefined ? '–' : Number(n.toPrecision(digits)).toString());
const pct = (n: number | undefined) => (n === undefined ? '–' : `${(n * 100).toFixed(2)} %`);

function describeDecision(d: Decision, stage: Stage | undefined): string {
  const figures = d.metrics
    .map((m) => {
      const value =
        m.metric === 'errorRate' ? `${pct(m.stageMean)} vs ${pct(m.baselineMean)}` : `${fmt(m.stageMean)} ms vs ${fmt(m.baselineMean)} ms`;
      const test = m.pValue === undefined ? '' : ` p=${fmt(m.pValue, 2)}`;
      const flag = m.thresholdBreached ? ' ABOVE THRESHOLD' : m.significantlyWorse ? ' WORSE THAN BASELINE' : '';
      return `${m.metric} ${value} (n=${m.stageCount}/${m.baselineCount}${test})${flag}`;
    })
    .join('; ');
  return `stage ${d.stage} ${stage?.name ?? ''}: ${d.verdict}${figures ? ` — ${figures}` : ''}`;
}

/** Follows a deployment to its end, printing each stage as it is applied and each decision as it is logged. */
async function follow(id: string, fleet: Fleet, version: number): Promise<Deployment> {
  const seenApplied = new Set<number>();
  let seenDecisions = 0;
  let lastStatus = '';
  for (;;) {
    const d = await request<Deployment>('GET', `/api/v1/deployments/${id}`);
    if (d.status !== lastStatus) {
      say(`deployment ${d.status}`);
      lastStatus = d.status;
    }
    for (const stage of d.stages) {
      if (stage.appliedAt && !seenApplied.has(stage.index)) {
        seenApplied.add(stage.index);
        say(
          `stage ${stage.index} ${stage.name}: version ${version} on ${stage.edgeIds.length} of ${fleet.edges.length} edges at weight ${stage.weight}; baking ${bakeSeconds} s`,
        );
      }
    }
    for (const decision of d.decisions.slice(seenDecisions)) say(describeDecision(decision, d.stages[decision.stage]));
    seenDecisions = d.decisions.length;
    if (['SUCCEEDED', 'ROLLED_BACK', 'FAILED'].includes(d.status)) return d;
    await new Promise((r) => setTimeout(r, 500));
  }
}

const onVersion = (configurationId: string, version: number) => (s: EdgeSnapshot[]) =>
  s.every((e) => e.active?.configurationId === configurationId && e.active.version === version);

function byRegion(fleet: Fleet): string {
  return Object.entries(fleet.versionsByRegion())
    .map(
      ([region, versions]) =>
        `${region} ${Object.entries(versions)
          .map(([v, n]) => `${v}×${n}`)
          .join(' ')}`,
    )
    .join(' | ');
}

async function main(): Promise<void> {
  say(`Switchyard at ${api}: seeding ${edgeCount} simulated edges over ${regionCount} regions`);
  const fleet = await startFleet({
    api,
    adminKey: adminKey!,
    edges: edgeCount,
    regions: regionCount,
    prefix: 'demo',
    pollMs: 2000,
    heartbeatMs: 2000,
  });
  try {
    // An operator other than the author approves each version (self-approval is refused).
    const approverName = `demo-approver-${randomUUID().slice(0, 8)}`;
    const password = randomBytes(18).toString('base64url');
    await request('POST', '/api/v1/users', { username: approverName, password, roles: ['operator'] });
    const { accessToken } = await request<{ accessToken: string }>('POST', '/api/v1/auth/login', { username: approverName, password }, {});
    const approver = { Authorization: `Bearer ${accessToken}` };

    const content = (ttl: number, simulate?: Record<string, number>) => ({
      routes: [{ path: '/', origin: 'origin.example.com', ttlSeconds: ttl }],
      ...(simulate ? { simulate } : {}),
    });
    const config = await request<{ id: string }>('POST', '/api/v1/configurations', {
      name: `demo-${randomUUID().slice(0, 8)}`,
      content: content(60),
    });
    await request('PUT', `/api/v1/configurations/${config.id}`, { revision: 1, content: content(300) });
    await request('PUT', `/api/v1/configurations/${config.id}`, {
      revision: 2,
      content: content(300, { errorRate: 0.25, p95LatencyMs: 900 }),
    });
    for (const v of [1, 2, 3]) await request('POST', `/api/v1/configurations/${config.id}/versions/${v}/approve`, undefined, approver);
    say(`configuration ${config.id}: v1 (ttl 60), v2 (ttl 300), v3 (ttl 300, simulate 25 % errors at 900 ms); approved by ${approverName}`);

    const edgeIds = fleet.edges.map((e) => e.id);
    const thresholds = { maxErrorRate: 0.05, maxP95LatencyMs: 500 };
    const deploy = (version: number, strategy: string, bake: number) =>
      request<{ id: string }>('POST', '/api/v1/deployments', {
        configurationId: config.id,
        version,
        strategy,
        targets: { edgeIds },
        ...(strategy === 'regional-canary' ? { steps: [10, 50, 100] } : {}),
        bakeSeconds: bake,
        thresholds,
      });

    console.log('\n── 1. version 1 everywhere (direct) ──');
    const first = await deploy(1, 'direct', 2);
    await follow(first.id, fleet, 1);
    await fleet.waitUntil(onVersion(config.id, 1), 60_000);
    say(`every edge runs v1: ${byRegion(fleet)}`);

    console.log('\n── 2. version 2 by regional canary 10 % → 50 % → 100 % ──');
    const good = await deploy(2, 'regional-canary', bakeSeconds);
    const goodEnd = await follow(good.id, fleet, 2);
    await fleet.waitUntil(onVersion(config.id, 2), 60_000);
    say(
      `${goodEnd.status}: every edge runs v2 (${byRegion(fleet)}); took ${((Date.parse(goodEnd.finishedAt!) - Date.parse(goodEnd.createdAt)) / 1000).toFixed(1)} s`,
    );

    console.log('\n── 3. version 3, degraded, by regional canary ──');
    const bad = await deploy(3, 'regional-canary', bakeSeconds);
    const badEnd = await follow(bad.id, fleet, 3);
    const restoredAt = Date.now();
    await fleet.waitUntil(onVersion(config.id, 2), 60_000);
    const fail = badEnd.decisions.find((d) => d.verdict === 'FAIL');
    const canary = badEnd.stages[0]!;
    if (fail && canary.appliedAt) {
      // The canary edges' first heartbeats on v3, as the API recorded them.
      const firsts = await Promise.all(
        canary.edgeIds.map(async (edgeId) => {
          const page = await request<{ items: Array<{ at: string; activeVersion?: number; configurationId?: string }> }>(
            'GET',
            `/api/v1/edge-locations/${edgeId}/metrics?from=${encodeURIComponent(canary.appliedAt!)}&limit=100`,
          );
          const onBad = page.items.filter((h) => h.configurationId === config.id && h.activeVersion === 3).map((h) => Date.parse(h.at));
          return onBad.length > 0 ? Math.min(...onBad) : undefined;
        }),
      );
      const first = Math.min(...firsts.filter((t): t is number => t !== undefined));
      if (Number.isFinite(first)) {
        say(
          `first heartbeat on v3 → rollback decision: ${((Date.parse(fail.at) - first) / 1000).toFixed(1)} s (the bake is ${bakeSeconds} s)`,
        );
      }
      say(
        `decision → deployment ${badEnd.status} (every edge's assignment restored): ${((Date.parse(badEnd.finishedAt!) - Date.parse(fail.at)) / 1000).toFixed(2)} s`,
      );
      say(
        `decision → every edge reporting v2 again: ${((Math.max(restoredAt, Date.now()) - Date.parse(fail.at)) / 1000).toFixed(1)} s (edges poll every 2 s)`,
      );
    }
    say(`${badEnd.status}: ${badEnd.rollbackReason ?? ''}`);
    say(`fleet: ${byRegion(fleet)}`);
    console.log(`\nFollow it yourself: GET ${api}/api/v1/deployments/${bad.id} (stages, decisions) with your admin key.`);
  } finally {
    await fleet.stop();
  }
}

main().catch((error: unknown) => {
  console.error(`demo failed: ${(error as Error).message}`);
  process.exit(1);
});
