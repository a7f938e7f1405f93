/**
 * Lambda authorizers (TOKEN and REQUEST), the step of the pipeline between
 * routing and request validation (API Gateway authorizes before it validates,
 * so an unauthenticated client learns nothing about the models).
 *
 * As API Gateway REST APIs do, for a method with AuthorizationType CUSTOM:
 * - identity sources missing or empty (or a TOKEN not matching
 *   IdentityValidationExpression) → 401 UNAUTHORIZED, function not invoked;
 * - the function gets the TOKEN event `{type, authorizationToken, methodArn}`
 *   or the REQUEST event (the proxy event's request pieces, no body);
 * - a function error whose message is exactly `Unauthorized` → 401; any other
 *   error, a timeout or an invalid output (no policy, a bad Effect, an object
 *   in `context`) → 500 AUTHORIZER_CONFIGURATION_ERROR `{"message":null}`
 *   (x-amzn-ErrorType AuthorizerConfigurationException);
 * - the policy is evaluated against the methodArn: a matching Deny → 403
 *   ACCESS_DENIED "…with an explicit deny", no matching Allow → 403 ACCESS_DENIED;
 * - on Allow the integration sees `requestContext.authorizer` = principalId,
 *   the context values stringified, and integrationLatency.
 * Outputs are cached per authorizer and identity-source values for
 * AuthorizerResultTtlInSeconds (default 300), and a cached policy is evaluated
 * against each new methodArn, as on AWS (a policy naming only the first path
 * denies the others until the entry expires).
 * `usageIdentifierKey` is ignored (no usage plans locally).
 */
import type { APIGatewayRequestAuthorizerEvent, APIGatewayTokenAuthorizerEvent } from 'aws-lambda';
import { isRecord, lambdaTargetFromUri, references, resourcesOfType, stableId, stringProp } from '../cfn.js';
import type { CfnTemplate, FunctionInvoker } from '../types.js';
import type { GatewayErrorInput } from './gateway-responses.js';
import { InvocationFailure, withTimeout } from './invoke.js';
import { buildProxyEvent } from './proxy-event.js';
import type { RequestState } from './request.js';
import { contextVariables, headerValue, queryOf } from './request.js';
import type { ApiDefinition, MethodDef, ResourceNode } from './routes.js';

export type AuthorizerOutcome =
  | { allow: true; authorizer: Record<string, unknown> | null }
  | {
      allow: false;
      error: GatewayErrorInput;
      /** Set when the function answered (a Deny's context is visible to the ACCESS_DENIED template). */
      authorizer: Record<string, unknown> | null;
      /** For the access log, when it says more than the client response. */
      logMessage?: string;
    };

export interface AuthorizerStepDeps {
  invoker: FunctionInvoker;
  authorizers: Map<string, AuthorizerDef>;
  cache: AuthorizerCache;
  /** The runtime's clock: the result TTL is emulated time. */
  now: () => number;
  region: string;
  /** How long to wait for the function (API Gateway's 29 s integration timeout). */
  timeoutMs: number;
}

export type AuthorizerStep = (method: MethodDef, state: RequestState, deps: AuthorizerStepDeps) => Promise<AuthorizerOutcome>;

export interface IdentitySourceDef {
  /** As written in the template, e.g. `method.request.header.Authorization`. */
  expression: string;
  where: 'header' | 'multivalueheader' | 'querystring' | 'multivaluequerystring' | 'stageVariables' | 'context';
  name: string;
}

export interface AuthorizerDef {
  logicalId: string;
  /** Stand-in for the AWS authorizer id. */
  authorizerId: string;
  type: 'TOKEN' | 'REQUEST';
  functionRef?: string;
  identitySources: IdentitySourceDef[];
  /** TOKEN only: the whole token must match. */
  validation?: RegExp;
  ttlSeconds: number;
}

/** CloudFormation's default for AuthorizerResultTtlInSeconds. */
export const DEFAULT_AUTHORIZER_TTL_SECONDS = 300;

/** Default bodies of the two denials (API Gateway's own, with a capital M, not the `{"message":…}` template). */
export const EXPLICIT_DENY_MESSAGE = 'User is not authorized to access this resource with an explicit deny';
export const IMPLICIT_DENY_MESSAGE = 'User is not authorized to access this resource';
const DENY_DEFAULT_TEMPLATE = '{"Message":$context.error.messageString}';

