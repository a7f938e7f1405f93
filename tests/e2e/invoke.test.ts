/** `npm run invoke` runs one function once with a sample event, through the same execution path as the API. */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

describe.skipIf(process.env.SWITCHYARD_BASE_URL)('switchyard invoke', () => {
  it('invokes the health function with events/health.json and prints the Lambda logs and result', async () => {
    const outdir = mkdtempSync(path.join(tmpdir(), 'switchyard-invoke-'));
    const { stdout, stderr } = await run(
      process.execPath,
      [
        path.join(root, 'node_modules/tsx/dist/cli.mjs'),
        'bin/switchyard.ts',
        'invoke',
        'health',
        '-e',
        'events/health.json',
        '--in-memory',
        '--outdir',
        outdir,
      ],
      { cwd: root, timeout: 90_000 },
    );
    expect(stderr).toMatch(/START RequestId: \S+ Version: \$LATEST/);
    expect(stderr).toMatch(/REPORT RequestId: .*Duration: [\d.]+ ms/);
    const result = JSON.parse(stdout) as { statusCode: number; body: string };
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toMatchObject({ status: 'ok' });
  }, 120_000);
});
