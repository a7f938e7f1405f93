// @ts-check
/**
 * Worker-thread bootstrap of one local Lambda execution environment: the part
 * of the Lambda Node.js runtime that runs inside the sandbox. It loads the
 * handler once (the INIT phase), then runs one invocation at a time as the main
 * thread (service.ts) sends them, like the runtime's /next loop.
 *
 * Plain JavaScript because the worker gets no TypeScript loader (the host may
 * run under tsx or vitest, and the worker is started with empty execArgv so
 * none of the host's loaders or flags leak into the function).
 *
 * One ordered channel: every log line (console.* formatted as the Lambda
 * runtime formats them, and whatever user code writes to process.stdout or
 * process.stderr) and every phase outcome (INIT done, invocation result) is a
 * message on parentPort. Messages on one port arrive in the order they were
 * posted, so the main thread attributes each line to the invocation running
 * when it was written with no markers and no waiting. A log line is a string
 * (or an array of strings for several lines written at once); an outcome is an
 * object with a `type`. See WorkerMessage in environment.ts.
 */
import Module, { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import { setImmediate } from 'node:timers';
import v8 from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { isInside, isTypeModule, parseHandler, resolveHandlerFile, runtimeError } from './handler-file.mjs';

/**
 * @typedef {object} BootstrapData
 * @property {string} taskRoot
 * @property {string} handler
 * @property {string} invokedFunctionArn
 * @property {boolean} sourceMaps   the service runs with debug: true
 * @property {string | undefined} nodeOptions  the function's NODE_OPTIONS (kept out of the Worker's env, see pool.ts)
 *
 * @typedef {object} InvokeMessage
 * @property {'invoke'} type
 * @property {string} requestId
 * @property {string} eventJson
 * @property {string} traceHeader
 * @property {number} deadlineMs
 *
 * @typedef {{ errorType: string, errorMessage: string, trace?: string[] }} ErrorPayload
 *
 * @typedef {{ name: string, priority: number }} Level
 */

if (!parentPort) throw new Error('bootstrap.mjs must run in a worker thread');
const port = parentPort;
const data = /** @type {BootstrapData} */ (workerData);
const taskRoot = path.resolve(data.taskRoot);
// User code sees the function's NODE_OPTIONS as configured; none of its flags
// apply locally (source maps follow the service's debug option, below).
if (data.nodeOptions !== undefined) process.env.NODE_OPTIONS = data.nodeOptions;

/** Symbol the Lambda runtime keeps the current request id under (read by some loggers). */
const REQUEST_ID_SYMBOL = Symbol.for('aws.lambda.runtime.requestId');
/** @type {Record<symbol, unknown>} */
const globalRecord = /** @type {any} */ (globalThis);

/** @type {string | undefined} */
let currentRequestId;

/* ------------------------------------------------------------------- clock */

// The runtime's clock can run faster than the wall clock (`timeScale`, for
// tests of long schedules). Functions must then see the same simulated time
// as the runtime's timers, so `Date` here follows it: `SWITCHYARD_LOCAL_CLOCK`
// is `<realStart>:<simulatedStart>:<timeScale>` (absent at scale 1, where the
// function reads the real clock as on AWS). Timers inside the function
// (setTimeout) stay in real time, like the function's own timeout.
const clockSpec = process.env.SWITCHYARD_LOCAL_CLOCK;
// The function's timeout is real time (deadlines come from the pool in wall-clock ms), so the time left is read off the real clock.
const realNow = Date.now.bind(Date);
if (clockSpec) {
  const [realStart, simulatedStart, timeScale] = clockSpec.split(':').map(Number);
  if ([realStart, simulatedStart, timeScale].every((n) => Number.isFinite(n)) && Number(timeScale) > 0) {
    const RealDate = Date;
    const now = () => Number(simulatedStart) + (RealDate.now() - Number(realStart)) * Number(timeScale);
    class SimulatedDate extends RealDate {
      /** @param {any[]} args */
      constructor(...args) {
        if (args.length === 0) super(now());
        // @ts-expect-error: the Date constructor's overloads, forwarded as given
        else super(...args);
      }

      /** @override */
      static now() {
        return now();
      }
    }
    globalThis.Date = /** @type {DateConstructor} */ (/** @type {unknown} */ (SimulatedDate));
  }
}

/* ----------------------------------------------------------------- logging */

/**
 * A stream of the sandbox (stdout or stderr) as the main thread sees it: text
 * is cut into lines here and each complete line posted at once; a partial
 * line waits for its newline or for the end of the phase.
 */
class OutputStream {
  partial = '';
  decoder = new StringDecoder('utf8');

  /** @param {string} text */
  write(text) {
    let buffer = this.partial ? this.partial + text : text;
    let newline = buffer.indexOf('\n');
    if (newline < 0) {
      this.partial = buffer;
      return;
    }
    /** @type {string[]} */
    const lines = [];
    do {
      lines.push(withoutCr(buffer.slice(0, newline)));
      buffer = buffer.slice(newline + 1);
      newline = buffer.indexOf('\n');
    } while (newline >= 0);
    this.partial = buffer;
    // One line (the usual case) is posted as a plain string: the cheapest message there is.
    port.postMessage(lines.length === 1 ? lines[0] : lines);
  }

  /** Text written without a trailing newline still belongs to the phase that wrote it. */
  flush() {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    if (rest) port.postMessage(withoutCr(rest));
  }
}

/** @param {string} line */
function withoutCr(line) {
  return line.charCodeAt(line.length - 1) === 13 ? line.slice(0, -1) : line;
}

const stdout = new OutputStream();
const stderr = new OutputStream();

function flushOutput() {
  stdout.flush();
  stderr.flush();
}

/**
 * User code's own writes (process.stdout.write, a Console on process.stdout,
 * console.table/dir/group, a stream piped to stdout) go through the
 * stream's `write`, which is replaced here so they take the same channel as
 * console lines. Only a write that bypasses `write` (e.g. `_writev` called
 * directly) still reaches the worker's piped stdio, which the main thread
 * reads as a fallback without ordering guarantees. Native writes to fd 1/2
 * (an addon's printf, fs.writeSync(1), pino's sonic-boom) bypass the worker's
 * streams altogether and go to the host process's terminal, as before.
 * @param {NodeJS.WriteStream} stream
 * @param {OutputStream} channel
 */
function captureStream(stream, channel) {
  /**
   * @param {string | Uint8Array} chunk
   * @param {BufferEncoding | ((err?: Error | null) => void)} [encoding]
   * @param {(err?: Error | null) => void} [callback]
   */
  function write(chunk, encoding, callback) {
    if (typeof encoding === 'function') {
      callback = encoding;
      encoding = undefined;
    }
    if (typeof chunk === 'string') {
      channel.write(encoding && encoding !== 'utf8' && encoding !== 'utf-8' ? Buffer.from(chunk, encoding).toString('utf8') : chunk);
    } else {
      // A multi-byte character may be split across chunks: the decoder keeps the tail.
      channel.write(channel.decoder.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    }
    if (callback) process.nextTick(callback);
    return true;
  }
  Object.defineProperty(stream, 'write', { value: write, writable: true, configurable: true });
}
captureStream(process.stdout, stdout);
captureStream(process.stderr, stderr);
// process.exit() in user code: what it wrote last is still reported (messages
// posted from 'exit' reach the main thread before the worker's 'exit' event).
process.on('exit', flushOutput);

// The Lambda runtime replaces console.* so every line carries time, request id
// and level (text format), or is a JSON object (AWS_LAMBDA_LOG_FORMAT=JSON).
// All levels go to stdout, as in Lambda.
const LEVELS = /** @type {const} */ ({
  TRACE: { name: 'TRACE', priority: 1 },
  DEBUG: { name: 'DEBUG', priority: 2 },
  INFO: { name: 'INFO', priority: 3 },
  WARN: { name: 'WARN', priority: 4 },
  ERROR: { name: 'ERROR', priority: 5 },
  FATAL: { name: 'FATAL', priority: 6 },
});
const jsonFormat = process.env.AWS_LAMBDA_LOG_FORMAT?.toUpperCase() === 'JSON';
const minLevel = /** @type {Record<string, Level>} */ (LEVELS)[process.env.AWS_LAMBDA_LOG_LEVEL?.toUpperCase() ?? ''] ?? LEVELS.TRACE;

/**
 * @param {Level} level
 * @param {unknown[]} params
 */
function writeLog(level, params) {
  const timestamp = new Date().toISOString();
  let line;
  if (jsonFormat) {
    /** @type {Record<string, unknown>} */
    const entry = { timestamp, level: level.name, requestId: currentRequestId };
    entry.message = params.length === 1 ? params[0] : util.format(...params);
    try {
      line = JSON.stringify(entry, jsonErrorReplacer);
    } catch {
      line = JSON.stringify({ ...entry, message: util.format(...params) });
    }
  } else {
    line = `${timestamp}\t${currentRequestId}\t${level.name}\t${util.format(...params)}`;
  }
  stdout.write(line + '\n');
}

/**
 * @param {string} _key
 * @param {unknown} value
 */
function jsonErrorReplacer(_key, value) {
  if (value instanceof Error) {
    return {
      errorType: value.constructor?.name ?? 'UnknownError',
      errorMessage: value.message,
      stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
      ...value,
    };
  }
  return value;
}

/** @param {Level} level */
function logAt(level) {
  if (level.priority < minLevel.priority) return () => {};
  return (/** @type {unknown[]} */ ...params) => writeLog(level, params);
}

const consoleRecord = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (console));
console.trace = logAt(LEVELS.TRACE);
console.debug = logAt(LEVELS.DEBUG);
console.info = logAt(LEVELS.INFO);
console.log = console.info;
console.warn = logAt(LEVELS.WARN);
console.error = logAt(LEVELS.ERROR);
consoleRecord.fatal = logAt(LEVELS.FATAL);

/**
 * Lambda's `ERROR\tInvoke Error \t{...}` line: the error with its name, message,
 * code, own enumerable properties and stack as an array.
 * @param {string} label
 * @param {unknown} error
 */
function logError(label, error) {
  const err = error instanceof Error ? error : new Error(String(error));
  /** @type {string} */
  let formatted;
  try {
    formatted = JSON.stringify(err, (_k, v) => {
      if (!(v instanceof Error)) return v;
      /** @type {Record<string, unknown>} */
      const out = { errorType: v.name, errorMessage: v.message, code: /** @type {{ code?: unknown }} */ (v).code, ...v };
      if (typeof v.stack === 'string') out.stack = v.stack.split('\n');
      return out;
    });
  } catch {
    formatted = JSON.stringify(toErrorPayload(err));
  }
  console.error(label, `\t${formatted}`);
}

/**
 * The error body Lambda returns for a failed invocation (`toRapidResponse`).
 * @param {unknown} error
 * @returns {ErrorPayload}
 */
function toErrorPayload(error) {
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      const err = /** @type {Error} */ (error);
      return { errorType: err.name, errorMessage: err.message, trace: String(err.stack ?? '').split('\n') };
    }
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

/** @param {unknown} obj */
function isErrorLike(obj) {
  if (typeof obj !== 'object' || obj === null) return false;
  const o = /** @type {Record<string, unknown>} */ (obj);
  return typeof o.name === 'string' && typeof o.message === 'string' && typeof o.stack === 'string';
}

/**
 * Post a phase outcome after the output the phase wrote: same port, so the
 * main thread sees every line before the outcome.
 * @param {Record<string, unknown>} message
 */
function report(message) {
  flushOutput();
  port.postMessage(message);
}

/** Heap statistics are read at most this often (ms); quicker invocations report the last reading. */
const MEMORY_SAMPLE_MS = 20;
let memorySampledAt = Number.NEGATIVE_INFINITY;
let lastMemoryBytes = 0;

function memoryBytes() {
  // The isolate's own heap: process-wide RSS is shared by every worker. Not
  // process.memoryUsage(): it also reads the RSS from /proc (14 µs, the
  // worker's largest per-invocation cost in bench/lambda.ts); heap statistics
  // take ~1 µs, and under load reading them every 20 ms is enough for a
  // "Max Memory Used" that is a high-water mark anyway.
  const now = performance.now();
  if (now - memorySampledAt >= MEMORY_SAMPLE_MS) {
    const heap = v8.getHeapStatistics();
    lastMemoryBytes = heap.total_heap_size + heap.external_memory;
    memorySampledAt = now;
  }
  return lastMemoryBytes;
}

/* -------------------------------------------------------------- init phase */

// Lambda honours NODE_OPTIONS=--enable-source-maps, but locally the service
// decides (option `debug`): with source maps on, every environment reads and
// parses its bundle's map at load (4 MB of JSON for a 1 MB bundle here) and
// keeps it for its whole life, the first stack trace decodes all of its
// mappings, and every Error.stack is mapped. Measured (bench/lambda.ts
// --memory): the project's Auth bundle takes 83 MB of RSS per environment
// with source maps, 33 MB without. So a function's NODE_OPTIONS is ignored
// for this flag unless debugging is asked for.
if (data.sourceMaps) process.setSourceMapsEnabled(true);

/**
 * Locally the asset directory lives inside this repository, whose package.json
 * says "type": "module"; Node would then refuse (or mis-load as ESM) a CommonJS
 * `index.js` bundle that Lambda loads fine from /var/task. So `.js` files in the
 * task root are compiled as CommonJS unless a package.json *inside* the task
 * root says otherwise (node_modules packages keep Node's own rules).
 */
function installTaskRootCommonJsLoader() {
  /** @type {{ _extensions: Record<string, (module: { _compile(content: string, filename: string): unknown }, filename: string) => void> }} */
  const cjs = /** @type {any} */ (Module);
  const original = cjs._extensions['.js'];
  if (!original) return;
  cjs._extensions['.js'] = function (module, filename) {
    const inTaskRoot = isInside(filename, taskRoot) && !filename.split(path.sep).includes('node_modules');
    if (inTaskRoot && !isTypeModule(path.dirname(filename), taskRoot)) {
      const content = fs.readFileSync(filename, 'utf8');
      module._compile(content.charCodeAt(0) === 0xfeff ? content.slice(1) : content, filename);
      return;
    }
    original.call(this, module, filename);
  };
}

/**
 * Load the handler function the way the Lambda runtime does, mapping failures
 * to its `Runtime.*` error types.
 * @returns {Promise<Function>}
 */
async function loadHandler() {
  const { moduleRoot, moduleName, exportPath } = parseHandler(data.handler);
  const resolved = resolveHandlerFile(taskRoot, data.handler);
  // Like the runtime's own require: resolution errors name the runtime file in their require stack.
  const requireFromRoot = createRequire(import.meta.url);
  /** @type {unknown} */
  let userModule;
  try {
    if (resolved?.format === 'module') {
      userModule = await import(pathToFileURL(resolved.file).href);
    } else if (resolved) {
      userModule = requireFromRoot(resolved.file);
    } else {
      // As the runtime: fall back to Node resolution from the task root, which
      // yields the genuine "Cannot find module" error when nothing matches.
      const file = requireFromRoot.resolve(moduleName, { paths: [taskRoot, path.resolve(taskRoot, moduleRoot)] });
      userModule = requireFromRoot(file);
    }
  } catch (err) {
    if (err instanceof SyntaxError) throw runtimeError('Runtime.UserCodeSyntaxError', String(err));
    const code = /** @type {{ code?: unknown }} */ (err)?.code;
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
      throw runtimeError('Runtime.ImportModuleError', String(err));
    }
    throw err;
  }
  /** @type {unknown} */
  const fn = exportPath
    .split('.')
    .reduce((/** @type {unknown} */ obj, key) => (obj == null ? undefined : /** @type {Record<string, unknown>} */ (obj)[key]), userModule);
  if (!fn) throw runtimeError('Runtime.HandlerNotFound', `${data.handler} is undefined or not exported`);
  if (typeof fn !== 'function') throw runtimeError('Runtime.HandlerNotFound', `${data.handler} is not a function`);
  return fn;
}

