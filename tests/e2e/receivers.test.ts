import { describe, expect, it } from 'vitest';
import { call } from '../support/http.js';
import { receiverBody } from '../support/samples.js';

describe('receivers', () => {
  it('creates, reads, updates and deletes a receiver', async () => {
    const created = await call('POST', '/api/v1/receivers', { json: receiverBody({ name: 'github-actions' }) });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect(created.headers.get('location')).toBe(`/api/v1/receivers/${id}`);
    expect(created.headers.get('etag')).toBe('"1"');
    expect(created.body).toMatchObject({ name: 'github-actions', type: 'ci.pipeline', version: '1.0.0', revision: 1 });

    const read = await call('GET', `/api/v1/receivers/${id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);

    const updated = await call('PATCH', `/api/v1/receivers/${id}`, { json: { revision: 1, description: 'renamed pipeline' } });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ description: 'renamed pipeline', revision: 2 });
    expect(updated.headers.get('etag')).toBe('"2"');

    const viaIfMatch = await call('PATCH', `/api/v1/receivers/${id}`, { json: { version: '1.1.0' }, headers: { 'If-Match': '"2"' } });
    expect(viaIfMatch.body).toMatchObject({ version: '1.1.0', revision: 3 });

    expect((await call('DELETE', `/api/v1/receivers/${id}?revision=3`)).status).toBe(204);
    expect((await call('GET', `/api/v1/receivers/${id}`)).status).toBe(404);
  });

  it('answers a stale update with 409 and a failed If-Match with 412, changing nothing', async () => {
    const { body: r } = await call('POST', '/api/v1/receivers', { json: receiverBody() });
    await call('PATCH', `/api/v1/receivers/${r.id}`, { json: { revision: 1, description: 'first writer' } });

    const stale = await call('PATCH', `/api/v1/receivers/${r.id}`, { json: { revision: 1, description: 'second writer' } });
    expect(stale.status).toBe(409);
    expect(stale.headers.get('content-type')).toContain('application/problem+json');
    expect(stale.body).toMatchObject({ status: 409, code: 'VERSION_CONFLICT', title: 'Conflict' });

    const precondition = await call('PATCH', `/api/v1/receivers/${r.id}`, { json: { description: 'x' }, headers: { 'If-Match': '"1"' } });
    expect(precondition.status).toBe(412);

    const missing = await call('PATCH', `/api/v1/receivers/${r.id}`, { json: { description: 'no revision' } });
    expect(missing.status).toBe(400);

    expect((await call('GET', `/api/v1/receivers/${r.id}`)).body.description).toBe('first writer');
  });

  it('rejects an invalid JSON Schema with 400 and stores nothing', async () => {
    const name = `bad-schema-${Date.now()}`;
    const res = await call('POST', '/api/v1/receivers', {
      json: receiverBody({ name, schema: { type: 'object', properties: { a: { minLenght: 3 } } } }),
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      code: 'INVALID_SCHEMA',
      errors: [{ path: 'body.schema', message: expect.stringContaining('minLenght') }],
    });
    expect((await call('GET', `/api/v1/receivers?name=${name}`)).body.items).toEqual([]);
  });

  it('lists newest first in pages, filtered by name and type', async () => {
    const type = `type-${Date.now()}`;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await call('POST', '/api/v1/receivers', { json: receiverBody({ type }) })).body.id);
    const page1 = await call('GET', `/api/v1/receivers?type=${type}&limit=2`);
    expect(page1.body.items.map((r: { id: string }) => r.id)).toEqual([ids[2], ids[1]]);
    const page2 = await call('GET', `/api/v1/receivers?type=${type}&limit=2&cursor=${encodeURIComponent(page1.body.nextCursor)}`);
    expect(page2.body.items.map((r: { id: string }) => r.id)).toEqual([ids[0]]);
    expect(page2.body.nextCursor).toBeUndefined();

    const badCursor = await call('GET', `/api/v1/receivers?limit=2&cursor=${encodeURIComponent(page1.body.nextCursor)}`);
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.code).toBe('INVALID_CURSOR');
    expect((await call('GET', '/api/v1/receivers?cursor=%%%')).status).toBe(400);
    expect((await call('GET', '/api/v1/receivers?limit=1000')).status).toBe(400);
  });

  it('answers 404 for unknown ids and 400 for malformed ones', async () => {
    expect((await call('GET', '/api/v1/receivers/3f0b6a5e-0000-4000-8000-000000000000')).status).toBe(404);
    const malformed = await call('GET', '/api/v1/receivers/not-a-uuid');
    expect(malformed.status).toBe(400);
    expect(malformed.body.errors).toEqual([{ path: 'params.id', message: expect.any(String) }]);
  });
});
