/**
 * Watch mode: a change re-bundles only the functions built from the changed
 * file and swaps their environments; a broken change keeps the old code.
 * Runs on a copy of a two-function fixture project.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { bundleFunction } from '../../../lib/bundling.js';
import { LambdaService } from '../../../local/lambda/service.js';
import type { LocalFunctionDefinition } from '../../../local/types.js';
import { watchFunctions, type FunctionWatcher } from '../../../local/watch.js';

const fixture = fileURLToPath(new URL('../../fixtures/watch-project/', import.meta.url));
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function project(watchFiles = false) {
  const root = mkdtempSync(path.join(tmpdir(), 'switchyard-watch-'));
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  cpSync(fixture, root, { recursive: true });
  const assemblyDir = path.join(root, 'cdk.out');
  const functions: LocalFunctionDefinition[] = [];
  for (const name of ['hello', 'other']) {
    const assetDir = path.join(assemblyDir, `asset.${name}`);
    await bundleFunction(path.join(root, 'functions', name, 'index.ts'), assetDir, root);
    console.log('DEBUG', assetDir, (await import('node:fs')).readdirSync(assetDir));
    functions.push({
      logicalId: `${name}Fn`,
      functionName: `S-${name}`,
      assetDir,
      handler: 'index.handler',
      runtime: 'nodejs22.x',
      timeoutSeconds: 5,
      memorySizeMb: 128,
      environment: {},
    });
  }
  const lambda = new LambdaService(functions, { baseEnvironment: {} });
  cleanups.push(() => lambda.stop());
  const lines: string[] = [];
  const errors: string[] = [];
  const watcher: FunctionWatcher = watchFunctions(
    { lambda, functions, assemblyDir },
    { projectRoot: root, onReload: (l) => lines.push(l), onError: (l) => errors.push(l), debounceMs: 50, watchFiles },
  );
  cleanups.push(() => watcher.close());
  return { root, lambda, watcher, lines, errors };
}

const payload = async (lambda: LambdaService, name: string) => {
  const result = await lambda.invoke(name, { name: 'dev' });
  if (!result.ok) throw new Error(result.payload.errorMessage + result.logs);
  return result.payload;
};

describe('watchFunctions', () => {
  it('re-bundles and swaps only the functions built from the changed file, and says how long it took', async () => {
    const { root, lambda, watcher, lines } = await project();
    expect(await payload(lambda, 'S-hello')).toEqual({ message: 'hello dev' });
    writeFileSync(path.join(root, 'shared/greeting.ts'), "export const greeting = 'bonjour';\n");
    expect(await watcher.changed([path.join(root, 'shared/greeting.ts')])).toEqual(['S-hello']);
    expect(await payload(lambda, 'S-hello')).toEqual({ message: 'bonjour dev' });
    expect(lines.at(-1)).toMatch(/^reloaded S-hello \(bundle \d+ ms\) in \d+ ms$/);
    // A second change goes through the same incremental build.
    writeFileSync(path.join(root, 'shared/greeting.ts'), "export const greeting = 'hallo';\n");
    await watcher.changed([path.join(root, 'shared/greeting.ts')]);
    expect(await payload(lambda, 'S-hello')).toEqual({ message: 'hallo dev' });
    expect(await payload(lambda, 'S-other')).toEqual({ other: true });
  });

  it('picks up a file an editor replaces (unlink, then create) through the file watcher', async () => {
    const { root, lambda, lines, watcher } = await project(true);
    await watcher.ready;
    const file = path.join(root, 'shared/greeting.ts');
    for (const word of ['ciao', 'hej']) {
      rmSync(file);
      writeFileSync(file, `export const greeting = '${word}';\n`);
      await expect.poll(() => payload(lambda, 'S-hello'), { timeout: 15_000, interval: 200 }).toEqual({ message: `${word} dev` });
    }
    expect(lines.filter((l) => l.startsWith('reloaded S-hello'))).toHaveLength(2);
  });

  it('keeps the running code when the change does not build, and names the error', async () => {
    const { root, lambda, watcher, errors } = await project();
    writeFileSync(path.join(root, 'shared/greeting.ts'), 'export const greeting = ;\n');
    expect(await watcher.changed([path.join(root, 'shared/greeting.ts')])).toEqual([]);
    expect(errors.at(-1)).toMatch(/S-hello: not reloaded, the bundle failed: .*greeting\.ts/s);
    expect(await payload(lambda, 'S-hello')).toEqual({ message: 'hello dev' });
  });

  it('says a change to the stack needs a restart', async () => {
    const { root, watcher, lines } = await project();
    expect(await watcher.changed([path.join(root, 'lib/stack.ts')])).toEqual([]);
    expect(lines).toEqual(['lib/stack.ts changed: the stack itself changed, restart to apply']);
  });
});
