/**
 * Lambda authorizers in the local API Gateway emulator, against a template
 * synthesized from a real CDK stack (RequestAuthorizer with and without result
 * caching, TokenAuthorizer with a validation regex) and a fake invoker that
 * answers canned authorizer outputs.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { APIGatewayProxyEvent, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startApiGateway } from '../../../../local/apigateway/index.js';
import type { ApiGatewayServer } from '../../../../local/apigateway/index.js';
import { Clock } from '../../../../local/clock.js';
import type { FunctionInvoker, InvokeOptions, InvokeResult } from '../../../../local/types.js';
import { synthApiFixture } from '../../../fixtures/apigateway/cdk-stack.js';
import type { ApiFixture } from '../../../fixtures/apigateway/cdk-stack.js';
import { send } from '../../../fixtures/apigateway/http.js';
import type { Reply } from '../../../fixtures/apigateway/http.js';

type Handler = (event: Record<string, unknown>) => InvokeResult | Promise<InvokeResult>;

const ok = (payload: unknown): InvokeResult => ({ ok: true, payload, requestId: 'lambda-req', durationMs: 1, logs: '' });
const fail = (errorMessage: string): InvokeResult => ({
  ok: false,
  functionError: 'Unhandled',
  payload: { errorType: 'Error', errorMessage },
  requestId: 'lambda-req',
  durationMs: 1,
  logs: '',
});

/** An authorizer output with one statement. */
const policy = (
  effect: 'Allow' | 'Deny',
  resource: unknown,
  extra: Record<string, unknown> = {},
  action: unknown = 'execute-api:Invoke',
) => ({
  principalId: 'user-1',
  policyDocument: { Version: '2012-10-17', Statement: [{ Action: action, Effect: effect, Resource: resource }] },
  ...extra,
});

class FakeInvoker implements FunctionInvoker {
  calls: Array<{ fn: string; event: Record<string, unknown>; options?: InvokeOptions }> = [];
  handlers = new Map<string, Handler>();

  async invoke(fn: string, event: unknown, options?: InvokeOptions): Promise<InvokeResult> {
    const e = event as Record<string, unknown>;
    this.calls.push({ fn, event: e, ...(options ? { options } : {}) });
    const h = this.handlers.get(fn);
    return h ? h(e) : ok({ statusCode: 200, body: JSON.stringify({ fn }) });
  }

  callsTo(fn: string): Array<{ fn: string; event: Record<string, unknown>; options?: InvokeOptions }> {
    return this.calls.filter((c) => c.fn === fn);
  }
}

let fixture: ApiFixture;
let auth: NonNullable<ApiFixture['auth']>;
let server: ApiGatewayServer;
let apiId: string;
const invoker = new FakeInvoker();
const accessLog: Array<Record<string, unknown>> = [];
const get = (path: string, headers?: OutgoingHttpHeaders): Promise<Reply> => send(server.url, 'GET', path, headers ? { headers } : {});
const arn = (method: string, path: string): string => `arn:aws:execute-api:eu-west-1:123456789012:${apiId}/prod/${method}/${path}`;
const integrationEvent = (): APIGatewayProxyEvent => {
  const c = invoker.callsTo(fixture.receiversFn).at(-1);
  if (!c) throw new Error('the integration was not invoked');
  return c.event as unknown as APIGatewayProxyEvent;
};
/** Allow exactly the methodArn the authorizer was called for. */
const allowMethod =
  (extra: Record<string, unknown> = {}): Handler =>
  (e) =>
    ok(policy('Allow', e.methodArn, extra));

