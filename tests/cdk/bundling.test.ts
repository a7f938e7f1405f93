/**
 * Function bundles (lib/bundling.ts) and the local runtime's bundle cache
 * (lib/bundle-cache.ts):
 * - the synth (NodejsFunction → esbuild CLI) and `bundleFunction` (esbuild JS
 *   API) build the same `index.mjs`, byte for byte;
 * - with `switchyard:local:bundleCache` a second synth into the same outdir
 *   runs no esbuild at all, and changing one function's source re-bundles
 *   that function only;
 * - what each bundle carries (no ajv where no payload is validated, no zod in
 *   the authorizer), with the sizes printed.
 *
 * Timings are printed, never asserted (shared 2-core machine).
 */
import { App, AssetStaging, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApp } from '../../lib/app.js';
import { functionInputs, MANIFEST_FILE } from '../../lib/bundle-cache.js';
import { BUNDLE_FILE, bundleFunction, ENTRY_METADATA, functionEntry, METAFILE, PROJECT_ROOT } from '../../lib/bundling.js';
import { BUNDLE_CACHE_CONTEXT, DEBUG_CONTEXT, SwitchyardFunction } from '../../lib/function.js';
import type { CfnTemplate } from '../../local/types.js';
import { synthTemplate } from '../support/synth.js';

const CACHE = { [BUNDLE_CACHE_CONTEXT]: true };

interface Synth {
  /** Logical id prefix (e.g. `Health`) → asset directory. */
  assets: Map<string, string>;
  template: CfnTemplate;
  /** How many assets CDK bundled (it prints "Bundling asset …" before each esbuild run). */
  bundled: string[];
  ms: number;
}

/** Runs a synth like a new process would: CDK's in-memory staging cache is cleared, only the outdir carries over. */
function synthesize(build: () => App, stackName: string): Synth {
  AssetStaging.clearAssetHashCache();
  const bundled: string[] = [];
  const write = process.stderr.write.bind(process.stderr) as (chunk: string | Uint8Array) => boolean;
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    const match = /Bundling asset (\S+?)\.\.\./.exec(String(chunk));
    if (match?.[1]) bundled.push(match[1]);
    return match ? true : write(chunk);
  });
  const started = performance.now();
  try {
    const assembly = build().synth();
    const ms = performance.now() - started;
    const template = assembly.getStackByName(stackName).template as CfnTemplate;
    const assets = new Map<string, string>();
    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      const assetPath = (resource.Metadata as Record<string, string> | undefined)?.['aws:asset:path'];
      if (resource.Type === 'AWS::Lambda::Function' && assetPath) {
        assets.set(logicalId.replace(/Function[0-9A-F]{8}$/, ''), path.join(assembly.directory, assetPath));
      }
    }
    return { assets, template, bundled, ms };
  } finally {
    spy.mockRestore();
  }
}

const kib = (file: string) => Math.round(statSync(file).size / 1024);
const mtimes = (dirs: Iterable<string>) => [...dirs].map((d) => statSync(path.join(d, BUNDLE_FILE)).mtimeMs);

afterEach(() => vi.restoreAllMocks());

