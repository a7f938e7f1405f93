/**
 * The HTTP front of the emulator: node:http (no framework: API Gateway's
 * routing, status codes and headers are what is being emulated, so a web
 * framework's own routing/404s/body parsing would only get in the way) and the
 * request pipeline:
 *
 *   payload limit → route → Lambda authorizer → parameter validation →
 *   body validation → integration (AWS_PROXY | MOCK) → response headers →
 *   access log
 *
 * The API is served at the root of the server (`/health`, no stage prefix);
 * `requestContext.path` still carries the stage, as on the execute-api domain.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CfnTemplate, FunctionInvoker } from '../types.js';
import { AuthorizerCache, authorize, readAuthorizers } from './authorizer.js';
import type { AuthorizerDef } from './authorizer.js';
import type { GatewayErrorInput, HttpResponse } from './gateway-responses.js';
import { bodyLength, GATEWAY_RESPONSE_DEFAULTS, renderGatewayResponse } from './gateway-responses.js';
import { formatRequestTime, newExtendedRequestId, newRequestId, traceHeaderFor } from './ids.js';
import { InvocationFailure, withTimeout } from './invoke.js';
import { runMockIntegration } from './mock.js';
import { buildProxyEvent, mapProxyResult } from './proxy-event.js';
import type { HeaderEntry, RequestState } from './request.js';
import { headerValue, indexHeaders } from './request.js';
import type { ApiDefinition } from './routes.js';
import { buildApiDefinition, listRestApis, matchRoute } from './routes.js';
import { RequestValidation } from './validation.js';

export interface ApiGatewayOptions {
  template: CfnTemplate;
  /** Runs a Lambda integration's or authorizer's function, given the function's logical id (or physical name for resolved ARNs). */
  invoker: FunctionInvoker;
  /** 0 = ephemeral. Default 0. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** `requestContext.accountId`. Default 000000000000. */
  accountId?: string;
  /** Only used for the execute-api domain name when a request has no Host header. Default us-east-1. */
  region?: string;
  /** Called once per request when the stage has `AccessLogSetting.Format`. */
  onAccessLog?: (entry: Record<string, unknown>) => void;
  /**
   * API Gateway's integration timeout (29 s): past it the client gets 504 while the function keeps running.
   * Also bounds a Lambda authorizer (500 past it).
   */
  integrationTimeoutMs?: number;
  /** Which RestApi to serve; default the first in the template. */
  restApiLogicalId?: string;
  /**
   * The runtime's clock (local/clock.ts): request times and the authorizer
   * cache's TTL follow it. Latencies and the integration timeout stay in real
   * time (they measure real work). Default: the wall clock.
   */
  now?: () => number;
}

export interface RestApiReport {
  logicalId: string;
  stageName: string;
  apiId: string;
  /** True for the one RestApi this server serves. */
  served: boolean;
}

export interface ApiGatewayServer {
  url: string;
  /** Every RestApi in the template; the served one first. */
  restApis: RestApiReport[];
  /** Parts of the template that are not emulated (skipped resources, unsupported integrations, unusable models). */
  warnings: string[];
  stop(): Promise<void>;
}

/** API Gateway's request payload quota: 10 MB. */
export const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
export const DEFAULT_INTEGRATION_TIMEOUT_MS = 29_000;

