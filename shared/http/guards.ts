/**
 * The parts of the middleware chain that need the table: rate limits,
 * Idempotency-Key replay (Powertools idempotency) and the audit trail.
 */
import { IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import { makeHandlerIdempotent } from '@aws-lambda-powertools/idempotency/middleware';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import type { RateLimitConfig } from '../auth/config.js';
import { principalOf } from '../auth/principal.js';
import { rateBucket, rateHeaders } from '../auth/rate-limits.js';
import type { IdentityStore } from '../domain/identity.js';
import { logger } from '../telemetry.js';
import { HttpError } from './problem.js';
import { lowerCaseHeaders, type RouteSpec } from './route.js';

type Request = middy.Request<APIGatewayProxyEvent, APIGatewayProxyResult>;
/** middy's `internal` is untyped scratch space shared by the middlewares of one request. */
const scratch = (request: Request) => request.internal as Record<string, unknown>;
type Middleware = middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult>;
export type RouteLookup = (event: APIGatewayProxyEvent) => RouteSpec | undefined;

const addHeaders = (request: Request, headers: Record<string, string> | undefined) => {
  if (request.response && headers) request.response.headers = { ...request.response.headers, ...headers };
};

/** Charges the request to its bucket; 429 with Retry-After past the limit; X-RateLimit-* on every answer. */
export function rateLimiter(store: () => IdentityStore, config: RateLimitConfig, routeOf: RouteLookup, now = () => Date.now()): Middleware {
  const KEY = 'switchyard.rateHeaders';
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

/**
 * `Idempotency-Key` on POSTs (Powertools idempotency, records in the table):
 * the same key and body from the same principal replay the first response,
 * the same key with another body is a 422. Used first in the chain so the
 * stored response is the final one, headers included.
 */
export function idempotentPosts(tableName: string): Middleware {
  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName,
    keyAttr: 'pk',
    sortKeyAttr: 'sk',
    staticPkValue: 'IDEMPOTENCY',
    expiryAttr: 'expiresAt',
  });
  const config = new IdempotencyConfig({
    eventKeyJmesPath: 'switchyardIdempotency',
    payloadValidationJmesPath: 'body',
    expiresAfterSeconds: 24 * 60 * 60,
    responseHook: (response) => {
      const result = response as unknown as APIGatewayProxyResult;
      result.headers = { ...result.headers, 'Idempotent-Replayed': 'true' };
      return response;
    },
  });
  const powertools = makeHandlerIdempotent({ persistenceStore, config });
  const ACTIVE = 'switchyard.idempotency';
  const active = (request: Request) => scratch(request)[ACTIVE] === true;
  return {
    before: async (request) => {
      const { event } = request;
      const key = lowerCaseHeaders(event.headers)['idempotency-key'];
      if (event.httpMethod !== 'POST' || !key) return;
      if (key.length > 255) throw new HttpError(400, 'VALIDATION_FAILED', 'Idempotency-Key must be at most 255 characters');
      // Scoped to caller and operation, so one client's key can never replay another's response.
      (event as APIGatewayProxyEvent & { switchyardIdempotency: string[] }).switchyardIdempotency = [
        principalOf(event).id,
        `${event.httpMethod} ${event.resource}`,
        key,
      ];
      scratch(request)[ACTIVE] = true;
      return powertools.before?.(request as never) as Promise<APIGatewayProxyResult | undefined>;
    },
    after: async (request) => {
      if (!active(request)) return;
      // Store the response as Lambda will return it: JSON, so headers middy left undefined disappear.
      request.response = JSON.parse(JSON.stringify(request.response)) as APIGatewayProxyResult;
      await powertools.after?.(request as never);
    },
    onError: async (request) => {
      if (active(request)) await powertools.onError?.(request as never);
    },
  };
}