describe('the real stack with the bundle cache', () => {
  const outdir = mkdtempSync(path.join(tmpdir(), 'switchyard-bundles-'));
  const build = () => buildApp({ outdir, context: { ...CACHE, 'aws:cdk:enable-asset-metadata': true } }).app;
  let first: Synth;
  let second: Synth;

  beforeAll(() => {
    first = synthesize(build, 'Switchyard');
    second = synthesize(build, 'Switchyard');
    console.log(
      `synth with bundling: ${(first.ms / 1000).toFixed(1)} s (${first.bundled.length} bundles); ` +
        `again with the cache: ${(second.ms / 1000).toFixed(1)} s (${second.bundled.length} bundles)`,
    );
  }, 300_000);

  it('bundles every function as ESM with the Powertools createRequire banner', () => {
    // 15 + configurations (issue 10) + the edge-health job
    expect(first.assets.size).toBe(21);
    for (const dir of first.assets.values()) {
      const code = readFileSync(path.join(dir, BUNDLE_FILE), 'utf8');
      expect(code.startsWith("import { createRequire } from 'module';const require = createRequire(import.meta.url);")).toBe(true);
      expect(code.trimEnd().endsWith(`//# sourceMappingURL=${BUNDLE_FILE}.map`)).toBe(true);
    }
  });

  it('names each function’s entry in the template, for watch mode', () => {
    const entries = Object.values(first.template.Resources)
      .filter((r) => r.Type === 'AWS::Lambda::Function')
      .map((r) => (r.Metadata as Record<string, string>)[ENTRY_METADATA]);
    expect(entries.sort()).toEqual(
      readdirSync(path.join(PROJECT_ROOT, 'functions'))
        .map((f) => `functions/${f}/index.ts`)
        .sort(),
    );
  });

  it('re-uses every bundle on the second synth: no esbuild run, same assets, untouched files', () => {
    expect(first.bundled).toHaveLength(21);
    expect(second.bundled).toEqual([]);
    expect(second.assets).toEqual(first.assets);
    expect(mtimes(second.assets.values())).toEqual(mtimes(first.assets.values()));
  });

  it('builds the same index.mjs through the esbuild JS API as through the synth', async () => {
    const outDir = mkdtempSync(path.join(tmpdir(), 'switchyard-watch-'));
    const { durationMs, inputs } = await bundleFunction(functionEntry('health'), outDir);
    console.log(`bundleFunction(health): ${Math.round(durationMs)} ms, ${inputs.length} project inputs`);
    const synthesized = readFileSync(path.join(first.assets.get('Health') as string, BUNDLE_FILE));
    expect(readFileSync(path.join(outDir, BUNDLE_FILE)).equals(synthesized)).toBe(true);
    expect(inputs).toEqual(functionInputs(outdir, functionEntry('health')));
    expect(inputs).toContain(path.join(PROJECT_ROOT, 'functions/health/index.ts'));
  });

  // Bootstrap carries zod since its changes (the admin user and key) write events whose data the catalog's schemas parse.
  it('keeps ajv in events, receivers and configurations only, zod out of the authorizer, idempotency out of health, audit and the event functions', () => {
    const rows: string[] = [];
    for (const [name, dir] of first.assets) {
      const meta = JSON.parse(readFileSync(path.join(dir, METAFILE), 'utf8')) as { inputs: Record<string, unknown> };
      const packages = (pkg: string) => Object.keys(meta.inputs).some((p) => p.includes(`node_modules/${pkg}/`));
      rows.push(`${name.padEnd(16)} ${String(kib(path.join(dir, BUNDLE_FILE))).padStart(4)} KiB`);
      // Configurations (issue 10) validate each version against its own JSON Schema.
      expect(packages('ajv'), name).toBe(['Events', 'Receivers', 'Configurations'].includes(name));
      if (/Authorizer/.test(name)) expect(packages('zod'), name).toBe(false);
      if (/^(Health|Audit|EventsRelay|EventsOutboxSweeper|JobsEdgeHealth)/.test(name))
        expect(packages('@aws-lambda-powertools/idempotency'), name).toBe(false);
    }
    console.log(`bundle sizes (minified, AWS SDK included):\n${rows.join('\n')}`);
  });

  it('records each function’s inputs in the manifest beside the assets', () => {
    const manifest = JSON.parse(readFileSync(path.join(outdir, MANIFEST_FILE), 'utf8')) as { functions: Record<string, unknown> };
    expect(Object.keys(manifest.functions).sort()).toEqual(
      readdirSync(path.join(PROJECT_ROOT, 'functions'))
        .map((f) => `functions/${f}/index.ts`)
        .sort(),
    );
    const audit = functionInputs(outdir, functionEntry('audit')).map((p) => path.relative(PROJECT_ROOT, p));
    expect(audit).toContain('shared/domain/instants.ts');
    expect(audit).not.toContain('shared/domain/json-schema.ts');
  });
});

