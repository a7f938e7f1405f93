/**
 * Local Lambda service (DESIGN.md §7): runs each function of the template from
 * its bundled asset in execution environments that behave like Lambda's.
 *
 * - One environment = one `node:worker_threads` Worker running bootstrap.mjs:
 *   its own module graph (module state survives warm invocations), its own
 *   process.env (so per-invocation `_X_AMZN_TRACE_ID` is never shared) and one
 *   invocation at a time.
 * - A pool per function: idle warm environments are reused, a new one is
 *   started when all are busy (up to `maxConcurrencyPerFunction`), beyond that
 *   invocations queue.
 * - Timeouts are enforced from this (main) thread: the worker is terminated,
 *   as Lambda discards a timed-out sandbox.
 * - Output is captured per invocation and returned with START/END/REPORT lines
 *   like Lambda's LogResult (the full text, not only the last 4 KB).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { generateTraceHeader } from '../trace.js';
import type { FunctionInvoker, InvokeOptions, InvokeResult, LocalFunctionDefinition } from '../types.js';

export { resolveHandlerFile } from './handler-file.mjs';

export interface LambdaServiceOptions {
  /** Environment every function gets (endpoints, AWS_REGION, dummy credentials...). The host's process.env is not inherited. */
  baseEnvironment: Record<string, string>;
  region?: string;
  accountId?: string;
  /** Execution environments per function before invocations queue. Default 10. */
  maxConcurrencyPerFunction?: number;
  /** Every log line of every function as it is produced, including START/END/REPORT. */
  onLog?: (functionName: string, line: string) => void;
}

/** Environment counts of one function, for diagnostics and tests. */
export interface FunctionPoolStats {
  environments: number;
  busy: number;
  idle: number;
  queued: number;
}

/** Thrown by `invoke` for an unknown function, like Lambda's Invoke API. */
export class ResourceNotFoundException extends Error {
  override readonly name = 'ResourceNotFoundException';
  readonly statusCode = 404;
}

export { generateTraceHeader };

const BOOTSTRAP_URL = new URL('./bootstrap.mjs', import.meta.url);
/** Lambda's INIT phase limit; past it Lambda retries init within the invoke timeout, so the total is 10 s + timeout. */
const INIT_LIMIT_MS = 10_000;
/** How long to wait for the output markers once the result is in (only a handler that hijacks stdout delays them). */
const MARKER_GRACE_MS = 2_000;
const MIB = 1024 * 1024;

type ErrorPayload = { errorType: string; errorMessage: string; trace?: string[] };

/** Messages from bootstrap.mjs. */
type WorkerMessage =
  | { type: 'init'; ok: true; durationMs: number }
  | { type: 'init'; ok: false; error: ErrorPayload; durationMs: number }
  | { type: 'result'; requestId: string; memoryBytes: number; ok: true; payloadJson: string }
  | { type: 'result'; requestId: string; memoryBytes: number; ok: false; error: ErrorPayload; fatal?: boolean }
  | { type: 'fatal'; error: ErrorPayload };

type PhaseOutcome =
  | { kind: 'message'; message: WorkerMessage; lines: string[] }
  | { kind: 'timeout'; lines: string[] }
  | { kind: 'exit'; code: number; error?: Error; lines: string[] };

/**
 * Splits one worker stream into lines and finds the end-of-phase marker the
 * bootstrap writes, so output is attributed to the invocation that wrote it.
 */
class OutputChannel {
  private buffer = '';
  private expected?: { marker: string; seen: () => void };

  constructor(
    stream: Readable,
    private readonly emit: (line: string) => void,
  ) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.drain();
    });
  }

  expect(marker: string, seen: () => void): void {
    this.expected = { marker, seen };
    this.drain();
  }

  cancel(): void {
    this.expected = undefined;
  }

  /** Emit a trailing partial line (the worker is gone or the phase is over). */
  flush(): void {
    if (this.buffer) this.emit(this.buffer);
    this.buffer = '';
  }

  private drain(): void {
    for (;;) {
      const expected = this.expected;
      const markerAt = expected ? this.buffer.indexOf(expected.marker) : -1;
      const newline = this.buffer.indexOf('\n');
      if (expected && markerAt >= 0 && (newline < 0 || markerAt <= newline)) {
        // Text before the marker without a newline still belongs to the phase.
        if (markerAt > 0) this.emit(this.buffer.slice(0, markerAt));
        this.buffer = this.buffer.slice(markerAt + expected.marker.length);
        this.expected = undefined;
        expected.seen();
        continue;
      }
      if (newline < 0) return;
      this.emit(this.buffer.slice(0, newline).replace(/\r$/, ''));
      this.buffer = this.buffer.slice(newline + 1);
    }
  }
}

