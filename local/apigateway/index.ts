/**
 * Local API Gateway REST API (v1) emulator (DESIGN.md §7): serves the first
 * `AWS::ApiGateway::RestApi` of a synthesized template over HTTP, with Lambda
 * proxy integrations run through a `FunctionInvoker`.
 */
export { startApiGateway, MAX_PAYLOAD_BYTES, DEFAULT_INTEGRATION_TIMEOUT_MS } from './server.js';
export type { ApiGatewayOptions, ApiGatewayServer, RestApiReport } from './server.js';
export { buildApiDefinition, listRestApis, matchRoute } from './routes.js';
export type { ApiDefinition, MethodDef, ResourceNode, RouteMatch } from './routes.js';
export type { AuthorizerOutcome, AuthorizerStep } from './authorizer.js';
