/**
 * The bundle cache of the local runtime (DESIGN.md §7 "Speed of the loop"): a
 * restart with no source change re-uses every bundle instead of running
 * esbuild again.
 *
 * Each function's asset gets a custom asset hash (a "bundle key") computed
 * from its inputs, before bundling. CDK's AssetStaging derives the staged
 * directory `asset.<hash>` from a custom hash before it bundles and skips
 * bundling when that directory already exists in the outdir
 * (aws-cdk-lib/core/lib/asset-staging.js, `stageByBundling` → `bundle`), so
 * an unchanged key means no esbuild run.
 *
 * The key covers:
 * - the bundling settings (lib/bundling.ts) and esbuild's version;
 * - package-lock.json (stands for everything under node_modules), package.json
 *   and tsconfig.json (they steer module resolution and transpiling);
 * - the contents of the function's own input files, known from the esbuild
 *   metafile of its previous bundle, kept in a small manifest in the cloud
 *   assembly outdir (`switchyard-bundles.json`, next to the assets it
 *   describes, so deleting the outdir drops both). Without a manifest entry
 *   (first synth into an outdir, or a new function) every file under
 *   functions/ and shared/ is hashed instead: safe, and it only costs the
 *   bundle that has to be built anyway. The entry then remembers which key
 *   that bundle got, so the next synth with the same inputs re-uses it.
 *
 * What it cannot see (and why deploys keep CDK's default output hashing, see
 * lib/function.ts): node_modules edited without a lock file change, and a new
 * file that changes how an existing import resolves (e.g. adding `x.ts` next
 * to `x/index.ts`). Delete the outdir (or `.switchyard/`) to start afresh.
 *
 * Pure Node (fs, crypto): no AWS SDK, no CDK.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { bundlingFingerprint, PROJECT_ROOT, type BundleSettings } from './bundling.js';

export const MANIFEST_FILE = 'switchyard-bundles.json';
/** Bump when the key derivation changes, so old manifests and assets are not trusted. */
const KEY_FORMAT = 1;
/** Where a function's project inputs may live when its exact inputs are not known yet. */
const FALLBACK_ROOTS = ['functions', 'shared'];
const CONFIG_FILES = ['package-lock.json', 'package.json', 'tsconfig.json'];
const HISTORY = 8;

export interface ManifestEntry {
  /** The custom asset hash the bundle was staged under. */
  key: string;
  /** Digest of the settings and config files the bundle was built with. */
  config: string;
  /** The function's project input files (relative to the project root, sorted), from the esbuild metafile. */
  inputs: string[];
  /** Digest of those files' contents when the bundle was built. */
  digest: string;
  /** Earlier bundles of the same inputs still staged: `<config>:<digest>` → key (newest last), so switching back re-uses them. */
  history?: Record<string, string>;
}

