/**
 * The one middleware chain every HTTP handler uses (middy + Powertools):
 *
 *   Idempotency-Key replay → logger context + correlation id → tracer segment
 *   → EMF metrics → security headers → CORS → problem+json error mapper
 *   → rate limit → audit trail
 *   → body limit / media type / JSON / zod parsing → the bound route.
 *
 * Authentication and RBAC happen before any of this, in the Lambda authorizer;
 * the chain reads the caller from `requestContext.authorizer`.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy, { type MiddyHandlerObject } from '@middy/core';
import httpCors from '@middy/http-cors';
import httpSecurityHeaders from '@middy/http-security-headers';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { FieldError } from '../domain/errors.js';
import { logger, metrics, tracer } from '../telemetry.js';
import { rateLimitConfigFromEnv, type RateLimitConfig } from '../auth/config.js';
import type { IdentityStore } from '../domain/identity.js';
import { auditTrail, rateLimiter, rateLimitHeadersOf, type Middleware } from './guards.js';
import { HttpError, PROBLEM_CONTENT_TYPE, toProblem } from './problem.js';
import { findJsonSyntaxError } from './json-syntax.js';
import {
  bodySchemaFor,
  lowerCaseHeaders,
  mediaTypeOf,
  routeKey,
  type BoundRoute,
  type HttpResult,
  type RouteInput,
  type RouteSpec,
} from './route.js';

export interface HttpConfig {
  allowedOrigins: string[];
  maxBodyBytes: number;
  /**
   * How long before the Lambda timeout middy aborts the handler (its
   * `timeoutEarlyInMillis`): the handler's AbortSignal fires and the answer
   * becomes a 503 TIMEOUT problem, leaving this much time for the error path
   * (problem, logs, metrics, idempotency record release) instead of the
   * runtime killing the function and API Gateway answering a bare 502/504.
   */
  timeoutEarlyMs?: number;
}

export const DEFAULT_TIMEOUT_EARLY_MS = 1_500;

/** Read once per environment; the stack sets these on every API function. */
export function httpConfigFromEnv(env: NodeJS.ProcessEnv = process.env): HttpConfig {
  return {
    allowedOrigins: (env.CORS_ALLOWED_ORIGINS ?? '')
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean),
    maxBodyBytes: Number(env.MAX_BODY_BYTES ?? 1_048_576),
    timeoutEarlyMs: Number(env.TIMEOUT_EARLY_MS ?? DEFAULT_TIMEOUT_EARLY_MS),
  };
}

function zodErrors(location: string, error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => ({
    path: [location, ...issue.path.map(String)].join('.'),
    message: issue.message,
  }));
}

function parsePart(location: string, schema: z.ZodType | undefined, value: unknown): unknown {
  if (!schema) return undefined;
  const result = schema.safeParse(value);
  if (!result.success)
    throw new HttpError(400, 'VALIDATION_FAILED', `The request ${location} is invalid`, zodErrors(location, result.error));
  return result.data;
}

const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json$/i;

/** Raw body → JSON value, enforcing size (413), media type (415) and syntax (400). */
function readJsonBody(event: APIGatewayProxyEvent, mediaType: string, config: HttpConfig, spec: RouteSpec): unknown {
  if (event.body === null || event.body === undefined || event.body === '') {
    throw new HttpError(400, 'BODY_REQUIRED', 'This operation needs a JSON request body');
  }
  const raw = event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
  if (raw.byteLength > config.maxBodyBytes) {
    throw new HttpError(413, 'BODY_TOO_LARGE', `The request body is ${raw.byteLength} bytes; the limit is ${config.maxBodyBytes}`);
  }
  if (!JSON_MEDIA_TYPE.test(mediaType)) {
    const accepted = ['application/json', ...Object.keys(spec.mediaBodies ?? {})].join(' or ');
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `Send the body as ${accepted} (got ${mediaType || 'no Content-Type'})`);
  }
  const text = raw.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    // V8's message quotes the body (passwords included): say where it broke, never what is there.
    const where = findJsonSyntaxError(text);
    throw new HttpError(
      400,
      'MALFORMED_JSON',
      where
        ? `The request body is not valid JSON: expected ${where.expected} at position ${where.position} (line ${where.line}, column ${where.column})`
        : 'The request body is not valid JSON',
    );
  }
}