/** The Lambda authorizers of the served API, with warnings for what cannot be emulated. */
export function readAuthorizers(
  template: CfnTemplate,
  api: ApiDefinition,
): { authorizers: Map<string, AuthorizerDef>; warnings: string[] } {
  const authorizers = new Map<string, AuthorizerDef>();
  const warnings: string[] = [];
  for (const [id, res] of resourcesOfType(template, 'AWS::ApiGateway::Authorizer')) {
    const p = res.Properties ?? {};
    if (!references(p.RestApiId, api.logicalId)) continue;
    const type = (stringProp(p, 'Type') ?? '').toUpperCase();
    if (type !== 'TOKEN' && type !== 'REQUEST') {
      warnings.push(`${id}: authorizer type ${type || '(none)'} is not emulated locally (TOKEN and REQUEST are); its methods answer 500`);
      continue;
    }
    const functionRef = lambdaTargetFromUri(p.AuthorizerUri, template);
    if (!functionRef)
      warnings.push(`${id}: AuthorizerUri does not point at a Lambda function this emulator can find; its methods answer 500`);
    const identitySources: IdentitySourceDef[] = [];
    for (const expression of (stringProp(p, 'IdentitySource') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const parsed = parseIdentitySource(expression);
      if (parsed) identitySources.push(parsed);
      else warnings.push(`${id}: identity source ${expression} is not understood; requests are answered 401`);
    }
    if (type === 'TOKEN' && identitySources.length === 0)
      warnings.push(`${id}: TOKEN authorizer without IdentitySource; requests are answered 401`);
    let validation: RegExp | undefined;
    const expr = stringProp(p, 'IdentityValidationExpression');
    if (type === 'TOKEN' && expr) {
      try {
        validation = new RegExp(`^(?:${expr})$`);
      } catch {
        warnings.push(`${id}: IdentityValidationExpression ${expr} is not a valid regular expression here; not applied`);
      }
    }
    const ttl = Number(p.AuthorizerResultTtlInSeconds ?? DEFAULT_AUTHORIZER_TTL_SECONDS);
    authorizers.set(id, {
      logicalId: id,
      authorizerId: stableId(`authorizer:${id}`, 6),
      type,
      ...(functionRef ? { functionRef } : {}),
      identitySources,
      ...(validation ? { validation } : {}),
      ttlSeconds: Number.isFinite(ttl) && ttl > 0 ? ttl : 0,
    });
  }
  const visit = (node: ResourceNode): void => {
    for (const m of node.methods.values()) {
      if (m.authorizationType === 'CUSTOM' && !(m.authorizerLogicalId && authorizers.has(m.authorizerLogicalId))) {
        warnings.push(`${m.logicalId}: CUSTOM authorization without a usable Lambda authorizer of this API; requests are answered 500`);
      }
    }
    node.children.forEach(visit);
  };
  visit(api.root);
  return { authorizers, warnings };
}

function parseIdentitySource(expression: string): IdentitySourceDef | undefined {
  const m = /^method\.request\.(header|multivalueheader|querystring|multivaluequerystring)\.(.+)$/i.exec(expression);
  if (m) return { expression, where: m[1]!.toLowerCase() as IdentitySourceDef['where'], name: m[2]! };
  if (expression.startsWith('stageVariables.')) return { expression, where: 'stageVariables', name: expression.slice(15) };
  if (expression.startsWith('context.')) return { expression, where: 'context', name: expression };
  return undefined;
}

function identityValue(source: IdentitySourceDef, state: RequestState): string | undefined {
  switch (source.where) {
    case 'header':
      return headerValue(state, source.name);
    case 'multivalueheader':
      return state.headerIndex.get(source.name.toLowerCase())?.values.join(',');
    case 'querystring':
    case 'multivaluequerystring': {
      const values: string[] = [];
      for (const [k, v] of queryOf(state)) if (k === source.name) values.push(v);
      if (values.length === 0) return undefined;
      return source.where === 'querystring' ? values.at(-1) : values.join(',');
    }
    case 'stageVariables':
      return state.api.stageVariables?.[source.name];
    case 'context':
      return contextVariables(state)[source.name];
  }
}

/**
 * `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}`: the
 * request path (as sent, empty segments dropped), not the resource template.
 */
export function methodArn(state: RequestState, region: string): string {
  const path = state.rawPath.split('/').filter(Boolean).join('/');
  return `arn:aws:execute-api:${region}:${state.accountId}:${state.api.apiId}/${state.api.stageName}/${state.httpMethod}/${path}`;
}

/** A valid authorizer output, as cached. */
interface AuthorizerOutput {
  principalId?: string;
  statements: PolicyStatement[];
  context: Record<string, string>;
}

interface PolicyStatement {
  effect: 'Allow' | 'Deny';
  actions: string[];
  /** NotAction: matches when none of these match. */
  notAction: boolean;
  resources: string[];
  notResource: boolean;
}

export class AuthorizerCache {
  private readonly entries = new Map<string, { output: AuthorizerOutput; expiresAt: number }>();

  get(key: string, now: number): AuthorizerOutput | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return e.output;
  }

  set(key: string, output: AuthorizerOutput, expiresAt: number, now: number): void {
    if (this.entries.size >= 10_000) {
      for (const [k, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(k);
      if (this.entries.size >= 10_000) this.entries.clear();
    }
    this.entries.set(key, { output, expiresAt });
  }
}

export const authorize: AuthorizerStep = async (method, state, deps) => {
  if (method.authorizationType !== 'CUSTOM') return { allow: true, authorizer: null };
  const t0 = Date.now();
  const outcome = await runAuthorizer(method, state, deps);
  state.authorize = {
    latencyMs: Date.now() - t0,
    status: outcome.allow ? 200 : (outcome.error.statusCode ?? statusOf(outcome.error.responseType)),
    ...(outcome.allow ? {} : { error: outcome.logMessage ?? outcome.error.message ?? outcome.error.responseType }),
  };
  return outcome;
};

function statusOf(responseType: string): number {
  return responseType === 'UNAUTHORIZED' ? 401 : responseType === 'ACCESS_DENIED' ? 403 : 500;
}

const configurationError = (logMessage: string, authorizer: Record<string, unknown> | null = null): AuthorizerOutcome => ({
  allow: false,
  // API Gateway's body here is {"message":null}.
  error: { responseType: 'AUTHORIZER_CONFIGURATION_ERROR', message: null },
  authorizer,
  logMessage,
});

const unauthorized = (logMessage: string): AuthorizerOutcome => ({
  allow: false,
  error: { responseType: 'UNAUTHORIZED', message: 'Unauthorized' },
  authorizer: null,
  logMessage,
});

async function runAuthorizer(method: MethodDef, state: RequestState, deps: AuthorizerStepDeps): Promise<AuthorizerOutcome> {
  const def = method.authorizerLogicalId ? deps.authorizers.get(method.authorizerLogicalId) : undefined;
  if (!def?.functionRef)
    return configurationError(`Execution failed due to configuration error: no usable authorizer for ${method.logicalId}`);
  if (def.type === 'TOKEN' && def.identitySources.length === 0) return unauthorized('TOKEN authorizer without identity source');

  const values = def.identitySources.map((s) => identityValue(s, state));
  if (values.some((v) => v === undefined || v === '')) return unauthorized('The identity source is missing or empty');
  const identity = values as string[];
  if (def.type === 'TOKEN' && def.validation && !def.validation.test(identity[0]!)) {
    return unauthorized('The token does not match the identity validation expression');
  }
  const arn = methodArn(state, deps.region);

  // Without identity sources there is nothing to key on: API Gateway requires one for caching.
  const cacheKey = def.ttlSeconds > 0 && identity.length > 0 ? JSON.stringify([def.logicalId, ...identity]) : undefined;
  let output = cacheKey ? deps.cache.get(cacheKey, deps.now()) : undefined;
  let integrationLatency = 0;
  if (!output) {
    const event: APIGatewayTokenAuthorizerEvent | APIGatewayRequestAuthorizerEvent =
      def.type === 'TOKEN' ? { type: 'TOKEN', authorizationToken: identity[0]!, methodArn: arn } : requestEvent(state, arn);
    const t0 = Date.now();
    const result = await withTimeout(deps.invoker.invoke(def.functionRef, event, { traceHeader: state.traceHeader }), deps.timeoutMs);
    integrationLatency = Date.now() - t0;
    if (result === 'timeout') return configurationError('Authorizer timed out');
    if (result instanceof InvocationFailure)
      return configurationError(`Execution failed due to configuration error: ${result.error.message}`);
    if (!result.ok) {
      // Only this exact message means 401; anything else is an authorizer failure.
      if (result.payload.errorMessage === 'Unauthorized') return unauthorized('The authorizer answered Unauthorized');
      return configurationError(`Authorizer error: ${result.payload.errorType}: ${result.payload.errorMessage}`);
    }
    const parsed = parseOutput(result.payload);
    if (typeof parsed === 'string')
      return configurationError(`Execution failed due to configuration error: Invalid authorizer response (${parsed})`);
    output = parsed;
    if (cacheKey) deps.cache.set(cacheKey, output, deps.now() + def.ttlSeconds * 1000, deps.now());
  }

  const authorizer: Record<string, unknown> = { ...output.context };
  if (output.principalId !== undefined) authorizer.principalId = output.principalId;
  authorizer.integrationLatency = integrationLatency;

  const verdict = evaluatePolicy(output.statements, arn);
  if (verdict === 'ALLOW') return { allow: true, authorizer };
  const message = verdict === 'EXPLICIT_DENY' ? EXPLICIT_DENY_MESSAGE : IMPLICIT_DENY_MESSAGE;
  return { allow: false, error: { responseType: 'ACCESS_DENIED', message, defaultTemplate: DENY_DEFAULT_TEMPLATE }, authorizer };
}

/**
 * The REQUEST event: the proxy event's request pieces, without body and without
 * requestContext.authorizer. Unlike the proxy event, whose empty maps are
 * `null`, API Gateway sends `{}` for an empty query string, path parameters
 * and stage variables here (what `APIGatewayRequestAuthorizerEventSchema` of
 * Powertools requires, from events captured on AWS).
 */
function requestEvent(state: RequestState, arn: string): APIGatewayRequestAuthorizerEvent {
  const e = buildProxyEvent(state);
  const requestContext: Partial<typeof e.requestContext> = { ...e.requestContext };
  delete requestContext.authorizer;
  return {
    type: 'REQUEST',
    methodArn: arn,
    resource: e.resource,
    path: e.path,
    httpMethod: e.httpMethod,
    headers: e.headers,
    multiValueHeaders: e.multiValueHeaders,
    queryStringParameters: e.queryStringParameters ?? {},
    multiValueQueryStringParameters: e.multiValueQueryStringParameters ?? {},
    pathParameters: e.pathParameters ?? {},
    stageVariables: e.stageVariables ?? {},
    requestContext: requestContext as APIGatewayRequestAuthorizerEvent['requestContext'],
  };
}

/** The output, validated as API Gateway does, or why it is invalid. */
function parseOutput(payload: unknown): AuthorizerOutput | string {
  if (payload instanceof Uint8Array) {
    try {
      payload = JSON.parse(Buffer.from(payload).toString('utf8'));
    } catch {
      return 'not JSON';
    }
  }
  if (!isRecord(payload)) return 'not an object';
  const out: AuthorizerOutput = { statements: [], context: {} };
  const principal = payload.principalId;
  if (principal !== undefined && principal !== null) {
    if (typeof principal === 'object') return 'principalId is not a string';
    out.principalId = String(principal);
  }
  const doc = payload.policyDocument;
  if (!isRecord(doc)) return 'no policyDocument';
  const raw = doc.Statement;
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  if (list.length === 0) return 'policyDocument has no Statement';
  for (const s of list as unknown[]) {
    if (!isRecord(s)) return 'a Statement is not an object';
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') return `invalid Effect ${JSON.stringify(s.Effect)}`;
    const actions = stringList(s.Action ?? s.NotAction);
    const resources = stringList(s.Resource ?? s.NotResource);
    if (!actions) return 'a Statement has no Action';
    if (!resources) return 'a Statement has no Resource';
    out.statements.push({ effect: s.Effect, actions, notAction: s.Action === undefined, resources, notResource: s.Resource === undefined });
  }
  const ctx = payload.context;
  if (ctx !== undefined && ctx !== null) {
    if (!isRecord(ctx)) return 'context is not an object';
    for (const [k, v] of Object.entries(ctx)) {
      // Only flat string/number/boolean values are accepted; they reach the integration as strings.
      if (v === null || v === undefined) continue;
      if (typeof v === 'object') return `context.${k} is an object or array`;
      out.context[k] = String(v);
    }
  }
  return out;
}

function stringList(value: unknown): string[] | undefined {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string')) return value as string[];
  return undefined;
}

/** IAM-style evaluation: an explicit Deny wins, then any Allow, else an implicit deny. */
export function evaluatePolicy(statements: PolicyStatement[], arn: string): 'ALLOW' | 'EXPLICIT_DENY' | 'IMPLICIT_DENY' {
  const applies = (s: PolicyStatement): boolean => {
    const actionHit = s.actions.some((a) => wildcardMatch(a, 'execute-api:Invoke', true));
    const resourceHit = s.resources.some((r) => wildcardMatch(r, arn, false));
    return actionHit !== s.notAction && resourceHit !== s.notResource;
  };
  if (statements.some((s) => s.effect === 'Deny' && applies(s))) return 'EXPLICIT_DENY';
  return statements.some((s) => s.effect === 'Allow' && applies(s)) ? 'ALLOW' : 'IMPLICIT_DENY';
}

/**
 * Compiled wildcard patterns: a policy (cached for its TTL) is evaluated on
 * every request, against the same few patterns. Bounded, as the patterns come
 * from functions.
 */
const compiledWildcards = new Map<string, RegExp>();

/** `*` matches any run of characters (slashes included), `?` one character. */
export function wildcardMatch(pattern: string, value: string, ignoreCase: boolean): boolean {
  const key = ignoreCase ? `i:${pattern}` : `s:${pattern}`;
  let re = compiledWildcards.get(key);
  if (!re) {
    const source = pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.');
    re = new RegExp(`^${source}$`, ignoreCase ? 'is' : 's');
    if (compiledWildcards.size >= 1000) compiledWildcards.clear();
    compiledWildcards.set(key, re);
  }
  return re.test(value);
}