interface Manifest {
  format: number;
  functions: Record<string, ManifestEntry>;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const toPosix = (p: string) => p.split(path.sep).join('/');

function readManifest(outdir: string): Manifest {
  try {
    const manifest = JSON.parse(readFileSync(path.join(outdir, MANIFEST_FILE), 'utf8')) as Manifest;
    if (manifest.format === KEY_FORMAT && manifest.functions && typeof manifest.functions === 'object') return manifest;
  } catch {
    // absent or unreadable: start a new one
  }
  return { format: KEY_FORMAT, functions: {} };
}

function writeManifest(outdir: string, manifest: Manifest): void {
  const file = path.join(outdir, MANIFEST_FILE);
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(temp, file);
}

function esbuildVersion(projectRoot: string): string {
  try {
    return (createRequire(path.join(projectRoot, 'package.json'))('esbuild/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function listFiles(dir: string, projectRoot: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full, projectRoot));
    else if (entry.isFile()) out.push(toPosix(path.relative(projectRoot, full)));
  }
  return out;
}

/** The manifest key of an entry: its path relative to the project root. */
function entryKey(entry: string, projectRoot: string): string {
  return toPosix(path.relative(projectRoot, path.resolve(projectRoot, entry)));
}

/**
 * One synth's view of the cache for one outdir. File contents are hashed at
 * most once per instance, so create one per synth (lib/function.ts keeps one
 * per App): a long-lived instance would miss edits.
 */
export class BundleCache {
  private readonly fileHashes = new Map<string, string>();
  private manifest: Manifest;
  private readonly configDigests = new Map<string, string>();

  constructor(
    readonly outdir: string,
    readonly projectRoot = PROJECT_ROOT,
  ) {
    this.manifest = readManifest(outdir);
  }

  private fileHash(relative: string): string {
    let hash = this.fileHashes.get(relative);
    if (hash === undefined) {
      try {
        hash = sha256(readFileSync(path.join(this.projectRoot, relative)));
      } catch {
        hash = 'missing';
      }
      this.fileHashes.set(relative, hash);
    }
    return hash;
  }

  /** Digest of a set of project files: their paths and contents. */
  digestOf(files: readonly string[]): string {
    return sha256(
      [...files]
        .sort()
        .map((f) => `${f}\0${this.fileHash(f)}\n`)
        .join(''),
    );
  }

  private configDigest(settings: BundleSettings): string {
    const fingerprint = bundlingFingerprint(settings);
    let digest = this.configDigests.get(fingerprint);
    if (digest === undefined) {
      digest = sha256(
        JSON.stringify({
          format: KEY_FORMAT,
          bundling: fingerprint,
          esbuild: esbuildVersion(this.projectRoot),
          files: CONFIG_FILES.map((f) => [f, this.fileHash(f)]),
        }),
      );
      this.configDigests.set(fingerprint, digest);
    }
    return digest;
  }

  /** The custom asset hash for a function's bundle, computed without bundling. */
  bundleKey(entry: string, settings: BundleSettings): string {
    const config = this.configDigest(settings);
    const known = this.manifest.functions[entryKey(entry, this.projectRoot)];
    if (known && known.config === config) {
      const digest = this.digestOf(known.inputs);
      // Same settings, same input files with the same contents: the bundle staged under that key is this bundle.
      if (digest === known.digest) return known.key;
      const earlier = known.history?.[`${config}:${digest}`];
      if (earlier) return earlier;
      return sha256(`${config}:inputs:${digest}`);
    }
    const everything = FALLBACK_ROOTS.flatMap((root) => listFiles(path.join(this.projectRoot, root), this.projectRoot));
    return sha256(`${config}:all:${this.digestOf(everything)}`);
  }

  /** After staging: remember the bundle's inputs (from its metafile) under the key it was staged with. */
  record(entry: string, settings: BundleSettings, key: string, inputs: readonly string[]): void {
    const name = entryKey(entry, this.projectRoot);
    const fresh = readManifest(this.outdir); // another synth into the same outdir may have written meanwhile
    const config = this.configDigest(settings);
    const digest = this.digestOf(inputs);
    const previous = fresh.functions[name];
    const history = Object.entries({
      ...previous?.history,
      ...(previous ? { [`${previous.config}:${previous.digest}`]: previous.key } : {}),
    })
      .filter(([id]) => id !== `${config}:${digest}`)
      .slice(-HISTORY);
    fresh.functions = {
      ...fresh.functions,
      [name]: { key, config, inputs: [...inputs].sort(), digest, history: Object.fromEntries(history) },
    };
    writeManifest(this.outdir, fresh);
    this.manifest = fresh;
  }
}

/**
 * The project files a function's last bundle in `outdir` was built from
 * (absolute paths), for watch mode; [] when the manifest does not know it.
 * `entry` is the entry file (absolute or relative to the project root).
 */
export function functionInputs(outdir: string, entry: string, projectRoot = PROJECT_ROOT): string[] {
  const known = readManifest(outdir).functions[entryKey(entry, projectRoot)];
  return (known?.inputs ?? []).map((p) => path.join(projectRoot, p));
}
