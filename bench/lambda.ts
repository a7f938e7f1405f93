/**
 * Per-invocation cost of the local Lambda service (local/lambda); prints
 * figures, asserts nothing.
 *
 *   npx tsx bench/lambda.ts [--invocations 20000] [--concurrency 10] [--envs N] [--log]
 *   npx tsx bench/lambda.ts --profile [--top 5]      (same run under --cpu-prof, then the top self-time items)
 *   npx tsx bench/lambda.ts --memory [--memory-envs 8] [--asset <dir with index.js(.map)> --env NAME=value ...]
 *                                                    (process RSS with that many environments of a ~1 MB bundle, source maps off/on)
 *
 * Three figures from the same process, one after the other:
 * - floor: the fixture handler (tests/fixtures/lambda/trivial) called directly
 *   in-process by `concurrency` callers: what an invocation costs without any
 *   emulation;
 * - service: the same number of invocations through LambdaService (warm
 *   environments: one warm-up round first, so INIT is not counted);
 * - CPU per invocation: process CPU (all threads) over the timed service run,
 *   divided by the invocations: the emulation's cost plus the handler's.
 *
 * `--log` makes the handler write one console.log line per invocation, so the
 * log path is part of the figure. `--envs` sets maxConcurrencyPerFunction
 * (default: the service's own default).
 *
 * `--profile` runs the service part again in a child process with
 * `node --cpu-prof` (one profile per thread: the main thread is the
 * emulation's dispatcher, each execution environment is a worker thread) and
 * prints the top self-time items of the main thread and of all workers.
 *
 * `--memory` bundles tests/fixtures/lambda/heavy-src (the size of the
 * project's function bundles, with its source map), then, in a fresh child
 * process per setting, starts `--memory-envs` environments of it with the
 * service's debug option off and on, invokes each once and prints the
 * process RSS growth and the REPORT line's Max Memory Used. `--asset` takes an
 * existing bundle directory instead (e.g. a cdk.out asset with `index.handler`).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LambdaService } from '../local/lambda/service.js';
import { bundleFixture } from '../tests/fixtures/lambda/bundle.js';
import type { LambdaServiceOptions } from '../local/lambda/service.js';

const { values } = parseArgs({
  options: {
    invocations: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '10' },
    envs: { type: 'string' },
    log: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    top: { type: 'string', default: '5' },
    'service-only': { type: 'boolean', default: false },
    'worker-prof-dir': { type: 'string' },
    memory: { type: 'boolean', default: false },
    'memory-envs': { type: 'string', default: '8' },
    'memory-child': { type: 'string' },
    asset: { type: 'string' },
    env: { type: 'string', multiple: true, default: [] },
  },
});
const invocations = Number(values.invocations);
const concurrency = Number(values.concurrency);
const ASSET = fileURLToPath(new URL('../tests/fixtures/lambda/trivial/', import.meta.url));

type Handler = (event: unknown, context: unknown) => Promise<unknown>;

/** Runs `total` calls of `call` with `callers` concurrent loops; returns calls/s. */
async function drive(total: number, callers: number, call: (n: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < total) {
        const n = next++;
        await call(n);
      }
    }),
  );
  return total / ((performance.now() - started) / 1000);
}

async function floor(): Promise<number> {
  const handler = (createRequire(import.meta.url)(path.join(ASSET, 'index.js')) as { handler: Handler }).handler;
  const context = { functionName: 'trivial', awsRequestId: 'floor', getRemainingTimeInMillis: () => 3000 };
  // Silence the --log line here: the floor measures the handler, not a terminal.
  const log = console.log;
  console.log = () => {};
  try {
    await drive(2000, concurrency, (n) => handler({ n, log: values.log }, context));
    return await drive(invocations, concurrency, (n) => handler({ n, log: values.log }, context));
  } finally {
    console.log = log;
  }
}

