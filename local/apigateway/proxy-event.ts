/**
 * Lambda proxy integration (AWS_PROXY), REST API payload v1: the event given to
 * the function and the mapping of what it returns.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { HttpResponse } from './gateway-responses.js';
import { isRecord } from '../cfn.js';
import type { RequestState } from './request.js';
import { headerValue, queryOf } from './request.js';

/**
 * Whether a request body travels base64-encoded. API Gateway decides with the
 * RestApi's BinaryMediaTypes; when the API declares some, they are honoured
 * here (wildcards `*\/*`, `image/*`). When it declares none, real API Gateway
 * passes every body as UTF-8 text (corrupting binary uploads); locally the body
 * is text for text-like types (text/*, application/json, application/*+json,
 * application/xml, application/*+xml, application/x-www-form-urlencoded, or no
 * Content-Type) and base64 otherwise, so binary payloads survive.
 */
export function isBinaryBody(contentType: string | undefined, binaryMediaTypes: string[]): boolean {
  const media = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (binaryMediaTypes.length > 0) return media !== '' && binaryMediaTypes.some((t) => mediaTypeMatches(t, media));
  if (media === '') return false;
  return !(
    media.startsWith('text/') ||
    media === 'application/json' ||
    media === 'application/xml' ||
    media === 'application/x-www-form-urlencoded' ||
    /^application\/[^/]+\+(json|xml)$/.test(media)
  );
}

export function mediaTypeMatches(pattern: string, media: string): boolean {
  const [pType, pSub] = pattern.trim().toLowerCase().split(';')[0]!.split('/');
  const [mType, mSub] = media.split('/');
  return (pType === '*' || pType === mType) && (pSub === '*' || pSub === mSub);
}

/** Request headers API Gateway sets itself on the integration request (the client's values are replaced). */
const GATEWAY_SET_HEADERS = new Set(['x-amzn-trace-id', 'x-forwarded-for', 'x-forwarded-port', 'x-forwarded-proto']);

/** The parts of an event that depend on the request only: the REQUEST authorizer's event and the integration's share them. */
interface RequestParts {
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
  queryStringParameters: Record<string, string> | null;
  multiValueQueryStringParameters: Record<string, string[]> | null;
}

const partsOfRequest = new WeakMap<RequestState, RequestParts>();

/**
 * headers: last value per header; multiValueHeaders: every value. Names keep
 * the case the client sent (the first spelling met, for a repeated header).
 * API Gateway then sets X-Amzn-Trace-Id and the X-Forwarded-* headers itself;
 * an incoming X-Forwarded-For gets the client address appended.
 */
function requestParts(state: RequestState): RequestParts {
  const cached = partsOfRequest.get(state);
  if (cached) return cached;
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  // The index is built once per request and never changed afterwards, so its value lists can be shared.
  for (const [lower, entry] of state.headerIndex) {
    if (GATEWAY_SET_HEADERS.has(lower)) continue;
    headers[entry.name] = entry.value;
    multiValueHeaders[entry.name] = entry.values;
  }
  const xff = state.headerIndex.get('x-forwarded-for')?.value;
  const added: Array<[string, string]> = [
    ['X-Amzn-Trace-Id', state.traceHeader],
    ['X-Forwarded-For', xff ? `${xff}, ${state.sourceIp}` : state.sourceIp],
    ['X-Forwarded-Port', String(state.localPort)],
    ['X-Forwarded-Proto', 'http'],
  ];
  for (const [name, value] of added) {
    headers[name] = value;
    multiValueHeaders[name] = [value];
  }

  let queryStringParameters: Record<string, string> | null = null;
  let multiValueQueryStringParameters: Record<string, string[]> | null = null;
  const pairs = queryOf(state);
  if (pairs.length > 0) {
    queryStringParameters = {};
    multiValueQueryStringParameters = {};
    for (const [k, v] of pairs) {
      queryStringParameters[k] = v;
      (multiValueQueryStringParameters[k] ??= []).push(v);
    }
  }
  const parts = { headers, multiValueHeaders, queryStringParameters, multiValueQueryStringParameters };
  partsOfRequest.set(state, parts);
  return parts;
}

