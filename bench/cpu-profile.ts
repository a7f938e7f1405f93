/**
 * Where the local runtime's CPU goes under load; prints figures, asserts nothing.
 *
 *   npx tsx bench/cpu-profile.ts [--path /health] [--api-key] [--connections 10] [--duration 10] [--top 10] [--keep]
 *   npx tsx bench/cpu-profile.ts --summarize <dir> [--top 10]   (profiles written before, or by `--cpu-prof`)
 *
 * Starts `switchyard local --in-memory` with bench/profile-preload.mjs, which
 * profiles the main thread (API Gateway emulation, Lambda service) and every
 * Lambda execution environment (worker threads) between two SIGUSR2: warm up,
 * start the profilers, load one path with autocannon, stop them, read the
 * profiles back and print self time by function and by area.
 *
 * The V8 profiler samples on a wall-clock timer: when a thread is descheduled
 * (2 cores shared by the loader, the main thread and the workers) the wait is
 * charged to whatever ran last, typically the call that woke another thread
 * (`postMessage` to a worker, `writev` to the loader's socket). So the real
 * CPU of each thread is also read from /proc for the same window.
 */
import autocannon from 'autocannon';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startRuntimeProcess } from '../tests/support/runtime-process.js';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

interface SelfTime {
  key: string;
  area: string;
  ms: number;
}

interface ThreadSummary {
  /** Busy time (everything but `(idle)`) inside the window, ms. */
  busyMs: number;
  items: SelfTime[];
  areas: Map<string, number>;
  /**
   * Time by the project area that caused it: a sample in Node's internals or
   * native code is charged to the nearest caller in the project (local/*,
   * function bundle), so `local/apigateway` includes the http writes and the
   * crypto calls it makes, but not the Lambda service it calls.
   */
  owners: Map<string, number>;
}

/** Areas that own the time spent below them. */
const isOwner = (area: string): boolean => area.startsWith('local/') || area === 'function bundle' || area.startsWith('npm:');

const root = path.resolve(import.meta.dirname, '..');

/** Which part of the system a frame belongs to, by its script URL. */
function areaOf(frame: CallFrame): string {
  const url = frame.url.replace(/^file:\/\//, '');
  if (!url) return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  if (url.startsWith('node:')) return 'node:internal';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return `npm:${nm[1]}`;
  if (url.includes('/cdk.out/') || url.includes('/asset.')) return 'function bundle';
  // By path inside the project (whichever checkout the profile was taken in): local/<room> or the file.
  const inProject = /\/(local|bench|bin|lib|shared|functions|tests)\/(.+)$/.exec(url);
  if (inProject) {
    const rest = inProject[2]!.split('/');
    return inProject[1] === 'local' && rest.length > 1 ? `local/${rest[0]}` : `${inProject[1]}/${rest[0]}`;
  }
  return url;
}

function frameKey(frame: CallFrame): string {
  const url = frame.url.replace(/^file:\/\//, '');
  const short = url.replace(/^.*node_modules\//, '').replace(/^.*\/((?:local|bench|bin|lib|shared|functions|tests)\/)/, '$1');
  const name = frame.functionName || '(anonymous)';
  return url ? `${name} ${short}:${frame.lineNumber + 1}` : name;
}

/** Self time by function and by area, for the samples in [fromUs, toUs] (monotonic µs). */
function summarizeProfile(profile: CpuProfile, fromUs = -Infinity, toUs = Infinity): ThreadSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    // A sample's cost is the time until the next one.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    if (t < fromUs || t > toUs) continue;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
  }
  const items = new Map<string, SelfTime>();
  const areas = new Map<string, number>();
  const owners = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') continue;
    busy += us;
    const key = frameKey(frame);
    const area = areaOf(frame);
    const item = items.get(key) ?? { key, area, ms: 0 };
    item.ms += us / 1000;
    items.set(key, item);
    areas.set(area, (areas.get(area) ?? 0) + us / 1000);
    let owner = area;
    for (let at: number | undefined = id; at !== undefined && !isOwner(owner); at = parent.get(at)) {
      const a = areaOf(byId.get(at)!.callFrame);
      if (isOwner(a)) owner = a;
    }
    if (!isOwner(owner)) owner = `${area} (no project caller)`;
    owners.set(owner, (owners.get(owner) ?? 0) + us / 1000);
  }
  return { busyMs: busy / 1000, items: [...items.values()].sort((a, b) => b.ms - a.ms), areas, owners };
}

