/**
 * The state of one request as it moves through the pipeline (routing →
 * authorizer → validation → integration), and the `$context` variables derived
 * from it for gateway-response templates and access logs.
 */
import type { ApiDefinition, RouteMatch } from './routes.js';

export interface RequestState {
  api: ApiDefinition;
  accountId: string;
  requestId: string;
  extendedRequestId: string;
  /** `X-Amzn-Trace-Id` passed to the integration and returned to the client. */
  traceHeader: string;
  traceRootId: string;
  /** When the request arrived, on the runtime's clock (requestTimeEpoch). */
  startedAtMs: number;
  /** When it arrived on the wall clock, for latencies. */
  startedRealMs: number;
  requestTime: string;
  httpMethod: string;
  /** Path as sent, still percent-encoded, without the query string. */
  rawPath: string;
  /** Query string as sent, without the `?`. */
  rawQuery: string;
  /** Header name/value pairs in arrival order, names in the case the client sent. */
  headers: Array<[string, string]>;
  /** The same headers by lower-case name, built once per request (lookups are case-insensitive). */
  headerIndex: Map<string, HeaderEntry>;
  /** Decoded query pairs, filled on first use by `queryOf`. */
  query?: Array<[string, string]>;
  body: Buffer;
  sourceIp: string;
  localPort: number;
  domainName: string;
  match?: RouteMatch;
  /** Set by the authorizer step: principalId, the context values (strings) and integrationLatency. */
  authorizer: Record<string, unknown> | null;
  /** The authorizer step's outcome, for the access log (CUSTOM methods only). */
  authorize?: { latencyMs: number; status: number; error?: string };
  integrationLatencyMs?: number;
  integrationStatus?: number;
}

/** One header of a request: the first spelling met (the event's key), the last value, and every value in order. */
export interface HeaderEntry {
  name: string;
  value: string;
  values: string[];
}

/** Index header pairs by lower-case name (insertion order: first occurrence). */
export function indexHeaders(headers: Array<[string, string]>): Map<string, HeaderEntry> {
  const index = new Map<string, HeaderEntry>();
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    const entry = index.get(lower);
    if (entry) {
      entry.value = value;
      entry.values.push(value);
    } else index.set(lower, { name, value, values: [value] });
  }
  return index;
}

/** Last value of a header, case-insensitive (API Gateway's `headers` keeps the last one). */
export function headerValue(state: Pick<RequestState, 'headerIndex'>, name: string): string | undefined {
  return state.headerIndex.get(name.toLowerCase())?.value;
}

/** Query parameters decoded the way API Gateway does (`+` and `%20` are spaces). */
export function queryPairs(rawQuery: string): Array<[string, string]> {
  if (!rawQuery) return [];
  return [...new URLSearchParams(rawQuery)];
}

/** The request's query pairs, decoded once per request. */
export function queryOf(state: RequestState): Array<[string, string]> {
  return (state.query ??= queryPairs(state.rawQuery));
}

export interface GatewayError {
  responseType: string;
  /** null for the responses whose message is null (authorizer failures: `{"message":null}`). */
  message: string | null;
  validationErrorString?: string;
}

