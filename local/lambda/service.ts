/**
 * Local Lambda service (DESIGN.md §7): runs each function of the template from
 * its bundled asset in execution environments that behave like Lambda's.
 *
 * - One environment = one `node:worker_threads` Worker running bootstrap.mjs
 *   (environment.ts): its own module graph (module state survives warm
 *   invocations), its own process.env (so per-invocation `_X_AMZN_TRACE_ID` is
 *   never shared) and one invocation at a time.
 * - Environments are capped per function and overall, reaped when idle, and
 *   replaced on a code update (pool.ts).
 * - Timeouts are enforced from this (main) thread: the worker is terminated,
 *   as Lambda discards a timed-out sandbox.
 * - Output is captured per invocation and returned with START/END/REPORT lines
 *   like Lambda's LogResult (the full text, not only the last 4 KB).
 */
import { availableParallelism } from 'node:os';
import { generateTraceHeader } from '../trace.js';
import type { FunctionInvoker, InvokeOptions, InvokeResult, LocalFunctionDefinition } from '../types.js';
import { FunctionPool, Scheduler } from './pool.js';
import type { FunctionPoolStats, FunctionUpdate, PoolSettings } from './pool.js';

export { resolveHandlerFile } from './handler-file.mjs';
export type { FunctionPoolStats, FunctionUpdate } from './pool.js';

export interface LambdaServiceOptions {
  /** Environment every function gets (endpoints, AWS_REGION, dummy credentials...). The host's process.env is not inherited. */
  baseEnvironment: Record<string, string>;
  region?: string;
  accountId?: string;
  /**
   * Execution environments per function before its invocations queue.
   * Default `min(4, os.availableParallelism())`: environments are threads of
   * this one process, so more of one function than there are cores adds
   * memory (each is an isolate with the whole bundle loaded) without adding
   * throughput; 4 keeps a function's I/O-bound concurrency (waiting on DynamoDB
   * Local, SQS) on a bigger machine.
   */
  maxConcurrencyPerFunction?: number;
  /**
   * Execution environments across all functions. Default
   * `2 × os.availableParallelism() + 4` (8 on 2 cores): twice the cores lets
   * I/O-bound handlers overlap while CPU-bound ones already saturate the cores;
   * the + 4 leaves room for the few functions one request chain touches (the
   * authorizer, the route, an async consumer) to stay warm side by side on a
   * small machine. At ~30 MB of RSS per environment with the project's
   * bundles (bench/lambda.ts --memory) that bounds the environments near
   * 250 MB instead of growing with every function (10 per function before:
   * 1.1 GB after a 32-connection load).
   */
  maxEnvironments?: number;
  /** An idle environment is terminated after this long; the next invocation is a cold start. Default 5 minutes. */
  idleTimeoutMs?: number;
  /**
   * Debugging (`switchyard local --debug`): source maps on in every
   * environment (stack traces point at the TypeScript sources). Off by
   * default, and a function's NODE_OPTIONS=--enable-source-maps is then
   * ignored: see bootstrap.mjs.
   */
  debug?: boolean;
  /** Node flags for every environment's worker, e.g. `['--cpu-prof', '--cpu-prof-dir', dir]`; none by default (the host's flags and loaders never leak in). */
  execArgv?: string[];
  /** Every log line of every function as it is produced, including START/END/REPORT. */
  onLog?: (functionName: string, line: string) => void;
}

/** Thrown by `invoke` for an unknown function, like Lambda's Invoke API. */
export class ResourceNotFoundException extends Error {
  override readonly name = 'ResourceNotFoundException';
  readonly statusCode = 404;
}

export { generateTraceHeader };

/** Default idle lifetime of an environment. */
export const DEFAULT_IDLE_TIMEOUT_MS = 5 * 60_000;

export class LambdaService implements FunctionInvoker {
  private readonly pools = new Map<string, FunctionPool>();
  private readonly byFunctionName = new Map<string, FunctionPool>();
  private readonly region: string;
  private readonly accountId: string;
  private readonly settings: PoolSettings;
  private readonly scheduler: Scheduler;
  private readonly onLog: LambdaServiceOptions['onLog'];
  private stopped = false;

