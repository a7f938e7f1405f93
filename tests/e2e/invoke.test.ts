/** `npm run invoke` runs one function once with a sample event, through the same execution path as the API. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { startRuntimeProcess, type RuntimeProcess } from '../support/runtime-process.js';

const root = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
const cli = (args: string[]) =>
  run(process.execPath, [path.join(root, 'node_modules/tsx/dist/cli.mjs'), 'bin/switchyard.ts', ...args], { cwd: root, timeout: 90_000 });

const dirs: string[] = [];
let runtime: RuntimeProcess | undefined;
afterAll(async () => {
  await runtime?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** One cloud assembly for the file: the second start finds it unchanged and skips the synth and bundling (20 s and more). */
const outdir = tempDir('switchyard-invoke-');

describe.skipIf(process.env.SWITCHYARD_BASE_URL)('switchyard invoke', () => {
  it('invokes the health function with events/health.json and prints the Lambda logs and result', async () => {
    const { stdout, stderr } = await cli(['invoke', 'health', '-e', 'events/health.json', '--in-memory', '--outdir', outdir]);
    expect(stderr).toMatch(/START RequestId: \S+ Version: \$LATEST/);
    expect(stderr).toMatch(/REPORT RequestId: .*Duration: [\d.]+ ms/);
    const result = JSON.parse(stdout) as { statusCode: number; body: string };
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toMatchObject({ status: 'ok' });
  }, 120_000);

  it('reuses a runtime already running on the data folder instead of opening its files a second time', async () => {
    const dataDir = tempDir('switchyard-data-');
    runtime = await startRuntimeProcess({ dataDir, outdir });
    expect(runtime.output()).toMatch(/assembly reused/);
    const { stdout, stderr } = await cli(['invoke', 'health', '-e', 'events/health-ready.json', '--data-dir', dataDir]);
    expect(stderr).toContain(`invoking through the running runtime (pid `);
    expect(stderr).toMatch(/REPORT RequestId: /);
    const result = JSON.parse(stdout) as { statusCode: number; body: string };
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toMatchObject({ status: 'ok', checks: { dynamodb: { status: 'ok' } } });

    // A second runtime on the same folder is refused with a message that says what to do.
    const second = await cli(['local', '--data-dir', dataDir, '--outdir', outdir, '--port', '0', '--aws-port', '0']).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/Another Switchyard runtime \(pid \d+, API http:\/\/127\.0\.0\.1:\d+\) is running on/);
  }, 180_000);
});
