/**
 * Receiver schemas are untrusted input (issue 7), over HTTP: two receivers may
 * share a `$id`, a pattern that would backtrack catastrophically answers at
 * once, and schemas over the limits are refused with a problem naming them.
 * Statuses are asserted, never times: before the fix the ReDoS event ran into
 * the function's timeout and came back as a 5xx.
 */
import { describe, expect, it } from 'vitest';
import { call } from '../support/http.js';
import { eventBody, receiverBody } from '../support/samples.js';

describe('receiver schemas', () => {
  it('lets two receivers use the same $id, each validating its own events', async () => {
    const $id = `https://schemas.example/${Date.now()}/release.json`;
    const a = await call('POST', '/api/v1/receivers', { json: receiverBody({ schema: { $id, type: 'object', required: ['commit'] } }) });
    expect(a.status).toBe(201);
    const b = await call('POST', '/api/v1/receivers', { json: receiverBody({ schema: { $id, type: 'object', required: ['build'] } }) });
    expect(b.status).toBe(201);

    expect((await call('POST', '/api/v1/events', { json: eventBody(a.body.id, { payload: { commit: 'abc1234' } }) })).status).toBe(201);
    expect((await call('POST', '/api/v1/events', { json: eventBody(b.body.id, { payload: { build: '7' } }) })).status).toBe(201);
    const mismatch = await call('POST', '/api/v1/events', { json: eventBody(b.body.id, { payload: { commit: 'abc1234' } }) });
    expect(mismatch.status).toBe(422);
    expect(mismatch.body.code).toBe('PAYLOAD_SCHEMA_MISMATCH');

    // A new revision with the same $id: events follow the new schema (a warm container had compiled the old one).
    const updated = await call('PATCH', `/api/v1/receivers/${a.body.id}`, {
      json: { revision: 1, schema: { $id, type: 'object', required: ['build'] } },
    });
    expect(updated.status).toBe(200);
    expect((await call('POST', '/api/v1/events', { json: eventBody(a.body.id, { payload: { build: '8' } }) })).status).toBe(201);
  });

  it('answers a payload that would make ^(a+)+$ backtrack with a 422, not a timeout', { timeout: 60_000 }, async () => {
    const created = await call('POST', '/api/v1/receivers', {
      json: receiverBody({
        schema: {
          type: 'object',
          properties: { v: { type: 'string', pattern: '^(a+)+$' } },
          patternProperties: { '^(b+)+$': { type: 'number' } },
        },
      }),
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;

    const evil = await call('POST', '/api/v1/events', { json: eventBody(id, { payload: { v: `${'a'.repeat(28)}!` } }) });
    expect(evil.status).toBe(422);
    expect(evil.body).toMatchObject({ code: 'PAYLOAD_SCHEMA_MISMATCH', errors: [{ path: 'body.payload.v' }] });

    const evilKey = await call('POST', '/api/v1/events', { json: eventBody(id, { payload: { [`${'b'.repeat(28)}!`]: 1 } }) });
    expect(evilKey.status).toBe(201);
    expect((await call('POST', '/api/v1/events', { json: eventBody(id, { payload: { v: 'aaaa', bbb: 1 } }) })).status).toBe(201);
  });

  it('refuses a pattern the linear-time engine cannot run with a 400 naming it', async () => {
    const res = await call('POST', '/api/v1/receivers', { json: receiverBody({ schema: { type: 'string', pattern: '^(a)\\1$' } }) });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body).toMatchObject({
      code: 'INVALID_SCHEMA',
      errors: [{ path: 'body.schema', message: expect.stringContaining('^(a)\\1$') }],
    });
  });

  it('refuses schemas over the size or depth limit with a 400 naming the limit', async () => {
    const properties = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`property${i}`, { type: 'string', maxLength: 10 }]));
    const large = await call('POST', '/api/v1/receivers', { json: receiverBody({ schema: { type: 'object', properties } }) });
    expect(large.status).toBe(400);
    expect(large.body).toMatchObject({
      code: 'SCHEMA_TOO_LARGE',
      errors: [{ path: 'body.schema', message: expect.stringContaining('65536') }],
    });

    let deep: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 40; i++) deep = { type: 'object', properties: { a: deep } };
    const tooDeep = await call('POST', '/api/v1/receivers', { json: receiverBody({ schema: deep }) });
    expect(tooDeep.status).toBe(400);
    expect(tooDeep.body).toMatchObject({
      code: 'SCHEMA_TOO_DEEP',
      errors: [{ path: 'body.schema', message: expect.stringContaining('32') }],
    });
  });
});