/** The body parsed with the schema of its media type (application/json's unless the route declares another). */
function parseBody(spec: RouteSpec, event: APIGatewayProxyEvent, mediaType: string, config: HttpConfig): unknown {
  return parsePart('body', bodySchemaFor(spec, mediaType), readJsonBody(event, mediaType, config, spec));
}

function toProxyResult(result: HttpResult): APIGatewayProxyResult {
  const headers: Record<string, string> = { ...result.headers };
  if (result.body === undefined) return { statusCode: result.status, headers, body: '' };
  headers['Content-Type'] ??= 'application/json';
  return { statusCode: result.status, headers, body: JSON.stringify(result.body) };
}

/** HSTS for a year; the rest are middy's helmet-derived defaults. */
const SECURITY_HEADER_OPTIONS = {
  strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true, preload: false },
  // No reporting endpoint is configured, and an empty Reporting-Endpoints header helps nobody.
  // (A variable, not a literal: middy's .d.ts lags its code and lacks this option.)
  reportingEndpoints: false,
};

/**
 * A caller's X-Correlation-Id is kept only if it is at most 128 characters of
 * `[A-Za-z0-9._:-]` (UUIDs, W3C trace ids, `Root=…`-free ids): it is echoed in
 * a header and written to every log line, so unbounded or arbitrary text
 * (CR/LF, quotes, megabytes) is replaced by a generated id instead.
 */
const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;
export function acceptableCorrelationId(value: string | undefined): string | undefined {
  return value !== undefined && CORRELATION_ID.test(value) ? value : undefined;
}
const generatedCorrelationId = (request: middy.Request<APIGatewayProxyEvent, APIGatewayProxyResult>) =>
  acceptableCorrelationId(request.event.requestContext?.requestId) ?? acceptableCorrelationId(request.context.awsRequestId) ?? randomUUID();

type ApiHandler = (event: APIGatewayProxyEvent, context: Context, opts: MiddyHandlerObject) => Promise<APIGatewayProxyResult>;

/** What middy's early timeout throws instead of its default TimeoutError (a 500). */
const timedOut = (): never => {
  throw new HttpError(503, 'TIMEOUT', 'The request did not complete in time; retry it later', undefined, { 'Retry-After': '1' });
};

/** What the table-backed guards need; absent in handler unit tests that run without a table. */
export interface HttpGuards {
  tableName: string;
  identityStore: () => IdentityStore;
  rateLimits: RateLimitConfig;
  /** Idempotency-Key replay (./idempotency.ts), first after the rate limiter; functions without POST routes leave it out. */
  idempotency?: Middleware;
}

export function httpGuardsFromEnv(identityStore: () => IdentityStore, env: NodeJS.ProcessEnv = process.env): HttpGuards {
  const tableName = env.TABLE_NAME;
  if (!tableName) throw new Error('TABLE_NAME is not set');
  return { tableName, identityStore, rateLimits: rateLimitConfigFromEnv(env) };
}