let markerSeq = 0;
/** Unique per phase; NUL bytes keep it from colliding with handler output. */
function newMarker(): string {
  markerSeq += 1;
  return `\u0000switchyard-lambda-end-${process.pid}-${markerSeq}-${randomBytes(4).toString('hex')}\u0000`;
}

/** One execution environment (a Worker) of one function. */
class ExecutionEnvironment {
  readonly worker: Worker;
  readonly logStreamName: string;
  readonly exited: Promise<void>;
  state: 'initializing' | 'idle' | 'busy' | 'dead' = 'initializing';
  maxMemoryMb = 0;
  /** Set when user code crashed the runtime outside an invocation (e.g. an unhandled rejection during INIT). */
  fatalError?: ErrorPayload;
  /** Set while a phase (init or one invocation) collects its output. */
  private capture?: string[];
  private pending?: { message(msg: Exclude<WorkerMessage, { type: 'fatal' }>): void; exit(code: number): void };
  private readonly stdout: OutputChannel;
  private readonly stderr: OutputChannel;
  private lastError?: Error;
  private exitCode?: number;
  private readonly initMarker = newMarker();

  constructor(
    env: Record<string, string>,
    logStreamName: string,
    def: LocalFunctionDefinition,
    private readonly emitLog: (line: string) => void,
    private readonly onGone: (env: ExecutionEnvironment) => void,
  ) {
    this.logStreamName = logStreamName;
    this.worker = new Worker(BOOTSTRAP_URL, {
      env,
      workerData: { taskRoot: def.assetDir, handler: def.handler, initMarker: this.initMarker },
      stdout: true,
      stderr: true,
      // A clean sandbox: none of the host's flags or loaders (tsx, vitest) in the function.
      execArgv: [],
      // The closest thing to Lambda's memory limit a worker has.
      resourceLimits: { maxOldGenerationSizeMb: Math.max(def.memorySizeMb, 64) },
    });
    const emit = (line: string) => {
      this.capture?.push(line);
      this.emitLog(line);
    };
    this.stdout = new OutputChannel(this.worker.stdout, emit);
    this.stderr = new OutputChannel(this.worker.stderr, emit);
    this.worker.on('message', (msg: WorkerMessage) => {
      if (msg.type === 'fatal') {
        // Uncaught outside an invocation: the runtime would have exited, so
        // this environment must not serve another invocation.
        this.fatalError ??= msg.error;
        if (!this.pending) void this.terminate();
        return;
      }
      this.pending?.message(msg);
    });
    this.worker.on('error', (err) => {
      this.lastError = err;
    });
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', (code) => {
        this.exitCode = code;
        this.stdout.flush();
        this.stderr.flush();
        this.state = 'dead';
        this.pending?.exit(code);
        this.onGone(this);
        resolve();
      });
    });
  }

  /** Wait for the INIT phase the worker starts on its own. */
  initialize(limitMs: number): Promise<PhaseOutcome> {
    return this.phase(this.initMarker, limitMs);
  }

  invoke(message: Record<string, unknown> & { marker: string }, timeoutMs: number): Promise<PhaseOutcome> {
    return this.phase(message.marker, timeoutMs, () => this.worker.postMessage(message));
  }

  async terminate(): Promise<void> {
    this.state = 'dead';
    if (this.exitCode === undefined) await this.worker.terminate();
    await this.exited;
  }

  /**
   * A phase ends when the worker's message and both stream markers are in,
   * when the time limit expires (the worker is terminated), or when the worker
   * exits (process.exit in user code, out of memory, stop()).
   */
  private phase(marker: string, limitMs: number, send?: () => void): Promise<PhaseOutcome> {
    return new Promise((resolve) => {
      const lines: string[] = [];
      if (this.exitCode !== undefined) {
        // Died in between (e.g. a fatal error right after INIT): no phase can run.
        resolve({ kind: 'exit', code: this.exitCode, error: this.lastError, lines });
        return;
      }
      this.capture = lines;
      let message: WorkerMessage | undefined;
      let stdoutSeen = false;
      let stderrSeen = false;
      let timedOut = false;
      let settled = false;
      let grace: NodeJS.Timeout | undefined;
      const settle = (outcome: PhaseOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(limit);
        clearTimeout(grace);
        this.capture = undefined;
        this.pending = undefined;
        this.stdout.cancel();
        this.stderr.cancel();
        resolve(outcome);
      };
      const check = () => {
        if (message && stdoutSeen && stderrSeen) settle({ kind: 'message', message, lines });
      };
      this.stdout.expect(marker, () => {
        stdoutSeen = true;
        check();
      });
      this.stderr.expect(marker, () => {
        stderrSeen = true;
        check();
      });
      this.pending = {
        message: (msg) => {
          if (message) return;
          message = msg;
          clearTimeout(limit);
          check();
          if (!settled) grace = setTimeout(() => settle({ kind: 'message', message: msg, lines }), MARKER_GRACE_MS);
        },
        exit: (code) => {
          if (message) settle({ kind: 'message', message, lines });
          else if (timedOut) settle({ kind: 'timeout', lines });
          else settle({ kind: 'exit', code, error: this.lastError, lines });
        },
      };
      const limit = setTimeout(() => {
        // The sandbox is gone after a timeout, as in Lambda; whatever output
        // arrived before the exit is still reported with the invocation.
        timedOut = true;
        void this.terminate();
      }, limitMs);
      send?.();
    });
  }
}

