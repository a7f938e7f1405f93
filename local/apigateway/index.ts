/**
 * Local API Gateway REST API (v1) emulator (DESIGN.md §7): serves the first
 * `AWS::ApiGateway::RestApi` of a synthesized template over HTTP, with Lambda
 * proxy integrations and Lambda authorizers (TOKEN and REQUEST, with policy
 * evaluation and result caching) run through a `FunctionInvoker`.
 */
export { startApiGateway, MAX_PAYLOAD_BYTES, DEFAULT_INTEGRATION_TIMEOUT_MS } from './server.js';
export type { ApiGatewayOptions, ApiGatewayServer, RestApiReport } from './server.js';
export { buildApiDefinition, listRestApis, matchRoute } from './routes.js';
export type { ApiDefinition, MethodDef, ResourceNode, RouteMatch } from './routes.js';
export { methodArn, readAuthorizers } from './authorizer.js';
export type { AuthorizerDef, AuthorizerOutcome, AuthorizerStep } from './authorizer.js';
