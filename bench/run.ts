/**
 * Benchmarks of the walking skeleton; prints figures, asserts nothing.
 *
 *   npm run bench                 all of it
 *   npm run bench -- --duration 5 shorter load runs
 *
 * - start-up: `switchyard local` from spawn to ready (synth + DynamoDB Local + servers)
 * - bundle size of each function (what Lambda loads)
 * - GET /health throughput through the local runtime (API Gateway emulation →
 *   Lambda execution environment → middy/Powertools chain) beside a bare Node
 *   http server answering the same JSON, both loaded by autocannon from this process.
 */
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { TemplateResolver } from '../local/template.js';
import type { CfnTemplate } from '../local/types.js';
import { startRuntimeProcess } from '../tests/support/runtime-process.js';

const { values } = parseArgs({
  options: { duration: { type: 'string', default: '10' }, connections: { type: 'string', default: '10' } },
});
const duration = Number(values.duration);
const connections = Number(values.connections);
const root = path.resolve(import.meta.dirname, '..');

async function load(url: string, seconds = duration) {
  const result = await autocannon({ url, connections, duration: seconds, pipelining: 1 });
  return {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

function startBareServer(): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, [path.join(root, 'bench/bare-server.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      const match = /listening (\S+)/.exec(chunk.toString());
      if (match?.[1]) resolve({ url: match[1], stop: () => child.kill('SIGINT') });
    });
  });
}

/** Each function's bundle, found through the template exactly as the runtime finds it. */
function bundleSizes(outdir: string): Array<{ function: string; kib: number }> {
  const template = JSON.parse(readFileSync(path.join(outdir, 'Switchyard.template.json'), 'utf8')) as CfnTemplate;
  const resolver = new TemplateResolver(template, { stackName: 'Switchyard', region: 'us-east-1', accountId: '000000000000' });
  return resolver.functions(outdir).map((f) => ({
    function: f.logicalId.replace(/Function[0-9A-F]{8}$/, ''),
    kib: Math.round(statSync(path.join(f.assetDir, 'index.js')).size / 1024),
  }));
}

const outdir = mkdtempSync(path.join(tmpdir(), 'switchyard-bench-'));
const runtime = await startRuntimeProcess({ outdir });
const ready = /ready in ([\d.]+) s: synth ([\d.]+) s/.exec(runtime.output());
console.log(`\n## start-up (switchyard local --in-memory)`);
console.log(
  `spawn → ready: ${(runtime.readyMs / 1000).toFixed(1)} s (runtime reports ${ready?.[1]} s, of which synth + bundling ${ready?.[2]} s)`,
);

console.log(`\n## function bundles (.switchyard/cdk.out, minified, AWS SDK included)`);
for (const { function: fn, kib } of bundleSizes(outdir)) console.log(`${fn.padEnd(10)} index.js ${kib} KiB`);

// Warm every execution environment first: the figure is the steady state, not cold starts.
await load(`${runtime.url}/health`, 2).catch(() => undefined);
console.log(`\n## GET /health, ${connections} connections, ${duration} s each (2-core machine; loader shares the CPU)`);
const viaRuntime = await load(`${runtime.url}/health`);
await runtime.stop();
const bare = await startBareServer();
const viaBare = await load(`${bare.url}/`);
bare.stop();
console.table({ 'local runtime': viaRuntime, 'bare node:http': viaBare });
console.log(`local runtime / bare: ${((viaRuntime.rps / viaBare.rps) * 100).toFixed(1)} % of the bare server's throughput`);
