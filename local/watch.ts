/**
 * `npm start -- --watch`: re-bundles only the functions whose sources
 * changed and swaps their execution environments in place (in-flight
 * invocations finish on the old code), without a restart.
 *
 * Which files a function is built from comes from its bundle's esbuild
 * metafile (`index.meta.json`, written by the bundle cache); the re-bundle
 * uses the very options of the synth (lib/bundling.ts), so the code that
 * runs after a reload is the code that would deploy. A change under lib/ (the
 * infrastructure) needs a restart: the watcher says so instead of guessing.
 *
 * chokidar watches the folders: Node 20's own recursive `fs.watch` on Linux
 * loses a file that an editor or git replaces (unlink, then create).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { watch } from 'chokidar';
import { context as esbuildContext, type BuildContext } from 'esbuild';
import { BUNDLE_FILE, esbuildOptions, METAFILE, projectInputsOf } from '../lib/bundling.js';
import type { LambdaService } from './lambda/service.js';
import type { LocalFunctionDefinition } from './types.js';

export interface WatchOptions {
  /** One line per reload: which functions and how long it took. */
  onReload(line: string): void;
  onError(line: string): void;
  /** Project root (tests point it at a copy). */
  projectRoot?: string;
  /** Quiet period before a burst of file events is handled. */
  debounceMs?: number;
  /** Watch the folders (default); tests that drive `changed()` themselves turn it off. */
  watchFiles?: boolean;
}

export interface FunctionWatcher {
  /** Re-bundles and swaps the functions built from these files (what a file event triggers); resolves when done. */
  changed(files: string[]): Promise<string[]>;
  /** Resolves once the file watcher has scanned the folders (changes before that are not seen). */
  ready: Promise<void>;
  close(): void;
}

interface Watched {
  definition: LocalFunctionDefinition;
  entry: string;
  inputs: Set<string>;
  generation: number;
  /** The folders earlier reloads bundled into, newest last (an environment still starting may be reading the previous one). */
  reloadDirs: string[];
  /** esbuild's incremental build of this function: a rebuild re-reads only what changed. */
  build?: Promise<BuildContext>;
}

/**
 * Re-bundles one function with the synth's own esbuild options into `outDir`
 * (a new folder per reload: environments still running the old code keep
 * their files). The incremental context is kept between reloads.
 */
async function rebundle(w: Watched, outDir: string, projectRoot: string): Promise<{ durationMs: number; inputs: string[] }> {
  const started = performance.now();
  // Written in memory, then into the reload's own folder.
  w.build ??= esbuildContext({
    ...esbuildOptions(w.entry, path.join(projectRoot, '.switchyard', 'watch-build'), { metafile: true }, projectRoot),
    write: false,
    logLevel: 'silent',
  });
  const result = await (await w.build).rebuild();
  mkdirSync(outDir, { recursive: true });
  for (const file of result.outputFiles ?? []) writeFileSync(path.join(outDir, path.basename(file.path)), file.contents);
  const metafile = result.metafile ?? { inputs: {}, outputs: {} };
  writeFileSync(path.join(outDir, METAFILE), JSON.stringify(metafile));
  if (!existsSync(path.join(outDir, BUNDLE_FILE))) throw new Error(`esbuild wrote no ${BUNDLE_FILE}`);
  return { durationMs: performance.now() - started, inputs: projectInputsOf(metafile).map((p) => path.resolve(projectRoot, p)) };
}

/** The entry point and project inputs of a bundle, from its metafile. */
function readMetafile(assetDir: string, projectRoot: string): { entry: string; inputs: string[] } | undefined {
  const file = path.join(assetDir, METAFILE);
  if (!existsSync(file)) return undefined;
  const metafile = JSON.parse(readFileSync(file, 'utf8')) as {
    inputs: Record<string, unknown>;
    outputs: Record<string, { entryPoint?: string }>;
  };
  const entry = Object.values(metafile.outputs).find((o) => o.entryPoint)?.entryPoint;
  if (!entry) return undefined;
  return { entry: path.resolve(projectRoot, entry), inputs: projectInputsOf(metafile).map((p) => path.resolve(projectRoot, p)) };
}

