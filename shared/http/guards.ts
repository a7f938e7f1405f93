/**
 * The parts of the middleware chain that need the table: rate limits and the
 * audit trail (Idempotency-Key replay is in ./idempotency.ts, so functions
 * without POST routes do not bundle Powertools idempotency).
 */
import type middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import type { RateLimitConfig } from '../auth/config.js';
import { principalOf } from '../auth/principal.js';
import { rateBucket, rateHeaders } from '../auth/rate-limits.js';
import type { IdentityStore } from '../domain/identity.js';
import { logger } from '../telemetry.js';
import { HttpError } from './problem.js';
import type { RouteSpec } from './route.js';

export type Request = middy.Request<APIGatewayProxyEvent, APIGatewayProxyResult>;
/** middy's `internal` is untyped scratch space shared by the middlewares of one request. */
export const scratch = (request: Request) => request.internal as Record<string, unknown>;
export type Middleware = middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult>;
export type RouteLookup = (event: APIGatewayProxyEvent) => RouteSpec | undefined;

const addHeaders = (request: Request, headers: Record<string, string> | undefined) => {
  if (request.response && headers) request.response.headers = { ...request.response.headers, ...headers };
};

const RATE_HEADERS = 'switchyard.rateHeaders';

/**
 * The X-RateLimit-* headers of this request, once the rate limiter has charged it.
 * Error answers take them from here: the problem mapper builds the response
 * after the rate limiter's own onError has run (middy runs onError in reverse
 * order of `use`), so that onError alone never sees an error response.
 */
export const rateLimitHeadersOf = (request: Request) => scratch(request)[RATE_HEADERS] as Record<string, string> | undefined;

/** Charges the request to its bucket; 429 with Retry-After past the limit; X-RateLimit-* on every answer. */
export function rateLimiter(store: () => IdentityStore, config: RateLimitConfig, routeOf: RouteLookup, now = () => Date.now()): Middleware {
  const KEY = RATE_HEADERS;
  return {
    before: async (request) => {
      const route = routeOf(request.event);
      const bucket = route && rateBucket(route.rateLimit ?? 'default', principalOf(request.event), config, now());
      if (!bucket) return;
      const count = await store().countRequest(bucket.key, bucket.windowStart, config.windowSeconds);
      const headers = rateHeaders(bucket, count);
      scratch(request)[KEY] = headers;
      if (count > bucket.limit) {
        const retryAfter = Math.max(1, bucket.resetAt - Math.floor(now() / 1000));
        throw new HttpError(
          429,
          'RATE_LIMITED',
          `Rate limit of ${bucket.limit} requests per ${config.windowSeconds} s exceeded; retry after ${retryAfter} s`,
          undefined,
          {
            ...headers,
            'Retry-After': String(retryAfter),
          },
        );
      }
    },
    after: async (request) => addHeaders(request, scratch(request)[KEY] as Record<string, string> | undefined),
    onError: async (request) => addHeaders(request, scratch(request)[KEY] as Record<string, string> | undefined),
  };
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** One append-only audit record per successful write: who, what, when, request id, source IP. */
export function auditTrail(store: () => IdentityStore, routeOf: RouteLookup): Middleware {
  return {
    after: async (request) => {
      const { event, response } = request;
      if (!WRITE_METHODS.has(event.httpMethod) || !response || response.statusCode >= 400) return;
      const principal = principalOf(event);
      let resourceId = event.pathParameters?.id;
      if (!resourceId && response.statusCode === 201) {
        try {
          resourceId = (JSON.parse(response.body) as { id?: string }).id;
        } catch {
          // not JSON: no id to record
        }
      }
      try {
        await store().appendAudit({
          id: randomUUID(),
          at: new Date().toISOString(),
          actor: { id: principal.id, kind: principal.kind, name: principal.name },
          action: routeOf(event)?.operationId ?? `${event.httpMethod} ${event.resource}`,
          method: event.httpMethod,
          path: event.path,
          status: response.statusCode,
          requestId: event.requestContext.requestId,
          sourceIp: principal.sourceIp,
          ...(resourceId ? { resourceId } : {}),
        });
      } catch (error) {
        // The write has happened; losing its audit line must be loud, not turn the answer into an error.
        logger.error('audit record not written', error as Error);
      }
    },
  };
}
