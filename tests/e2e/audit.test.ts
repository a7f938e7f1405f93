import { describe, expect, it } from 'vitest';
import { call, login } from '../support/http.js';
import { receiverBody } from '../support/samples.js';

describe('audit trail', () => {
  it('records who wrote what, when, with the request id and source IP; only admins read it', async () => {
    const username = `auditor-${Date.now()}`;
    const user = (await call('POST', '/api/v1/users', { json: { username, password: 'audit password 1234', roles: ['developer'] } })).body;
    const { accessToken } = await login(username, 'audit password 1234', '127.0.5.1');
    const created = await call('POST', '/api/v1/receivers', { as: { bearer: accessToken }, from: '127.0.5.2', json: receiverBody() });
    expect(created.status).toBe(201);

    const trail = await call('GET', `/api/v1/audit?actorId=${user.id}`);
    expect(trail.status).toBe(200);
    expect(trail.body.items).toEqual([
      expect.objectContaining({
        actor: { id: user.id, kind: 'user', name: username },
        action: 'createReceiver',
        method: 'POST',
        path: '/api/v1/receivers',
        status: 201,
        resourceId: created.body.id,
        requestId: created.headers.get('x-amzn-requestid'),
        sourceIp: '127.0.5.2',
      }),
    ]);

    const reads = await call('GET', '/api/v1/receivers', { as: { bearer: accessToken } });
    expect(reads.status).toBe(200);
    expect((await call('GET', `/api/v1/audit?actorId=${user.id}`)).body.items).toHaveLength(1);

    const denied = await call('GET', '/api/v1/audit', { as: { bearer: accessToken } });
    expect(denied.status).toBe(403);
  });
});