/** @type {Function | undefined} */
let handlerFn;
let initializing = true;
/** @type {unknown} */
let initCrash;

async function init() {
  const started = performance.now();
  try {
    installTaskRootCommonJsLoader();
    handlerFn = await loadHandler();
    // Let rejections left unhandled by the module's top level surface (they
    // are reported after the microtask queue drains): in Lambda they crash INIT.
    await new Promise((resolve) => setImmediate(resolve));
    initializing = false;
    if (initCrash !== undefined) throw initCrash;
    report({ type: 'init', ok: true, durationMs: performance.now() - started });
  } catch (err) {
    initializing = false;
    logError('Uncaught Exception', err);
    report({
      type: 'init',
      ok: false,
      error: toErrorPayload(err),
      durationMs: performance.now() - started,
    });
  }
}

/* ------------------------------------------------------------ invoke phase */

/**
 * @typedef {object} Current
 * @property {string} requestId
 * @property {boolean} done
 */
/** @type {Current | undefined} */
let current;

/**
 * Call the handler as the runtime does: always with (event, context, callback);
 * a returned promise or the callback (first one wins) completes it.
 * Differences, by necessity: a handler that neither returns a promise nor calls
 * back completes with null right away (Lambda waits for the event loop to drain
 * and then answers null), and callbackWaitsForEmptyEventLoop is not honoured.
 * @param {Function} fn
 * @param {unknown} event
 * @param {Record<string, unknown>} context
 * @returns {Promise<unknown>}
 */
