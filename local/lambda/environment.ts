/**
 * One execution environment of one function: a `node:worker_threads` Worker
 * running bootstrap.mjs, seen from the main thread.
 *
 * The worker starts its INIT phase on its own as soon as it exists; this class
 * collects that phase (`initialized`), then runs one invocation at a time
 * (`invoke`). Everything the worker says arrives on one MessagePort in the
 * order it was said: log lines (strings) and phase outcomes (objects). A phase
 * therefore ends exactly when its outcome message arrives, with all its output
 * already in, or when the worker exits (process.exit in user code, out of
 * memory, timeout, stop()).
 */
import { Worker } from 'node:worker_threads';

export type ErrorPayload = { errorType: string; errorMessage: string; trace?: string[] };

/** Outcome messages from bootstrap.mjs (log lines are plain strings or arrays of strings). */
export type WorkerMessage =
  | { type: 'init'; ok: true; durationMs: number }
  | { type: 'init'; ok: false; error: ErrorPayload; durationMs: number }
  | { type: 'result'; requestId: string; memoryBytes: number; ok: true; payloadJson: string }
  | { type: 'result'; requestId: string; memoryBytes: number; ok: false; error: ErrorPayload; fatal?: boolean }
  | { type: 'fatal'; error: ErrorPayload };

export type PhaseOutcome =
  | { kind: 'message'; message: Exclude<WorkerMessage, { type: 'fatal' }> }
  | { kind: 'timeout' }
  | { kind: 'exit'; code: number; error?: Error };

/** What an environment needs of its function, fixed for the environment's life (a code update makes new environments). */
export interface EnvironmentConfig {
  assetDir: string;
  handler: string;
  arn: string;
  timeoutSeconds: number;
  memorySizeMb: number;
  /** Source maps on (LambdaService option `debug`). */
  sourceMaps: boolean;
  /** Extra Node flags for the worker (profiling). */
  execArgv: readonly string[];
}

/** Message to bootstrap.mjs; the ARN and handler are in workerData. */
export interface InvokeMessage {
  type: 'invoke';
  requestId: string;
  eventJson: string;
  traceHeader: string;
  deadlineMs: number;
}

const BOOTSTRAP_URL = new URL('./bootstrap.mjs', import.meta.url);
/** Lambda's INIT phase limit; past it Lambda retries init within the invoke timeout, so the total is 10 s + timeout. */
export const INIT_LIMIT_MS = 10_000;
const MIB = 1024 * 1024;

interface Phase {
  /** Where the phase's output goes besides onLog (the invocation's log), if anywhere. */
  lines: string[] | undefined;
  resolve: (outcome: PhaseOutcome) => void;
  timedOut: boolean;
}

/** Timer callbacks take the environment as an argument: no closure per invocation. */
function onPhaseLimit(env: ExecutionEnvironment): void {
  env.expirePhase();
}
function onIdleTimer(env: ExecutionEnvironment): void {
  env.onIdleExpired?.(env);
}

export class ExecutionEnvironment {
  readonly worker: Worker;
  readonly exited: Promise<void>;
  state: 'initializing' | 'idle' | 'busy' | 'dead' = 'initializing';
  /** Replaced by a code update: finishes what it runs, then is discarded, never reused. */
  retired = false;
  maxMemoryMb = 0;
  /** performance.now() when it last became idle (LRU eviction order). */
  idleSince = 0;
  /** Set when user code crashed the runtime outside an invocation (e.g. an unhandled rejection during INIT). */
  fatalError?: ErrorPayload;
  /** The INIT phase, started with the worker; its output is in `initLines`. */
  readonly initialized: Promise<PhaseOutcome>;
  readonly initLines: string[] = [];
  /** Called by the idle timer (see armIdleTimer). */
  onIdleExpired?: (env: ExecutionEnvironment) => void;
  private phase?: Phase;
  private phaseTimer?: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;
  private lastError?: Error;
  private exitCode?: number;
  /** Fallback for output that bypassed the bootstrap's capture: partial line per stream. */
  private readonly stray = { stdout: '', stderr: '' };