function merge(summaries: ThreadSummary[]): ThreadSummary {
  const items = new Map<string, SelfTime>();
  const areas = new Map<string, number>();
  const owners = new Map<string, number>();
  let busyMs = 0;
  for (const s of summaries) {
    busyMs += s.busyMs;
    for (const it of s.items) {
      const cur = items.get(it.key) ?? { ...it, ms: 0 };
      cur.ms += it.ms;
      items.set(it.key, cur);
    }
    for (const [a, ms] of s.areas) areas.set(a, (areas.get(a) ?? 0) + ms);
    for (const [a, ms] of s.owners) owners.set(a, (owners.get(a) ?? 0) + ms);
  }
  return { busyMs, items: [...items.values()].sort((a, b) => b.ms - a.ms), areas, owners };
}

/**
 * `main.cpuprofile` / `worker-<n>.cpuprofile` from the preload, or
 * `CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile` from `--cpu-prof` (thread 0 is the main thread).
 */
function readProfiles(dir: string): { main: CpuProfile[]; workers: CpuProfile[] } {
  const main: CpuProfile[] = [];
  const workers: CpuProfile[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as CpuProfile;
    const isMain = file === 'main.cpuprofile' || (file.startsWith('CPU.') && Number(file.split('.').at(-3)) === 0);
    (isMain ? main : workers).push(profile);
  }
  return { main, workers };
}

