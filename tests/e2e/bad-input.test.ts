/** Bad input gets a clear problem+json status, never a 500, and nothing is stored. */
import { describe, expect, it } from 'vitest';
import { call, type Reply } from '../support/http.js';
import { receiverBody } from '../support/samples.js';

const isProblem = (res: Reply<{ status: number; requestId: string }>, status: number) => {
  expect(res.headers.get('content-type')).toContain('application/problem+json');
  expect(res.body).toMatchObject({
    status,
    type: expect.any(String),
    title: expect.any(String),
    detail: expect.any(String),
    code: expect.any(String),
    requestId: expect.any(String),
  });
};

async function receiverCount(name: string): Promise<number> {
  return (await call('GET', `/api/v1/receivers?name=${encodeURIComponent(name)}`)).body.items.length;
}

describe('bad input', () => {
  it('400 for malformed JSON', async () => {
    const res = await call('POST', '/api/v1/receivers', { body: '{"name": "x",', headers: { 'Content-Type': 'application/json' } });
    expect(res.status).toBe(400);
    isProblem(res, 400);
  });

  it('400 for wrong types and unknown fields, naming the fields', async () => {
    const name = `typed-${Date.now()}`;
    const wrong = await call('POST', '/api/v1/receivers', { json: { ...receiverBody({ name }), version: 3 } });
    expect(wrong.status).toBe(400);
    isProblem(wrong, 400);
    const unknown = await call('POST', '/api/v1/receivers', { json: { ...receiverBody({ name }), owner: 'me' } });
    expect(unknown.status).toBe(400);
    expect(await receiverCount(name)).toBe(0);
  });

  it('413 for an oversize body', async () => {
    const name = `huge-${Date.now()}`;
    // Well-formed for the gateway model (the schema is free-form), so the function's 1 MiB limit is what answers.
    const res = await call('POST', '/api/v1/receivers', {
      json: receiverBody({ name, schema: { type: 'object', description: 'x'.repeat(1_100_000) } }),
    });
    expect(res.status).toBe(413);
    isProblem(res, 413);
    expect(await receiverCount(name)).toBe(0);
  });

  it('415 for a body that is not JSON', async () => {
    const res = await call('POST', '/api/v1/receivers', { body: 'name=x', headers: { 'Content-Type': 'text/plain' } });
    expect(res.status).toBe(415);
    isProblem(res, 415);
  });

  it('400 for an empty body', async () => {
    const res = await call('POST', '/api/v1/receivers', { headers: { 'Content-Type': 'application/json' } });
    expect(res.status).toBe(400);
    isProblem(res, 400);
  });

  it('404 for unknown ids on every resource', async () => {
    const id = '3f0b6a5e-0000-4000-8000-000000000000';
    for (const path of [`/api/v1/receivers/${id}`, `/api/v1/groups/${id}`, `/api/v1/events/${id}`]) {
      const res = await call('GET', path);
      expect(res.status).toBe(404);
      isProblem(res, 404);
    }
    expect((await call('PATCH', `/api/v1/groups/${id}`, { json: { revision: 1, enabled: false } })).status).toBe(404);
    expect((await call('PUT', `/api/v1/groups/${id}/members/${id}`)).status).toBe(404);
  });
});
