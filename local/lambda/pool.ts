/**
 * Execution environments of each function (FunctionPool) under one global
 * cap (Scheduler).
 *
 * - One invocation per environment at a time, as in Lambda. An invocation
 *   takes the most recently used idle environment of its function (so the
 *   others stay idle and get reaped), else starts one if its function is under
 *   `maxConcurrencyPerFunction` and a global slot is free, else waits.
 * - Global cap (`maxEnvironments`): a function that may grow but finds every
 *   slot taken evicts the least recently used idle environment of another
 *   function; with none idle, it waits. Waiters blocked on the global cap are
 *   served oldest first across functions, and a function whose environment
 *   comes free hands it over to an older waiter of another function instead of
 *   its own newer one, so no function starves under sustained load.
 * - Idle environments are reaped after `idleTimeoutMs`; the next invocation
 *   is a cold start again.
 * - A code update retires the function's environments: idle ones are
 *   terminated at once, busy ones finish their invocation and are discarded.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { InvokeOptions, InvokeResult, LocalFunctionDefinition } from '../types.js';
import { ExecutionEnvironment } from './environment.js';
import type { EnvironmentConfig, ErrorPayload, PhaseOutcome } from './environment.js';
import { newLogStreamName, newTraceHeader } from './ids.js';

/** Environment counts of one function, for diagnostics and tests. */
export interface FunctionPoolStats {
  /** Live environments, including those initializing and those retired by a code update that still finish an invocation. */
  environments: number;
  /** Initializing or running an invocation. */
  busy: number;
  idle: number;
  /** Invocations waiting for an environment. */
  queued: number;
  /** Invocations that ran an INIT phase (Init Duration in their REPORT line). */
  coldStarts: number;
  /** Environments started by prewarm(). */
  prewarmed: number;
  /** Environments terminated to save resources: idle past idleTimeoutMs, or evicted to make room for another function. */
  reaped: number;
}

/** What updateFunction() replaced. */
export interface FunctionUpdate {
  /** terminated + draining. */
  replaced: number;
  /** Idle environments terminated at once. */
  terminated: number;
  /** Busy environments that finish their invocation on the old code, then are discarded. */
  draining: number;
}

/** Settings every pool shares. */
export interface PoolSettings {
  region: string;
  accountId: string;
  baseEnvironment: Record<string, string>;
  maxConcurrency: number;
  idleTimeoutMs: number;
  sourceMaps: boolean;
  execArgv: readonly string[];
}

interface Waiter {
  /** Arrival order across all functions (fairness under the global cap). */
  seq: number;
  resolve: (env: ExecutionEnvironment | undefined) => void;
}

type InitType = 'on-demand' | 'provisioned-concurrency';

/** The global cap across all functions and its fair queue. */
export class Scheduler {
  /** Live environments of every function (retired ones included: they still hold memory). */
  live = 0;
  /** Waiting invocations of every function. */
  waiting = 0;
  readonly pools: FunctionPool[] = [];
  private seq = 0;
  private pumping = false;

  constructor(readonly maxEnvironments: number) {}

  nextSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  /**
   * Whether `pool`, which has no waiters, may start an environment now:
   * unless another function waits longer for a slot, take a free slot or
   * evict the least recently used idle environment of another function.
   */
  reserve(pool: FunctionPool): boolean {
    if (this.waiting > 0 && this.oldestGrowable(pool)) return false;
    return this.live < this.maxEnvironments || this.evictLru(pool);
  }

  /** Whether another function's waiter, blocked on the global cap, arrived before `seq`. */
  olderWaiterElsewhere(pool: FunctionPool, seq: number): boolean {
    const other = this.oldestGrowable(pool);
    return other !== undefined && other.headSeq() < seq;
  }