export function buildProxyEvent(state: RequestState): APIGatewayProxyEvent {
  const match = state.match;
  if (!match) throw new Error('buildProxyEvent needs a routed request');
  const parts = requestParts(state);

  const isBase64Encoded = state.body.length > 0 && isBinaryBody(headerValue(state, 'content-type'), state.api.binaryMediaTypes);
  const body = state.body.length === 0 ? null : isBase64Encoded ? state.body.toString('base64') : state.body.toString('utf8');
  const stagePath = `/${state.api.stageName}${state.rawPath}`;
  const dot = state.domainName.indexOf('.');
  // deploymentId is in every event API Gateway sends, though @types/aws-lambda does not list it.
  const requestContext: APIGatewayProxyEvent['requestContext'] & { deploymentId: string } = {
    resourceId: match.resource.resourceId,
    deploymentId: state.api.deploymentId,
    resourcePath: match.resource.path,
    httpMethod: state.httpMethod,
    extendedRequestId: state.extendedRequestId,
    requestTime: state.requestTime,
    path: stagePath,
    accountId: state.accountId,
    protocol: 'HTTP/1.1',
    stage: state.api.stageName,
    domainPrefix: dot >= 0 ? state.domainName.slice(0, dot) : state.domainName,
    requestTimeEpoch: state.startedAtMs,
    requestId: state.requestId,
    identity: {
      cognitoIdentityPoolId: null,
      accountId: null,
      cognitoIdentityId: null,
      caller: null,
      sourceIp: state.sourceIp,
      principalOrgId: null,
      accessKey: null,
      cognitoAuthenticationType: null,
      cognitoAuthenticationProvider: null,
      userArn: null,
      userAgent: headerValue(state, 'user-agent') ?? null,
      user: null,
      apiKey: null,
      apiKeyId: null,
      clientCert: null,
    },
    domainName: state.domainName,
    apiId: state.api.apiId,
    authorizer: state.authorizer,
  };

  return {
    resource: match.resource.path,
    path: state.rawPath,
    httpMethod: state.httpMethod,
    headers: parts.headers,
    multiValueHeaders: parts.multiValueHeaders,
    queryStringParameters: parts.queryStringParameters,
    multiValueQueryStringParameters: parts.multiValueQueryStringParameters,
    pathParameters: match.pathParameters,
    stageVariables: state.api.stageVariables,
    requestContext,
    body,
    isBase64Encoded,
  };
}

const ALLOWED_RESULT_KEYS = new Set(['statusCode', 'headers', 'multiValueHeaders', 'body', 'isBase64Encoded']);

/**
 * Response headers API Gateway does not pass through from an integration but
 * renames to `x-amzn-Remapped-<name>` (they belong to API Gateway's own
 * connection with the client). Approximation of the documented list.
 */
const REMAPPED_HEADERS = new Set([
  'authorization',
  'connection',
  'content-length',
  'date',
  'server',
  'www-authenticate',
  'transfer-encoding',
  'keep-alive',
  'upgrade',
  'trailer',
  'te',
  'proxy-authenticate',
]);

export type ProxyResultMapping = { ok: true; response: HttpResponse } | { ok: false; reason: string };

const headerScalar = (v: unknown): v is string | number | boolean =>
  typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

/**
 * Map a function's result to the HTTP response, or explain why API Gateway
 * would reject it ("Malformed Lambda proxy response" → 502). Checked as API
 * Gateway does: an object with an integer statusCode, a string (or absent) body,
 * string-ish header values, and no keys besides statusCode, headers,
 * multiValueHeaders, body and isBase64Encoded (a v2-only `cookies` field is a
 * 502 on a REST API). Headers and multiValueHeaders are merged; for a name in
 * both, only the multiValueHeaders values are kept (documented behaviour).
 * A base64 body is decoded to bytes unless the API declares BinaryMediaTypes
 * and neither the request's Accept nor the response's Content-Type matches one,
 * in which case API Gateway returns the base64 text as is.
 */
