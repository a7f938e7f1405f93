/**
 * Synthesizes the CDK app in-process (functions bundled by the local esbuild,
 * exactly as `cdk synth` does) and returns the stack's template.
 *
 * Synth runs in a child process (local/synth-process.ts), so the runtime
 * never holds aws-cdk-lib and the construct tree in memory.
 *
 * A restart with nothing changed does not synthesize at all: the assembly is
 * keyed by a hash of everything synth reads (the app's sources, the lock
 * file, cdk.json and the context), and when the key matches the one stored
 * beside the template, the template is read back. aws-cdk-lib is then never
 * even loaded. When something changed, synth runs as usual and each
 * function's bundle is reused unless its own inputs changed (the bundle
 * cache of lib/bundling.ts, turned on by `switchyard:local:bundleCache`).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CfnTemplate } from './types.js';

export interface SynthesizedStack {
  outdir: string;
  stackName: string;
  template: CfnTemplate;
  durationMs: number;
  /** True when the assembly was reused and nothing was synthesized. */
  cached: boolean;
}

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** What synth reads: the CDK app, the code it bundles, its configuration. */
const INPUT_FOLDERS = ['lib', 'functions', 'shared'];
const INPUT_FILES = ['bin/app.ts', 'cdk.json', 'package.json', 'package-lock.json', 'tsconfig.json'];
const CACHE_FILE = 'switchyard-synth.json';

/** The context `cdk synth` would use, so the local stack is the one that deploys. */
function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(path.join(projectRoot, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  return cdkJson.context ?? {};
}

function listFiles(folder: string): string[] {
  const root = path.join(projectRoot, folder);
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(projectRoot, path.join(entry.parentPath, entry.name)))
    .sort();
}

/** Hash of every input of the synth: file paths and contents, the context, and the Node version (esbuild output can depend on it). */
export function synthInputHash(context: Record<string, unknown>): string {
  const hash = createHash('sha256');
  hash.update(`node ${process.version}\n`);
  hash.update(JSON.stringify(context));
  for (const file of [...INPUT_FOLDERS.flatMap(listFiles), ...INPUT_FILES]) {
    const absolute = path.join(projectRoot, file);
    if (!existsSync(absolute)) continue;
    hash.update(`\0${file}\0`);
    hash.update(readFileSync(absolute));
  }
  return hash.digest('hex');
}

function readCached(outdir: string, key: string): { template: CfnTemplate; stackName: string } | undefined {
  try {
    const cache = JSON.parse(readFileSync(path.join(outdir, CACHE_FILE), 'utf8')) as {
      key?: string;
      templateFile?: string;
      stackName?: string;
    };
    if (cache.key !== key || !cache.templateFile || !cache.stackName) return undefined;
    return { template: JSON.parse(readFileSync(path.join(outdir, cache.templateFile), 'utf8')) as CfnTemplate, stackName: cache.stackName };
  } catch {
    return undefined;
  }
}

/**
 * NodejsFunction runs the project's esbuild as `npx --no-install esbuild …`
 * for an npm lock file, and npx itself costs about 0.6 s a call: 6 s of a
 * cold start with ten functions. Only for the synth child, an `npx` first on
 * PATH runs the project's esbuild binary directly for exactly that call and
 * hands every other call to the real npx. POSIX only; elsewhere npx runs.
 */
function esbuildShim(work: string): string | undefined {
  if (process.platform === 'win32') return undefined;
  const esbuild = path.join(projectRoot, 'node_modules', '.bin', 'esbuild');
  const npx = (process.env.PATH ?? '')
    .split(path.delimiter)
    .map((dir) => path.join(dir, 'npx'))
    .find((file) => existsSync(file));
  if (!existsSync(esbuild) || !npx) return undefined;
  const dir = path.join(work, 'bin');
  mkdirSync(dir);
  const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
  writeFileSync(
    path.join(dir, 'npx'),
    `#!/bin/sh\nif [ "$1" = "--no-install" ] && [ "$2" = "esbuild" ]; then shift 2; exec ${quote(esbuild)} "$@"; fi\nexec ${quote(npx)} "$@"\n`,
    { mode: 0o755 },
  );
  return dir;
}

/** Runs local/synth-process.ts under tsx; its progress (bundling lines, cdk-nag findings) goes to this process's stderr. */
async function synthInChildProcess(
  outdir: string,
  context: Record<string, unknown>,
): Promise<{ directory: string; templateFile: string; stackName: string }> {
  mkdirSync(outdir, { recursive: true });
  const work = mkdtempSync(path.join(tmpdir(), 'switchyard-synth-'));
  try {
    const contextFile = path.join(work, 'context.json');
    const resultFile = path.join(work, 'result.json');
    writeFileSync(contextFile, JSON.stringify(context));
    const shims = esbuildShim(work);
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(projectRoot, 'local', 'synth-process.ts'), outdir, contextFile, resultFile],
      {
        cwd: projectRoot,
        stdio: ['ignore', 'inherit', 'inherit'],
        // The synth's own environment: not the runtime's flags (--cpu-prof, a debugger) nor its loader.
        // CDK's built-in CloudFormation schema validation (about 5 s of WebAssembly) runs with `npm run synth`
        // and the CDK tests; the local loop leaves it to them. cdk-nag still runs.
        env: {
          ...process.env,
          NODE_OPTIONS: '',
          CDK_VALIDATION: 'false',
          ...(shims ? { PATH: `${shims}${path.delimiter}${process.env.PATH ?? ''}` } : {}),
        },
      },
    );
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (exitCode) => resolve(exitCode));
    });
    if (code !== 0) throw new Error(`synth failed (exit ${code}); its output is above`);
    return JSON.parse(readFileSync(resultFile, 'utf8')) as { directory: string; templateFile: string; stackName: string };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export async function synthesize(outdir: string, context: Record<string, unknown> = {}): Promise<SynthesizedStack> {
  const started = performance.now();
  const fullContext = {
    ...cdkJsonContext(),
    // Asset metadata lets the runtime find each function's bundle, as SAM does.
    'aws:cdk:enable-asset-metadata': true,
    'switchyard:local:bundleCache': true,
    ...context,
  };
  const key = synthInputHash(fullContext);
  const cached = readCached(outdir, key);
  if (cached) return { outdir, ...cached, durationMs: performance.now() - started, cached: true };

  const result = await synthInChildProcess(outdir, fullContext);
  const template = JSON.parse(readFileSync(path.join(result.directory, result.templateFile), 'utf8')) as CfnTemplate;
  writeFileSync(
    path.join(result.directory, CACHE_FILE),
    JSON.stringify({ key, templateFile: result.templateFile, stackName: result.stackName }),
  );
  return { outdir: result.directory, stackName: result.stackName, template, durationMs: performance.now() - started, cached: false };
}