/** The pool of execution environments of one function. */
class FunctionPool {
  readonly arn: string;
  private readonly envs = new Set<ExecutionEnvironment>();
  private idle: ExecutionEnvironment[] = [];
  private waiters: Array<(env: ExecutionEnvironment | undefined) => void> = [];
  private stopped = false;
  private readonly timeoutSeconds: number;
  private readonly memorySizeMb: number;

  constructor(
    readonly def: LocalFunctionDefinition,
    private readonly region: string,
    accountId: string,
    private readonly baseEnvironment: Record<string, string>,
    private readonly maxConcurrency: number,
    private readonly onLog: (line: string) => void,
  ) {
    this.arn = `arn:aws:lambda:${region}:${accountId}:function:${def.functionName}`;
    this.timeoutSeconds = def.timeoutSeconds > 0 ? def.timeoutSeconds : 3;
    this.memorySizeMb = def.memorySizeMb > 0 ? def.memorySizeMb : 128;
  }

  stats(): FunctionPoolStats {
    const all = [...this.envs];
    return {
      environments: all.length,
      busy: all.filter((e) => e.state === 'busy' || e.state === 'initializing').length,
      idle: this.idle.length,
      queued: this.waiters.length,
    };
  }

  async invoke(event: unknown, options: InvokeOptions): Promise<InvokeResult> {
    const requestId = randomUUID();
    const traceHeader = options.traceHeader ?? generateTraceHeader();
    // Lambda's payload is JSON: the handler gets a parsed copy, never the caller's object.
    const eventJson = event === undefined ? '{}' : JSON.stringify(event);
    const logs: string[] = [];
    const log = (line: string) => {
      logs.push(line);
      this.onLog(line);
    };
    const fail = (error: ErrorPayload, durationMs: number): InvokeResult => ({
      ok: false,
      functionError: 'Unhandled',
      payload: error,
      requestId,
      durationMs,
      logs: logs.join('\n') + '\n',
    });

    const env = await this.acquire();
    if (!env) return fail(stoppedError(requestId), 0);

    // Cold start: the INIT phase runs as part of the first invocation's report.
    let initDurationMs: number | undefined;
    if (env.state === 'initializing') {
      log(`INIT_START Runtime Version: nodejs:${process.versions.node}\tRuntime Version ARN: local`);
      const init = await env.initialize(INIT_LIMIT_MS + this.timeoutSeconds * 1000);
      logs.push(...init.lines);
      let error: ErrorPayload | undefined;
      if (init.kind === 'message' && init.message.type === 'init') {
        initDurationMs = init.message.durationMs;
        if (!init.message.ok) error = init.message.error;
        else if (env.fatalError) error = env.fatalError;
      } else if (init.kind === 'timeout') {
        error = this.timeoutError(requestId);
      } else {
        error = this.exitError(requestId, init, log);
      }
      if (error) {
        // Lambda reports a failed init on the invocation and discards the sandbox.
        log(
          `INIT_REPORT Init Duration: ${(initDurationMs ?? 0).toFixed(2)} ms\tPhase: init\tStatus: error\tError Type: ${error.errorType}`,
        );
        log(`START RequestId: ${requestId} Version: $LATEST`);
        log(`END RequestId: ${requestId}`);
        log(this.reportLine(requestId, 0, env, initDurationMs, `\tStatus: error\tError Type: ${error.errorType}`));
        this.discard(env);
        return fail(error, 0);
      }
    }

    if (env.state !== 'dead') env.state = 'busy';
    const timeoutMs = this.timeoutSeconds * 1000;
    log(`START RequestId: ${requestId} Version: $LATEST`);
    const started = performance.now();
    const outcome = await env.invoke(
      {
        type: 'invoke',
        requestId,
        eventJson,
        traceHeader,
        deadlineMs: Date.now() + timeoutMs,
        invokedFunctionArn: this.arn,
        marker: newMarker(),
      },
      timeoutMs,
    );
    const durationMs = performance.now() - started;
    logs.push(...outcome.lines);

    let result: InvokeResult;
    let status = '';
    if (outcome.kind === 'message' && outcome.message.type === 'result') {
      const msg = outcome.message;
      env.maxMemoryMb = Math.max(env.maxMemoryMb, Math.ceil(msg.memoryBytes / MIB));
      if (msg.ok) {
        result = { ok: true, payload: JSON.parse(msg.payloadJson), requestId, durationMs, logs: '' };
      } else {
        result = fail(msg.error, durationMs);
        if (msg.fatal) status = `\tStatus: error\tError Type: ${msg.error.errorType}`;
      }
      if (msg.ok || !msg.fatal) this.release(env);
      else this.discard(env);
    } else if (outcome.kind === 'timeout') {
      log(`${new Date().toISOString()} ${requestId} Task timed out after ${this.timeoutSeconds.toFixed(2)} seconds`);
      result = fail(this.timeoutError(requestId), durationMs);
      status = '\tStatus: timeout';
      this.discard(env);
    } else {
      const error = this.exitError(requestId, outcome, log);
      result = fail(error, durationMs);
      status = `\tStatus: error\tError Type: ${error.errorType}`;
      this.discard(env);
    }
    log(`END RequestId: ${requestId}`);
    log(this.reportLine(requestId, durationMs, env, initDurationMs, status));
    result.logs = logs.join('\n') + '\n';
    return result;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
    await Promise.all([...this.envs].map((env) => env.terminate()));
  }