export function watchFunctions(
  runtime: { lambda: Pick<LambdaService, 'updateFunction'>; functions: LocalFunctionDefinition[]; assemblyDir: string },
  options: WatchOptions,
): FunctionWatcher {
  const projectRoot = options.projectRoot ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
  const watched = new Map<string, Watched>();
  for (const definition of runtime.functions) {
    const meta = readMetafile(definition.assetDir, projectRoot);
    if (!meta) {
      options.onError(`${definition.functionName}: no ${METAFILE} beside its bundle, so it is not watched`);
      continue;
    }
    watched.set(definition.logicalId, { definition, entry: meta.entry, inputs: new Set(meta.inputs), generation: 0, reloadDirs: [] });
  }

  let reloading = Promise.resolve<string[]>([]);
  const reload = async (files: string[]): Promise<string[]> => {
    const changed = files.map((f) => path.resolve(projectRoot, f));
    if (changed.some((f) => f.startsWith(path.join(projectRoot, 'lib') + path.sep))) {
      options.onReload(
        `${changed.map((f) => path.relative(projectRoot, f)).join(', ')} changed: the stack itself changed, restart to apply`,
      );
    }
    const affected = [...watched.values()].filter((w) =>
      changed.some((f) => w.inputs.has(f) || f.startsWith(path.dirname(w.entry) + path.sep)),
    );
    if (affected.length === 0) return [];
    const started = performance.now();
    const results = await Promise.all(
      affected.map(async (w) => {
        const generation = w.generation + 1;
        const outDir = path.join(runtime.assemblyDir, 'watch', `${w.definition.logicalId}.${generation}`);
        try {
          const bundled = await rebundle(w, outDir, projectRoot);
          runtime.lambda.updateFunction({ ...w.definition, assetDir: outDir });
          // Keep the previous generation: an environment that started just before the swap may still be loading it.
          w.reloadDirs.push(outDir);
          for (const old of w.reloadDirs.splice(0, Math.max(0, w.reloadDirs.length - 2))) rmSync(old, { recursive: true, force: true });
          Object.assign(w, { generation, inputs: new Set(bundled.inputs), definition: { ...w.definition, assetDir: outDir } });
          return { name: w.definition.functionName, ms: bundled.durationMs };
        } catch (error) {
          rmSync(outDir, { recursive: true, force: true });
          // esbuild's message names the file and line; the old code keeps running.
          options.onError(`${w.definition.functionName}: not reloaded, the bundle failed: ${(error as Error).message}`);
          return undefined;
        }
      }),
    );
    const reloaded = results.filter((r): r is { name: string; ms: number } => r !== undefined);
    if (reloaded.length > 0) {
      const total = Math.round(performance.now() - started);
      options.onReload(
        `reloaded ${reloaded.map((r) => `${r.name.replace(/^Switchyard-/, '')} (bundle ${Math.round(r.ms)} ms)`).join(', ')} in ${total} ms`,
      );
    }
    return reloaded.map((r) => r.name);
  };
  // Reloads run one after another: a second save during a bundle waits for it.
  const changed = (files: string[]) => (reloading = reloading.then(() => reload(files)));

  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  const folders =
    options.watchFiles === false ? [] : ['functions', 'shared', 'lib'].map((f) => path.join(projectRoot, f)).filter((f) => existsSync(f));
  const watcher = watch(folders, {
    ignoreInitial: true,
    ignored: (file, stats) => Boolean(stats?.isFile() && !/\.(ts|mts|js|mjs|json)$/.test(file)),
  });
  watcher.on('all', (_event, file) => {
    pending.add(path.resolve(file));
    clearTimeout(timer);
    // Editors write a file in several steps: handle a burst once.
    timer = setTimeout(() => {
      const files = [...pending];
      pending.clear();
      void changed(files);
    }, options.debounceMs ?? 100);
  });
  watcher.on('error', (error) => options.onError(`file watcher: ${(error as Error).message}`));
  const ready = folders.length === 0 ? Promise.resolve() : new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  return {
    changed,
    ready,
    close() {
      clearTimeout(timer);
      void watcher.close();
      for (const w of watched.values()) void w.build?.then((b) => b.dispose());
    },
  };
}
