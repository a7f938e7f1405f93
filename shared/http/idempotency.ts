/**
 * `Idempotency-Key` replay for POSTs (Powertools idempotency, records in the
 * table). Its own module: only functions with POST routes use it
 * (shared/http/service-api.ts), so the read-only ones do not bundle it.
 */
import { IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { makeHandlerIdempotent } from '@aws-lambda-powertools/idempotency/middleware';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { principalOf } from '../auth/principal.js';
import { scratch, type Middleware, type Request } from './guards.js';
import { HttpError } from './problem.js';
import { lowerCaseHeaders } from './route.js';

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