export async function startApiGateway(opts: ApiGatewayOptions): Promise<ApiGatewayServer> {
  const all = listRestApis(opts.template);
  if (all.length === 0) throw new Error('the template has no AWS::ApiGateway::RestApi');
  const servedId = opts.restApiLogicalId ?? all[0]!.logicalId;
  if (!all.some((a) => a.logicalId === servedId)) throw new Error(`RestApi ${servedId} is not in the template`);
  const api = buildApiDefinition(opts.template, servedId);
  const validation = new RequestValidation(api);
  const { authorizers, warnings: authorizerWarnings } = readAuthorizers(opts.template, api);
  const warnings = [...api.warnings, ...validation.warnings, ...authorizerWarnings];
  if (all.length > 1) {
    warnings.push(
      `the template has ${all.length} RestApis; serving ${servedId} only (${all
        .filter((a) => a.logicalId !== servedId)
        .map((a) => a.logicalId)
        .join(', ')} not served)`,
    );
  }

  const deps: PipelineDeps = {
    api,
    validation,
    invoker: opts.invoker,
    accountId: opts.accountId ?? '000000000000',
    region: opts.region ?? 'us-east-1',
    integrationTimeoutMs: opts.integrationTimeoutMs ?? DEFAULT_INTEGRATION_TIMEOUT_MS,
    authorizers,
    authorizerCache: new AuthorizerCache(),
    now: opts.now ?? (() => Date.now()),
    ...(opts.onAccessLog ? { onAccessLog: opts.onAccessLog } : {}),
    accessLogging: opts.onAccessLog !== undefined && api.accessLogFormat !== undefined,
    defaultDomainName: `${api.apiId}.execute-api.${opts.region ?? 'us-east-1'}.amazonaws.com`,
  };

  const server = createServer((req, res) => {
    handle(req, res, deps).catch(() => {
      if (!res.headersSent) {
        res.statusCode = 500;
        res.end();
      } else res.destroy();
    });
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;

  const restApis: RestApiReport[] = [
    ...all.filter((a) => a.logicalId === servedId).map((a) => ({ ...a, served: true })),
    ...all.filter((a) => a.logicalId !== servedId).map((a) => ({ ...a, served: false })),
  ];
  return {
    url: `http://${urlHost}:${port}`,
    restApis,
    warnings,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

interface PipelineDeps {
  api: ApiDefinition;
  validation: RequestValidation;
  invoker: FunctionInvoker;
  accountId: string;
  region: string;
  integrationTimeoutMs: number;
  authorizers: Map<string, AuthorizerDef>;
  authorizerCache: AuthorizerCache;
  now: () => number;
  onAccessLog?: (entry: Record<string, unknown>) => void;
  /** A sink and a stage access log format: only then is an entry built per request. */
  accessLogging: boolean;
  /** The execute-api domain name, for requests without a Host header. */
  defaultDomainName: string;
}

/** Result of the pipeline plus what the access log wants to know about errors. */
interface Outcome {
  response: HttpResponse;
  error?: { message: string; responseType: string };
}

/** Headers API Gateway sets on every response; an integration's own values for them are dropped. */
const GATEWAY_RESPONSE_HEADERS = new Set(['x-amzn-requestid', 'x-amz-apigw-id', 'x-amzn-trace-id']);

async function handle(req: IncomingMessage, res: ServerResponse, deps: PipelineDeps): Promise<void> {
  const startedAtMs = deps.now();
  const startedRealMs = Date.now();
  const { rawPath, rawQuery } = splitUrl(req.url ?? '/');
  const raw = req.rawHeaders;
  const headers: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) headers.push([raw[i]!, raw[i + 1]!]);
  const headerIndex = indexHeaders(headers);
  const trace = traceHeaderFor(headerIndex.get('x-amzn-trace-id')?.value, startedAtMs);
  const { body, tooLarge } = await readBody(req, headerIndex, MAX_PAYLOAD_BYTES);
  const remote = req.socket.remoteAddress ?? '127.0.0.1';
  const state: RequestState = {
    api: deps.api,
    accountId: deps.accountId,
    requestId: newRequestId(),
    extendedRequestId: newExtendedRequestId(),
    traceHeader: trace.header,
    traceRootId: trace.rootId,
    startedAtMs,
    startedRealMs,
    requestTime: formatRequestTime(startedAtMs),
    httpMethod: (req.method ?? 'GET').toUpperCase(),
    rawPath,
    rawQuery,
    headers,
    headerIndex,
    body,
    sourceIp: remote.startsWith('::ffff:') ? remote.slice(7) : remote,
    localPort: req.socket.localPort ?? 0,
    domainName: headerIndex.get('host')?.value ?? deps.defaultDomainName,
    authorizer: null,
  };

  let outcome: Outcome;
  try {
    outcome = tooLarge ? gatewayError(state, { responseType: 'REQUEST_TOO_LARGE' }) : await pipeline(state, deps);
  } catch (err) {
    // A bug in the emulator, not in the API: answer like API Gateway would on an internal failure.
    outcome = gatewayError(state, { responseType: 'DEFAULT_5XX', statusCode: 500, message: 'Internal server error' });
    outcome.error = { message: `emulator error: ${(err as Error).message}`, responseType: 'DEFAULT_5XX' };
  }
  const response = outcome.response;
  // One flat [name, value, name, value...] list for writeHead: no per-header setHeader bookkeeping,
  // and several values of a name still go out as several header lines.
  const flat: string[] = [];
  for (const [name, values] of response.headers) {
    if (GATEWAY_RESPONSE_HEADERS.has(name.toLowerCase())) continue;
    for (const value of values) flat.push(name, value);
  }
  flat.push('x-amzn-RequestId', state.requestId, 'x-amz-apigw-id', state.extendedRequestId, 'X-Amzn-Trace-Id', trace.header);
  const noBody = response.statusCode === 204 || response.statusCode === 304 || response.statusCode < 200;
  if (!noBody) flat.push('Content-Length', String(bodyLength(response.body)));
  if (deps.accessLogging) res.on('finish', () => accessLog(state, deps, response, outcome.error));
  res.writeHead(response.statusCode, flat);
  res.end(noBody ? undefined : response.body);
}

function accessLog(state: RequestState, deps: PipelineDeps, response: HttpResponse, error: Outcome['error']): void {
  if (!deps.onAccessLog) return;
  try {
    deps.onAccessLog({
      requestId: state.requestId,
      extendedRequestId: state.extendedRequestId,
      apiId: deps.api.apiId,
      stage: deps.api.stageName,
      ip: state.sourceIp,
      userAgent: headerValue(state, 'user-agent') ?? null,
      caller: null,
      user: null,
      requestTime: state.requestTime,
      requestTimeEpoch: state.startedAtMs,
      httpMethod: state.httpMethod,
      resourcePath: state.match?.resource.path ?? null,
      path: `/${deps.api.stageName}${state.rawPath}`,
      protocol: 'HTTP/1.1',
      status: response.statusCode,
      responseLength: bodyLength(response.body),
      integrationLatency: state.integrationLatencyMs ?? null,
      integrationStatus: state.integrationStatus ?? null,
      authorizerLatency: state.authorize?.latencyMs ?? null,
      authorizerStatus: state.authorize?.status ?? null,
      authorizerError: state.authorize?.error ?? null,
      responseLatency: Date.now() - state.startedRealMs,
      errorMessage: error?.message ?? null,
      errorResponseType: error?.responseType ?? null,
      xrayTraceId: state.traceRootId,
    });
  } catch {
    // a failing log sink must not affect the API
  }
}

function gatewayError(state: RequestState, input: GatewayErrorInput): Outcome {
  const response = renderGatewayResponse(state, input);
  const message = input.message ?? GATEWAY_RESPONSE_DEFAULTS[input.responseType]?.message ?? input.responseType;
  return { response, error: { message, responseType: input.responseType } };
}

async function pipeline(state: RequestState, deps: PipelineDeps): Promise<Outcome> {
  // 1. Route. An unknown path and a known resource without the verb both get 403
  //    "Missing Authentication Token" on REST APIs.
  const match = matchRoute(deps.api, state.httpMethod, state.rawPath);
  if (!match?.method) return gatewayError(state, { responseType: 'MISSING_AUTHENTICATION_TOKEN' });
  state.match = match;
  const method = match.method;

  // 2. Lambda authorizer (CUSTOM methods). A deny keeps the authorizer's context for the ACCESS_DENIED template.
  const auth = await authorize(method, state, {
    invoker: deps.invoker,
    authorizers: deps.authorizers,
    cache: deps.authorizerCache,
    now: deps.now,
    region: deps.region,
    timeoutMs: deps.integrationTimeoutMs,
  });
  state.authorizer = auth.authorizer;
  if (!auth.allow) {
    const out = gatewayError(state, auth.error);
    if (auth.logMessage && out.error) out.error.message = auth.logMessage;
    return out;
  }

  // 3. Request validation: parameters first, then the body.
  const missing = deps.validation.missingParameters(method, state);
  if (missing.length > 0) {
    return gatewayError(state, {
      responseType: 'BAD_REQUEST_PARAMETERS',
      message: `Missing required request parameters: [${missing.join(', ')}]`,
    });
  }
  const bodyCheck = deps.validation.validateBody(method, state);
  if (!bodyCheck.ok) {
    return gatewayError(state, {
      responseType: 'BAD_REQUEST_BODY',
      message: 'Invalid request body',
      validationErrorString: bodyCheck.validationErrorString,
    });
  }

  // 4. Integration.
  const integration = method.integration;
  switch (integration.type) {
    case 'MOCK':
      return { response: runMockIntegration(state, integration) };
    case 'AWS_PROXY':
      return invokeProxy(state, deps, integration.functionRef);
    default:
      return gatewayError(state, { responseType: 'API_CONFIGURATION_ERROR', message: 'Internal server error' });
  }
}

async function invokeProxy(state: RequestState, deps: PipelineDeps, functionRef: string): Promise<Outcome> {
  const event = buildProxyEvent(state);
  const t0 = Date.now();
  const result = await withTimeout(deps.invoker.invoke(functionRef, event, { traceHeader: state.traceHeader }), deps.integrationTimeoutMs);
  if (result instanceof InvocationFailure) {
    state.integrationLatencyMs = Date.now() - t0;
    // Lambda could not be invoked at all (unknown function, permissions): a configuration error.
    const out = gatewayError(state, { responseType: 'API_CONFIGURATION_ERROR', message: 'Internal server error' });
    out.error = {
      message: `Execution failed due to configuration error: ${result.error.message}`,
      responseType: 'API_CONFIGURATION_ERROR',
    };
    return out;
  }
  state.integrationLatencyMs = Date.now() - t0;
  if (result === 'timeout') return gatewayError(state, { responseType: 'INTEGRATION_TIMEOUT' });
  // Lambda's Invoke answers 200 even for a function error (with X-Amz-Function-Error).
  state.integrationStatus = 200;
  if (!result.ok) {
    const out = gatewayError(state, { responseType: 'DEFAULT_5XX', statusCode: 502, message: 'Internal server error' });
    out.error = {
      message: `Lambda function error: ${result.payload.errorType}: ${result.payload.errorMessage}`,
      responseType: 'DEFAULT_5XX',
    };
    return out;
  }
  const mapped = mapProxyResult(result.payload, state);
  if (!mapped.ok || !headersAreValid(mapped.response)) {
    const out = gatewayError(state, { responseType: 'DEFAULT_5XX', statusCode: 502, message: 'Internal server error' });
    out.error = {
      message: `Execution failed due to configuration error: Malformed Lambda proxy response${mapped.ok ? ' (invalid header)' : ` (${mapped.reason})`}`,
      responseType: 'DEFAULT_5XX',
    };
    return out;
  }
  return { response: mapped.response };
}

/** Node's own checks for header names (RFC 7230 tokens) and values, so writeHead never throws on a function's headers. */
const HEADER_NAME = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/;
const INVALID_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

function headersAreValid(response: HttpResponse): boolean {
  for (const [name, values] of response.headers) {
    if (!HEADER_NAME.test(name)) return false;
    for (const v of values) if (INVALID_HEADER_VALUE.test(v)) return false;
  }
  return true;
}

function splitUrl(url: string): { rawPath: string; rawQuery: string } {
  let target = url;
  // Absolute-form request targets (proxies) carry scheme and host.
  const abs = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(target);
  if (abs) target = target.slice(abs[0].length) || '/';
  const q = target.indexOf('?');
  const rawPath = q >= 0 ? target.slice(0, q) : target;
  return { rawPath: rawPath || '/', rawQuery: q >= 0 ? target.slice(q + 1) : '' };
}

/** Read the body, keeping at most `limit` bytes; a larger body is drained and flagged. */
function readBody(
  req: IncomingMessage,
  headerIndex: Map<string, HeaderEntry>,
  limit: number,
): Promise<{ body: Buffer; tooLarge: boolean }> | { body: Buffer; tooLarge: boolean } {
  const contentLength = headerIndex.get('content-length')?.value;
  // HTTP/1.1: without Content-Length or Transfer-Encoding a request has no body (most GETs): nothing to wait for.
  // Node discards the (empty) request stream itself once the response is sent.
  if ((contentLength === undefined || contentLength === '0') && !headerIndex.has('transfer-encoding')) return NO_BODY;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = Number(contentLength ?? 0) > limit;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) tooLarge = true;
      if (!tooLarge) chunks.push(chunk);
    });
    req.on('end', () => resolve({ body: tooLarge ? Buffer.alloc(0) : Buffer.concat(chunks), tooLarge }));
    req.on('error', () => resolve({ body: Buffer.concat(chunks), tooLarge }));
  });
}

const NO_BODY = Object.freeze({ body: Buffer.alloc(0), tooLarge: false });
