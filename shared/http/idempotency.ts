/**
 * `Idempotency-Key` replay for POSTs (Powertools idempotency, records in the
 * table). Its own module: only functions with POST routes use it
 * (shared/http/service-api.ts), so the read-only ones do not bundle it.
 */
import { IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { makeHandlerIdempotent } from '@aws-lambda-powertools/idempotency/middleware';
import type { JSONValue } from '@aws-lambda-powertools/commons/types';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { principalOf } from '../auth/principal.js';
import { SDK_TIMEOUTS } from '../sdk-timeouts.js';
import { rateLimitHeadersOf, scratch, type Middleware, type Request } from './guards.js';
import { HttpError } from './problem.js';
import { lowerCaseHeaders, routeKey, type RouteSpec } from './route.js';

/** What is stored in place of a secret-bearing response: its status and Location, nothing else. */
interface WithheldResponse extends APIGatewayProxyResult {
  switchyardWithheld: true;
}
const isWithheld = (value: unknown): value is WithheldResponse =>
  typeof value === 'object' && value !== null && (value as Partial<WithheldResponse>).switchyardWithheld === true;

function withheld(response: APIGatewayProxyResult): WithheldResponse {
  const location = Object.entries(response.headers ?? {}).find(([name]) => name.toLowerCase() === 'location')?.[1];
  return { statusCode: response.statusCode, headers: location ? { Location: String(location) } : {}, body: '', switchyardWithheld: true };
}

/**
 * `Idempotency-Key` on POSTs (Powertools idempotency, records in the table):
 * the same key and body from the same principal replay the first response,
 * the same key with another body is a 422. Used first in the chain after
 * the rate limiter, so the stored response is the final one, headers
 * included (a replay gets the current X-RateLimit-* headers).
 *
 * Routes marked `secretResponse` (a key, a token: shown once, stored hashed)
 * keep the at-most-once guarantee but are never replayed: their record holds
 * only the status and Location, and a replay is a 409
 * IDEMPOTENT_SECRET_NOT_REPLAYED saying so. Their record also holds no hash of
 * the request body (it carries a password or a refresh token, and an unsalted
 * hash of it can be brute-forced), so for them a reused key is refused alike
 * whatever the body.
 */
/** What a replayed answer says about this request rather than the first one. */
function currentHeaders(request: Request): Record<string, string> {
  const correlationId = (request.internal as Record<string, unknown>).correlationId;
  return { ...rateLimitHeadersOf(request), ...(typeof correlationId === 'string' ? { 'X-Correlation-Id': correlationId } : {}) };
}

export function idempotentPosts(tableName: string, routes: readonly RouteSpec[] = []): Middleware {
  const secretRoutes = new Set(routes.filter((r) => r.secretResponse).map((r) => routeKey(r.method, r.path)));
  // Two layers because Powertools configures a persistence layer once, with one config.
  const layer = () =>
    new DynamoDBPersistenceLayer({
      tableName,
      keyAttr: 'pk',
      sortKeyAttr: 'sk',
      staticPkValue: 'IDEMPOTENCY',
      expiryAttr: 'expiresAt',
      clientConfig: { requestHandler: SDK_TIMEOUTS },
    });
  const responseHook = (response: JSONValue) => {
    const result = response as unknown as APIGatewayProxyResult;
    result.headers = { ...result.headers, 'Idempotent-Replayed': 'true' };
    return response;
  };
  const base = { eventKeyJmesPath: 'switchyardIdempotency', expiresAfterSeconds: 24 * 60 * 60, responseHook };
  const plain = makeHandlerIdempotent({
    persistenceStore: layer(),
    config: new IdempotencyConfig({ ...base, payloadValidationJmesPath: 'body' }),
  });
  const secret = makeHandlerIdempotent({ persistenceStore: layer(), config: new IdempotencyConfig(base) });

  const ACTIVE = 'switchyard.idempotency';
  const powertoolsOf = (request: Request) => scratch(request)[ACTIVE] as typeof plain | undefined;
  const isSecret = (request: Request) => secretRoutes.has(routeKey(request.event.httpMethod, request.event.resource));
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
      const powertools = isSecret(request) ? secret : plain;
      scratch(request)[ACTIVE] = powertools;
      const replay = await (powertools.before?.(request as never) as Promise<APIGatewayProxyResult | undefined>);
      if (!replay) return;
      // A replay is answered here, before any after-middleware: it carries this request's rate-limit headers and correlation id, not the stored ones.
      if (!isWithheld(replay)) return { ...replay, headers: { ...replay.headers, ...currentHeaders(request) } };
      // The record is the completed first request's: this problem must not release it (onError would).
      scratch(request)[ACTIVE] = undefined;
      throw new HttpError(
        409,
        'IDEMPOTENT_SECRET_NOT_REPLAYED',
        `A request with this Idempotency-Key already succeeded (${replay.statusCode}). Its response carried a secret that is shown once and never stored, so it cannot be replayed; use a new Idempotency-Key to run the operation again`,
        undefined,
        replay.headers as Record<string, string>,
      );
    },
    after: async (request) => {
      const powertools = powertoolsOf(request);
      if (!powertools || !request.response) return;
      // Store the response as Lambda will return it: JSON, so headers middy left undefined disappear.
      const response = JSON.parse(JSON.stringify(request.response)) as APIGatewayProxyResult;
      if (powertools !== secret) {
        request.response = response;
        await powertools.after?.(request as never);
        return;
      }
      // Powertools stores request.response: give it the withheld form, then answer the real one.
      request.response = withheld(response);
      try {
        await powertools.after?.(request as never);
      } finally {
        request.response = response;
      }
    },
    onError: async (request) => {
      await powertoolsOf(request)?.onError?.(request as never);
    },
  };
}
