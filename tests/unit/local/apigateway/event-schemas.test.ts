/**
 * Every event the API Gateway emulator hands a function has the shape AWS
 * sends (DESIGN.md §7): each one is checked against the zod schema that
 * `@aws-lambda-powertools/parser` ships for its source, for a representative
 * set of requests (with and without query strings and path parameters,
 * repeated headers, binary and JSON bodies, OPTIONS and HEAD, stage variables,
 * REQUEST and TOKEN authorizers, an authorizer context on the proxy event).
 */
import {
  APIGatewayProxyEventSchema,
  APIGatewayRequestAuthorizerEventSchema,
  APIGatewayTokenAuthorizerEventSchema,
} from '@aws-lambda-powertools/parser/schemas';
import type { OutgoingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startApiGateway } from '../../../../local/apigateway/index.js';
import type { ApiGatewayServer } from '../../../../local/apigateway/index.js';
import { synthApiFixture } from '../../../fixtures/apigateway/cdk-stack.js';
import type { ApiFixture } from '../../../fixtures/apigateway/cdk-stack.js';
import { send } from '../../../fixtures/apigateway/http.js';
import { allowCaller, okResult, RecordingInvoker } from '../../../fixtures/apigateway/recording-invoker.js';
import type { RecordedCall } from '../../../fixtures/apigateway/recording-invoker.js';

type Kind = 'proxy' | 'request' | 'token';

const kindOf = (event: Record<string, unknown>): Kind =>
  event.type === 'REQUEST' ? 'request' : event.type === 'TOKEN' ? 'token' : 'proxy';

const schemaFor = {
  proxy: APIGatewayProxyEventSchema,
  request: APIGatewayRequestAuthorizerEventSchema,
  token: APIGatewayTokenAuthorizerEventSchema,
} as const;