  constructor(functions: LocalFunctionDefinition[], options: LambdaServiceOptions) {
    this.region = options.region ?? options.baseEnvironment.AWS_REGION ?? 'us-east-1';
    this.accountId = options.accountId ?? '000000000000';
    const cores = availableParallelism();
    this.settings = {
      region: this.region,
      accountId: this.accountId,
      baseEnvironment: options.baseEnvironment,
      maxConcurrency: Math.max(1, options.maxConcurrencyPerFunction ?? Math.min(4, cores)),
      idleTimeoutMs: Math.max(1, options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS),
      sourceMaps: options.debug === true,
      execArgv: [...(options.execArgv ?? [])],
    };
    this.scheduler = new Scheduler(Math.max(1, options.maxEnvironments ?? 2 * cores + 4));
    this.onLog = options.onLog;
    for (const def of functions) this.addFunction(def);
  }

  /**
   * Invoke by physical name, logical id, or ARN (`arn:aws:lambda:...:function:<name>[:qualifier]`),
   * as Step Functions and the SDK pass it.
   */
  async invoke(functionNameOrLogicalId: string, event: unknown, options: InvokeOptions = {}): Promise<InvokeResult> {
    if (this.stopped) throw new Error('LambdaService has been stopped');
    return this.pool(functionNameOrLogicalId).invoke(event, options);
  }

  /** The function's ARN, for callers that build events or contexts. */
  functionArn(functionNameOrLogicalId: string): string {
    return this.pool(functionNameOrLogicalId).arn;
  }

  /** Environment counts per function name. */
  stats(): Record<string, FunctionPoolStats> {
    return Object.fromEntries([...this.byFunctionName].map(([name, pool]) => [name, pool.stats()]));
  }

  /**
   * Replace a function's code and definition (`switchyard local --watch`
   * after a re-bundle), found by its logical id (else its name). New
   * invocations get new environments built from `def`; idle environments of
   * the old code are terminated now; busy ones finish their invocation on the
   * old code and are then discarded, never reused.
   */
  updateFunction(def: LocalFunctionDefinition): FunctionUpdate {
    if (this.stopped) throw new Error('LambdaService has been stopped');
    const pool = this.pools.get(def.logicalId) ?? this.byFunctionName.get(def.functionName);
    if (!pool) {
      throw new ResourceNotFoundException(
        `Function not found: arn:aws:lambda:${this.region}:${this.accountId}:function:${def.functionName}`,
      );
    }
    const before = pool.def;
    this.pools.delete(before.functionName);
    this.pools.delete(before.logicalId);
    this.byFunctionName.delete(before.functionName);
    const update = pool.update(def);
    this.index(pool);
    return update;
  }

  /**
   * Start `count` environments of a function ahead of its invocations and run
   * their INIT now, as provisioned concurrency does (their first invocation
   * reports no Init Duration). See FunctionPool.prewarm for the limits.
   */
  async prewarm(functionNameOrLogicalId: string, count = 1): Promise<void> {
    if (this.stopped) throw new Error('LambdaService has been stopped');
    await this.pool(functionNameOrLogicalId).prewarm(count);
  }

  /** Terminate every execution environment; queued and running invocations fail. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.byFunctionName.values()].map((pool) => pool.stop()));
  }

  /** The definitions of every function, in the order they were added. */
  definitions(): LocalFunctionDefinition[] {
    return [...this.byFunctionName.values()].map((pool) => pool.def);
  }

  /** Adds a function (the Lambda provider, as it creates the template's functions in dependency order). */
  addFunction(def: LocalFunctionDefinition): void {
    if (this.stopped) throw new Error('LambdaService has been stopped');
    const sink = this.onLog;
    const onLog = sink
      ? (functionName: string, line: string) => {
          try {
            sink(functionName, line);
          } catch {
            // a failing log sink must not break invocations
          }
        }
      : undefined;
    this.index(new FunctionPool(def, this.settings, this.scheduler, onLog));
  }

  private index(pool: FunctionPool): void {
    this.byFunctionName.set(pool.def.functionName, pool);
    this.pools.set(pool.def.functionName, pool);
    this.pools.set(pool.def.logicalId, pool);
  }

  private pool(id: string): FunctionPool {
    let key = id;
    const arn = /^arn:aws[\w-]*:lambda:[^:]*:[^:]*:function:([^:]+)(?::[^:]+)?$/.exec(id);
    if (arn?.[1]) key = arn[1];
    const pool = this.pools.get(key);
    if (!pool) {
      throw new ResourceNotFoundException(`Function not found: arn:aws:lambda:${this.region}:${this.accountId}:function:${key}`);
    }
    return pool;
  }
}