beforeAll(async () => {
  fixture = synthApiFixture({ authorizers: true });
  auth = fixture.auth!;
  server = await startApiGateway({
    template: fixture.template,
    invoker,
    accountId: '123456789012',
    region: 'eu-west-1',
    onAccessLog: (e) => accessLog.push(e),
  });
  apiId = server.restApis[0]!.apiId;
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

beforeEach(() => {
  invoker.calls = [];
  invoker.handlers.clear();
  accessLog.length = 0;
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('startup', () => {
  it('reads the authorizers without warnings (CUSTOM is enforced now)', () => {
    expect(server.warnings.join('\n')).not.toMatch(/authoriz|AuthorizationType/i);
  });
});

describe('REQUEST authorizer', () => {
  it('is given the request (no body) with the methodArn, and its context reaches the integration as strings', async () => {
    invoker.handlers.set(auth.requestFn, allowMethod({ context: { role: 'admin', level: 7, beta: true, ratio: 1.5, name: 'Zoë' } }));
    const r = await get('/secure/abc?x=1&x=2', { Authorization: 'Bearer t1', 'X-Extra': 'e' });
    expect(r.status).toBe(200);
    expect(invoker.calls.map((c) => c.fn)).toEqual([auth.requestFn, fixture.receiversFn]);

    const e = invoker.calls[0]!.event as unknown as APIGatewayRequestAuthorizerEvent;
    expect(e.type).toBe('REQUEST');
    expect(e.methodArn).toBe(arn('GET', 'secure/abc'));
    expect(e.resource).toBe('/secure/{id}');
    expect(e.path).toBe('/secure/abc');
    expect(e.httpMethod).toBe('GET');
    expect(e.headers?.Authorization).toBe('Bearer t1');
    expect(e.headers?.['X-Extra']).toBe('e');
    expect(e.multiValueHeaders?.Authorization).toEqual(['Bearer t1']);
    expect(e.queryStringParameters).toEqual({ x: '2' });
    expect(e.multiValueQueryStringParameters).toEqual({ x: ['1', '2'] });
    expect(e.pathParameters).toEqual({ id: 'abc' });
    // API Gateway sends {} here, not null as in the proxy event (Powertools' APIGatewayRequestAuthorizerEventSchema).
    expect(e.stageVariables).toEqual({});
    expect(e).not.toHaveProperty('body');
    expect(e.requestContext).not.toHaveProperty('authorizer');
    expect(e.requestContext.resourcePath).toBe('/secure/{id}');
    expect(e.requestContext.path).toBe('/prod/secure/abc');

    const integration = integrationEvent();
    expect(integration.requestContext.requestId).toBe(e.requestContext.requestId);
    expect(integration.requestContext.authorizer).toEqual({
      principalId: 'user-1',
      role: 'admin',
      level: '7',
      beta: 'true',
      ratio: '1.5',
      name: 'Zoë',
      integrationLatency: expect.any(Number),
    });
  });

  it('passes the request trace header to the authorizer too', async () => {
    invoker.handlers.set(auth.requestFn, allowMethod());
    const r = await get('/secure/1', { Authorization: 'Bearer t' });
    const [authCall, integrationCall] = invoker.calls;
    expect(authCall?.options?.traceHeader).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=1$/);
    expect(authCall?.options?.traceHeader).toBe(integrationCall?.options?.traceHeader);
    expect(r.headers['x-amzn-trace-id']).toBe(authCall?.options?.traceHeader);
  });

  it('puts the path as sent (without the leading slash) in the methodArn', async () => {
    invoker.handlers.set(auth.requestFn, allowMethod());
    await get('/secure/a%20b', { Authorization: 'x' });
    expect(invoker.calls[0]!.event.methodArn).toBe(arn('GET', 'secure/a%20b'));
    await get('/secure', { Authorization: 'x' });
    expect(invoker.calls.at(-2)!.event.methodArn).toBe(arn('GET', 'secure'));
  });

  it.each([
    ['missing', {}],
    ['empty', { Authorization: '' }],
  ])('answers 401 without invoking the function when the identity source is %s', async (_name, headers) => {
    invoker.handlers.set(auth.requestFn, allowMethod());
    const r = await get('/secure/1', headers);
    expect(r.status).toBe(401);
    expect(r.json()).toEqual({ message: 'Unauthorized' });
    expect(r.headers['x-amzn-errortype']).toBe('UnauthorizedException');
    expect(invoker.calls).toHaveLength(0);
  });

  it('authorizes before validating the body', async () => {
    const badBody = { headers: { 'content-type': 'application/json' }, body: '{"name":1}' };
    expect((await send(server.url, 'POST', '/secure', badBody)).status).toBe(401);
    invoker.handlers.set(auth.requestFn, allowMethod());
    const r = await send(server.url, 'POST', '/secure', { ...badBody, headers: { ...badBody.headers, Authorization: 'k' } });
    expect(r.status).toBe(400);
    expect(invoker.calls.map((c) => c.fn)).toEqual([auth.requestFn]);
  });
});

describe('TOKEN authorizer', () => {
  it('gets exactly {type, authorizationToken, methodArn}', async () => {
    invoker.handlers.set(auth.tokenFn, allowMethod());
    const r = await get('/token', { Authorization: 'Bearer abc.def-1' });
    expect(r.status).toBe(200);
    expect(invoker.calls[0]!.event).toEqual({ type: 'TOKEN', authorizationToken: 'Bearer abc.def-1', methodArn: arn('GET', 'token') });
  });

  it('answers 401 without invoking when the token does not match the whole IdentityValidationExpression', async () => {
    for (const token of ['Basic dXNlcg==', 'Bearer a b', 'xBearer abc']) {
      const r = await get('/token', { Authorization: token });
      expect(r.status).toBe(401);
    }
    expect(invoker.calls).toHaveLength(0);
  });
});

describe('authorizer verdicts', () => {
  it('answers 403 with the explicit-deny body on a matching Deny', async () => {
    invoker.handlers.set(auth.requestFn, (e) => ok(policy('Deny', e.methodArn)));
    const r = await get('/secure/1', { Authorization: 'k' });
    expect(r.status).toBe(403);
    expect(r.json()).toEqual({ Message: 'User is not authorized to access this resource with an explicit deny' });
    expect(r.headers['x-amzn-errortype']).toBe('AccessDeniedException');
    expect(invoker.callsTo(fixture.receiversFn)).toHaveLength(0);
  });

  it('answers 403 when no Allow matches (an implicit deny)', async () => {
    invoker.handlers.set(auth.requestFn, () => ok(policy('Allow', arn('GET', 'secure/other'))));
    const r = await get('/secure/1', { Authorization: 'k' });
    expect(r.status).toBe(403);
    expect(r.json()).toEqual({ Message: 'User is not authorized to access this resource' });
  });

  it('lets a Deny win over an Allow', async () => {
    invoker.handlers.set(auth.requestFn, (e) =>
      ok({
        principalId: 'p',
        policyDocument: {
          Statement: [
            { Effect: 'Allow', Action: '*', Resource: '*' },
            { Effect: 'Deny', Action: 'execute-api:Invoke', Resource: e.methodArn },
          ],
        },
      }),
    );
    expect((await get('/secure/1', { Authorization: 'k' })).status).toBe(403);
  });

  it("answers 401 when the function fails with exactly 'Unauthorized'", async () => {
    invoker.handlers.set(auth.requestFn, () => fail('Unauthorized'));
    const r = await get('/secure/1', { Authorization: 'k' });
    expect(r.status).toBe(401);
    expect(r.json()).toEqual({ message: 'Unauthorized' });
  });

  it.each(['unauthorized', 'Unauthorized: token expired', 'boom'])(
    'answers 500 {"message":null} for any other function error (%s)',
    async (msg) => {
      invoker.handlers.set(auth.requestFn, () => fail(msg));
      const r = await get('/secure/1', { Authorization: 'k' });
      expect(r.status).toBe(500);
      expect(r.text).toBe('{"message":null}');
      expect(r.headers['x-amzn-errortype']).toBe('AuthorizerConfigurationException');
      expect(invoker.callsTo(fixture.receiversFn)).toHaveLength(0);
    },
  );

  it.each([
    ['no policyDocument', { principalId: 'p' }],
    ['a statement without Effect', { principalId: 'p', policyDocument: { Statement: [{ Action: '*', Resource: '*' }] } }],
    [
      'a lower-case Effect (IAM values are case-sensitive)',
      { principalId: 'p', policyDocument: { Statement: { Effect: 'allow', Action: '*', Resource: '*' } } },
    ],
    ['an empty Statement list', { principalId: 'p', policyDocument: { Statement: [] } }],
    ['an object in context', policy('Allow', '*', { context: { user: { id: 1 } } })],
    ['an array in context', policy('Allow', '*', { context: { roles: ['a'] } })],
    ['a null output', null],
    ['a JSON string output', JSON.stringify(policy('Allow', '*'))],
  ])('answers 500 on an invalid output: %s', async (_name, payload) => {
    invoker.handlers.set(auth.requestFn, () => ok(payload));
    const r = await get('/secure/1', { Authorization: 'k' });
    expect(r.status).toBe(500);
    expect(r.json()).toEqual({ message: null });
  });

  it('answers 500 when the authorizer times out', async () => {
    const slow = new FakeInvoker();
    slow.handlers.set(auth.requestFn, () => new Promise((resolve) => setTimeout(() => resolve(ok(policy('Allow', '*'))), 300)));
    const s = await startApiGateway({ template: fixture.template, invoker: slow, integrationTimeoutMs: 50 });
    try {
      const r = await send(s.url, 'GET', '/secure/1', { headers: { Authorization: 'k' } });
      expect(r.status).toBe(500);
      expect(r.json()).toEqual({ message: null });
    } finally {
      await s.stop();
    }
  });
});

describe('policy matching', () => {
  const allow =
    (statement: Record<string, unknown> | Array<Record<string, unknown>>): Handler =>
    () =>
      ok({ principalId: 'p', policyDocument: { Version: '2012-10-17', Statement: statement } });
  const status = async (path: string, method = 'GET'): Promise<number> =>
    (
      await send(server.url, method, path, {
        headers: { Authorization: 'k', 'content-type': 'application/json' },
        body: method === 'POST' ? '{"name":"n","type":"ci"}' : undefined,
      })
    ).status;

  it('matches * across slashes and segments', async () => {
    invoker.handlers.set(
      auth.requestFn,
      allow({ Effect: 'Allow', Action: 'execute-api:Invoke', Resource: `arn:aws:execute-api:*:*:${apiId}/prod/GET/secure/*` }),
    );
    expect(await status('/secure/x')).toBe(200);
    expect(await status('/secure/x/')).toBe(200);
    expect(await status('/secure')).toBe(403); // "secure/*" needs the slash
    expect(await status('/secure', 'POST')).toBe(403);
  });

  it('matches ? as exactly one character', async () => {
    invoker.handlers.set(auth.requestFn, allow({ Effect: 'Allow', Action: 'execute-api:Invoke', Resource: arn('GET', 'secure/a?c') }));
    expect(await status('/secure/abc')).toBe(200);
    expect(await status('/secure/ac')).toBe(403);
    expect(await status('/secure/abbc')).toBe(403);
  });

  it('accepts a Resource list, a single Statement object and execute-api:* / * actions; ignores other actions', async () => {
    invoker.handlers.set(
      auth.requestFn,
      allow({ Effect: 'Allow', Action: 'execute-api:*', Resource: [arn('GET', 'secure/nope'), arn('*', 'secure')] }),
    );
    expect(await status('/secure', 'POST')).toBe(200);
    invoker.handlers.set(auth.requestFn, allow([{ Effect: 'Allow', Action: ['s3:GetObject', '*'], Resource: '*' }]));
    expect(await status('/secure/1')).toBe(200);
    invoker.handlers.set(auth.requestFn, allow([{ Effect: 'Allow', Action: 's3:*', Resource: '*' }]));
    expect(await status('/secure/1')).toBe(403);
    invoker.handlers.set(auth.requestFn, allow([{ Effect: 'Allow', Action: 'execute-api:Invoke', Resource: arn('GET', 'SECURE/1') }]));
    expect(await status('/secure/1')).toBe(403); // resources are case-sensitive
  });
});

describe('result caching', () => {
  it('with a TTL, reuses the output for the same identity values and invokes again for new ones', async () => {
    invoker.handlers.set(auth.cachedFn, () => ok(policy('Allow', arn('GET', 'cached/*'), { context: { n: 1 } })));
    const a1 = await get('/cached/a', { Authorization: 'cache-token-A' });
    const firstLatency = integrationEvent().requestContext.authorizer?.integrationLatency;
    const a2 = await get('/cached/b', { Authorization: 'cache-token-A' });
    expect([a1.status, a2.status]).toEqual([200, 200]);
    expect(invoker.callsTo(auth.cachedFn)).toHaveLength(1);
    expect(typeof firstLatency).toBe('number');
    // A cache hit has no authorizer integration latency.
    expect(integrationEvent().requestContext.authorizer).toEqual({ principalId: 'user-1', n: '1', integrationLatency: 0 });

    expect((await get('/cached/a', { Authorization: 'cache-token-B' })).status).toBe(200);
    expect(invoker.callsTo(auth.cachedFn)).toHaveLength(2);
  });

  it("evaluates a cached policy against each new methodArn (API Gateway's pitfall)", async () => {
    invoker.handlers.set(auth.cachedFn, allowMethod());
    expect((await get('/cached/first', { Authorization: 'pitfall-token' })).status).toBe(200);
    const r = await get('/cached/second', { Authorization: 'pitfall-token' });
    expect(r.status).toBe(403);
    expect(r.json()).toEqual({ Message: 'User is not authorized to access this resource' });
    expect(invoker.callsTo(auth.cachedFn)).toHaveLength(1);
  });

  it('caches a Deny too, and expires entries after the TTL (300 s)', async () => {
    invoker.handlers.set(auth.cachedFn, (e) => ok(policy('Deny', e.methodArn)));
    expect((await get('/cached/x', { Authorization: 'ttl-token' })).status).toBe(403);
    invoker.handlers.set(auth.cachedFn, allowMethod());
    expect((await get('/cached/x', { Authorization: 'ttl-token' })).status).toBe(403);
    expect(invoker.callsTo(auth.cachedFn)).toHaveLength(1);
    const now = Date.now();
    vi.spyOn(Date, 'now').mockReturnValue(now + 301_000);
    expect((await get('/cached/x', { Authorization: 'ttl-token' })).status).toBe(200);
    expect(invoker.callsTo(auth.cachedFn)).toHaveLength(2);
  });

  it("expires cached results on the runtime's clock when it runs faster (timeScale)", async () => {
    // 300 s of simulated time in half a second of real time.
    const clock = new Clock(600);
    const scaled = await startApiGateway({ template: fixture.template, invoker, now: () => clock.now() });
    try {
      const call = () => fetch(`${scaled.url}/cached/x`, { headers: { Authorization: 'scaled-ttl-token' } });
      invoker.handlers.set(auth.cachedFn, (e) => ok(policy('Deny', e.methodArn)));
      expect((await call()).status).toBe(403);
      invoker.handlers.set(auth.cachedFn, allowMethod());
      const before = invoker.callsTo(auth.cachedFn).length;
      expect((await call()).status).toBe(403); // still cached
      await clock.sleep(301_000);
      expect((await call()).status).toBe(200);
      expect(invoker.callsTo(auth.cachedFn).length).toBe(before + 1);
    } finally {
      await scaled.stop();
    }
  });

  it('does not cache errors', async () => {
    invoker.handlers.set(auth.cachedFn, () => fail('Unauthorized'));
    expect((await get('/cached/x', { Authorization: 'err-token' })).status).toBe(401);
    invoker.handlers.set(auth.cachedFn, allowMethod());
    expect((await get('/cached/x', { Authorization: 'err-token' })).status).toBe(200);
    expect(invoker.callsTo(auth.cachedFn)).toHaveLength(2);
  });

  it('with TTL 0, invokes on every request', async () => {
    invoker.handlers.set(auth.requestFn, allowMethod());
    await get('/secure/1', { Authorization: 'same' });
    await get('/secure/1', { Authorization: 'same' });
    expect(invoker.callsTo(auth.requestFn)).toHaveLength(2);
  });

  it('caches TOKEN results (default TTL 300 s) keyed by the token', async () => {
    invoker.handlers.set(auth.tokenFn, allowMethod());
    await get('/token', { Authorization: 'Bearer cached-1' });
    await get('/token', { Authorization: 'Bearer cached-1' });
    await get('/token', { Authorization: 'Bearer cached-2' });
    expect(invoker.callsTo(auth.tokenFn)).toHaveLength(2);
  });
});

describe('gateway responses with the authorizer context', () => {
  let custom: ApiGatewayServer;
  const customInvoker = new FakeInvoker();

  beforeAll(async () => {
    const f = synthApiFixture({ authorizers: true, customAccessDenied: true });
    custom = await startApiGateway({ template: f.template, invoker: customInvoker });
  }, 60_000);

  afterAll(async () => {
    await custom?.stop();
  });

  it('renders $context.authorizer.* (JSON-escaped) in a customised ACCESS_DENIED response, and maps it to a header', async () => {
    customInvoker.handlers.set(auth.requestFn, (e) =>
      ok(policy('Deny', e.methodArn, { principalId: 'svc "bot"', context: { requiredRole: 'release-manager' } })),
    );
    const r = await send(custom.url, 'GET', '/secure/1', { headers: { Authorization: 'k' } });
    expect(r.status).toBe(403);
    expect(r.json()).toEqual({
      title: 'Forbidden',
      detail: 'This operation needs the release-manager role',
      principal: 'svc "bot"',
      message: 'User is not authorized to access this resource with an explicit deny',
    });
    expect(r.headers['x-principal']).toBe('svc "bot"');
  });
});

describe('access log', () => {
  it('records the authorizer latency, status and error', async () => {
    invoker.handlers.set(auth.requestFn, (e) => ok(policy('Deny', e.methodArn)));
    await get('/secure/1', { Authorization: 'k' });
    invoker.handlers.set(auth.requestFn, allowMethod());
    await get('/secure/1', { Authorization: 'k' });
    await get('/health');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(accessLog).toHaveLength(3);
    expect(accessLog[0]).toMatchObject({
      status: 403,
      authorizerStatus: 403,
      errorResponseType: 'ACCESS_DENIED',
      authorizerLatency: expect.any(Number),
    });
    expect(accessLog[1]).toMatchObject({ status: 200, authorizerStatus: 200, authorizerError: null });
    expect(accessLog[2]).toMatchObject({ authorizerStatus: null, authorizerLatency: null });
  });
});
