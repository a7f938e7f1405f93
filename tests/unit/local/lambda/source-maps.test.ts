/**
 * Source maps only when debugging: parsing a bundle's map costs every
 * execution environment memory (and every stack trace time), so the service
 * enables them only with `debug: true`, whatever the function's NODE_OPTIONS.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFixture } from '../../../fixtures/lambda/bundle.js';
import type { FixtureBundle } from '../../../fixtures/lambda/bundle.js';
import { errorPayload, fn, okPayload, service } from './support.js';

let dir: string;
let small: FixtureBundle;
let heavy: FixtureBundle;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'switchyard-sourcemaps-'));
  [small, heavy] = await Promise.all([
    bundleFixture('sourcemap', 'app.ts', path.join(dir, 'small')),
    bundleFixture('heavy', 'index.ts', path.join(dir, 'heavy')),
  ]);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Max Memory Used of the REPORT line, MB. */
function maxMemoryUsed(logs: string): number {
  return Number(/\tMax Memory Used: (\d+) MB/.exec(logs)?.[1]);
}

describe('LambdaService source maps', () => {
  it('maps stack traces to the sources only with debug: true; NODE_OPTIONS alone does not', async () => {
    const def = fn('mapped', '', 'index.handler', {
      assetDir: small.assetDir,
      environment: { NODE_OPTIONS: '--enable-source-maps' },
    });
    const plain = errorPayload(await service([def]).invoke('mapped', {}));
    expect(plain.errorMessage).toBe('mapped');
    expect(plain.trace?.[1]).toContain(path.join(small.assetDir, 'index.js'));
    expect(plain.trace?.join('\n')).not.toContain('app.ts');

    const debug = errorPayload(await service([def], { debug: true }).invoke('mapped', {}));
    expect(debug.trace?.[1]).toMatch(/sourcemap-src\/app\.ts:4:\d+/);
  });

  it("shows user code the function's NODE_OPTIONS without applying any of it", async () => {
    const nodeOptions = '--enable-source-maps --require /nonexistent/preload.js';
    const s = service([fn('echo', 'cjs-echo', 'index.handler', { environment: { NODE_OPTIONS: nodeOptions } })]);
    const payload = okPayload<{ env: Record<string, string> }>(await s.invoke('echo', {}));
    expect(payload.env.NODE_OPTIONS).toBe(nodeOptions);
  });

  it('prints the memory an environment uses with and without source maps (no threshold)', async () => {
    const def = fn('heavy', '', 'index.handler', { assetDir: heavy.assetDir, memorySizeMb: 512 });
    const used: Record<string, number> = {};
    for (const debug of [false, true]) {
      const result = await service([def], { debug }).invoke('heavy', { id: 'x' });
      expect(okPayload(result)).toEqual({ ok: true, clients: ['function', 'function'] });
      used[debug ? 'on' : 'off'] = maxMemoryUsed(result.logs);
    }
    const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
    console.log(
      `[source maps] bundle ${mb(heavy.bundleBytes)} MB, map ${mb(heavy.mapBytes)} MB: ` +
        `Max Memory Used per environment ${used.off} MB without, ${used.on} MB with source maps`,
    );
  });
});