  /**
   * Serve waiters that can be served by starting an environment, oldest first.
   * Not re-entrant: evictions and exits inside the loop call it again.
   */
  pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.waiting > 0) {
        const pool = this.oldestGrowable();
        if (!pool) return;
        if (this.live >= this.maxEnvironments && !this.evictLru(pool)) return;
        pool.spawnForWaiter();
      }
    } finally {
      this.pumping = false;
    }
  }

  /** The function (other than `except`) whose first waiter came first, among those under their own cap. */
  private oldestGrowable(except?: FunctionPool): FunctionPool | undefined {
    let oldest: FunctionPool | undefined;
    for (const pool of this.pools) {
      if (pool === except || !pool.canGrowForWaiter()) continue;
      if (!oldest || pool.headSeq() < oldest.headSeq()) oldest = pool;
    }
    return oldest;
  }

  private evictLru(except: FunctionPool): boolean {
    let victim: ExecutionEnvironment | undefined;
    let owner: FunctionPool | undefined;
    for (const pool of this.pools) {
      if (pool === except) continue;
      const env = pool.leastRecentlyUsedIdle();
      if (env && (!victim || env.idleSince < victim.idleSince)) {
        victim = env;
        owner = pool;
      }
    }
    if (!victim || !owner) return false;
    owner.reap(victim, false);
    return true;
  }
}

const RUNTIME_VERSION_LINE = `INIT_START Runtime Version: nodejs:${process.versions.node}\tRuntime Version ARN: local`;

/** The execution environments of one function. */
export class FunctionPool {
  def: LocalFunctionDefinition;
  config: EnvironmentConfig;
  private readonly envs = new Set<ExecutionEnvironment>();
  /** Live environments that are not retired: what the per-function cap counts. */
  private current = 0;
  /** Least recently used first. */
  private readonly idle: ExecutionEnvironment[] = [];
  private readonly waiters: Waiter[] = [];
  private stopped = false;
  private coldStarts = 0;
  private prewarmed = 0;
  private reaped = 0;
  private readonly onLog: ((line: string) => void) | undefined;
  private readonly onIdleExpired = (env: ExecutionEnvironment) => {
    if (env.state === 'idle') this.reap(env, true);
  };

  constructor(
    def: LocalFunctionDefinition,
    private readonly settings: PoolSettings,
    private readonly scheduler: Scheduler,
    sink: ((functionName: string, line: string) => void) | undefined,
  ) {
    this.def = def;
    // Tagged with the current name: an update may rename the function.
    this.onLog = sink && ((line: string) => sink(this.def.functionName, line));
    this.config = this.configFor(def);
    scheduler.pools.push(this);
  }

  get arn(): string {
    return this.config.arn;
  }

  stats(): FunctionPoolStats {
    let busy = 0;
    for (const env of this.envs) if (env.state === 'busy' || env.state === 'initializing') busy += 1;
    return {
      environments: this.envs.size,
      busy,
      idle: this.idle.length,
      queued: this.waiters.length,
      coldStarts: this.coldStarts,
      prewarmed: this.prewarmed,
      reaped: this.reaped,
    };
  }

  async invoke(event: unknown, options: InvokeOptions): Promise<InvokeResult> {
    const requestId = randomUUID();
    const traceHeader = options.traceHeader ?? newTraceHeader();
    // Lambda's payload is JSON: the handler gets a parsed copy, never the caller's object.
    const eventJson = event === undefined ? '{}' : JSON.stringify(event);
    const logs: string[] = [];

    const acquired = this.acquire();
    const env = acquired instanceof Promise ? await acquired : acquired;
    if (!env) return failure(requestId, stoppedError(requestId), 0, logs);
    const config = env.config;

    // Cold start: the INIT phase runs as part of the first invocation's report.
    let initDurationMs: number | undefined;
    if (env.state === 'initializing') {
      this.coldStarts += 1;
      const init = await env.initialized;
      for (const line of env.initLines) logs.push(line);
      if (init.kind === 'message' && init.message.type === 'init') initDurationMs = init.message.durationMs;
      const error = this.initError(env, init, requestId, logs);
      if (error) {
        // Lambda reports a failed init on the invocation and discards the sandbox.
        this.log(logs, initReportLine(initDurationMs, error));
        this.log(logs, `START RequestId: ${requestId} Version: $LATEST`);
        this.log(logs, `END RequestId: ${requestId}`);
        this.log(logs, reportLine(requestId, 0, config, env, initDurationMs, `\tStatus: error\tError Type: ${error.errorType}`));
        this.discard(env, true);
        return failure(requestId, error, 0, logs);
      }
      env.markBusy();
    }

    const timeoutMs = config.timeoutSeconds * 1000;
    this.log(logs, `START RequestId: ${requestId} Version: $LATEST`);
    const started = performance.now();
    const outcome = await env.invoke(
      { type: 'invoke', requestId, eventJson, traceHeader, deadlineMs: Date.now() + timeoutMs },
      timeoutMs,
      logs,
    );
    const durationMs = performance.now() - started;

    let result: InvokeResult;
    let status = '';
    if (outcome.kind === 'message' && outcome.message.type === 'result') {
      const msg = outcome.message;
      if (msg.ok) {
        result = { ok: true, payload: JSON.parse(msg.payloadJson), requestId, durationMs, logs: '' };
        this.release(env);
      } else {
        result = failure(requestId, msg.error, durationMs, logs);
        if (msg.fatal) {
          status = `\tStatus: error\tError Type: ${msg.error.errorType}`;
          this.discard(env, true);
        } else {
          this.release(env);
        }
      }
    } else if (outcome.kind === 'timeout') {
      this.log(logs, `${new Date().toISOString()} ${requestId} Task timed out after ${config.timeoutSeconds.toFixed(2)} seconds`);
      result = failure(requestId, timeoutError(requestId, config), durationMs, logs);
      status = '\tStatus: timeout';
      this.discard(env, true);
    } else {
      const error = this.exitError(requestId, outcome, logs);
      result = failure(requestId, error, durationMs, logs);
      status = `\tStatus: error\tError Type: ${error.errorType}`;
      this.discard(env, true);
    }
    this.log(logs, `END RequestId: ${requestId}`);
    this.log(logs, reportLine(requestId, durationMs, config, env, initDurationMs, status));
    result.logs = logs.join('\n') + '\n';
    return result;
  }

