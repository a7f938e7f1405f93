/**
 * Watch-mode reload time (`switchyard local --watch`), printed, asserting
 * nothing: on a copy of functions/ and shared/ (the real sources, the real
 * node_modules), the health function is bundled, loaded in a LambdaService,
 * then its source is edited and the watcher re-bundles and swaps it. The
 * first reload creates esbuild's incremental context; later ones reuse it.
 * Beside it, in the same run: a plain one-off esbuild bundle of the same
 * entry (what a reload would cost without the incremental context).
 *
 *   npx tsx bench/watch.ts [--reloads 5]
 */
import { appendFileSync, cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { bundleFunction } from '../lib/bundling.js';
import { LambdaService } from '../local/lambda/service.js';
import { watchFunctions } from '../local/watch.js';

const { values } = parseArgs({ options: { reloads: { type: 'string', default: '5' } } });
const reloads = Number(values.reloads);
const root = path.resolve(import.meta.dirname, '..');
const copy = mkdtempSync(path.join(tmpdir(), 'switchyard-bench-watch-'));
try {
  for (const folder of ['functions', 'shared']) cpSync(path.join(root, folder), path.join(copy, folder), { recursive: true });
  for (const file of ['package.json', 'tsconfig.json']) cpSync(path.join(root, file), path.join(copy, file));
  symlinkSync(path.join(root, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
  const entry = path.join(copy, 'functions/health/index.ts');
  const assetDir = path.join(copy, 'cdk.out/asset.health');
  const oneOff = await bundleFunction(entry, assetDir, copy);
  const definition = {
    logicalId: 'HealthFunction',
    functionName: 'Switchyard-HealthFunction',
    assetDir,
    handler: 'index.handler',
    runtime: 'nodejs22.x',
    timeoutSeconds: 10,
    memorySizeMb: 512,
    // /health answers from memory; the table is never called.
    environment: {
      TABLE_NAME: 'unused',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_TRACE_DISABLED: 'true',
    },
  };
  const lambda = new LambdaService([definition], { baseEnvironment: { AWS_REGION: 'us-east-1' } });
  const lines: string[] = [];
  const watcher = watchFunctions(
    { lambda, functions: [definition], assemblyDir: path.join(copy, 'cdk.out') },
    { projectRoot: copy, watchFiles: false, onReload: (l) => lines.push(l), onError: (l) => console.error(l) },
  );
  const rows: Record<string, { 'reload (bundle + swap)': string; 'first invocation after': string }> = {};
  for (let i = 1; i <= reloads; i++) {
    appendFileSync(entry, `\n// edit ${i}\n`);
    const started = performance.now();
    await watcher.changed([entry]);
    const reloaded = performance.now();
    const result = await lambda.invoke('HealthFunction', { httpMethod: 'GET', path: '/health', resource: '/health', headers: {} });
    if (!result.ok) throw new Error(`health failed after reload ${i}: ${result.payload.errorMessage}`);
    rows[`reload ${i}${i === 1 ? ' (creates the incremental context)' : ''}`] = {
      'reload (bundle + swap)': `${Math.round(reloaded - started)} ms`,
      'first invocation after': `${Math.round(performance.now() - reloaded)} ms (cold start)`,
    };
  }
  watcher.close();
  await lambda.stop();
  console.log('\n## watch reload of one function (health)');
  console.log(`one-off esbuild bundle of the same entry, for reference: ${Math.round(oneOff.durationMs)} ms`);
  console.table(rows);
  console.log(lines.at(-1));
} finally {
  rmSync(copy, { recursive: true, force: true });
}
