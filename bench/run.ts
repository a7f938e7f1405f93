/**
 * Benchmarks of the local runtime; prints figures, asserts nothing.
 *
 *   npm run bench                                      all of it
 *   npm run bench -- --duration 5 --connections 1,10   shorter load runs, other connection counts
 *
 * The machine drifts (±15 % from one minute to the next, more while other
 * builds run), so every throughput figure is compared with a reference
 * measured beside it in the same run, never with a number from another run.
 *
 * - start-up, spawn → ready of `switchyard local`: cold (fresh cloud assembly
 *   and data directory: synth, esbuild for every function, DynamoDB Local),
 *   then a restart on the same assembly and data (no source change: bundles
 *   re-used).
 * - bundle size of each function (index.js or index.mjs, what Lambda loads).
 * - GET /health through the runtime (API Gateway emulation → Lambda execution
 *   environment → the bundled handler) against the floor: a bare node:http
 *   server calling the SAME bundled handler in-process
 *   (bench/bare-server.mjs), at each connection count, runtime then floor,
 *   with the ratio (the goal: ≥ 0.5 at 10 connections). The floor gets the
 *   environment the runtime gives the function, so the Powertools tracer
 *   does its Lambda work (an X-Ray segment over UDP per request) in both; a
 *   second floor with the tracer off shows how much of the handler that is.
 * - RSS of the runtime process after the largest load.
 */
import autocannon from 'autocannon';
import { fork } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { CfnTemplate } from '../local/types.js';
import { startRuntimeProcess } from '../tests/support/runtime-process.js';
import type { RuntimeProcess } from '../tests/support/runtime-process.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '1,10,32' },
  },
});
const duration = Number(values.duration);
const connectionCounts = values.connections
  .split(',')
  .map(Number)
  .filter((n) => Number.isInteger(n) && n > 0);
const root = path.resolve(import.meta.dirname, '..');
const STACK = 'Switchyard';

