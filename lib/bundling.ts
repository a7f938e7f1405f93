/**
 * How a function is bundled, defined once (DESIGN.md §7 "Bundles" and "Speed
 * of the loop"):
 *
 * - `nodejsBundling()`: the `bundling` props of the CDK NodejsFunction
 *   (lib/function.ts), which runs the esbuild CLI during synth;
 * - `esbuildOptions()`: the same build for esbuild's JS API, so the local
 *   runtime's watch mode can re-bundle one function without a synth
 *   (`bundleFunction()`); tests/cdk/bundling.test.ts proves both produce a
 *   byte-identical `index.mjs`.
 *
 * ESM output with the `createRequire` banner the Powertools docs give for ESM
 * bundles (CommonJS dependencies such as aws-xray-sdk-core call `require`),
 * `module` before `main` so packages resolve to their tree-shakeable ES
 * builds, and the AWS SDK bundled (pinned by package-lock.json, not the
 * runtime's copy).
 *
 * The default credential provider chain stays in every bundle (~130 KiB:
 * the SSO/STS nested clients and their query/XML protocols), although Lambda
 * hands credentials over in environment variables: the SDK loads those
 * providers lazily with dynamic imports, so they are never evaluated on
 * Lambda, and its maintainers offer no supported way to leave them out of a
 * bundle (passing `credentials` does not tree-shake them; they advise against
 * patching, aws/aws-sdk-js-v3#5516, #6087).
 *
 * The bundle cache (local runtime only, see lib/bundle-cache.ts) keys each
 * bundle by a hash of these options, the lock file and the function's own
 * input files.
 *
 * Node, esbuild (imported lazily, only to bundle) and the two NodejsFunction
 * enums from aws-cdk-lib; no AWS SDK.
 */
import { LogLevel, OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions } from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** What the Powertools docs (Tracer, "Using with ESM?") put at the top of an ESM bundle. */
export const ESM_REQUIRE_BANNER = "import { createRequire } from 'module';const require = createRequire(import.meta.url);";

/** The bundle Lambda loads (`handler: index.handler`); `.mjs` so Node loads it as ESM without a package.json. */
export const BUNDLE_FILE = 'index.mjs';
/** esbuild's metafile, written beside the bundle when asked for: the bundle cache reads a function's inputs from it. */
export const METAFILE = 'index.meta.json';
/**
 * Template metadata on each AWS::Lambda::Function: its entry file relative to
 * the project root (e.g. `functions/health/index.ts`), so the local runtime
 * can map a function to the sources to watch (`functionInputs`) and re-bundle
 * it (`bundleFunction`).
 */
export const ENTRY_METADATA = 'switchyard:entry';

/**
 * The one definition. Everything else in this file derives from it; change a
 * setting here and both builds change (the bundling test checks they agree).
 */
const SETTINGS = {
  target: 'node22',
  platform: 'node',
  format: 'esm',
  minify: true,
  sourceMap: true,
  mainFields: ['module', 'main'],
  banner: ESM_REQUIRE_BANNER,
  /** Nothing is external: the SDK and every dependency are bundled. */
  external: [] as string[],
  /** Size warnings are expected (the SDK is bundled on purpose). */
  logLevel: 'error',
} as const;

export interface BundleSettings {
  /** Write `index.meta.json` beside the bundle (the bundle cache needs it). */
  metafile?: boolean;
}

/** The `bundling` props of a NodejsFunction (without an asset hash). */
export function nodejsBundling(settings: BundleSettings = {}): BundlingOptions {
  return {
    format: SETTINGS.format === 'esm' ? OutputFormat.ESM : OutputFormat.CJS,
    target: SETTINGS.target,
    minify: SETTINGS.minify,
    sourceMap: SETTINGS.sourceMap,
    externalModules: [...SETTINGS.external],
    mainFields: [...SETTINGS.mainFields],
    banner: SETTINGS.banner,
    metafile: settings.metafile ?? false,
    forceDockerBundling: false,
    logLevel: LogLevel.ERROR,
  };
}

/** The absolute path of a function's entry file, e.g. `functionEntry('audit')`. */
export function functionEntry(name: string, projectRoot = PROJECT_ROOT): string {
  return path.join(projectRoot, 'functions', name, 'index.ts');
}

/**
 * esbuild JS API options equivalent to `nodejsBundling()` for one entry:
 * NodejsFunction runs `esbuild --bundle <entry> …` with the project root as
 * working directory, so paths in the metafile are relative to it here too.
 */
export function esbuildOptions(entry: string, outDir: string, settings: BundleSettings = {}, projectRoot = PROJECT_ROOT): BuildOptions {
  return {
    entryPoints: [path.resolve(projectRoot, entry)],
    bundle: true,
    absWorkingDir: projectRoot,
    outfile: path.join(outDir, BUNDLE_FILE),
    target: SETTINGS.target,
    platform: SETTINGS.platform,
    format: SETTINGS.format,
    minify: SETTINGS.minify,
    sourcemap: SETTINGS.sourceMap,
    external: [...SETTINGS.external],
    mainFields: [...SETTINGS.mainFields],
    banner: { js: SETTINGS.banner },
    metafile: settings.metafile ?? false,
    logLevel: SETTINGS.logLevel,
  };
}

/** The project files (not node_modules) a bundle was built from, relative to the project root, sorted. */
export function projectInputsOf(metafile: { inputs: Record<string, unknown> }): string[] {
  return Object.keys(metafile.inputs)
    .filter((p) => !p.split(/[\\/]/).includes('node_modules') && !p.includes(':'))
    .map((p) => p.split(path.sep).join('/'))
    .sort();
}

/**
 * Bundles one function with the esbuild JS API and the same options as the
 * synth (for watch mode: re-bundle one function without a synth). Writes
 * `index.mjs`, its source map and `index.meta.json` into `outDir`.
 * `inputs` are the absolute paths of the project files the bundle was built
 * from (the files to watch); node_modules is covered by package-lock.json.
 */
export async function bundleFunction(
  entry: string,
  outDir: string,
  projectRoot = PROJECT_ROOT,
): Promise<{ durationMs: number; inputs: string[] }> {
  const started = performance.now();
  const { build } = await import('esbuild');
  mkdirSync(outDir, { recursive: true });
  const result = await build(esbuildOptions(entry, outDir, { metafile: true }, projectRoot));
  const metafile = result.metafile ?? { inputs: {}, outputs: {} };
  writeFileSync(path.join(outDir, METAFILE), JSON.stringify(metafile));
  return {
    durationMs: performance.now() - started,
    inputs: projectInputsOf(metafile).map((p) => path.join(projectRoot, p)),
  };
}

/** A stable description of the settings, for cache keys. */
export function bundlingFingerprint(settings: BundleSettings = {}): string {
  return JSON.stringify({ SETTINGS, settings });
}