/** CPU time (user + system, ms) of each thread of a process, by tid, with the thread's name. */
function threadCpu(pid: number): Map<number, { name: string; ms: number }> {
  const out = new Map<number, { name: string; ms: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // The name is in parentheses and may hold spaces; the fields after it are positional.
      const close = stat.lastIndexOf(')');
      const name = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      // utime and stime are fields 14 and 15 of the file (11 and 12 after the name), in clock ticks (100 Hz on Linux).
      out.set(Number(tid), { name, ms: (Number(fields[11]) + Number(fields[12])) * 10 });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** CPU spent per thread between two threadCpu() readings, grouped: the main thread by itself, the rest by name. */
function cpuDelta(pid: number, before: ReturnType<typeof threadCpu>, after: ReturnType<typeof threadCpu>, requests: number): void {
  const groups = new Map<string, { threads: number; ms: number }>();
  for (const [tid, { name, ms }] of after) {
    const key = tid === pid ? `main thread (${name})` : name;
    const g = groups.get(key) ?? { threads: 0, ms: 0 };
    g.threads += 1;
    g.ms += ms - (before.get(tid)?.ms ?? 0);
    groups.set(key, g);
  }
  const total = [...groups.values()].reduce((a, g) => a + g.ms, 0);
  console.log(
    `\n### process CPU during the load (/proc, 10 ms ticks): ${total} ms, ${((total / requests) * 1000).toFixed(0)} µs per request`,
  );
  console.table(
    [...groups.entries()]
      .filter(([, g]) => g.ms > 0)
      .sort((a, b) => b[1].ms - a[1].ms)
      .map(([thread, g]) => ({ thread, threads: g.threads, 'cpu ms': g.ms, 'µs / request': ((g.ms / requests) * 1000).toFixed(0) })),
  );
}

function print(title: string, s: ThreadSummary, top: number, requests?: number): void {
  const perRequest = requests ? `, ${((s.busyMs / requests) * 1000).toFixed(0)} µs per request` : '';
  console.log(`\n### ${title}: busy ${s.busyMs.toFixed(0)} ms${perRequest}`);
  console.table(
    s.items.slice(0, top).map((it) => ({
      'self %': ((it.ms / s.busyMs) * 100).toFixed(1),
      'self ms': it.ms.toFixed(0),
      function: it.key.length > 110 ? `${it.key.slice(0, 107)}...` : it.key,
    })),
  );
  const table = (m: Map<string, number>, label: string) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([key, ms]) => ({
        [label]: key,
        'self %': ((ms / s.busyMs) * 100).toFixed(1),
        'self ms': ms.toFixed(0),
        ...(requests ? { 'µs / request': ((ms / requests) * 1000).toFixed(0) } : {}),
      }));
  console.table(table(s.areas, 'area (where the sample is)'));
  console.table(table(s.owners, 'owner (nearest project caller)'));
}

interface LoadWindow {
  fromUs: number;
  toUs: number;
  requests: number;
}

function report(dir: string, top: number, window?: LoadWindow): void {
  const { main, workers } = readProfiles(dir);
  const cut = (p: CpuProfile) => summarizeProfile(p, window?.fromUs, window?.toUs);
  print('main thread (API Gateway emulation, Lambda service, AWS endpoint)', merge(main.map(cut)), top, window?.requests);
  if (workers.length > 0) {
    print(`worker threads (${workers.length} Lambda execution environment(s))`, merge(workers.map(cut)), top, window?.requests);
  }
}

const { values } = parseArgs({
  options: {
    path: { type: 'string', default: '/health' },
    // Call as the bootstrap admin (X-API-Key): the authorizer and the table are then in the profile too.
    'api-key': { type: 'boolean', default: false },
    connections: { type: 'string', default: '10' },
    duration: { type: 'string', default: '10' },
    top: { type: 'string', default: '10' },
    keep: { type: 'boolean', default: false },
    summarize: { type: 'string' },
  },
});
const top = Number(values.top);
const PROFILE_API_KEY = 'sy_cpu_profile_key_0123456789abcdef';

if (values.summarize) {
  // bench/gateway.ts leaves the load window beside its profiles.
  const windowFile = path.join(values.summarize, 'window.json');
  report(values.summarize, top, existsSync(windowFile) ? (JSON.parse(readFileSync(windowFile, 'utf8')) as LoadWindow) : undefined);
} else {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-prof-'));
  const outdir = mkdtempSync(path.join(tmpdir(), 'switchyard-prof-cdk-'));
  const runtime = await startRuntimeProcess({
    outdir,
    execArgv: ['--import', pathToFileURL(path.join(root, 'bench/profile-preload.mjs')).href],
    env: { SWITCHYARD_PROFILE_DIR: dir, ...(values['api-key'] ? { SWITCHYARD_ADMIN_API_KEY: PROFILE_API_KEY } : {}) },
  });
  const url = `${runtime.url}${values.path}`;
  const headers = values['api-key'] ? { 'X-API-Key': PROFILE_API_KEY } : {};
  const connections = Number(values.connections);
  // Warm every execution environment first: the profile is the steady state, not cold starts.
  await autocannon({ url, connections, duration: 2, headers });
  process.kill(runtime.pid, 'SIGUSR2');
  // The profilers start asynchronously (one round trip per worker); give them a moment.
  await new Promise((r) => setTimeout(r, 300));
  const cpuBefore = threadCpu(runtime.pid);
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  const result = await autocannon({ url, connections, duration: Number(values.duration), headers });
  const toUs = Number(process.hrtime.bigint() / 1000n);
  const cpuAfter = threadCpu(runtime.pid);
  process.kill(runtime.pid, 'SIGUSR2');
  const deadline = Date.now() + 30_000;
  while (!existsSync(path.join(dir, 'done')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await runtime.stop();
  console.log(
    `GET ${values.path}: ${Math.round(result.requests.average)} req/s at ${connections} connections, ${result.requests.total} requests, non-2xx ${result.non2xx}`,
  );
  cpuDelta(runtime.pid, cpuBefore, cpuAfter, result.requests.total);
  report(dir, top, { fromUs, toUs, requests: result.requests.total });
  // The profiles name the bundles' files: keep the assembly with them.
  if (values.keep) console.log(`\nprofiles kept in ${dir} (the runtime's assembly in ${outdir})`);
  else {
    rmSync(dir, { recursive: true, force: true });
    rmSync(outdir, { recursive: true, force: true });
  }
}