/** Zod issues of one event against the schema of its source (empty when it parses). */
function issues(call: RecordedCall): Array<{ path: string; message: string }> {
  const result = schemaFor[kindOf(call.event)].safeParse(call.event);
  return result.success ? [] : result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

let fixture: ApiFixture;
let main: ApiGatewayServer;
let raw: ApiGatewayServer;
const invoker = new RecordingInvoker();

beforeAll(async () => {
  fixture = synthApiFixture({ authorizers: true, rawApi: true });
  const common = { template: fixture.template, invoker, accountId: '123456789012', region: 'eu-west-1' };
  main = await startApiGateway({ ...common, restApiLogicalId: fixture.restApiLogicalId });
  raw = await startApiGateway({ ...common, restApiLogicalId: fixture.raw!.restApiLogicalId });
}, 60_000);

afterAll(async () => {
  await main?.stop();
  await raw?.stop();
});

beforeEach(() => {
  invoker.take();
  invoker.handlers.clear();
  const auth = fixture.auth!;
  const context = { role: 'admin', level: 7, beta: true };
  for (const fn of [auth.requestFn, auth.cachedFn, auth.tokenFn, fixture.raw!.authFn]) invoker.handlers.set(fn, allowCaller(context));
});

interface Case {
  name: string;
  api: 'main' | 'raw';
  method: string;
  path: string;
  headers?: OutgoingHttpHeaders;
  body?: Buffer | string;
  /** The events expected, in order of invocation. */
  kinds: Kind[];
  /** Further checks on the events (the schema alone does not pin these). */
  check?: (events: Array<Record<string, unknown>>) => void;
}

const cases: Case[] = [
  {
    name: 'GET without query string or path parameters',
    api: 'main',
    method: 'GET',
    path: '/health',
    kinds: ['proxy'],
    check: ([e]) => {
      expect(e!.queryStringParameters).toBeNull();
      expect(e!.pathParameters).toBeNull();
    },
  },
  {
    name: 'query string with repeated, empty and valueless keys',
    api: 'main',
    method: 'GET',
    path: '/api/v1/receivers?limit=5&tag=a&tag=b&empty=&flag&q=a%20b+c',
    kinds: ['proxy'],
    check: ([e]) => expect(e!.multiValueQueryStringParameters).toMatchObject({ tag: ['a', 'b'], empty: [''], flag: [''] }),
  },
  {
    name: 'percent-encoded path parameter',
    api: 'main',
    method: 'GET',
    path: '/api/v1/receivers/abc%20d/versions',
    kinds: ['proxy'],
    check: ([e]) => expect(e!.pathParameters).toEqual({ id: 'abc d' }),
  },
  { name: 'greedy {proxy+} path through ANY', api: 'main', method: 'PATCH', path: '/api/v1/files/a/b%20c/d.txt', kinds: ['proxy'] },
  {
    name: 'repeated headers (multiValueHeaders)',
    api: 'main',
    method: 'GET',
    path: '/health',
    headers: { Accept: ['application/json', 'text/plain'], 'X-Multi': ['1', '2'], Cookie: 'a=1; b=2' },
    kinds: ['proxy'],
    check: ([e]) => expect((e!.multiValueHeaders as Record<string, string[]>)['X-Multi']).toEqual(['1', '2']),
  },
  {
    name: 'client X-Forwarded-For and X-Amzn-Trace-Id',
    api: 'main',
    method: 'GET',
    path: '/health',
    headers: { 'X-Forwarded-For': '203.0.113.7', 'X-Amzn-Trace-Id': 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1' },
    kinds: ['proxy'],
  },
  {
    name: 'binary body (base64)',
    api: 'main',
    method: 'POST',
    path: '/api/v1/files/upload.bin',
    headers: { 'Content-Type': 'application/octet-stream' },
    body: Buffer.from([0, 255, 1, 2, 0x80]),
    kinds: ['proxy'],
    check: ([e]) => {
      expect(e!.isBase64Encoded).toBe(true);
      expect(Buffer.from(e!.body as string, 'base64')).toEqual(Buffer.from([0, 255, 1, 2, 0x80]));
    },
  },
  {
    name: 'JSON body',
    api: 'main',
    method: 'POST',
    path: '/api/v1/receivers',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'r', type: 'ci' }),
    kinds: ['proxy'],
  },
  {
    name: 'REQUEST authorizer with path parameter and query string; its context on the proxy event',
    api: 'main',
    method: 'GET',
    path: '/secure/abc?x=1&x=2',
    headers: { Authorization: 'Bearer t1' },
    kinds: ['request', 'proxy'],
    check: ([authorizerEvent, proxy]) => {
      expect(authorizerEvent!.stageVariables).toEqual({});
      expect((proxy!.requestContext as Record<string, unknown>).authorizer).toMatchObject({ principalId: 'user-1', role: 'admin' });
    },
  },
  {
    name: 'REQUEST authorizer without query string, path parameters or stage variables',
    api: 'main',
    method: 'POST',
    path: '/secure',
    headers: { Authorization: 'Bearer t1', 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'r', type: 'cd' }),
    kinds: ['request', 'proxy'],
    check: ([e]) => {
      expect(e!.queryStringParameters).toEqual({});
      expect(e!.multiValueQueryStringParameters).toEqual({});
      expect(e!.pathParameters).toEqual({});
      expect(e!.stageVariables).toEqual({});
    },
  },
  {
    name: 'cached REQUEST authorizer',
    api: 'main',
    method: 'GET',
    path: '/cached/item-1',
    headers: { Authorization: `Bearer ${Math.random()}` },
    kinds: ['request', 'proxy'],
  },
  {
    name: 'TOKEN authorizer',
    api: 'main',
    method: 'GET',
    path: '/token',
    headers: { Authorization: 'Bearer abc.def' },
    kinds: ['token', 'proxy'],
  },
  {
    name: 'OPTIONS reaching the function (no CORS preflight on this API)',
    api: 'raw',
    method: 'OPTIONS',
    path: '/anything/here',
    headers: { Origin: 'https://a.example', 'Access-Control-Request-Method': 'POST' },
    kinds: ['proxy'],
    check: ([e]) => expect(e!.httpMethod).toBe('OPTIONS'),
  },
  { name: 'HEAD', api: 'raw', method: 'HEAD', path: '/x', kinds: ['proxy'] },
  {
    name: 'stage variables and a declared binary media type',
    api: 'raw',
    method: 'PUT',
    path: '/img.png',
    headers: { 'Content-Type': 'image/png' },
    body: Buffer.from([0x89, 0x50, 0x4e, 0x47]),
    kinds: ['proxy'],
    check: ([e]) => {
      expect(e!.stageVariables).toEqual({ color: 'blue' });
      expect(e!.isBase64Encoded).toBe(true);
    },
  },
  {
    name: 'REQUEST authorizer with a query-string identity source and stage variables',
    api: 'raw',
    method: 'GET',
    path: '/guarded/7?token=t',
    kinds: ['request', 'proxy'],
    check: ([e]) => {
      expect(e!.stageVariables).toEqual({ color: 'blue' });
      expect(e!.queryStringParameters).toEqual({ token: 't' });
    },
  },
];

describe('events handed to functions parse with the Powertools schema of their source', () => {
  it.each(cases)('$name', async (c) => {
    const server = c.api === 'main' ? main : raw;
    const reply = await send(server.url, c.method, c.path, {
      ...(c.headers ? { headers: c.headers } : {}),
      ...(c.body ? { body: c.body } : {}),
    });
    expect(reply.status).toBe(200);
    const calls = invoker.take();
    expect(calls.map((call) => kindOf(call.event))).toEqual(c.kinds);
    for (const call of calls) expect({ kind: kindOf(call.event), issues: issues(call) }).toEqual({ kind: kindOf(call.event), issues: [] });
    c.check?.(calls.map((call) => call.event));
  });

  it('a denied request: the authorizer event parses, and no proxy event is sent', async () => {
    invoker.handlers.set(fixture.auth!.requestFn, (e) =>
      okResult({
        principalId: 'user-1',
        policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: e.methodArn }] },
      }),
    );
    const reply = await send(main.url, 'GET', '/secure/denied', { headers: { Authorization: 'Bearer t1' } });
    expect(reply.status).toBe(403);
    const calls = invoker.take();
    expect(calls.map((call) => kindOf(call.event))).toEqual(['request']);
    expect(issues(calls[0]!)).toEqual([]);
  });
});