async function service(): Promise<{
  window: [number, number];
  perSecond: number;
  cpuUsPerInvocation: number;
  rssMb: number;
  environments: number;
}> {
  const options: LambdaServiceOptions = { baseEnvironment: { AWS_REGION: 'us-east-1' } };
  if (values.envs) options.maxConcurrencyPerFunction = Number(values.envs);
  if (values['worker-prof-dir']) options.execArgv = ['--cpu-prof', '--cpu-prof-dir', values['worker-prof-dir']];
  const lambda = new LambdaService(
    [
      {
        logicalId: 'TrivialFunction',
        functionName: 'trivial',
        assetDir: ASSET,
        handler: 'index.handler',
        runtime: 'nodejs22.x',
        timeoutSeconds: 30,
        memorySizeMb: 128,
        environment: {},
      },
    ],
    options,
  );
  try {
    const call = async (n: number) => {
      const result = await lambda.invoke('trivial', { n, log: values.log });
      if (!result.ok) throw new Error(`invocation failed: ${JSON.stringify(result.payload)}`);
    };
    await drive(Math.max(concurrency * 50, 500), concurrency, call); // warm-up: INIT and JIT out of the timed run
    const cpu = process.cpuUsage();
    const windowStart = process.hrtime.bigint() / 1000n;
    const perSecond = await drive(invocations, concurrency, call);
    const windowEnd = process.hrtime.bigint() / 1000n;
    const used = process.cpuUsage(cpu);
    const environments = Object.values(lambda.stats()).reduce((sum, s) => sum + s.environments, 0);
    return {
      window: [Number(windowStart), Number(windowEnd)],
      perSecond,
      cpuUsPerInvocation: (used.user + used.system) / invocations,
      rssMb: process.memoryUsage().rss / 2 ** 20,
      environments,
    };
  } finally {
    await lambda.stop();
  }
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/**
 * Self time per function (name + file:line) of a set of profiles, ms, largest
 * first, counting only samples inside `window` (µs of the monotonic clock: V8
 * stamps samples with the clock process.hrtime reads, in every thread).
 */
function selfTimes(files: string[], window: [number, number]): { busyMs: number; items: Array<[string, number]> } {
  const totals = new Map<string, number>();
  let busyMs = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    let at = profile.startTime;
    profile.samples.forEach((id, i) => {
      at += profile.timeDeltas[i] ?? 0;
      const node = byId.get(id);
      if (!node || at < window[0] || at > window[1]) return;
      const { functionName, url, lineNumber } = node.callFrame;
      if (functionName === '(idle)' || functionName === '(program)') return;
      const ms = (profile.timeDeltas[i] ?? 0) / 1000;
      const where = url ? `${url.replace(/^.*\/(node_modules|work\/main)\//, '')}:${lineNumber + 1}` : '';
      const key = `${functionName || '(anonymous)'} ${where}`.trim();
      totals.set(key, (totals.get(key) ?? 0) + ms);
      busyMs += ms;
    });
  }
  return { busyMs, items: [...totals].sort((a, b) => b[1] - a[1]) };
}