  /**
   * Start environments until `count` of this function exist (initializing,
   * idle or busy), within the per-function cap and only in free global slots
   * (prewarming never evicts another function's environment nor jumps the
   * queue). INIT runs now, as for provisioned concurrency: its output goes to
   * onLog, the environment says AWS_LAMBDA_INITIALIZATION_TYPE
   * `provisioned-concurrency`, and its first invocation has no INIT phase in its
   * report. Rejects with the INIT error if an environment fails to initialize.
   */
  async prewarm(count: number): Promise<void> {
    const warming: Array<Promise<void>> = [];
    const wanted = Math.min(count, this.settings.maxConcurrency) - this.current;
    for (let i = 0; i < wanted; i += 1) {
      if (this.stopped || this.scheduler.waiting > 0 || this.scheduler.live >= this.scheduler.maxEnvironments) break;
      this.prewarmed += 1;
      warming.push(this.warm(this.spawn('provisioned-concurrency')));
    }
    const failed = (await Promise.allSettled(warming)).find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Replace the function's definition: see FunctionUpdate. */
  update(def: LocalFunctionDefinition): FunctionUpdate {
    this.def = def;
    this.config = this.configFor(def);
    let terminated = 0;
    let draining = 0;
    for (const env of [...this.envs]) {
      if (env.retired || env.state === 'dead') continue;
      if (env.state === 'idle') {
        terminated += 1;
        this.discard(env, false);
      } else {
        env.retired = true;
        this.current -= 1;
        draining += 1;
      }
    }
    // Retiring freed this function's own cap, and terminating freed global slots.
    this.scheduler.pump();
    return { replaced: terminated + draining, terminated, draining };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.scheduler.waiting -= this.waiters.length;
    for (const waiter of this.waiters.splice(0)) waiter.resolve(undefined);
    await Promise.all([...this.envs].map((env) => env.terminate()));
  }

  /* ---------------------------------------------------- for the Scheduler */

  headSeq(): number {
    return this.waiters[0]?.seq ?? Number.POSITIVE_INFINITY;
  }

  canGrowForWaiter(): boolean {
    return !this.stopped && this.waiters.length > 0 && this.current < this.settings.maxConcurrency;
  }

  spawnForWaiter(): void {
    const waiter = this.waiters.shift();
    if (!waiter) return;
    this.scheduler.waiting -= 1;
    waiter.resolve(this.spawn('on-demand'));
  }

  leastRecentlyUsedIdle(): ExecutionEnvironment | undefined {
    return this.idle[0];
  }

  /** Terminate an idle environment to save resources. */
  reap(env: ExecutionEnvironment, pump: boolean): void {
    this.reaped += 1;
    this.discard(env, pump);
  }

  /* ------------------------------------------------------------- internal */

  /** The most recently used idle environment, a new one, or a place in the queue. */
  private acquire(): ExecutionEnvironment | undefined | Promise<ExecutionEnvironment | undefined> {
    if (this.stopped) return undefined;
    const warm = this.idle.pop();
    if (warm) {
      warm.state = 'busy';
      return warm;
    }
    if (this.waiters.length === 0 && this.current < this.settings.maxConcurrency && this.scheduler.reserve(this)) {
      return this.spawn('on-demand');
    }
    return new Promise((resolve) => {
      this.waiters.push({ seq: this.scheduler.nextSeq(), resolve });
      this.scheduler.waiting += 1;
      this.scheduler.pump();
    });
  }

  /** After an invocation that left the environment usable. */
  private release(env: ExecutionEnvironment): void {
    if (env.state === 'dead' || env.fatalError || env.retired) {
      this.discard(env, true);
      return;
    }
    const next = this.waiters[0];
    if (next) {
      if (this.scheduler.waiting > this.waiters.length && this.scheduler.olderWaiterElsewhere(this, next.seq)) {
        // Fairness: another function has waited longer for a slot.
        this.reap(env, true);
        return;
      }
      this.waiters.shift();
      this.scheduler.waiting -= 1;
      env.state = 'busy';
      next.resolve(env);
      return;
    }
    env.state = 'idle';
    env.idleSince = performance.now();
    this.idle.push(env);
    env.armIdleTimer(this.settings.idleTimeoutMs);
    // Another function may be waiting for a slot this idle environment can give up.
    if (this.scheduler.waiting > 0) this.scheduler.pump();
  }

  private async warm(env: ExecutionEnvironment): Promise<void> {
    const init = await env.initialized;
    const error = this.initError(env, init, undefined, undefined);
    if (error) {
      const durationMs = init.kind === 'message' && init.message.type === 'init' ? init.message.durationMs : undefined;
      this.onLog?.(initReportLine(durationMs, error));
      this.discard(env, true);
      const err = new Error(`${this.def.functionName}: INIT failed: ${error.errorType}: ${error.errorMessage}`);
      err.name = error.errorType;
      throw err;
    }
    if (env.state !== 'dead') this.release(env);
  }

  /** The INIT phase's error, if it failed. */
  private initError(
    env: ExecutionEnvironment,
    init: PhaseOutcome,
    requestId: string | undefined,
    logs: string[] | undefined,
  ): ErrorPayload | undefined {
    if (init.kind === 'message' && init.message.type === 'init') {
      if (!init.message.ok) return init.message.error;
      return env.fatalError;
    }
    if (init.kind === 'timeout') return timeoutError(requestId ?? 'INIT', env.config);
    return this.exitError(requestId ?? 'INIT', init, logs);
  }

  private exitError(requestId: string, outcome: PhaseOutcome, logs: string[] | undefined): ErrorPayload {
    if (this.stopped) return stoppedError(requestId);
    const code = outcome.kind === 'exit' ? outcome.code : 1;
    const error = outcome.kind === 'exit' ? outcome.error : undefined;
    const oom = (error as { code?: string } | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
    // The bootstrap catches user errors itself; a worker 'error' means the
    // worker could not run at all (or ran out of memory): show why.
    if (error && !oom) this.log(logs, `${new Date().toISOString()}\t${requestId}\tERROR\t${error.stack ?? error.message}`);
    if (oom) {
      return {
        errorType: 'Runtime.OutOfMemory',
        errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: signal: killed`,
      };
    }
    return {
      errorType: 'Runtime.ExitError',
      errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: exit status ${code}`,
    };
  }

  private log(logs: string[] | undefined, line: string): void {
    logs?.push(line);
    this.onLog?.(line);
  }

  private discard(env: ExecutionEnvironment, pump: boolean): void {
    this.forget(env, pump);
    void env.terminate();
  }

  /** Called when an environment is discarded or its worker exits on its own. */
  private forget(env: ExecutionEnvironment, pump: boolean): void {
    if (!this.envs.delete(env)) return;
    if (!env.retired) this.current -= 1;
    this.scheduler.live -= 1;
    const at = this.idle.indexOf(env);
    if (at >= 0) this.idle.splice(at, 1);
    if (pump && this.scheduler.waiting > 0) this.scheduler.pump();
  }

  private spawn(initType: InitType): ExecutionEnvironment {
    const stream = newLogStreamName();
    // The function's NODE_OPTIONS stays out of the Worker's env: Node parses
    // NODE_OPTIONS from it for the worker (a --require there would be
    // preloaded, --enable-source-maps applied); the bootstrap puts it back in
    // process.env for user code to read. See EnvironmentConfig.nodeOptions.
    const { NODE_OPTIONS: nodeOptions, ...variables } = this.environmentVariables(stream, initType);
    const env = new ExecutionEnvironment(this.config, variables, nodeOptions, this.onLog, (gone) => this.forget(gone, true));
    env.onIdleExpired = this.onIdleExpired;
    env.logInit(RUNTIME_VERSION_LINE);
    this.envs.add(env);
    this.current += 1;
    this.scheduler.live += 1;
    return env;
  }

  private configFor(def: LocalFunctionDefinition): EnvironmentConfig {
    return {
      assetDir: def.assetDir,
      handler: def.handler,
      arn: `arn:aws:lambda:${this.settings.region}:${this.settings.accountId}:function:${def.functionName}`,
      timeoutSeconds: def.timeoutSeconds > 0 ? def.timeoutSeconds : 3,
      memorySizeMb: def.memorySizeMb > 0 ? def.memorySizeMb : 128,
      sourceMaps: this.settings.sourceMaps,
      execArgv: this.settings.execArgv,
    };
  }

  /**
   * Lambda's precedence: its overridable defaults, then (locally) the base
   * environment, then the function's own variables, then the reserved ones the
   * function cannot override. NODE_OPTIONS of the host never gets here.
   */
  private environmentVariables(logStream: string, initType: InitType): Record<string, string> {
    const { NODE_OPTIONS: _hostNodeOptions, _X_AMZN_TRACE_ID: _base, ...base } = this.settings.baseEnvironment;
    const { _X_AMZN_TRACE_ID: _fn, ...own } = this.def.environment;
    const name = this.def.functionName;
    return {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      LANG: 'en_US.UTF-8',
      TZ: ':UTC',
      AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
      ...base,
      ...own,
      AWS_LAMBDA_FUNCTION_NAME: name,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(this.config.memorySizeMb),
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${name}`,
      AWS_LAMBDA_LOG_STREAM_NAME: logStream,
      AWS_LAMBDA_INITIALIZATION_TYPE: initType,
      AWS_REGION: this.settings.region,
      AWS_DEFAULT_REGION: this.settings.region,
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      LAMBDA_TASK_ROOT: this.def.assetDir,
      _HANDLER: this.def.handler,
    };
  }
}

function failure(requestId: string, error: ErrorPayload, durationMs: number, logs: string[]): InvokeResult {
  return { ok: false, functionError: 'Unhandled', payload: error, requestId, durationMs, logs: logs.join('\n') + '\n' };
}

export function stoppedError(requestId: string): ErrorPayload {
  return {
    errorType: 'Runtime.ExitError',
    errorMessage: `RequestId: ${requestId} Error: Runtime exited: the local Lambda service was stopped`,
  };
}

function timeoutError(requestId: string, config: EnvironmentConfig): ErrorPayload {
  return {
    errorType: 'Sandbox.Timedout',
    errorMessage: `${requestId} Task timed out after ${config.timeoutSeconds.toFixed(2)} seconds`,
  };
}

function initReportLine(initDurationMs: number | undefined, error: ErrorPayload): string {
  return `INIT_REPORT Init Duration: ${(initDurationMs ?? 0).toFixed(2)} ms\tPhase: init\tStatus: error\tError Type: ${error.errorType}`;
}

function reportLine(
  requestId: string,
  durationMs: number,
  config: EnvironmentConfig,
  env: ExecutionEnvironment,
  initDurationMs: number | undefined,
  status: string,
): string {
  const init = initDurationMs === undefined ? '' : `\tInit Duration: ${initDurationMs.toFixed(2)} ms`;
  return (
    `REPORT RequestId: ${requestId}\tDuration: ${durationMs.toFixed(2)} ms\tBilled Duration: ${Math.ceil(durationMs)} ms` +
    `\tMemory Size: ${config.memorySizeMb} MB\tMax Memory Used: ${env.maxMemoryMb} MB${init}${status}`
  );
}