  private reportLine(
    requestId: string,
    durationMs: number,
    env: ExecutionEnvironment,
    initDurationMs: number | undefined,
    status: string,
  ): string {
    const init = initDurationMs === undefined ? '' : `\tInit Duration: ${initDurationMs.toFixed(2)} ms`;
    return (
      `REPORT RequestId: ${requestId}\tDuration: ${durationMs.toFixed(2)} ms\tBilled Duration: ${Math.ceil(durationMs)} ms` +
      `\tMemory Size: ${this.memorySizeMb} MB\tMax Memory Used: ${env.maxMemoryMb} MB${init}${status}`
    );
  }

  private timeoutError(requestId: string): ErrorPayload {
    return {
      errorType: 'Sandbox.Timedout',
      errorMessage: `${requestId} Task timed out after ${this.timeoutSeconds.toFixed(2)} seconds`,
    };
  }

  private exitError(requestId: string, outcome: PhaseOutcome, log: (line: string) => void): ErrorPayload {
    if (this.stopped) return stoppedError(requestId);
    const code = outcome.kind === 'exit' ? outcome.code : 1;
    const error = outcome.kind === 'exit' ? outcome.error : undefined;
    const oom = (error as { code?: string } | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
    // The bootstrap catches user errors itself; a worker 'error' means the
    // worker could not run at all (or ran out of memory): show why.
    if (error && !oom) log(`${new Date().toISOString()}	${requestId}	ERROR	${error.stack ?? error.message}`);
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

  /** A warm idle environment (most recently used first), a new one, or a place in the queue. */
  private acquire(): Promise<ExecutionEnvironment | undefined> {
    if (this.stopped) return Promise.resolve(undefined);
    const warm = this.idle.pop();
    if (warm) return Promise.resolve(warm);
    if (this.envs.size < this.maxConcurrency) return Promise.resolve(this.spawn());
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private release(env: ExecutionEnvironment): void {
    if (env.state === 'dead' || env.fatalError) {
      this.discard(env);
      return;
    }
    env.state = 'idle';
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter(env);
      return;
    }
    this.idle.push(env);
  }

  private discard(env: ExecutionEnvironment): void {
    this.forget(env);
    void env.terminate();
  }

  /** Called when an environment is discarded or its worker exits on its own. */
  private forget(env: ExecutionEnvironment): void {
    if (!this.envs.delete(env)) return;
    this.idle = this.idle.filter((e) => e !== env);
    const waiter = this.waiters.shift();
    if (waiter) waiter(this.stopped ? undefined : this.spawn());
  }

  private spawn(): ExecutionEnvironment {
    const stream = logStreamName();
    const env = new ExecutionEnvironment(this.environmentVariables(stream), stream, this.def, this.onLog, (gone) => this.forget(gone));
    this.envs.add(env);
    return env;
  }

  /**
   * Lambda's precedence: its overridable defaults, then (locally) the base
   * environment, then the function's own variables, then the reserved ones the
   * function cannot override. NODE_OPTIONS of the host never gets here.
   */
  private environmentVariables(logStream: string): Record<string, string> {
    const { NODE_OPTIONS: _hostNodeOptions, _X_AMZN_TRACE_ID: _base, ...base } = this.baseEnvironment;
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
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(this.memorySizeMb),
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${name}`,
      AWS_LAMBDA_LOG_STREAM_NAME: logStream,
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_REGION: this.region,
      AWS_DEFAULT_REGION: this.region,
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      LAMBDA_TASK_ROOT: this.def.assetDir,
      _HANDLER: this.def.handler,
    };
  }
}

function stoppedError(requestId: string): ErrorPayload {
  return {
    errorType: 'Runtime.ExitError',
    errorMessage: `RequestId: ${requestId} Error: Runtime exited: the local Lambda service was stopped`,
  };
}

/** `2024/01/31/[$LATEST]<32 hex>`, one per execution environment as in Lambda. */
function logStreamName(): string {
  const d = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/[$LATEST]${randomBytes(16).toString('hex')}`;
}

export class LambdaService implements FunctionInvoker {
  private readonly pools = new Map<string, FunctionPool>();
  private readonly byFunctionName = new Map<string, FunctionPool>();
  private readonly region: string;
  private readonly accountId: string;
  private stopped = false;

  constructor(functions: LocalFunctionDefinition[], options: LambdaServiceOptions) {
    this.region = options.region ?? options.baseEnvironment.AWS_REGION ?? 'us-east-1';
    this.accountId = options.accountId ?? '000000000000';
    const max = Math.max(1, options.maxConcurrencyPerFunction ?? 10);
    for (const def of functions) {
      const onLog = (line: string) => {
        try {
          options.onLog?.(def.functionName, line);
        } catch {
          // a failing log sink must not break invocations
        }
      };
      const pool = new FunctionPool(def, this.region, this.accountId, options.baseEnvironment, max, onLog);
      this.byFunctionName.set(def.functionName, pool);
      this.pools.set(def.functionName, pool);
      this.pools.set(def.logicalId, pool);
    }
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

  /** Terminate every execution environment; queued and running invocations fail. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.byFunctionName.values()].map((pool) => pool.stop()));
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
