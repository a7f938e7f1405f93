/** The one middleware chain, as a client sees its answers. */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { NotFoundError, VersionConflictError } from '../../shared/domain/errors.js';
import { httpApi } from '../../shared/http/middleware.js';
import { bind, defineRoute } from '../../shared/http/route.js';
import { apiEvent, lambdaContext } from '../support/api-event.js';

const create = defineRoute({
  operationId: 'createThing',
  method: 'POST',
  path: '/things',
  functionName: 'health',
  access: 'public',
  tags: [],
  summary: 'x',
  body: z.strictObject({ name: z.string().min(1), count: z.number().int().optional() }),
  query: z.strictObject({}),
  responses: { 201: { description: 'ok' } },
});
const get = defineRoute({
  operationId: 'getThing',
  method: 'GET',
  path: '/things/{id}',
  functionName: 'health',
  access: 'public',
  tags: [],
  summary: 'x',
  params: z.strictObject({ id: z.uuid() }),
  query: z.strictObject({ verbose: z.enum(['true', 'false']).optional() }),
  responses: { 200: { description: 'ok' } },
});

const ID = '8b0d7c1e-3f1a-4b7e-9a52-2f0c1d4e5a6b';
const handler = httpApi(
  [
    bind(create, async ({ body }) => ({ status: 201, body: { created: body.name } })),
    bind(get, async ({ params }) => {
      if (params.id === ID) throw new NotFoundError('Thing', params.id);
      throw new VersionConflictError('Thing', params.id, 1);
    }),
  ],
  { allowedOrigins: ['https://app.example'], maxBodyBytes: 64 },
);

const post = (body: string | null, headers: Record<string, string> = { 'Content-Type': 'application/json' }) =>
  handler(apiEvent({ httpMethod: 'POST', resource: '/things', body, headers }), lambdaContext);

function problem(res: { statusCode: number; headers?: Record<string, unknown>; body: string }) {
  expect(res.headers?.['Content-Type']).toBe('application/problem+json');
  return JSON.parse(res.body) as {
    status: number;
    code: string;
    errors?: Array<{ path: string; message: string }>;
    requestId: string;
    type: string;
    title: string;
    detail: string;
  };
}

describe('http middleware', () => {
  it('parses, runs the route and answers JSON with security headers', async () => {
    const res = await post('{"name":"a"}');
    expect(res.statusCode).toBe(201);
    expect(JSON.parse(res.body)).toEqual({ created: 'a' });
    expect(res.headers).toMatchObject({
      'Content-Type': 'application/json',
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      'X-Correlation-Id': 'req-1',
    });
    expect(String(res.headers?.['Strict-Transport-Security'])).toContain('max-age=31536000');
    expect(String(res.headers?.['Content-Security-Policy'])).toContain("default-src 'none'");
  });

  it('maps malformed JSON, wrong types and unknown fields to 400 with field errors', async () => {
    expect(problem(await post('{"name":')).code).toBe('MALFORMED_JSON');
    const wrongType = problem(await post('{"name":"a","count":"x"}'));
    expect(wrongType).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', requestId: 'req-1', title: 'Bad Request' });
    expect(wrongType.errors?.map((e) => e.path)).toEqual(['body.count']);
    const unknownField = problem(await post('{"name":"a","extra":1}'));
    expect(unknownField.status).toBe(400);
    expect(unknownField.errors?.[0]?.message).toContain('extra');
    expect(problem(await post(null)).code).toBe('BODY_REQUIRED');
  });

  it('answers 413 for an oversize body and 415 for a non-JSON one', async () => {
    expect(problem(await post(JSON.stringify({ name: 'x'.repeat(100) }))).status).toBe(413);
    expect(problem(await post('name=a', { 'Content-Type': 'application/x-www-form-urlencoded' })).status).toBe(415);
    expect((await post('{"name":"a"}', { 'content-type': 'application/json; charset=utf-8' })).statusCode).toBe(201);
  });

  it('validates path and query parameters', async () => {
    const bad = problem(
      await handler(apiEvent({ httpMethod: 'GET', resource: '/things/{id}', pathParameters: { id: 'nope' } }), lambdaContext),
    );
    expect(bad.errors?.map((e) => e.path)).toEqual(['params.id']);
    const unknownQuery = await handler(
      apiEvent({ httpMethod: 'GET', resource: '/things/{id}', pathParameters: { id: ID }, queryStringParameters: { sort: 'x' } }),
      lambdaContext,
    );
    expect(problem(unknownQuery).status).toBe(400);
  });

  it('maps domain errors to their status once, in one place', async () => {
    const notFound = problem(
      await handler(apiEvent({ httpMethod: 'GET', resource: '/things/{id}', pathParameters: { id: ID } }), lambdaContext),
    );
    expect(notFound).toMatchObject({ status: 404, code: 'NOT_FOUND', type: 'urn:switchyard:problem:not-found' });
    const other = '1b0d7c1e-3f1a-4b7e-9a52-2f0c1d4e5a6b';
    const conflict = problem(
      await handler(apiEvent({ httpMethod: 'GET', resource: '/things/{id}', pathParameters: { id: other } }), lambdaContext),
    );
    expect(conflict).toMatchObject({ status: 409, code: 'VERSION_CONFLICT' });
  });

  it('echoes the caller correlation id', async () => {
    const res = await post('{"name":"a"}', { 'Content-Type': 'application/json', 'X-Correlation-Id': 'trace-me' });
    expect(res.headers?.['X-Correlation-Id']).toBe('trace-me');
  });

  it('allows only configured origins', async () => {
    const allowed = await post('{"name":"a"}', { 'Content-Type': 'application/json', Origin: 'https://app.example' });
    expect(allowed.headers?.['Access-Control-Allow-Origin']).toBe('https://app.example');
    const denied = await post('{"name":"a"}', { 'Content-Type': 'application/json', Origin: 'https://evil.example' });
    expect(denied.headers?.['Access-Control-Allow-Origin']).not.toBe('https://evil.example');
    expect(denied.headers?.['Access-Control-Allow-Origin']).not.toBe('*');
  });

  it('hides internals on unexpected errors', async () => {
    const boom = defineRoute({ ...create, operationId: 'boom', body: undefined });
    const failing = httpApi(
      [
        bind(boom, async () => {
          throw new Error('secret table name');
        }),
      ],
      { allowedOrigins: [], maxBodyBytes: 10 },
    );
    const res = problem(await failing(apiEvent({ httpMethod: 'POST', resource: '/things' }), lambdaContext));
    expect(res.status).toBe(500);
    expect(res.detail).not.toContain('secret');
  });
});