/** `$context.*` variables, keyed without the `$` (`context.requestId`). */
export function contextVariables(state: RequestState, error?: GatewayError, status?: number): Record<string, string> {
  const resourcePath = state.match?.resource.path ?? '';
  const vars: Record<string, string> = {
    'context.requestId': state.requestId,
    'context.extendedRequestId': state.extendedRequestId,
    'context.apiId': state.api.apiId,
    'context.accountId': state.accountId,
    'context.stage': state.api.stageName,
    'context.httpMethod': state.httpMethod,
    'context.resourcePath': resourcePath,
    'context.resourceId': state.match?.resource.resourceId ?? '',
    'context.path': `/${state.api.stageName}${state.rawPath}`,
    'context.protocol': 'HTTP/1.1',
    'context.domainName': state.domainName,
    'context.domainPrefix': state.domainName.split('.')[0] ?? '',
    'context.requestTime': state.requestTime,
    'context.requestTimeEpoch': String(state.startedAtMs),
    'context.identity.sourceIp': state.sourceIp,
    'context.identity.userAgent': headerValue(state, 'user-agent') ?? '',
    'context.xrayTraceId': state.traceRootId,
  };
  if (status !== undefined) vars['context.status'] = String(status);
  if (state.integrationLatencyMs !== undefined) vars['context.integrationLatency'] = String(state.integrationLatencyMs);
  if (error) {
    vars['context.error.message'] = error.message ?? '';
    vars['context.error.messageString'] = JSON.stringify(error.message);
    vars['context.error.responseType'] = error.responseType;
    // Escaped for use inside a JSON string (templates write "$context.error.validationErrorString"
    // and the messages contain quotes, e.g. (["name"])); API Gateway's own output stays valid JSON there.
    vars['context.error.validationErrorString'] = JSON.stringify(error.validationErrorString ?? '').slice(1, -1);
  }
  if (state.authorizer) {
    // Escaped for use inside a JSON string, like validationErrorString: the values come from the authorizer.
    for (const [k, v] of Object.entries(state.authorizer)) {
      if (v === null || typeof v !== 'object') vars[`context.authorizer.${k}`] = JSON.stringify(String(v ?? '')).slice(1, -1);
    }
  }
  if (state.api.stageVariables) {
    for (const [k, v] of Object.entries(state.api.stageVariables)) vars[`stageVariables.${k}`] = v;
  }
  return vars;
}

/**
 * Substitute `$context.x.y`, `$!context.x.y`, `${context.x.y}` and
 * `$!{context.x.y}` (also `$stageVariables.x`) in a template. This is plain
 * string substitution, not VTL: directives (`#if`, `#set`, `#foreach`) are not
 * evaluated. As in VTL, an unknown reference is left as written, or rendered
 * empty in its quiet `$!` form.
 */
export function substituteVariables(template: string, vars: Record<string, string>): string {
  return template.replace(
    /\$(!?)(?:\{((?:context|stageVariables)(?:\.[A-Za-z0-9_-]+)+)\}|((?:context|stageVariables)(?:\.[A-Za-z0-9_]+)+))/g,
    (whole, quiet: string, braced: string | undefined, bare: string | undefined) => {
      const name = (braced ?? bare) as string;
      const value = vars[name];
      if (value !== undefined) return value;
      return quiet ? '' : whole;
    },
  );
}

/**
 * The value of a response-parameter mapping expression: a `'static'` literal
 * (the single quotes stripped), `method.request.header|querystring|path.X`,
 * `stageVariables.X` or `context.X`. Undefined when it does not resolve.
 */
export function resolveMappingExpression(expr: string, state: RequestState): string | undefined {
  const trimmed = expr.trim();
  if (trimmed.length >= 2 && trimmed.startsWith("'") && trimmed.endsWith("'")) return trimmed.slice(1, -1);
  const m = /^method\.request\.(header|querystring|path)\.(.+)$/.exec(trimmed);
  if (m) {
    const [, where, name] = m as unknown as [string, string, string];
    if (where === 'header') return headerValue(state, name);
    if (where === 'querystring') {
      let last: string | undefined;
      for (const [k, v] of queryOf(state)) if (k === name) last = v;
      return last;
    }
    return state.match?.pathParameters?.[name];
  }
  if (trimmed.startsWith('context.authorizer.')) {
    // Header values get the raw value, not the JSON-escaped template form.
    const v = state.authorizer?.[trimmed.slice('context.authorizer.'.length)];
    return v === undefined || v === null || typeof v === 'object' ? undefined : String(v);
  }
  if (trimmed.startsWith('stageVariables.') || trimmed.startsWith('context.')) {
    return contextVariables(state)[trimmed];
  }
  return undefined;
}