  constructor(
    readonly config: EnvironmentConfig,
    env: Record<string, string>,
    nodeOptions: string | undefined,
    private readonly emitLog: ((line: string) => void) | undefined,
    private readonly onGone: (env: ExecutionEnvironment) => void,
  ) {
    this.worker = new Worker(BOOTSTRAP_URL, {
      env,
      workerData: {
        taskRoot: config.assetDir,
        handler: config.handler,
        invokedFunctionArn: config.arn,
        sourceMaps: config.sourceMaps,
        nodeOptions,
      },
      // Only a fallback: the bootstrap sends output on the message port. What
      // still arrives here bypassed its capture (see captureStream in
      // bootstrap.mjs); piping it keeps it out of the host's own stdout (which
      // `switchyard invoke` uses for the result) and in the function's log.
      stdout: true,
      stderr: true,
      // A clean sandbox: none of the host's flags or loaders (tsx, vitest) in the function.
      execArgv: [...config.execArgv],
      // The closest thing to Lambda's memory limit a worker has.
      resourceLimits: { maxOldGenerationSizeMb: Math.max(config.memorySizeMb, 64) },
    });
    this.readStray('stdout');
    this.readStray('stderr');
    this.worker.on('message', (msg: WorkerMessage | string | string[]) => this.onMessage(msg));
    this.worker.on('error', (err) => {
      this.lastError = err;
    });
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', (code) => {
        this.exitCode = code;
        this.flushStray();
        this.state = 'dead';
        clearTimeout(this.idleTimer);
        const phase = this.endPhase();
        if (phase)
          phase.resolve(
            phase.timedOut ? { kind: 'timeout' } : { kind: 'exit', code, ...(this.lastError ? { error: this.lastError } : {}) },
          );
        this.onGone(this);
        resolve();
      });
    });
    this.initialized = this.startPhase(this.initLines, INIT_LIMIT_MS + config.timeoutSeconds * 1000);
  }

  /** INIT is over and an invocation follows (a fatal error in between may already have killed it). */
  markBusy(): void {
    if (this.state !== 'dead') this.state = 'busy';
  }

  /** Log a platform line (INIT_START...) as part of the INIT phase's output. */
  logInit(line: string): void {
    this.initLines.push(line);
    this.emitLog?.(line);
  }

  /** Run one invocation; its output is appended to `lines` (and sent to onLog) as it arrives. */
  invoke(message: InvokeMessage, timeoutMs: number, lines: string[]): Promise<PhaseOutcome> {
    const outcome = this.startPhase(lines, timeoutMs);
    if (this.phase) this.worker.postMessage(message);
    return outcome;
  }

  /** Terminate the worker; resolves once it is gone. */
  async terminate(): Promise<void> {
    this.state = 'dead';
    if (this.exitCode === undefined) await this.worker.terminate();
    await this.exited;
  }

  /**
   * Reap after `ms` of idleness. One timer per environment, re-armed with
   * refresh() (no allocation per invocation) and unref'd: an idle environment
   * must not keep the process alive on its own account.
   */
  armIdleTimer(ms: number): void {
    if (this.idleTimer) this.idleTimer.refresh();
    else this.idleTimer = setTimeout(onIdleTimer, ms, this).unref();
  }

  /** The phase's time limit expired: the sandbox is gone, as in Lambda (the exit settles the phase). */
  expirePhase(): void {
    const phase = this.phase;
    if (!phase) return;
    phase.timedOut = true;
    void this.terminate();
  }

  private startPhase(lines: string[] | undefined, limitMs: number): Promise<PhaseOutcome> {
    if (this.exitCode !== undefined) {
      // Died in between (e.g. a fatal error right after INIT): no phase can run.
      return Promise.resolve({ kind: 'exit', code: this.exitCode, ...(this.lastError ? { error: this.lastError } : {}) });
    }
    return new Promise((resolve) => {
      this.phase = { lines, resolve, timedOut: false };
      this.phaseTimer = setTimeout(onPhaseLimit, limitMs, this);
    });
  }

  private endPhase(): Phase | undefined {
    const phase = this.phase;
    if (!phase) return undefined;
    this.phase = undefined;
    clearTimeout(this.phaseTimer);
    this.phaseTimer = undefined;
    return phase;
  }

  private onMessage(msg: WorkerMessage | string | string[]): void {
    if (typeof msg === 'string') {
      this.log(msg);
    } else if (Array.isArray(msg)) {
      for (const line of msg) this.log(line);
    } else if (msg.type === 'fatal') {
      // Uncaught outside an invocation: the runtime would have exited, so
      // this environment must not serve another invocation.
      this.fatalError ??= msg.error;
      if (!this.phase) void this.terminate();
    } else {
      if (msg.type === 'result') this.maxMemoryMb = Math.max(this.maxMemoryMb, Math.ceil(msg.memoryBytes / MIB));
      // A timed-out phase already asked for termination: its late answer does not count.
      const phase = this.phase;
      if (phase && !phase.timedOut) this.endPhase()?.resolve({ kind: 'message', message: msg });
    }
  }

  private log(line: string): void {
    this.phase?.lines?.push(line);
    this.emitLog?.(line);
  }

  private readStray(name: 'stdout' | 'stderr'): void {
    const stream = this.worker[name];
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      let buffer = this.stray[name] + chunk;
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        this.log(buffer.slice(0, newline).replace(/\r$/, ''));
        buffer = buffer.slice(newline + 1);
        newline = buffer.indexOf('\n');
      }
      this.stray[name] = buffer;
    });
  }

  private flushStray(): void {
    for (const name of ['stdout', 'stderr'] as const) {
      if (this.stray[name]) this.log(this.stray[name]);
      this.stray[name] = '';
    }
  }
}