function callHandler(fn, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    /** @param {unknown} [err] @param {unknown} [result] */
    const callback = (err, result) => {
      if (settled) return;
      settled = true;
      if (err !== undefined && err !== null) reject(err);
      else resolve(result);
    };
    context.done = callback;
    context.succeed = (/** @type {unknown} */ result) => callback(null, result);
    context.fail = (/** @type {unknown} */ err) => callback(err ?? 'handled');
    /** @type {unknown} */
    let returned;
    try {
      returned = fn(event, context, callback);
    } catch (err) {
      callback(err ?? 'handled');
      return;
    }
    if (returned && typeof (/** @type {{ then?: unknown }} */ (returned).then) === 'function') {
      /** @type {PromiseLike<unknown>} */ (returned).then(
        (result) => callback(null, result),
        (err) => callback(err ?? 'handled'),
      );
    } else if (fn.length < 3) {
      setImmediate(() => callback(null, null));
    }
  });
}

/**
 * Finish the current invocation once (a fatal error may race the handler).
 * @param {Current} inv
 * @param {Record<string, unknown>} outcome
 */
function finish(inv, outcome) {
  if (inv.done) return;
  inv.done = true;
  if (current === inv) current = undefined;
  report({ type: 'result', requestId: inv.requestId, memoryBytes: memoryBytes(), ...outcome });
}

