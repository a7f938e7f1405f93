/** Headers every answer carries: X-RateLimit-* on a rate-limited route, a bounded X-Correlation-Id. */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import type { RateLimitConfig } from '../../../shared/auth/config.js';
import { NotFoundError } from '../../../shared/domain/errors.js';
import type { IdentityStore } from '../../../shared/domain/identity.js';
import { httpApi } from '../../../shared/http/middleware.js';
import { bind, defineRoute } from '../../../shared/http/route.js';
import { apiEvent, lambdaContext } from '../../support/api-event.js';
import { captureLogs, problemOf } from './support.js';

const thing = defineRoute({
  operationId: 'getThing',
  method: 'GET',
  path: '/things/{id}',
  functionName: 'receivers',
  access: 'viewer',
  tags: [],
  summary: 'x',
  params: z.strictObject({ id: z.string().regex(/^[a-z]+$/) }),
  query: z.strictObject({}),
  responses: { 200: { description: 'ok' } },
});

const limits: RateLimitConfig = { windowSeconds: 60, anonymous: 4, authenticated: 100, admin: 1000, login: 5 };
let count = 0;
// Only the two calls the chain's guards make; the rest of the port is not reached here.
const store = {
  countRequest: async () => ++count,
  appendAudit: async () => undefined,
} as unknown as IdentityStore;

const handler = httpApi(
  [
    bind(thing, async ({ params }) => {
      if (params.id === 'missing') throw new NotFoundError('Thing', params.id);
      if (params.id === 'boom') throw new Error('internal detail');
      return { status: 200, body: { id: params.id } };
    }),
  ],
  { allowedOrigins: [], maxBodyBytes: 1024 },
  { tableName: 'unused', identityStore: () => store, rateLimits: limits },
);
const get = (id: string, headers: Record<string, string> = {}) =>
  handler(apiEvent({ httpMethod: 'GET', resource: '/things/{id}', pathParameters: { id }, headers }), lambdaContext);

const RATE_HEADERS = ['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'];

describe('X-RateLimit-* headers', () => {
  it('are on every answer of a rate-limited route: 200, 400, 404, 500 and 429', async () => {
    count = 0;
    const answers = [await get('ok'), await get('NOT-VALID'), await get('missing'), await get('boom'), await get('ok')];
    // the fifth request is over the limit of four
    expect(answers.map((a) => a.statusCode)).toEqual([200, 400, 404, 500, 429]);
    answers.forEach((answer, i) => {
      for (const name of RATE_HEADERS) expect(answer.headers?.[name], `${name} on answer ${i} (${answer.statusCode})`).toBeDefined();
      expect(answer.headers?.['X-RateLimit-Limit']).toBe('4');
      expect(answer.headers?.['X-RateLimit-Remaining']).toBe(String(Math.max(0, 4 - (i + 1))));
    });
    expect(answers[4]?.headers?.['Retry-After']).toBeDefined();
  });
});

describe('X-Correlation-Id', () => {
  it('echoes a well-formed caller id up to 128 characters', async () => {
    const id = `${'a'.repeat(100)}.b_c:d-0123456789`.slice(0, 128);
    expect((await get('ok', { 'X-Correlation-Id': id })).headers?.['X-Correlation-Id']).toBe(id);
    const uuid = '0f8b6a0e-4b1e-4c0b-9d55-9a4a6b3e2c11';
    expect((await get('ok', { 'x-correlation-id': uuid })).headers?.['X-Correlation-Id']).toBe(uuid);
  });

  it('replaces an overlong or ill-formed one, in the answer and in the logs', async () => {
    const bad = ['x'.repeat(129), 'line\r\nInjected: yes', 'quote"me', 'spa ce', '', '日本'];
    for (const value of bad) {
      count = 0;
      const { result, lines } = await captureLogs(() => get('missing', { 'X-Correlation-Id': value }));
      const echoed = String(result.headers?.['X-Correlation-Id']);
      expect(echoed, JSON.stringify(value)).not.toBe(value);
      expect(echoed).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
      expect(problemOf(result).status).toBe(404);
      const logged = lines.join('\n');
      expect(logged).toContain(echoed); // the log line carries the id the caller got back
      if (value.length > 0) expect(logged).not.toContain(JSON.stringify(value).slice(1, -1));
    }
  });
});