export function mapProxyResult(payload: unknown, state: RequestState): ProxyResultMapping {
  if (payload instanceof Uint8Array) {
    try {
      payload = JSON.parse(Buffer.from(payload).toString('utf8'));
    } catch {
      return { ok: false, reason: 'result is not JSON' };
    }
  }
  if (!isRecord(payload)) return { ok: false, reason: 'result is not an object' };
  for (const k of Object.keys(payload)) {
    if (!ALLOWED_RESULT_KEYS.has(k)) {
      const extra = Object.keys(payload).filter((key) => !ALLOWED_RESULT_KEYS.has(key));
      return { ok: false, reason: `unexpected field(s) ${extra.join(', ')}` };
    }
  }
  const rawStatus = payload.statusCode;
  const statusCode = typeof rawStatus === 'string' && /^\d+$/.test(rawStatus) ? Number(rawStatus) : rawStatus;
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) {
    return { ok: false, reason: 'statusCode missing or not an integer' };
  }
  const body = payload.body;
  if (body !== undefined && body !== null && typeof body !== 'string') return { ok: false, reason: 'body is not a string' };
  const b64 = payload.isBase64Encoded;
  if (b64 !== undefined && b64 !== null && typeof b64 !== 'boolean') return { ok: false, reason: 'isBase64Encoded is not a boolean' };

  // By lower-case name: a later spelling replaces an earlier one in its place.
  const merged = new Map<string, [string, string[]]>();
  const single = payload.headers;
  if (single !== undefined && single !== null) {
    if (!isRecord(single)) return { ok: false, reason: 'headers is not an object' };
    for (const k of Object.keys(single)) {
      const v = single[k];
      if (v === null || v === undefined) continue;
      if (!headerScalar(v)) return { ok: false, reason: `header ${k} is not a string` };
      merged.set(k.toLowerCase(), [k, [String(v)]]);
    }
  }
  const multi = payload.multiValueHeaders;
  if (multi !== undefined && multi !== null) {
    if (!isRecord(multi)) return { ok: false, reason: 'multiValueHeaders is not an object' };
    for (const k of Object.keys(multi)) {
      const v = multi[k];
      if (v === null || v === undefined) continue;
      if (!Array.isArray(v) || !v.every(headerScalar)) return { ok: false, reason: `multiValueHeaders.${k} is not a list of strings` };
      merged.set(k.toLowerCase(), [k, v.map(String)]);
    }
  }
  const headers: Array<[string, string[]]> = [];
  let contentType: string | undefined;
  for (const [lower, [name, values]] of merged) {
    if (lower === 'content-type') contentType = values[0];
    headers.push(REMAPPED_HEADERS.has(lower) ? [`x-amzn-Remapped-${name}`, values] : [name, values]);
  }
  // REST APIs answer application/json when the integration sets no Content-Type.
  if (contentType === undefined) headers.push(['Content-Type', ['application/json']]);

  const text = typeof body === 'string' ? body : '';
  const out = b64 === true && shouldDecodeBase64(state, contentType) ? Buffer.from(text, 'base64') : text;
  return { ok: true, response: { statusCode, headers, body: out } };
}

function shouldDecodeBase64(state: RequestState, contentType: string | undefined): boolean {
  const types = state.api.binaryMediaTypes;
  if (types.length === 0) return true;
  const accepted = (headerValue(state, 'accept') ?? '')
    .split(',')
    .map((a) => a.split(';')[0]!.trim().toLowerCase())
    .filter(Boolean);
  const candidates = [...accepted, (contentType ?? '').split(';')[0]!.trim().toLowerCase()].filter(Boolean);
  return candidates.some((media) => types.some((t) => mediaTypeMatches(t, media) || mediaTypeMatches(media, t)));
}
