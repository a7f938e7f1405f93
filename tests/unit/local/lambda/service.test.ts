import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { InvokeResult } from '../../../../local/types.js';
import { ResourceNotFoundException, resolveHandlerFile } from '../../../../local/lambda/service.js';
import { errorPayload, FIXTURES, fn, okPayload as okAs, service } from './support.js';

const TRACE_HEADER = /^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=1$/;
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface EchoPayload {
  counter: number;
  traceAtStart?: string;
  traceAtEnd?: string;
  traceAfterPrevious?: string | null;
  event: Record<string, unknown>;
  env: Record<string, string>;
  context: {
    functionName: string;
    functionVersion: string;
    invokedFunctionArn: string;
    memoryLimitInMB: string;
    awsRequestId: string;
    logGroupName: string;
    logStreamName: string;
    callbackWaitsForEmptyEventLoop: boolean;
    remainingMs: number;
  };
}

/** The echo fixture's answer, unless the test names another shape. */
const okPayload = <T = EchoPayload>(result: InvokeResult): T => okAs<T>(result);

describe('LambdaService', () => {
  it('runs a CommonJS handler with the Lambda context, environment and logs', async () => {
    const lines: Array<[string, string]> = [];
    const s = service([fn('echo', 'cjs-echo', 'index.handler', { environment: { SHARED: 'function', TABLE_NAME: 'releases' } })], {
      accountId: '123456789012',
      baseEnvironment: {
        AWS_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:8000',
        SHARED: 'base',
        NODE_OPTIONS: '--inspect',
      },
      onLog: (name, line) => lines.push([name, line]),
    });
    const trace = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
    const result = await s.invoke('echo', { orderId: 'o-1' }, { traceHeader: trace });
    const payload = okPayload(result);

    expect(result.requestId).toMatch(UUID_V4);
    expect(payload.counter).toBe(1);
    expect(payload.event).toEqual({ orderId: 'o-1' });
    expect(payload.traceAtStart).toBe(trace);
    expect(payload.context).toMatchObject({
      functionName: 'echo',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:echo',
      memoryLimitInMB: '256',
      awsRequestId: result.requestId,
      logGroupName: '/aws/lambda/echo',
      callbackWaitsForEmptyEventLoop: true,
    });
    expect(payload.context.logStreamName).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
    expect(payload.context.remainingMs).toBeGreaterThan(4000);
    expect(payload.context.remainingMs).toBeLessThanOrEqual(5000);

    expect(payload.env).toMatchObject({
      AWS_LAMBDA_FUNCTION_NAME: 'echo',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/echo',
      AWS_LAMBDA_LOG_STREAM_NAME: payload.context.logStreamName,
      AWS_REGION: 'eu-west-1',
      AWS_DEFAULT_REGION: 'eu-west-1',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      LAMBDA_TASK_ROOT: FIXTURES + 'cjs-echo',
      _HANDLER: 'index.handler',
      TZ: ':UTC',
      AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:8000',
      TABLE_NAME: 'releases',
      SHARED: 'function', // the function's environment wins over the base environment
      _X_AMZN_TRACE_ID: trace,
    });
    expect(payload.env.NODE_OPTIONS).toBeUndefined();

    // Logs: Lambda's platform lines around the handler's own output.
    const logLines = result.logs.trimEnd().split('\n');
    expect(logLines[0]).toMatch(/^INIT_START Runtime Version: nodejs:/);
    expect(logLines).toContain(`START RequestId: ${result.requestId} Version: $LATEST`);
    expect(logLines).toContain(`END RequestId: ${result.requestId}`);
    expect(logLines.at(-1)).toMatch(
      new RegExp(
        `^REPORT RequestId: ${result.requestId}\\tDuration: [\\d.]+ ms\\tBilled Duration: \\d+ ms\\tMemory Size: 256 MB\\tMax Memory Used: \\d+ MB\\tInit Duration: [\\d.]+ ms$`,
      ),
    );
    const start = logLines.indexOf(`START RequestId: ${result.requestId} Version: $LATEST`);
    const end = logLines.indexOf(`END RequestId: ${result.requestId}`);
    const own = logLines.slice(start + 1, end);
    expect(own).toContainEqual(
      expect.stringMatching(new RegExp(`^\\d{4}-\\d{2}-\\d{2}T[\\d:.]+Z\\t${result.requestId}\\tINFO\\techo invoked {"orderId":"o-1"}$`)),
    );
    expect(own).toContain('echo stderr line');
    // onLog saw exactly the same lines, tagged with the function name.
    expect(lines.map(([, line]) => line)).toEqual(logLines);
    expect(new Set(lines.map(([name]) => name))).toEqual(new Set(['echo']));

    // Also reachable by logical id and by ARN (as Step Functions passes it).
    expect((await s.invoke('echoFunction0A1B2C3D', {})).ok).toBe(true);
    expect((await s.invoke('arn:aws:lambda:eu-west-1:123456789012:function:echo:$LATEST', {})).ok).toBe(true);
  });

  it('loads ES module handlers: .mjs, and .js under a package.json with type module', async () => {
    const s = service([fn('esm', 'esm-echo', 'index.handler'), fn('typemodule', 'esm-typemodule', 'index.handler')]);
    const esm = await s.invoke('esm', { name: 'ops' });
    expect(okPayload(esm)).toEqual({ format: 'esm', greeting: 'hello ops', counter: 1, requestId: esm.requestId });
    expect(esm.logs).toContain(`\t${esm.requestId}\tINFO\tesm handler ops\n`);
    expect(okPayload(await s.invoke('typemodule', {}))).toEqual({ format: 'esm' });
  });

  it('resolves handler files in the Lambda runtime order', () => {
    expect(resolveHandlerFile(FIXTURES + 'cjs-echo', 'index.handler')).toMatchObject({
      file: FIXTURES + 'cjs-echo/index.js',
      format: 'commonjs',
      exportPath: 'handler',
    });
    expect(resolveHandlerFile(FIXTURES + 'esm-echo', 'index.handler')).toMatchObject({
      file: FIXTURES + 'esm-echo/index.mjs',
      format: 'module',
    });
    expect(resolveHandlerFile(FIXTURES + 'esm-typemodule', 'index.handler')?.format).toBe('module');
    expect(resolveHandlerFile(FIXTURES + 'cjs-echo', 'missing.handler')).toBeUndefined();
    expect(() => resolveHandlerFile(FIXTURES + 'cjs-echo', '../x.handler')).toThrow(/not a valid handler name/);
  });

  it('reuses a warm environment: module state survives, the trace header does not', async () => {
    const s = service([fn('echo', 'cjs-echo', 'index.handler')]);
    // The pauses let the fixture's post-invocation timer record the trace header between invocations.
    const pause = () => new Promise((resolve) => setTimeout(resolve, 30));
    const first = await s.invoke('echo', {});
    await pause();
    const second = await s.invoke('echo', {});
    await pause();
    const third = await s.invoke('echo', {});
    const payloads = [first, second, third].map((r) => okPayload(r));

    expect(payloads.map((p) => p.counter)).toEqual([1, 2, 3]);
    expect(new Set(payloads.map((p) => p.context.logStreamName)).size).toBe(1);
    expect(new Set(payloads.map((p) => p.context.awsRequestId)).size).toBe(3);
    // Each invocation got its own (generated) trace header, removed once it completed.
    for (const p of payloads) expect(p.traceAtStart).toMatch(TRACE_HEADER);
    expect(new Set(payloads.map((p) => p.traceAtStart)).size).toBe(3);
    expect(payloads[1]?.traceAfterPrevious).toBeNull();
    expect(payloads[2]?.traceAfterPrevious).toBeNull();
    // Only the cold start reports an INIT phase.
    expect(first.logs).toContain('Init Duration:');
    expect(second.logs).not.toContain('INIT_START');
    expect(second.logs).not.toContain('Init Duration:');
    expect(s.stats().echo).toEqual({ environments: 1, busy: 0, idle: 1, queued: 0, coldStarts: 1, prewarmed: 0, reaped: 0 });
  });

  it('isolates concurrent invocations: separate environments, each with its own trace header', async () => {
    // Explicit: the default cap is min(4, cores), which is 1 on a single-core machine.
    const s = service([fn('echo', 'cjs-echo', 'index.handler')], { maxConcurrencyPerFunction: 2 });
    const traceA = 'Root=1-5759e988-aaaaaaaaaaaaaaaaaaaaaaaa;Parent=aaaaaaaaaaaaaaaa;Sampled=1';
    const traceB = 'Root=1-5759e988-bbbbbbbbbbbbbbbbbbbbbbbb;Parent=bbbbbbbbbbbbbbbb;Sampled=1';
    const [a, b] = await Promise.all([
      s.invoke('echo', { who: 'a', sleepMs: 300 }, { traceHeader: traceA }),
      s.invoke('echo', { who: 'b', sleepMs: 300 }, { traceHeader: traceB }),
    ]);
    const pa = okPayload(a);
    const pb = okPayload(b);

    // Both slept while the other ran, and still read their own header before and after.
    expect([pa.traceAtStart, pa.traceAtEnd, pa.env._X_AMZN_TRACE_ID]).toEqual([traceA, traceA, traceA]);
    expect([pb.traceAtStart, pb.traceAtEnd, pb.env._X_AMZN_TRACE_ID]).toEqual([traceB, traceB, traceB]);
    expect(pa.event.who).toBe('a');
    expect(pb.event.who).toBe('b');
    // Two cold environments: separate module state and log streams.
    expect([pa.counter, pb.counter]).toEqual([1, 1]);
    expect(pa.context.logStreamName).not.toBe(pb.context.logStreamName);
    expect(s.stats().echo?.environments).toBe(2);
    // Output is attributed to the invocation that wrote it.
    expect(a.logs).toContain('echo invoked {"who":"a","sleepMs":300}');
    expect(a.logs).not.toContain('"who":"b"');
    expect(a.logs).not.toContain(b.requestId);
    expect(b.logs).toContain('echo invoked {"who":"b","sleepMs":300}');
    expect(b.logs).not.toContain('"who":"a"');

    // Both environments are warm now: the next two concurrent invocations reuse them.
    const again = await Promise.all([s.invoke('echo', { sleepMs: 50 }), s.invoke('echo', { sleepMs: 50 })]);
    expect(again.map((r) => okPayload(r).counter)).toEqual([2, 2]);
    expect(s.stats().echo?.environments).toBe(2);
  });

  it('queues invocations beyond maxConcurrencyPerFunction', async () => {
    const s = service([fn('echo', 'cjs-echo', 'index.handler')], { maxConcurrencyPerFunction: 1 });
    const pending = [1, 2, 3].map(() => s.invoke('echo', { sleepMs: 50 }));
    expect(s.stats().echo).toMatchObject({ environments: 1, queued: 2 });
    const results = await Promise.all(pending);
    expect(results.map((r) => okPayload(r).counter).sort()).toEqual([1, 2, 3]);
    expect(s.stats().echo).toEqual({ environments: 1, busy: 0, idle: 1, queued: 0, coldStarts: 1, prewarmed: 0, reaped: 0 });
  });

  it("returns Lambda's error shape for a thrown error and keeps the environment", async () => {
    const s = service([fn('thrower', 'cjs-echo', 'index.thrower')]);
    const result = await s.invoke('thrower', {});
    const error = errorPayload(result);
    expect(error.errorType).toBe('ValidationError');
    expect(error.errorMessage).toBe('order 42 is invalid');
    expect(error.trace?.[0]).toBe('ValidationError: order 42 is invalid');
    expect(error.trace?.some((l) => l.includes('cjs-echo/index.js'))).toBe(true);
    expect(result.logs).toContain(`\t${result.requestId}\tERROR\tInvoke Error \t{"errorType":"ValidationError"`);
    expect(result.logs).toContain(`END RequestId: ${result.requestId}`);
    // A handled failure does not reset the sandbox.
    expect(s.stats().thrower?.environments).toBe(1);
  });

  it('reports INIT failures with the runtime error types and discards the environment', async () => {
    const s = service([
      fn('nope', 'cjs-echo', 'index.nope'),
      fn('notfn', 'cjs-echo', 'index.notAFunction'),
      fn('missing', 'cjs-echo', 'missing.handler'),
      fn('boom', 'cjs-echo', 'boom.handler'),
      fn('rejectinit', 'cjs-echo', 'reject-init.handler'),
    ]);
    const nope = await s.invoke('nope', {});
    expect(errorPayload(nope)).toMatchObject({
      errorType: 'Runtime.HandlerNotFound',
      errorMessage: 'index.nope is undefined or not exported',
    });
    expect(nope.logs).toContain('\tundefined\tERROR\tUncaught Exception \t{"errorType":"Runtime.HandlerNotFound"');
    expect(nope.logs).toMatch(/REPORT RequestId: .*\tStatus: error\tError Type: Runtime\.HandlerNotFound\n$/);
    expect(errorPayload(await s.invoke('notfn', {}))).toMatchObject({
      errorType: 'Runtime.HandlerNotFound',
      errorMessage: 'index.notAFunction is not a function',
    });
    const missing = errorPayload(await s.invoke('missing', {}));
    expect(missing.errorType).toBe('Runtime.ImportModuleError');
    expect(missing.errorMessage).toMatch(/^Error: Cannot find module 'missing'/);
    expect(errorPayload(await s.invoke('boom', {}))).toMatchObject({
      errorType: 'TypeError',
      errorMessage: 'configuration is missing',
    });
    // A rejection the module's top level leaves unhandled crashes INIT too.
    expect(errorPayload(await s.invoke('rejectinit', {}))).toMatchObject({
      errorType: 'Runtime.UnhandledPromiseRejection',
      errorMessage: 'Error: init rejection',
    });
    for (const stats of Object.values(s.stats())) expect(stats.environments).toBe(0);
  });

  it('enforces the timeout, discards the environment, and the next invocation starts fresh', async () => {
    const s = service([fn('echo', 'cjs-echo', 'index.handler', { timeoutSeconds: 1 })]);
    const before = okPayload(await s.invoke('echo', {}));
    expect(before.counter).toBe(1);
    expect(okPayload(await s.invoke('echo', {})).counter).toBe(2);

    const timedOut = await s.invoke('echo', { hang: true });
    expect(errorPayload(timedOut)).toEqual({
      errorType: 'Sandbox.Timedout',
      errorMessage: `${timedOut.requestId} Task timed out after 1.00 seconds`,
    });
    expect(timedOut.durationMs).toBeGreaterThanOrEqual(990);
    expect(timedOut.durationMs).toBeLessThan(3000);
    expect(timedOut.logs).toContain('echo invoked {"hang":true}');
    expect(timedOut.logs).toContain(`${timedOut.requestId} Task timed out after 1.00 seconds\n`);
    expect(timedOut.logs).toMatch(/\tStatus: timeout\n$/);
    expect(s.stats().echo?.environments).toBe(0);

    const after = await s.invoke('echo', {});
    const payload = okPayload(after);
    expect(payload.counter).toBe(1); // module state reset: a new environment
    expect(payload.context.logStreamName).not.toBe(before.context.logStreamName);
    expect(after.logs).toContain('INIT_START');
  });

  it('supports callback handlers and serialises results like Lambda', async () => {
    const s = service([
      fn('callback', 'cjs-echo', 'index.callbackHandler'),
      fn('nothing', 'cjs-echo', 'index.nothing'),
      fn('unusual', 'cjs-echo', 'index.unusual'),
      fn('echo', 'cjs-echo', 'index.handler'),
    ]);
    expect(okPayload(await s.invoke('callback', { value: 7 }))).toEqual({ viaCallback: 7 });
    expect(okPayload(await s.invoke('nothing', {}))).toBeNull();
    expect(okPayload(await s.invoke('unusual', {}))).toEqual({ when: '1970-01-01T00:00:00.000Z', map: {} });
    // The handler gets a JSON copy of the event, not the caller's object.
    const echoed = okPayload(await s.invoke('echo', { at: new Date(0), drop: undefined }));
    expect(echoed.event).toEqual({ at: '1970-01-01T00:00:00.000Z' });
  });

  it('fails the invocation and replaces the environment when the runtime dies', async () => {
    const s = service([fn('exiter', 'cjs-echo', 'index.exiter'), fn('reject', 'cjs-echo', 'index.rejectLater')]);
    const exit = await s.invoke('exiter', {});
    expect(errorPayload(exit)).toEqual({
      errorType: 'Runtime.ExitError',
      errorMessage: `RequestId: ${exit.requestId} Error: Runtime exited with error: exit status 3`,
    });
    expect(exit.logs).toMatch(/\tStatus: error\tError Type: Runtime\.ExitError\n$/);
    const rejected = await s.invoke('reject', {});
    expect(errorPayload(rejected)).toMatchObject({
      errorType: 'Runtime.UnhandledPromiseRejection',
      errorMessage: 'Error: background failure',
    });
    expect(rejected.logs).toContain('ERROR\tUnhandled Promise Rejection');
    await expect.poll(() => s.stats().reject?.environments).toBe(0);
    expect(s.stats().exiter?.environments).toBe(0);
  });

  it('rejects an unknown function with ResourceNotFoundException', async () => {
    const s = service([fn('echo', 'cjs-echo', 'index.handler')], { accountId: '123456789012' });
    const attempt = s.invoke('nope', {});
    await expect(attempt).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(s.invoke('nope', {})).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      message: 'Function not found: arn:aws:lambda:eu-west-1:123456789012:function:nope',
    });
  });

  it('stop() terminates every environment, failing the invocations still running', async () => {
    const s = service([fn('echo', 'cjs-echo', 'index.handler', { timeoutSeconds: 30 })], { maxConcurrencyPerFunction: 2 });
    await Promise.all([s.invoke('echo', { sleepMs: 20 }), s.invoke('echo', { sleepMs: 20 })]);
    const hanging = s.invoke('echo', { hang: true });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(s.stats().echo).toMatchObject({ environments: 2, busy: 1 });
    await s.stop();
    expect(s.stats().echo).toEqual({ environments: 0, busy: 0, idle: 0, queued: 0, coldStarts: 2, prewarmed: 0, reaped: 0 });
    const result = await hanging;
    expect(errorPayload(result).errorMessage).toMatch(/stopped/);
    await expect(s.invoke('echo', {})).rejects.toThrow(/stopped/);
  });

  it('a process using the service exits on its own after stop()', async () => {
    const script = fileURLToPath(new URL('../../../fixtures/lambda/stop-child.mts', import.meta.url));
    const started = Date.now();
    // If any worker survived stop(), the child would never exit and the timeout would kill it.
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script], {
      cwd: fileURLToPath(new URL('../../../../', import.meta.url)),
      timeout: 20_000,
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    const report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
      ok: boolean[];
      hanging: string;
      stats: Record<string, { environments: number }>;
    };
    expect(report.ok).toEqual([true, true]);
    expect(report.hanging).toBe('Runtime.ExitError');
    expect(report.stats.echo?.environments).toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 25_000);
});