/** @param {InvokeMessage} msg */
async function invoke(msg) {
  /** @type {Current} */
  const inv = { requestId: msg.requestId, done: false };
  current = inv;
  currentRequestId = msg.requestId;
  globalRecord[REQUEST_ID_SYMBOL] = msg.requestId;
  // Per invocation, like the runtime's _forwardXRay; this worker runs one
  // invocation at a time and has its own process.env, so nothing is shared.
  process.env._X_AMZN_TRACE_ID = msg.traceHeader;
  const env = process.env;
  /** @type {Record<string, unknown>} */
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: data.invokedFunctionArn,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: msg.requestId,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: undefined,
    clientContext: undefined,
    getRemainingTimeInMillis: () => msg.deadlineMs - realNow(),
  };
  try {
    if (!handlerFn) throw runtimeError('Runtime.HandlerNotFound', `${data.handler} is undefined or not exported`);
    const result = await callHandler(handlerFn, JSON.parse(msg.eventJson), context);
    // Lambda serialises the response: undefined becomes null, toJSON applies.
    const payloadJson = JSON.stringify(result === undefined ? null : result) ?? 'null';
    delete process.env._X_AMZN_TRACE_ID;
    finish(inv, { ok: true, payloadJson });
  } catch (err) {
    delete process.env._X_AMZN_TRACE_ID;
    if (inv.done) return;
    logError('Invoke Error', err);
    finish(inv, { ok: false, error: toErrorPayload(err) });
  }
}

/**
 * An uncaught exception or unhandled rejection kills a Lambda environment
 * (the runtime exits): fail the current invocation, and tell the main thread
 * to discard this worker.
 * @param {string} label
 * @param {unknown} error
 */
function fatal(label, error) {
  if (initializing) {
    initCrash ??= error; // init() reports it as the INIT failure
    return;
  }
  logError(label, error);
  const inv = current;
  if (inv) finish(inv, { ok: false, fatal: true, error: toErrorPayload(error) });
  else report({ type: 'fatal', error: toErrorPayload(error) });
}

process.on('uncaughtException', (err) => fatal('Uncaught Exception', err));
process.on('unhandledRejection', (reason) =>
  fatal('Unhandled Promise Rejection', runtimeError('Runtime.UnhandledPromiseRejection', String(reason))),
);

port.on('message', (/** @type {InvokeMessage} */ msg) => {
  if (msg?.type === 'invoke') void invoke(msg);
});

await init();
