import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { call } from '../support/http.js';
import { receiverBody } from '../support/samples.js';

describe('Idempotency-Key', () => {
  it('replays the first response for the same key and body, creating one resource', async () => {
    const key = randomUUID();
    const body = receiverBody({ name: `idem-${key}` });
    const first = await call('POST', '/api/v1/receivers', { json: body, headers: { 'Idempotency-Key': key } });
    const again = await call('POST', '/api/v1/receivers', { json: body, headers: { 'Idempotency-Key': key } });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect((await call('GET', `/api/v1/receivers?name=idem-${key}`)).body.items).toHaveLength(1);
  });

  it('refuses the same key with a different body (422) and stores nothing', async () => {
    const key = randomUUID();
    await call('POST', '/api/v1/receivers', { json: receiverBody({ name: `idem-a-${key}` }), headers: { 'Idempotency-Key': key } });
    const other = await call('POST', '/api/v1/receivers', {
      json: receiverBody({ name: `idem-b-${key}` }),
      headers: { 'Idempotency-Key': key },
    });
    expect(other.status).toBe(422);
    expect(other.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((await call('GET', `/api/v1/receivers?name=idem-b-${key}`)).body.items).toEqual([]);
  });

  it('without a key, every POST creates', async () => {
    const body = receiverBody({ name: `no-key-${randomUUID()}` });
    const a = await call('POST', '/api/v1/receivers', { json: body });
    const b = await call('POST', '/api/v1/receivers', { json: body });
    expect(a.body.id).not.toBe(b.body.id);
  });
});
