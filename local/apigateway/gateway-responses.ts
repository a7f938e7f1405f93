/**
 * Gateway responses: the answers API Gateway itself gives (no route, failed
 * validation, integration error...), with the customisations of
 * `AWS::ApiGateway::GatewayResponse` applied.
 *
 * Resolution, as in API Gateway: a response customised for the exact type
 * wins; otherwise DEFAULT_4XX / DEFAULT_5XX (by the type's default status
 * class) applies, and its StatusCode, when set, replaces the status of every
 * 4XX / 5XX type that is not customised itself; otherwise the built-in default.
 * Templates get `$context.*` string substitution (no VTL directives).
 */
import type { GatewayError, RequestState } from './request.js';
import { contextVariables, resolveMappingExpression, substituteVariables } from './request.js';

export interface HttpResponse {
  statusCode: number;
  /** Header name → values; several values become several header lines. */
  headers: Array<[string, string[]]>;
  /**
   * Bytes, or text sent as UTF-8. Text stays a string on the way out: Node
   * then writes the head and the body in one piece, with no copy into a Buffer.
   */
  body: Buffer | string;
}

/** Length in bytes of a response body (Content-Length, the access log's responseLength). */
export function bodyLength(body: Buffer | string): number {
  return typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.length;
}

interface BuiltIn {
  statusCode: number;
  message: string;
  /** `x-amzn-ErrorType` header API Gateway sends with this response. */
  errorType?: string;
}

/** Built-in defaults (status and message) of the gateway response types. */
export const GATEWAY_RESPONSE_DEFAULTS: Record<string, BuiltIn> = {
  ACCESS_DENIED: { statusCode: 403, message: 'User is not authorized to access this resource', errorType: 'AccessDeniedException' },
  API_CONFIGURATION_ERROR: { statusCode: 500, message: 'Internal server error', errorType: 'InternalServerErrorException' },
  AUTHORIZER_CONFIGURATION_ERROR: { statusCode: 500, message: 'Internal server error', errorType: 'AuthorizerConfigurationException' },
  AUTHORIZER_FAILURE: { statusCode: 500, message: 'Internal server error', errorType: 'AuthorizerConfigurationException' },
  BAD_REQUEST_PARAMETERS: { statusCode: 400, message: 'Missing required request parameters', errorType: 'BadRequestException' },
  BAD_REQUEST_BODY: { statusCode: 400, message: 'Invalid request body', errorType: 'BadRequestException' },
  DEFAULT_4XX: { statusCode: 400, message: 'Bad Request' },
  DEFAULT_5XX: { statusCode: 500, message: 'Internal server error', errorType: 'InternalServerErrorException' },
  EXPIRED_TOKEN: { statusCode: 403, message: 'Token expired' },
  INTEGRATION_FAILURE: { statusCode: 504, message: 'Internal server error', errorType: 'InternalServerErrorException' },
  INTEGRATION_TIMEOUT: { statusCode: 504, message: 'Endpoint request timed out' },
  INVALID_API_KEY: { statusCode: 403, message: 'Forbidden', errorType: 'ForbiddenException' },
  INVALID_SIGNATURE: { statusCode: 403, message: 'Invalid signature', errorType: 'InvalidSignatureException' },
  MISSING_AUTHENTICATION_TOKEN: {
    statusCode: 403,
    message: 'Missing Authentication Token',
    errorType: 'MissingAuthenticationTokenException',
  },
  QUOTA_EXCEEDED: { statusCode: 429, message: 'Limit Exceeded', errorType: 'LimitExceededException' },
  REQUEST_TOO_LARGE: { statusCode: 413, message: 'Request Too Long' },
  RESOURCE_NOT_FOUND: { statusCode: 404, message: 'Not Found', errorType: 'NotFoundException' },
  THROTTLED: { statusCode: 429, message: 'Too Many Requests', errorType: 'TooManyRequestsException' },
  UNAUTHORIZED: { statusCode: 401, message: 'Unauthorized', errorType: 'UnauthorizedException' },
  UNSUPPORTED_MEDIA_TYPE: { statusCode: 415, message: 'Unsupported Media Type', errorType: 'UnsupportedMediaTypeException' },
  WAF_FILTERED: { statusCode: 403, message: 'Forbidden', errorType: 'ForbiddenException' },
};

const DEFAULT_TEMPLATE = '{"message":$context.error.messageString}';

export interface GatewayErrorInput extends Partial<GatewayError> {
  responseType: string;
  /** Overrides the type's built-in status (a Lambda failure is DEFAULT_5XX with 502). */
  statusCode?: number;
  /** Body template when no customised response supplies one (an authorizer's deny answers `{"Message":…}`). */
  defaultTemplate?: string;
}

export function renderGatewayResponse(state: RequestState, input: GatewayErrorInput): HttpResponse {
  const builtIn = GATEWAY_RESPONSE_DEFAULTS[input.responseType] ?? GATEWAY_RESPONSE_DEFAULTS.DEFAULT_5XX!;
  let status = input.statusCode ?? builtIn.statusCode;
  const custom = state.api.gatewayResponses.get(input.responseType);
  const fallback = custom ? undefined : state.api.gatewayResponses.get(status >= 500 ? 'DEFAULT_5XX' : 'DEFAULT_4XX');
  const config = custom ?? fallback;
  if (config?.statusCode !== undefined) status = config.statusCode;

  const error: GatewayError = {
    responseType: input.responseType,
    message: input.message !== undefined ? input.message : builtIn.message,
    ...(input.validationErrorString !== undefined ? { validationErrorString: input.validationErrorString } : {}),
  };
  const templates = config?.responseTemplates ?? {};
  const contentType = templates['application/json'] !== undefined ? 'application/json' : (Object.keys(templates)[0] ?? 'application/json');
  const template = templates[contentType] ?? input.defaultTemplate ?? DEFAULT_TEMPLATE;
  const body = substituteVariables(template, contextVariables(state, error, status));

  const headers: Array<[string, string[]]> = [['Content-Type', [contentType]]];
  if (builtIn.errorType) headers.push(['x-amzn-ErrorType', [builtIn.errorType]]);
  for (const [key, expr] of Object.entries(config?.responseParameters ?? {})) {
    const m = /^gatewayresponse\.header\.(.+)$/.exec(key);
    if (!m?.[1]) continue;
    const value = resolveMappingExpression(expr, state);
    if (value !== undefined) setHeader(headers, m[1], [value]);
  }
  return { statusCode: status, headers, body };
}

/** Replace (case-insensitively) or add a header. */
export function setHeader(headers: Array<[string, string[]]>, name: string, values: string[]): void {
  const lower = name.toLowerCase();
  const i = headers.findIndex(([k]) => k.toLowerCase() === lower);
  if (i >= 0) headers[i] = [name, values];
  else headers.push([name, values]);
}