interface Load {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function load(url: string, connections: number, seconds: number): Promise<Load> {
  const result = await autocannon({ url, connections, duration: seconds, pipelining: 1 });
  return {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

interface FunctionAsset {
  name: string;
  logicalId: string;
  /** The handler's module file: index.mjs (ESM bundles) or index.js. */
  file: string;
  exportName: string;
  environment: Record<string, string>;
}

/**
 * Each function's bundle, found through the synthesized template as the
 * runtime finds it (the asset directory from `aws:asset:path` metadata or the
 * Code.S3Key hash, the module from the Handler). Read here rather than with
 * the runtime's template reader so the bench does not move with its internals.
 */
function functionAssets(outdir: string): FunctionAsset[] {
  const template = JSON.parse(readFileSync(path.join(outdir, `${STACK}.template.json`), 'utf8')) as CfnTemplate;
  const out: FunctionAsset[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const props = resource.Properties ?? {};
    const assetPath = resource.Metadata?.['aws:asset:path'];
    const s3Key = (props.Code as { S3Key?: unknown } | undefined)?.S3Key;
    const dir = typeof assetPath === 'string' ? assetPath : typeof s3Key === 'string' ? `asset.${s3Key.replace(/\.zip$/, '')}` : undefined;
    if (!dir) continue;
    const handler = String(props.Handler ?? 'index.handler');
    const dot = handler.lastIndexOf('.');
    const base = path.join(outdir, dir, handler.slice(0, dot));
    const file = ['.mjs', '.js', '.cjs'].map((ext) => base + ext).find((f) => existsSync(f));
    if (!file) continue;
    const variables = ((props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {}) as Record<
      string,
      unknown
    >;
    // Intrinsics (a table's Ref...) stay unresolved here: /health touches no resource. Lambda's NODE_OPTIONS
    // applies at process start, which an in-process call does not have (nor do the runtime's workers).
    const environment: Record<string, string> = {};
    for (const [k, v] of Object.entries(variables)) if (k !== 'NODE_OPTIONS') environment[k] = typeof v === 'string' ? v : `local-${k}`;
    out.push({
      name: logicalId.replace(/Function[0-9A-F]{8}$/, ''),
      logicalId,
      file,
      exportName: handler.slice(dot + 1),
      environment,
    });
  }
  return out;
}

/**
 * The floor: bench/bare-server.mjs serving the given bundled handler in-process.
 * `tracing` false turns the Powertools tracer off (POWERTOOLS_TRACE_ENABLED):
 * in a Lambda environment it sends X-Ray segments over UDP on every request,
 * which is the handler's own work (the runtime's environments do it too), but
 * a large share of it, so both floors are shown.
 */
async function startFloor(fn: FunctionAsset, tracing: boolean): Promise<{ url: string; pid: number; stop: () => void }> {
  // The variables Lambda itself sets, as the runtime sets them for an execution environment.
  const lambdaEnvironment = {
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_LAMBDA_FUNCTION_NAME: `${STACK}-${fn.logicalId}`,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${STACK}-${fn.logicalId}`,
    AWS_LAMBDA_LOG_STREAM_NAME: 'bench',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
    // The X-Ray SDK (under the Powertools tracer) works in its Lambda mode when this is set, as in the runtime.
    LAMBDA_TASK_ROOT: path.dirname(fn.file),
    _HANDLER: `${path.basename(fn.file).replace(/\.[cm]?js$/, '')}.${fn.exportName}`,
    TZ: ':UTC',
    ...fn.environment,
    ...(tracing ? {} : { POWERTOOLS_TRACE_ENABLED: 'false' }),
  };
  const child = fork(path.join(root, 'bench/bare-server.mjs'), [fn.file, fn.exportName, JSON.stringify(lambdaEnvironment)], {
    // The handler's own output (Powertools logs, EMF metrics) is not what is measured.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    execArgv: [],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m: { url?: string }) => (m.url ? resolve(m.url) : reject(new Error('floor server sent no URL'))));
    child.once('exit', (code) => reject(new Error(`floor server exited with ${code}`)));
  });
  return { url, pid: child.pid ?? 0, stop: () => child.kill('SIGINT') };
}

/** VmRSS and VmHWM (peak) of a process, MiB (Linux /proc). */
function memoryOf(pid: number): { rssMiB: number; peakMiB: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMiB: Math.round(kib('VmRSS') / 1024), peakMiB: Math.round(kib('VmHWM') / 1024) };
  } catch {
    return undefined;
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
/** `ready in X s: synth Y s` after a synth, `ready in X s: assembly reused` when nothing changed. */
const reported = (r: RuntimeProcess) => {
  const m = /ready in ([\d.]+) s: (?:synth ([\d.]+) s|(assembly reused))/.exec(r.output());
  return m ? `${m[1]} s (${m[3] ? 'assembly reused, no synth' : `synth + bundling ${m[2]} s`})` : '?';
};

// Start-up: a cold start into a fresh assembly and data directory, stopped, then a restart on both.
const outdir = mkdtempSync(path.join(tmpdir(), 'switchyard-bench-cdk-'));
const dataDir = mkdtempSync(path.join(tmpdir(), 'switchyard-bench-data-'));
const cold = await startRuntimeProcess({ outdir, dataDir, timeoutMs: 300_000 });
const coldReport = reported(cold);
await cold.stop();
const runtime = await startRuntimeProcess({ outdir, dataDir, timeoutMs: 300_000 });
const restartReport = reported(runtime);
console.log(`\n## start-up (switchyard local --data-dir, spawn → ready)`);
console.table({
  'cold (fresh assembly and data)': {
    'spawn → ready': seconds(cold.readyMs),
    'runtime reports': coldReport,
  },
  'restart (same assembly and data, no source change)': {
    'spawn → ready': seconds(runtime.readyMs),
    'runtime reports': restartReport,
  },
});

const functions = functionAssets(outdir);
console.log(`\n## function bundles (${path.basename(outdir)}, what Lambda loads)`);
console.table(
  Object.fromEntries(functions.map((f) => [f.name, { file: path.basename(f.file), KiB: Math.round(statSync(f.file).size / 1024) }])),
);

const health = functions.find((f) => f.name === 'Health' || /^Health/.test(f.logicalId));
if (!health) throw new Error('no Health function in the template');
const floor = await startFloor(health, true);
const untraced = await startFloor(health, false);
const healthUrl = `${runtime.url}/health`;
// Warm every execution environment (up to the largest connection count) and the floors: steady state, not cold starts.
const most = Math.max(...connectionCounts);
await load(healthUrl, most, 3);
await load(`${floor.url}/health`, most, 2);
await load(`${untraced.url}/health`, most, 2);

console.log(
  `\n## GET /health: the runtime vs the same bundled handler called in-process by node:http (the floor), ${duration} s each, ` +
    `one after the other at each connection count (2-core machine; the loader shares the CPU)`,
);
console.log(
  'floor: with the environment the runtime gives the function (the Powertools tracer on, as in Lambda); ' +
    'floor, tracer off: the same with POWERTOOLS_TRACE_ENABLED=false',
);
const rows: Record<string, Record<string, number | string>> = {};
let rssAfterLoad: ReturnType<typeof memoryOf>;
for (const connections of connectionCounts) {
  const viaRuntime = await load(healthUrl, connections, duration);
  if (connections === most) rssAfterLoad = memoryOf(runtime.pid);
  const viaFloor = await load(`${floor.url}/health`, connections, duration);
  const viaUntraced = await load(`${untraced.url}/health`, connections, duration);
  rows[`${connections} connection${connections === 1 ? '' : 's'}`] = {
    'runtime rps': viaRuntime.rps,
    'floor rps': viaFloor.rps,
    'runtime / floor': Number((viaRuntime.rps / viaFloor.rps).toFixed(2)),
    'floor, tracer off rps': viaUntraced.rps,
    'runtime / floor, tracer off': Number((viaRuntime.rps / viaUntraced.rps).toFixed(2)),
    'p50 ms runtime / floor': `${viaRuntime.p50} / ${viaFloor.p50}`,
    'p99 ms runtime / floor': `${viaRuntime.p99} / ${viaFloor.p99}`,
    'non-2xx / errors': `${viaRuntime.non2xx + viaFloor.non2xx + viaUntraced.non2xx} / ${viaRuntime.errors + viaFloor.errors + viaUntraced.errors}`,
  };
}
console.table(rows);
console.log('goal: runtime / floor ≥ 0.5 at 10 connections');

console.log(`\n## memory after the ${most}-connection load (/proc/<pid>/status)`);
console.table({
  'runtime process (node: gateway + Lambda environments)': rssAfterLoad ?? '?',
  'floor process (the handler alone)': memoryOf(floor.pid) ?? '?',
});

floor.stop();
untraced.stop();
await runtime.stop();
rmSync(outdir, { recursive: true, force: true });
rmSync(dataDir, { recursive: true, force: true });
