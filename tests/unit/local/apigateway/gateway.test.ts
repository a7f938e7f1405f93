/**
 * Local API Gateway REST (v1) emulator, against a template synthesized from a
 * real CDK stack (tests/fixtures/apigateway/cdk-stack.ts) and a fake invoker
 * that records the events it receives.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildApiDefinition, matchRoute, startApiGateway } from '../../../../local/apigateway/index.js';
import type { ApiGatewayServer } from '../../../../local/apigateway/index.js';
import type { CfnTemplate, FunctionInvoker, InvokeOptions, InvokeResult } from '../../../../local/types.js';
import { ALLOWED_ORIGINS, synthApiFixture } from '../../../fixtures/apigateway/cdk-stack.js';
import type { ApiFixture } from '../../../fixtures/apigateway/cdk-stack.js';
import { send, type Reply } from '../../../fixtures/apigateway/http.js';
import type { OutgoingHttpHeaders } from 'node:http';

type Handler = (event: APIGatewayProxyEvent) => InvokeResult | Promise<InvokeResult>;

const ok = (payload: unknown): InvokeResult => ({ ok: true, payload, requestId: 'lambda-req', durationMs: 1, logs: '' });

class FakeInvoker implements FunctionInvoker {
  calls: Array<{ fn: string; event: APIGatewayProxyEvent; options?: InvokeOptions }> = [];
  handlers = new Map<string, Handler>();

  async invoke(fn: string, event: unknown, options?: InvokeOptions): Promise<InvokeResult> {
    const e = event as APIGatewayProxyEvent;
    this.calls.push({ fn, event: e, ...(options ? { options } : {}) });
    const h = this.handlers.get(fn);
    return h ? h(e) : ok({ statusCode: 200, body: JSON.stringify({ fn }) });
  }

  get last(): { fn: string; event: APIGatewayProxyEvent; options?: InvokeOptions } {
    const c = this.calls.at(-1);
    if (!c) throw new Error('no invocation');
    return c;
  }
}

let fixture: ApiFixture;
let server: ApiGatewayServer;
const invoker = new FakeInvoker();
const accessLog: Array<Record<string, unknown>> = [];
const get = (path: string, headers?: OutgoingHttpHeaders): Promise<Reply> => send(server.url, 'GET', path, headers ? { headers } : {});

beforeAll(async () => {
  fixture = synthApiFixture({ secondApi: true });
  server = await startApiGateway({
    template: fixture.template,
    invoker,
    port: 0,
    accountId: '123456789012',
    region: 'eu-west-1',
    onAccessLog: (e) => accessLog.push(e),
  });
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

beforeEach(() => {
  invoker.calls = [];
  invoker.handlers.clear();
  accessLog.length = 0;
});

describe('startup', () => {
  it('serves the first RestApi and reports every RestApi with its stage', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.restApis).toEqual([
      { logicalId: fixture.restApiLogicalId, stageName: 'prod', apiId: expect.stringMatching(/^[a-z0-9]{10}$/), served: true },
      { logicalId: fixture.secondRestApiLogicalId, stageName: 'v2', apiId: expect.stringMatching(/^[a-z0-9]{10}$/), served: false },
    ]);
    expect(server.warnings.join('\n')).toMatch(/serving ApiF70053CD only/);
  });

  it('does not serve the second RestApi', async () => {
    const r = await get('/other');
    expect(r.status).toBe(403);
  });
});

describe('routing', () => {
  it('routes a literal path to its function, at the root of the server (no stage prefix)', async () => {
    const r = await get('/health');
    expect(r.status).toBe(200);
    expect(invoker.last.fn).toBe(fixture.healthFn);
    expect(invoker.last.event.resource).toBe('/health');
    expect(invoker.last.event.pathParameters).toBeNull();
  });

  it('tolerates a trailing slash', async () => {
    expect((await get('/health/')).status).toBe(200);
    expect(invoker.last.event.path).toBe('/health/');
    expect(invoker.last.event.resource).toBe('/health');
  });

  it('extracts URL-decoded path parameters; event.path stays as sent', async () => {
    await get('/api/v1/receivers/abc%20d%2Bef');
    const { event, fn } = invoker.last;
    expect(fn).toBe(fixture.receiversFn);
    expect(event.resource).toBe('/api/v1/receivers/{id}');
    expect(event.pathParameters).toEqual({ id: 'abc d+ef' });
    expect(event.path).toBe('/api/v1/receivers/abc%20d%2Bef');
    expect(event.requestContext.resourcePath).toBe('/api/v1/receivers/{id}');
  });

  it('prefers a literal path part over a {param} sibling', async () => {
    await get('/api/v1/receivers/special');
    expect(invoker.last.event.resource).toBe('/api/v1/receivers/special');
    expect(invoker.last.event.pathParameters).toBeNull();
  });

  it('backtracks from a literal to the {param} sibling when the literal has no such child', async () => {
    await get('/api/v1/receivers/special/versions');
    expect(invoker.last.event.resource).toBe('/api/v1/receivers/{id}/versions');
    expect(invoker.last.event.pathParameters).toEqual({ id: 'special' });
  });

  it('matches a greedy {proxy+} with ANY, over several segments', async () => {
    const r = await send(server.url, 'PATCH', '/api/v1/files/a/b%20c/d.txt');
    expect(r.status).toBe(200);
    expect(invoker.last.fn).toBe(fixture.filesFn);
    expect(invoker.last.event.resource).toBe('/api/v1/files/{proxy+}');
    expect(invoker.last.event.pathParameters).toEqual({ proxy: 'a/b c/d.txt' });
    expect(invoker.last.event.httpMethod).toBe('PATCH');
  });

  it('does not route a verb API Gateway has no method for (PROPFIND) to ANY: 403 as for a missing method', async () => {
    const r = await send(server.url, 'PROPFIND', '/api/v1/files/a.txt');
    expect(r.status).toBe(403);
    expect(r.json()).toEqual({ message: 'Missing Authentication Token' });
    expect(invoker.calls).toHaveLength(0);
  });

  it('matches a percent-encoded literal part to the literal resource, before a {param} sibling', async () => {
    await get('/api/v1/receivers/spec%69al');
    expect(invoker.last.event.resource).toBe('/api/v1/receivers/special');
    expect(invoker.last.event.pathParameters).toBeNull();
    await get('/api/v1//receivers/special/');
    expect(invoker.last.event.resource).toBe('/api/v1/receivers/special');
  });

  it('answers 403 Missing Authentication Token for an unknown path', async () => {
    const r = await get('/nope');
    expect(r.status).toBe(403);
    expect(r.json()).toEqual({ message: 'Missing Authentication Token' });
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['x-amzn-errortype']).toBe('MissingAuthenticationTokenException');
    expect(r.headers['x-amzn-requestid']).toMatch(/^[0-9a-f-]{36}$/);
    expect(invoker.calls).toHaveLength(0);
  });

  it('answers 403 for a known resource without that method (no fallback to a sibling)', async () => {
    const r = await send(server.url, 'DELETE', '/health');
    expect(r.status).toBe(403);
    expect(r.json()).toEqual({ message: 'Missing Authentication Token' });
    // the {proxy+} parent (/api/v1/files) itself has only OPTIONS
    expect((await get('/api/v1/files')).status).toBe(403);
  });

  it('matchRoute works on the definition directly', () => {
    const api = buildApiDefinition(fixture.template, fixture.restApiLogicalId);
    expect(matchRoute(api, 'GET', '/api/v1/receivers/x')?.resource.path).toBe('/api/v1/receivers/{id}');
    expect(matchRoute(api, 'POST', '/api/v1/receivers/x')?.method).toBeUndefined();
    expect(matchRoute(api, 'GET', '/api/v1/files')?.method).toBeUndefined();
    expect(matchRoute(api, 'GET', '/missing')).toBeUndefined();
    expect(matchRoute(api, 'OPTIONS', '/')?.method?.integration.type).toBe('MOCK');
  });
});

describe('proxy event v1', () => {
  it('has multi-value headers and query strings, in the case sent', async () => {
    await get('/api/v1/receivers/1?a=1&a=2&b=x+y&c=%2B', {
      'X-Custom-Header': 'one',
      'x-multi': ['m1', 'm2'],
      'User-Agent': 'switchyard-test/1.0',
    });
    const e = invoker.last.event;
    expect(e.httpMethod).toBe('GET');
    expect(e.headers['X-Custom-Header']).toBe('one');
    expect(e.headers['x-multi']).toBe('m2');
    expect(e.multiValueHeaders['x-multi']).toEqual(['m1', 'm2']);
    expect(e.multiValueHeaders['X-Custom-Header']).toEqual(['one']);
    expect(e.queryStringParameters).toEqual({ a: '2', b: 'x y', c: '+' });
    expect(e.multiValueQueryStringParameters).toEqual({ a: ['1', '2'], b: ['x y'], c: ['+'] });
    expect(e.headers['X-Forwarded-For']).toBe('127.0.0.1');
    expect(e.headers['X-Forwarded-Proto']).toBe('http');
    expect(e.stageVariables).toBeNull();
    expect(e.body).toBeNull();
    expect(e.isBase64Encoded).toBe(false);
  });

  it('has null query strings and path parameters when there are none', async () => {
    await get('/health');
    const e = invoker.last.event;
    expect(e.queryStringParameters).toBeNull();
    expect(e.multiValueQueryStringParameters).toBeNull();
    expect(e.pathParameters).toBeNull();
  });

  it('fills requestContext like API Gateway', async () => {
    const r = await get('/api/v1/receivers/42', { 'User-Agent': 'ua/1' });
    const c = invoker.last.event.requestContext;
    expect(c.accountId).toBe('123456789012');
    expect(c.apiId).toBe(server.restApis[0]!.apiId);
    expect(c.stage).toBe('prod');
    expect(c.path).toBe('/prod/api/v1/receivers/42');
    expect(c.httpMethod).toBe('GET');
    expect(c.protocol).toBe('HTTP/1.1');
    expect(c.resourceId).toMatch(/^[a-z0-9]{6}$/);
    expect(c.requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(c.extendedRequestId).toMatch(/^[A-Za-z0-9+/]{15}=$/);
    expect(c.requestTime).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    expect(Math.abs(c.requestTimeEpoch - Date.now())).toBeLessThan(10_000);
    expect(c.domainName).toBe(new URL(server.url).host);
    expect(c.identity.sourceIp).toBe('127.0.0.1');
    expect(c.identity.userAgent).toBe('ua/1');
    expect(c.identity.caller).toBeNull();
    expect(c.identity.cognitoIdentityId).toBeNull();
    expect(c.authorizer).toBeNull();
    expect(r.headers['x-amzn-requestid']).toBe(c.requestId);
    expect(r.headers['x-amz-apigw-id']).toBe(c.extendedRequestId);
  });

  it('generates an X-Ray trace header per request: in the event, to invoke, and in the response', async () => {
    const r1 = await get('/health');
    const first = invoker.last;
    const trace = first.event.headers['X-Amzn-Trace-Id'];
    expect(trace).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=1$/);
    expect(first.options?.traceHeader).toBe(trace);
    expect(r1.headers['x-amzn-trace-id']).toBe(trace);
    await get('/health');
    expect(invoker.last.options?.traceHeader).not.toBe(trace);
  });

  it('continues an incoming trace Root with a new Parent', async () => {
    const root = 'Root=1-5759e988-bd862e3fe1be46a994272793';
    await get('/health', { 'X-Amzn-Trace-Id': `${root};Sampled=1` });
    const t = invoker.last.options?.traceHeader ?? '';
    expect(t.startsWith(`${root};Parent=`)).toBe(true);
  });

  it('passes a JSON body as text', async () => {
    await send(server.url, 'POST', '/api/v1/files/x', { headers: { 'content-type': 'application/json; charset=utf-8' }, body: '{"é":1}' });
    expect(invoker.last.event.body).toBe('{"é":1}');
    expect(invoker.last.event.isBase64Encoded).toBe(false);
  });

  it('base64-encodes a binary body', async () => {
    const bytes = Buffer.from([0, 255, 1, 2, 0x80]);
    await send(server.url, 'PUT', '/api/v1/files/blob.bin', { headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    const e = invoker.last.event;
    expect(e.isBase64Encoded).toBe(true);
    expect(Buffer.from(e.body ?? '', 'base64')).toEqual(bytes);
  });
});

describe('proxy response mapping', () => {
  it('maps statusCode, headers and multiValueHeaders (multi values win for a name in both)', async () => {
    invoker.handlers.set(fixture.healthFn, () =>
      ok({
        statusCode: 201,
        headers: { 'X-One': 'a', 'Set-Cookie': 'ignored=1', 'X-Num': 5 },
        multiValueHeaders: { 'Set-Cookie': ['a=1', 'b=2'] },
        body: 'created',
      }),
    );
    const r = await get('/health');
    expect(r.status).toBe(201);
    expect(r.text).toBe('created');
    expect(r.headers['x-one']).toBe('a');
    expect(r.headers['x-num']).toBe('5');
    expect(r.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    // API Gateway answers application/json when the integration sets no Content-Type.
    expect(r.headers['content-type']).toBe('application/json');
  });

  it('decodes a base64 body', async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 255]);
    invoker.handlers.set(fixture.healthFn, () =>
      ok({ statusCode: 200, headers: { 'Content-Type': 'image/png' }, body: png.toString('base64'), isBase64Encoded: true }),
    );
    const r = await get('/health');
    expect(r.headers['content-type']).toBe('image/png');
    expect(r.body).toEqual(png);
  });

  it('accepts a result without body', async () => {
    invoker.handlers.set(fixture.healthFn, () => ok({ statusCode: 204 }));
    const r = await get('/health');
    expect(r.status).toBe(204);
    expect(r.text).toBe('');
  });

  it('answers 502 Internal server error when the function fails', async () => {
    invoker.handlers.set(fixture.healthFn, () => ({
      ok: false,
      functionError: 'Unhandled',
      payload: { errorType: 'Error', errorMessage: 'boom' },
      requestId: 'x',
      durationMs: 1,
      logs: '',
    }));
    const r = await get('/health');
    expect(r.status).toBe(502);
    expect(r.json()).toEqual({ message: 'Internal server error' });
    expect(r.headers['content-type']).toBe('application/json');
  });

  it.each([
    ['a non-string body', { statusCode: 200, body: { a: 1 } }],
    ['no statusCode', { body: 'x' }],
    ['an unknown field', { statusCode: 200, body: 'x', cookies: ['a=1'] }],
    ['a non-object result', 'hello'],
    ['a null result', null],
    ['an object header value', { statusCode: 200, headers: { a: { b: 1 } }, body: '' }],
  ])('answers 502 on a malformed proxy result: %s', async (_name, payload) => {
    invoker.handlers.set(fixture.healthFn, () => ok(payload));
    const r = await get('/health');
    expect(r.status).toBe(502);
    expect(r.json()).toEqual({ message: 'Internal server error' });
  });

  it('answers 504 Endpoint request timed out past the integration timeout', async () => {
    const slow = new FakeInvoker();
    slow.handlers.set(fixture.healthFn, () => new Promise((resolve) => setTimeout(() => resolve(ok({ statusCode: 200, body: '' })), 300)));
    const s = await startApiGateway({ template: fixture.template, invoker: slow, integrationTimeoutMs: 50 });
    try {
      const r = await send(s.url, 'GET', '/health');
      expect(r.status).toBe(504);
      expect(r.json()).toEqual({ message: 'Endpoint request timed out' });
    } finally {
      await s.stop();
    }
  });
});

describe('CORS preflight (CDK MOCK integration)', () => {
  const preflight = (origin: string): Promise<Reply> =>
    send(server.url, 'OPTIONS', '/api/v1/receivers', { headers: { Origin: origin, 'Access-Control-Request-Method': 'POST' } });

  it('allows the first origin with the static header', async () => {
    const r = await preflight(ALLOWED_ORIGINS[0]!);
    expect(r.status).toBe(204);
    expect(r.headers['access-control-allow-origin']).toBe('https://a.example');
    expect(r.headers['access-control-allow-methods']).toBe('OPTIONS,GET,PUT,POST,DELETE,PATCH,HEAD');
    expect(r.headers['access-control-allow-headers']).toContain('Content-Type');
    expect(r.headers.vary).toBe('Origin');
    expect(r.text).toBe('');
    expect(invoker.calls).toHaveLength(0);
  });

  it('echoes the second origin (the VTL responseOverride)', async () => {
    const r = await preflight(ALLOWED_ORIGINS[1]!);
    expect(r.status).toBe(204);
    expect(r.headers['access-control-allow-origin']).toBe('https://b.example');
  });

  it('does not echo a disallowed origin (the static first origin stays)', async () => {
    const r = await preflight('https://evil.example');
    expect(r.headers['access-control-allow-origin']).toBe('https://a.example');
  });

  it('serves preflight on the root and on {proxy+} resources too', async () => {
    expect(
      (await send(server.url, 'OPTIONS', '/', { headers: { Origin: 'https://b.example' } })).headers['access-control-allow-origin'],
    ).toBe('https://b.example');
    expect((await send(server.url, 'OPTIONS', '/api/v1/files/a/b')).status).toBe(204);
  });
});

describe('request validation', () => {
  const postReceiver = (body: string, headers: OutgoingHttpHeaders = { 'content-type': 'application/json' }): Promise<Reply> =>
    send(server.url, 'POST', '/api/v1/receivers', { headers, body });

  it('lets a valid body through', async () => {
    const r = await postReceiver(JSON.stringify({ name: 'ci-bot', type: 'ci', meta: { owner: 'me' } }));
    expect(r.status).toBe(200);
    expect(invoker.last.event.body).toContain('ci-bot');
  });

  it('answers 400 with the BAD_REQUEST_BODY gateway response (customised template, $context substituted)', async () => {
    const r = await postReceiver(JSON.stringify({ name: 7 }), { 'content-type': 'application/json', 'x-client-id': 'client-9' });
    expect(r.status).toBe(400);
    expect(invoker.calls).toHaveLength(0);
    const body = r.json() as Record<string, unknown>;
    expect(body.requestId).toBe(r.headers['x-amzn-requestid']);
    expect(body.message).toBe('Invalid request body');
    expect(body.status).toBe(400);
    expect(body.detail).toMatch(/^\[.*\]$/);
    expect(body.detail).toContain('object has missing required properties (["type"])');
    expect(body.detail).toContain('instance type (integer) does not match any allowed primitive type (allowed: ["string"])');
    // ResponseParameters: a static value and a method.request.header mapping
    expect(r.headers['access-control-allow-origin']).toBe('*');
    expect(r.headers['x-request-id']).toBe('client-9');
  });

  it('validates through a $ref to another model', async () => {
    const r = await postReceiver(JSON.stringify({ name: 'n', type: 'cd', meta: {} }));
    expect(r.status).toBe(400);
    expect((r.json() as { detail: string }).detail).toContain('missing required properties (["owner"])');
  });

  it('reports invalid JSON as a bad body', async () => {
    const r = await postReceiver('{"name":');
    expect(r.status).toBe(400);
    expect((r.json() as { message: string }).message).toBe('Invalid request body');
  });

  it('passes a body whose content type has no model straight through (as API Gateway does)', async () => {
    const r = await postReceiver('not json', { 'content-type': 'text/plain' });
    expect(r.status).toBe(200);
  });

  it('answers 400 Missing required request parameters', async () => {
    const r = await get('/api/v1/search?page=2');
    expect(r.status).toBe(400);
    expect(r.json()).toEqual({ message: 'Missing required request parameters: [q, x-tenant]' });
    const ok2 = await get('/api/v1/search?q=abc', { 'X-Tenant': 't1' });
    expect(ok2.status).toBe(200);
  });
});

describe('gateway responses and limits', () => {
  /** The fixture template plus an extra resource. */
  const withResource = (id: string, resource: CfnTemplate['Resources'][string]): CfnTemplate => ({
    ...fixture.template,
    Resources: { ...fixture.template.Resources, [id]: resource },
  });

  it('applies a customised MISSING_AUTHENTICATION_TOKEN response (status, headers, template)', async () => {
    const template = withResource('NotFoundResponse', {
      Type: 'AWS::ApiGateway::GatewayResponse',
      Properties: {
        RestApiId: { Ref: fixture.restApiLogicalId },
        ResponseType: 'MISSING_AUTHENTICATION_TOKEN',
        StatusCode: '404',
        ResponseParameters: { 'gatewayresponse.header.Access-Control-Allow-Origin': "'*'" },
        ResponseTemplates: {
          'application/json':
            '{"title":"Not Found","detail":$context.error.messageString,"raw":"$context.error.message","type":"$context.error.responseType","requestId":"$context.requestId","path":"$context.path","unknown":"$!context.nothing.here"}',
        },
      },
    });
    const s = await startApiGateway({ template, invoker });
    try {
      const r = await send(s.url, 'GET', '/nope');
      expect(r.status).toBe(404);
      expect(r.headers['access-control-allow-origin']).toBe('*');
      expect(r.json()).toEqual({
        title: 'Not Found',
        detail: 'Missing Authentication Token',
        raw: 'Missing Authentication Token',
        type: 'MISSING_AUTHENTICATION_TOKEN',
        requestId: r.headers['x-amzn-requestid'],
        path: '/prod/nope',
        unknown: '',
      });
    } finally {
      await s.stop();
    }
  });

  it('applies DEFAULT_5XX to a function error (headers, template) and DEFAULT_4XX status to uncustomised 4XX types', async () => {
    const base = withResource('Default5xx', {
      Type: 'AWS::ApiGateway::GatewayResponse',
      Properties: {
        RestApiId: { Ref: fixture.restApiLogicalId },
        ResponseType: 'DEFAULT_5XX',
        ResponseParameters: { 'gatewayresponse.header.X-Error': "'yes'" },
        ResponseTemplates: { 'application/json': '{"error":$context.error.messageString,"id":"$context.requestId"}' },
      },
    });
    const template = {
      ...base,
      Resources: {
        ...base.Resources,
        Default4xx: {
          Type: 'AWS::ApiGateway::GatewayResponse',
          Properties: { RestApiId: { Ref: fixture.restApiLogicalId }, ResponseType: 'DEFAULT_4XX', StatusCode: '418' },
        },
      },
    };
    const failing = new FakeInvoker();
    failing.handlers.set(fixture.healthFn, () => ok({ statusCode: 200, body: 1 }));
    const s = await startApiGateway({ template, invoker: failing });
    try {
      const r = await send(s.url, 'GET', '/health');
      expect(r.status).toBe(502);
      expect(r.headers['x-error']).toBe('yes');
      expect(r.json()).toEqual({ error: 'Internal server error', id: r.headers['x-amzn-requestid'] });
      const missing = await send(s.url, 'GET', '/nope');
      expect(missing.status).toBe(418);
      expect(missing.json()).toEqual({ message: 'Missing Authentication Token' });
      // BAD_REQUEST_BODY is customised in the fixture (without StatusCode): keeps its 400
      expect((await send(s.url, 'POST', '/api/v1/receivers', { headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(
        400,
      );
    } finally {
      await s.stop();
    }
  });

  it('answers 413 Request Too Long above the 10 MB payload limit', async () => {
    const r = await send(server.url, 'POST', '/api/v1/files/big', {
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(10 * 1024 * 1024 + 1),
    });
    expect(r.status).toBe(413);
    expect(r.json()).toEqual({ message: 'Request Too Long' });
    expect(invoker.calls).toHaveLength(0);
  });

  it('answers 500 for an integration type that is not emulated, and warns at startup', async () => {
    const template = withResource('HttpMethod', {
      Type: 'AWS::ApiGateway::Method',
      Properties: {
        RestApiId: { Ref: fixture.restApiLogicalId },
        ResourceId: { 'Fn::GetAtt': [fixture.restApiLogicalId, 'RootResourceId'] },
        HttpMethod: 'GET',
        AuthorizationType: 'NONE',
        Integration: { Type: 'HTTP_PROXY', IntegrationHttpMethod: 'GET', Uri: 'https://example.com' },
      },
    });
    const s = await startApiGateway({ template, invoker });
    try {
      expect(s.warnings.join('\n')).toMatch(/HttpMethod: integration type HTTP_PROXY is not emulated/);
      const r = await send(s.url, 'GET', '/');
      expect(r.status).toBe(500);
      expect(r.json()).toEqual({ message: 'Internal server error' });
    } finally {
      await s.stop();
    }
  });
});

describe('access log', () => {
  it('emits the main fields once per request (the stage has AccessLogSetting.Format)', async () => {
    const r = await get('/api/v1/receivers/7', { 'User-Agent': 'ua/2' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(accessLog).toHaveLength(1);
    expect(accessLog[0]).toMatchObject({
      requestId: r.headers['x-amzn-requestid'],
      ip: '127.0.0.1',
      httpMethod: 'GET',
      resourcePath: '/api/v1/receivers/{id}',
      status: 200,
      responseLength: r.body.length,
      protocol: 'HTTP/1.1',
      userAgent: 'ua/2',
    });
    expect(accessLog[0]?.requestTime).toMatch(/\+0000$/);
    expect(typeof accessLog[0]?.integrationLatency).toBe('number');
  });

  it('records gateway errors too', async () => {
    await get('/nowhere');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(accessLog[0]).toMatchObject({
      status: 403,
      resourcePath: null,
      errorResponseType: 'MISSING_AUTHENTICATION_TOKEN',
      integrationLatency: null,
    });
  });
});