/** A throw-away project (two functions, one shared module each) beside the real node_modules. */
function fixtureProject(): { root: string; write: (file: string, text: string) => void } {
  const root = mkdtempSync(path.join(tmpdir(), 'switchyard-fixture-'));
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  };
  symlinkSync(path.join(PROJECT_ROOT, 'node_modules'), path.join(root, 'node_modules'), 'dir');
  write('package.json', JSON.stringify({ name: 'fixture', private: true, type: 'module' }));
  write('package-lock.json', JSON.stringify({ name: 'fixture', lockfileVersion: 3, requires: true, packages: {} }));
  write('tsconfig.json', JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'nodenext', strict: true } }));
  write('shared/alpha.ts', "export const alpha = (): string => 'alpha';\n");
  write('shared/beta.ts', "export const beta = (): string => 'beta';\n");
  write('functions/alpha/index.ts', "import { alpha } from '../../shared/alpha.js';\nexport const handler = async () => alpha();\n");
  write('functions/beta/index.ts', "import { beta } from '../../shared/beta.js';\nexport const handler = async () => beta();\n");
  return { root, write };
}

describe('the bundle cache on a fixture project', () => {
  const { root, write } = fixtureProject();
  const outdir = mkdtempSync(path.join(tmpdir(), 'switchyard-fixture-out-'));
  const build = () => {
    const app = new App({ outdir, context: { ...CACHE, 'aws:cdk:enable-asset-metadata': true } });
    const stack = new Stack(app, 'Fixture');
    for (const name of ['alpha', 'beta']) {
      new SwitchyardFunction(stack, `${name[0]?.toUpperCase()}${name.slice(1)}Function`, { name, serviceVersion: '0', projectRoot: root });
    }
    return app;
  };
  const runs: Synth[] = [];

  beforeAll(() => {
    runs.push(synthesize(build, 'Fixture')); // 0: nothing known yet
    runs.push(synthesize(build, 'Fixture')); // 1: no change
    write('shared/alpha.ts', "export const alpha = (): string => 'alpha, changed';\n");
    runs.push(synthesize(build, 'Fixture')); // 2: alpha's shared module changed
    write('shared/alpha.ts', "export const alpha = (): string => 'alpha';\n");
    runs.push(synthesize(build, 'Fixture')); // 3: back as it was
    write('shared/unused.ts', 'export const unused = 1;\n');
    runs.push(synthesize(build, 'Fixture')); // 4: a file no function imports
  }, 120_000);

  it('bundles each function once, then re-uses both', () => {
    expect(runs[0]?.bundled).toHaveLength(2);
    expect(runs[1]?.bundled).toEqual([]);
    expect(runs[1]?.assets).toEqual(runs[0]?.assets);
  });

  it('re-bundles only the function whose input changed, under a new asset hash', () => {
    expect(runs[2]?.bundled).toEqual(['Fixture/AlphaFunction/Code/Stage']);
    expect(runs[2]?.assets.get('Alpha')).not.toBe(runs[1]?.assets.get('Alpha'));
    expect(runs[2]?.assets.get('Beta')).toBe(runs[1]?.assets.get('Beta'));
    expect(readFileSync(path.join(runs[2]?.assets.get('Alpha') as string, BUNDLE_FILE), 'utf8')).toContain('alpha, changed');
  });

  it('goes back to the earlier bundle when the change is undone, and ignores files nobody imports', () => {
    expect(runs[3]?.bundled).toEqual([]);
    expect(runs[3]?.assets).toEqual(runs[0]?.assets);
    expect(runs[4]?.bundled).toEqual([]);
    expect(runs[4]?.assets).toEqual(runs[0]?.assets);
  });

  it('knows each function’s own inputs', () => {
    expect(functionInputs(outdir, functionEntry('beta', root), root)).toEqual([
      path.join(root, 'functions/beta/index.ts'),
      path.join(root, 'shared/beta.ts'),
    ]);
  });
});

describe('function settings', () => {
  const variables = (template: CfnTemplate) =>
    Object.values(Template.fromJSON(template as never).findResources('AWS::Lambda::Function')).map(
      (fn) => (fn.Properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables,
    );

  it('applies source maps to stack traces only with switchyard:debug', () => {
    expect(variables(synthTemplate()).every((v) => v.NODE_OPTIONS === undefined)).toBe(true);
    expect(variables(synthTemplate({ [DEBUG_CONTEXT]: true })).every((v) => v.NODE_OPTIONS === '--enable-source-maps')).toBe(true);
    expect(variables(synthTemplate({ [DEBUG_CONTEXT]: 'true' })).every((v) => v.NODE_OPTIONS === '--enable-source-maps')).toBe(true);
  });
});
