import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { createAuthorizer } from '../../shared/auth/authorizer.js';
import { sessionConfigFromEnv, signingKeysFromSecret } from '../../shared/auth/config.js';
import { edgeRoutesFromEnv, routeAccessFromEnv } from '../../shared/auth/route-access.js';
import { edgeStore, identityStore } from '../../shared/store/index.js';
import { logger, tracer } from '../../shared/telemetry.js';

const authorize = createAuthorizer({
  // Generated from the route contract at synth time (lib/auth.ts): no zod schemas in this bundle.
  routes: routeAccessFromEnv(),
  store: identityStore(),
  // ---- edge keys (issue 10) ----
  edgeRoutes: edgeRoutesFromEnv(),
  edges: edgeStore(),
  signingKeys: signingKeysFromSecret(),
  tokens: sessionConfigFromEnv(),
  cacheSeconds: Number(process.env.AUTHORIZER_CACHE_SECONDS ?? 30),
});

export const handler = middy(async (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
  const result = await authorize(event);
  logger.info('authorized', {
    principalId: result.principalId,
    effect: result.policyDocument.Statement[0]?.Effect,
    route: `${event.httpMethod} ${event.resource}`,
  });
  return result;
})
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(captureLambdaHandler(tracer, { captureResponse: false }));
