/** A route that declares further request media types: each body is parsed with its own schema. */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { httpApi } from '../../../shared/http/middleware.js';
import { bind, defineRoute } from '../../../shared/http/route.js';
import { apiEvent, lambdaContext } from '../../support/api-event.js';

const route = defineRoute({
  operationId: 'createThing',
  method: 'POST',
  path: '/things',
  functionName: 'health',
  access: 'public',
  tags: [],
  summary: 'x',
  body: z.strictObject({ name: z.string().min(1) }),
  mediaBodies: { 'application/vnd.thing+json': z.looseObject({ thing: z.string().min(1) }) },
  query: z.strictObject({}),
  responses: { 201: { description: 'ok' } },
});

const handler = httpApi(
  [
    bind(route, async ({ body }) => ({
      status: 201,
      body: 'thing' in body ? { via: 'thing', value: body.thing } : { via: 'json', value: body.name },
    })),
  ],
  { allowedOrigins: [], maxBodyBytes: 1024 },
);
const post = (body: unknown, contentType: string) =>
  handler(
    apiEvent({ httpMethod: 'POST', resource: '/things', body: JSON.stringify(body), headers: { 'Content-Type': contentType } }),
    lambdaContext,
  );

describe('a route with further media types', () => {
  it('parses each body with the schema of its media type', async () => {
    expect(JSON.parse((await post({ name: 'a' }, 'application/json')).body)).toEqual({ via: 'json', value: 'a' });
    expect(JSON.parse((await post({ thing: 'b', extra: 1 }, 'Application/Vnd.Thing+JSON; charset=utf-8')).body)).toEqual({
      via: 'thing',
      value: 'b',
    });
  });

  it('keeps the application/json schema for any other JSON media type, and refuses a body of the wrong shape', async () => {
    expect((await post({ name: 'a' }, 'application/merge-patch+json')).statusCode).toBe(201);
    const wrong = await post({ name: 'a' }, 'application/vnd.thing+json');
    expect(wrong.statusCode).toBe(400);
    expect((JSON.parse(wrong.body) as { errors: Array<{ path: string }> }).errors.map((e) => e.path)).toEqual(['body.thing']);
  });

  it('names every accepted media type in a 415', async () => {
    const res = await post({ name: 'a' }, 'text/plain');
    expect(res.statusCode).toBe(415);
    expect(JSON.parse(res.body)).toMatchObject({
      detail: 'Send the body as application/json or application/vnd.thing+json (got text/plain)',
    });
  });
});