/** Builds a function's Lambda handler from its bound routes. */
export function httpApi(routes: BoundRoute[], config: HttpConfig = httpConfigFromEnv(), guards?: HttpGuards) {
  const table = new Map<string, BoundRoute>(routes.map((r) => [routeKey(r.spec.method, r.spec.path), r]));
  const routeOf = (event: APIGatewayProxyEvent) => table.get(routeKey(event.httpMethod, event.resource))?.spec;

  const dispatch: ApiHandler = async (event, _context, { signal }) => {
    const route = table.get(routeKey(event.httpMethod, event.resource));
    if (!route) {
      // API Gateway only forwards declared routes, so this means the stack and the function disagree.
      throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${event.httpMethod} ${event.resource} is not served by this function`);
    }
    const spec: RouteSpec = route.spec;
    const headers = lowerCaseHeaders(event.headers);
    // RouteInput<RouteSpec> is the erased form; bind() gave each handler its precise types.
    const input = {
      params: parsePart('params', spec.params, event.pathParameters ?? {}),
      query: parsePart('query', spec.query, event.queryStringParameters ?? {}),
      body: spec.body ? parseBody(spec, event, mediaTypeOf(headers['content-type']), config) : undefined,
      headers,
      requestId: event.requestContext.requestId,
      event,
      signal,
    } as RouteInput<RouteSpec>;
    tracer.putAnnotation('operation', spec.operationId);
    const result = await route.handle(input);
    metrics.addMetric(spec.operationId, MetricUnit.Count, 1);
    return toProxyResult(result);
  };

  const correlationOf = (request: middy.Request<APIGatewayProxyEvent, APIGatewayProxyResult>) =>
    String((request.internal as Record<string, unknown>).correlationId ?? generatedCorrelationId(request));

  /** The request's correlation id, in the logs from the first middleware on (a 429 is logged with it too). */
  const correlation: middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> = {
    before: async (request) => {
      const headers = lowerCaseHeaders(request.event.headers);
      // A caller's id is echoed and logged, so only a bounded, log-safe one is kept; anything else is replaced.
      const correlationId = acceptableCorrelationId(headers['x-correlation-id']) ?? generatedCorrelationId(request);
      logger.setCorrelationId(correlationId);
      logger.appendKeys({ route: `${request.event.httpMethod} ${request.event.resource}` });
      (request.internal as Record<string, unknown>).correlationId = correlationId;
    },
  };
  /** Correlation id on every response (success or problem), plus the headers middy sets on HTML only. */
  const standardHeaders: middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> = {
    after: async (request) => addStandardHeaders(request),
    onError: async (request) => addStandardHeaders(request),
  };
  const addStandardHeaders = (request: middy.Request<APIGatewayProxyEvent, APIGatewayProxyResult>) => {
    if (!request.response) return;
    request.response.headers = {
      ...request.response.headers,
      // On error answers too (a 404 or 400 counts against the limit like a 200): see rateLimitHeadersOf.
      ...rateLimitHeadersOf(request),
      'X-Correlation-Id': correlationOf(request),
      'X-Frame-Options': 'DENY',
      // A JSON API renders nothing: forbid every fetch and framing (middy sets CSP on HTML only).
      'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
    };
  };

  const problemJson: middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> = {
    onError: async (request) => {
      const requestId = request.event.requestContext?.requestId ?? request.context.awsRequestId;
      const { problem, isServerFault } = toProblem(request.error, requestId);
      if (isServerFault) {
        logger.error('request failed', request.error as Error);
        metrics.addMetric('ServerFault', MetricUnit.Count, 1);
      } else {
        logger.info('request rejected', { status: problem.status, code: problem.code, detail: problem.detail });
        metrics.addMetric('ClientError', MetricUnit.Count, 1);
      }
      const extraHeaders = request.error instanceof HttpError ? request.error.headers : undefined;
      request.response = {
        statusCode: problem.status,
        headers: { 'Content-Type': PROBLEM_CONTENT_TYPE, ...extraHeaders },
        body: JSON.stringify(problem),
      };
    },
  };

  const handler = middy(dispatch, {
    timeoutEarlyInMillis: config.timeoutEarlyMs ?? DEFAULT_TIMEOUT_EARLY_MS,
    timeoutEarlyResponse: timedOut,
  });
  handler.use(correlation);
  // The limiter charges before idempotency, so every answer (an idempotent replay, a refused Idempotency-Key) carries current X-RateLimit-* headers.
  if (guards) handler.use(rateLimiter(guards.identityStore, guards.rateLimits, routeOf));
  if (guards?.idempotency) handler.use(guards.idempotency);
  handler
    // logEvent pinned off: the event carries bodies and credentials, and POWERTOOLS_LOGGER_LOG_EVENT must not turn it on.
    .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .use(standardHeaders)
    .use(httpSecurityHeaders(SECURITY_HEADER_OPTIONS))
    .use(
      httpCors({
        origins: config.allowedOrigins,
        credentials: config.allowedOrigins.length > 0,
        headers: 'Authorization,Content-Type,Idempotency-Key,If-Match,X-API-Key,X-Correlation-Id',
        methods: 'GET,POST,PUT,PATCH,DELETE,OPTIONS',
        exposeHeaders:
          'ETag,Location,X-Correlation-Id,X-RateLimit-Limit,X-RateLimit-Remaining,X-RateLimit-Reset,Retry-After,Idempotent-Replayed',
        maxAge: 3600,
      }),
    )
    .use(problemJson);
  if (guards) handler.use(auditTrail(guards.identityStore, routeOf));
  return handler;
}
