/**
 * The API Gateway emulator's own cost; prints figures, asserts nothing.
 *
 *   npx tsx bench/gateway.ts [--duration 5] [--connections 10] [--cpu-prof <dir>]
 *
 * Each server runs in its own process (bench/gateway-server.ts) so its CPU
 * time can be read from /proc; autocannon loads it from this process. Rows:
 * a bare node:http server (the floor), the emulator on GET /health, and the
 * emulator on a route behind a REQUEST authorizer (cache off: two invocations
 * per request). The invoker answers in-process at once, so the difference to
 * the bare server is the emulation (routing, events, response mapping), not
 * Lambda. `--cpu-prof <dir>` writes a profile of each emulator process to
 * <dir>/health and <dir>/secured (`bench/cpu-profile.ts --summarize <dir>/health`).
 */
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '10' },
    'cpu-prof': { type: 'string' },
  },
});
const root = path.resolve(import.meta.dirname, '..');
const duration = Number(values.duration);
const connections = Number(values.connections);

/** User + system CPU of a process, ms (Linux /proc; 10 ms ticks). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function measure(name: string, mode: 'bare' | 'gateway', requestPath: string, headers: Record<string, string> = {}) {
  const profile = values['cpu-prof'] && mode === 'gateway' ? path.join(values['cpu-prof'], name) : undefined;
  if (profile) mkdirSync(profile, { recursive: true });
  const child = spawn(
    process.execPath,
    [
      ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []),
      '--import',
      pathToFileURL(path.join(root, 'node_modules/tsx/dist/loader.mjs')).href,
      path.join(root, 'bench/gateway-server.ts'),
      '--mode',
      mode,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    void exited.then(() => reject(new Error('bench server exited')));
    child.stdout.on('data', (chunk: Buffer) => {
      const match = /listening (\S+)/.exec(chunk.toString());
      if (match?.[1]) resolve(match[1]);
    });
  });
  try {
    const target = { url: `${url}${requestPath}`, headers, connections };
    await autocannon({ ...target, duration: 1 });
    const before = cpuMs(child.pid!);
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    const result = await autocannon({ ...target, duration });
    const toUs = Number(process.hrtime.bigint() / 1000n);
    const cpu = cpuMs(child.pid!) - before;
    // The profile also holds the fixture's synth: cpu-profile.ts --summarize keeps only this window.
    if (profile) writeFileSync(path.join(profile, 'window.json'), JSON.stringify({ fromUs, toUs, requests: result.requests.total }));
    return {
      rps: Math.round(result.requests.average),
      'cpu µs / request': Math.round((cpu / result.requests.total) * 1000),
      p50: result.latency.p50,
      non2xx: result.non2xx,
    };
  } finally {
    child.kill('SIGINT');
    // --cpu-prof writes on exit.
    await exited;
  }
}

console.log(`\n## API Gateway emulator alone (in-process invoker), ${connections} connections, ${duration} s each`);
const bare = await measure('bare', 'bare', '/health');
const health = await measure('health', 'gateway', '/health');
const secured = await measure('secured', 'gateway', '/secure/abc?x=1', { Authorization: 'Bearer bench' });
console.table({ 'bare node:http': bare, 'emulator GET /health': health, 'emulator GET /secure/{id} + authorizer': secured });
console.log(
  `emulation cost: ${health['cpu µs / request'] - bare['cpu µs / request']} µs CPU per proxied request, ` +
    `${secured['cpu µs / request'] - bare['cpu µs / request']} µs with a REQUEST authorizer`,
);