function profile(): void {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-lambda-prof-'));
  try {
    const args = ['--cpu-prof', '--cpu-prof-dir', dir, '--import', 'tsx', fileURLToPath(import.meta.url), '--service-only'];
    args.push('--worker-prof-dir', dir);
    args.push('--invocations', String(invocations), '--concurrency', String(concurrency));
    if (values.envs) args.push('--envs', values.envs);
    if (values.log) args.push('--log');
    const child = spawnSync(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
    });
    if (child.status !== 0) throw new Error(`profiled run failed (${child.status})`);
    const lines = child.stdout.trim().split('\n');
    const window = JSON.parse(lines.pop() ?? '[]') as [number, number];
    console.log(lines.join('\n'));
    const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
    // Node names profiles CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; thread 0 is the main thread.
    const threadOf = (f: string) => Number(f.split('.').at(-3));
    const main = files.filter((f) => threadOf(f) === 0).map((f) => path.join(dir, f));
    const workers = files.filter((f) => threadOf(f) !== 0).map((f) => path.join(dir, f));
    const top = Number(values.top);
    for (const [label, group] of [
      ['main thread', main],
      [`workers (${workers.length})`, workers],
    ] as const) {
      if (group.length === 0) {
        console.log(`\n${label}: no profile`);
        continue;
      }
      const { busyMs, items } = selfTimes(group, window);
      console.log(`\n${label}: ${busyMs.toFixed(0)} ms busy in the timed run`);
      for (const [key, ms] of items.slice(0, top)) {
        console.log(`  ${ms.toFixed(1).padStart(8)} ms  ${((100 * ms) / busyMs).toFixed(1).padStart(5)}%  ${key}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** In a child process: `count` environments of the bundle in `assetDir`, each invoked once. */
async function memoryChild(assetDir: string, debug: boolean, count: number): Promise<void> {
  global.gc?.();
  const before = process.memoryUsage().rss;
  const lambda = new LambdaService(
    [
      {
        logicalId: 'HeavyFunction',
        functionName: 'heavy',
        assetDir,
        handler: 'index.handler',
        runtime: 'nodejs22.x',
        timeoutSeconds: 30,
        memorySizeMb: 512,
        environment: Object.fromEntries(values.env.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)])),
      },
    ],
    { baseEnvironment: { AWS_REGION: 'us-east-1' }, debug, maxConcurrencyPerFunction: count, maxEnvironments: count },
  );
  try {
    await lambda.prewarm('heavy', count);
    // One invocation per environment, all at once so each takes its own.
    const results = await Promise.all(Array.from({ length: count }, () => lambda.invoke('heavy', { id: 'x' })));
    const used = results.map((r) => Number(/\tMax Memory Used: (\d+) MB/.exec(r.logs)?.[1]));
    const grown = (process.memoryUsage().rss - before) / 2 ** 20;
    console.log(
      `source maps ${debug ? 'on ' : 'off'}: ${lambda.stats().heavy?.environments} environments, RSS +${grown.toFixed(0)} MB ` +
        `(${(grown / count).toFixed(1)} MB each), Max Memory Used ${Math.min(...used)}-${Math.max(...used)} MB`,
    );
  } finally {
    await lambda.stop();
  }
}

async function memory(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-lambda-mem-'));
  try {
    const assetDir = values.asset ?? (await bundleFixture('heavy', 'index.ts', dir)).assetDir;
    const files = readdirSync(assetDir).filter((f) => /^index\.m?js(\.map)?$/.test(f));
    const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
    console.log(`${assetDir}: ${files.map((f) => `${f} ${mb(statSync(path.join(assetDir, f)).size)} MB`).join(', ')}`);
    for (const setting of ['off', 'on']) {
      const args = ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), '--memory-child', setting];
      args.push('--memory-envs', String(values['memory-envs']), '--asset', assetDir);
      for (const pair of values.env) args.push('--env', pair);
      const child = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
      if (child.status !== 0) throw new Error(`memory run failed (${child.status})`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const label = `${invocations} invocations, ${concurrency} callers${values.log ? ', one log line each' : ''}`;
if (values['memory-child']) {
  await memoryChild(values.asset ?? '', values['memory-child'] === 'on', Number(values['memory-envs']));
} else if (values.memory) {
  await memory();
} else if (values['service-only']) {
  const s = await service();
  console.log(`service (profiled): ${s.perSecond.toFixed(0)} invocations/s, ${s.environments} environments`);
  console.log(JSON.stringify(s.window)); // last line: the timed window, read by profile()
} else if (values.profile) {
  profile();
} else {
  console.log(label);
  const f = await floor();
  console.log(`floor (handler in-process): ${f.toFixed(0)} invocations/s`);
  const s = await service();
  console.log(
    `LambdaService: ${s.perSecond.toFixed(0)} invocations/s (${((100 * s.perSecond) / f).toFixed(2)}% of the floor), ` +
      `${s.cpuUsPerInvocation.toFixed(0)} µs CPU per invocation (all threads), ${s.environments} environments, RSS ${s.rssMb.toFixed(0)} MB`,
  );
}
