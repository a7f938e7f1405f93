import { Duration, RemovalPolicy, Stack, Stage, type CfnResource } from 'aws-cdk-lib';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import type { Construct, IConstruct } from 'constructs';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { BundleCache } from './bundle-cache.js';
import { ENTRY_METADATA, functionEntry, METAFILE, nodejsBundling, projectInputsOf, PROJECT_ROOT, type BundleSettings } from './bundling.js';

/** `-c switchyard:debug=true`: functions run with source maps applied to stack traces (costly at start-up, so opt-in). */
export const DEBUG_CONTEXT = 'switchyard:debug';
/** Set by the local runtime: key bundles by their inputs so a restart re-uses them (lib/bundle-cache.ts). */
export const BUNDLE_CACHE_CONTEXT = 'switchyard:local:bundleCache';

export interface SwitchyardFunctionProps extends Omit<NodejsFunctionProps, 'entry'> {
  /** Folder under functions/, e.g. `receivers`. */
  name: string;
  serviceVersion: string;
  /** The project the function belongs to (default: this repository); tests point it at fixture projects. */
  projectRoot?: string;
}

function contextFlag(scope: IConstruct, key: string): boolean {
  const value = scope.node.tryGetContext(key) as unknown;
  return value === true || value === 'true';
}

/** One bundle cache per synth (per App), so file contents are hashed once per synth and never reused across synths. */
const caches = new WeakMap<IConstruct, BundleCache>();

function bundleCacheOf(scope: Construct, projectRoot: string): BundleCache | undefined {
  if (!contextFlag(scope, BUNDLE_CACHE_CONTEXT) || !Stack.of(scope).bundlingRequired) return undefined;
  const outdir = Stage.of(scope)?.assetOutdir;
  if (!outdir) return undefined;
  const root = scope.node.root;
  let cache = caches.get(root);
  if (!cache || cache.outdir !== outdir || cache.projectRoot !== projectRoot) {
    cache = new BundleCache(outdir, projectRoot);
    caches.set(root, cache);
  }
  return cache;
}

/**
 * Every Lambda of the stack: Node 22 on arm64, bundled by the local esbuild
 * (no Docker) as ESM with the AWS SDK inside the bundle so the code runs
 * against the SDK version it was tested with (lib/bundling.ts), X-Ray active
 * and Powertools configured.
 *
 * Asset hashes: `cdk synth`/deploy keep CDK's default (a hash of the bundle
 * output), so what is deployed is exactly what was built and an unchanged
 * bundle never updates a function. The input-keyed cache is for the local
 * runtime only (context `switchyard:local:bundleCache`): its key trusts
 * package-lock.json to describe node_modules and cannot see a new file that
 * changes how an import resolves (lib/bundle-cache.ts), which is fine for a
 * restart on a developer machine but is not a guarantee worth trading for
 * deploys, where a fresh bundle costs seconds once per deploy.
 */
export class SwitchyardFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: SwitchyardFunctionProps) {
    const { name, serviceVersion, environment, projectRoot = PROJECT_ROOT, ...rest } = props;
    const entry = functionEntry(name, projectRoot);
    const cache = bundleCacheOf(scope, projectRoot);
    const settings: BundleSettings = { metafile: cache !== undefined };
    const assetHash = cache?.bundleKey(entry, settings);
    const logGroup = new LogGroup(scope, `${id}Logs`, { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    super(scope, id, {
      entry,
      handler: 'handler',
      projectRoot,
      depsLockFilePath: path.join(projectRoot, 'package-lock.json'),
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.seconds(10),
      tracing: Tracing.ACTIVE,
      logGroup,
      bundling: { ...nodejsBundling(settings), ...(assetHash ? { assetHash } : {}) },
      environment: {
        // Source maps are always built; applying them costs start-up time and memory, so only when debugging.
        ...(contextFlag(scope, DEBUG_CONTEXT) ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
        POWERTOOLS_SERVICE_NAME: 'switchyard',
        POWERTOOLS_METRICS_NAMESPACE: 'Switchyard',
        POWERTOOLS_LOG_LEVEL: 'INFO',
        POWERTOOLS_TRACER_CAPTURE_RESPONSE: 'false',
        SWITCHYARD_VERSION: serviceVersion,
        ...environment,
      },
      ...rest,
    });
    (this.node.defaultChild as CfnResource).addMetadata(ENTRY_METADATA, path.relative(projectRoot, entry).split(path.sep).join('/'));
    if (cache && assetHash) this.recordInputs(cache, entry, settings, assetHash);
  }

  /** Reads the staged bundle's metafile and remembers the function's inputs for the next synth. */
  private recordInputs(cache: BundleCache, entry: string, settings: BundleSettings, key: string): void {
    const asset = this.node.tryFindChild('Code') as Asset | undefined;
    const outdir = Stage.of(this)?.outdir;
    if (!asset?.assetPath || !outdir) return;
    const metafile = path.resolve(outdir, asset.assetPath, METAFILE);
    if (!existsSync(metafile)) return;
    const inputs = projectInputsOf(JSON.parse(readFileSync(metafile, 'utf8')) as { inputs: Record<string, unknown> });
    cache.record(entry, settings, key, inputs);
  }
}
