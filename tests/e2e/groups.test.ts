import { describe, expect, it } from 'vitest';
import { call } from '../support/http.js';
import { receiverBody } from '../support/samples.js';

describe('groups', () => {
  it('creates a group with members, adds and removes members, and protects what is in use', async () => {
    const a = (await call('POST', '/api/v1/receivers', { json: receiverBody() })).body;
    const b = (await call('POST', '/api/v1/receivers', { json: receiverBody() })).body;

    const created = await call('POST', '/api/v1/groups', {
      json: { name: 'production', description: 'prod pipelines', receiverIds: [a.id] },
    });
    expect(created.status).toBe(201);
    const group = created.body;
    expect(group).toMatchObject({ name: 'production', enabled: true, memberCount: 1, revision: 1 });

    const added = await call('PUT', `/api/v1/groups/${group.id}/members/${b.id}`);
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ memberCount: 2, revision: 2 });
    expect((await call('PUT', `/api/v1/groups/${group.id}/members/${b.id}`)).status).toBe(200);

    const members = await call('GET', `/api/v1/groups/${group.id}/members`);
    expect(members.body.items.map((m: { receiverId: string }) => m.receiverId).sort()).toEqual([a.id, b.id].sort());
    expect((await call('GET', `/api/v1/receivers/${a.id}/groups`)).body.items).toEqual([expect.objectContaining({ groupId: group.id })]);

    const inUse = await call('DELETE', `/api/v1/receivers/${a.id}?revision=1`);
    expect(inUse.status).toBe(422);
    expect(inUse.body.code).toBe('RECEIVER_IN_USE');
    const notEmpty = await call('DELETE', `/api/v1/groups/${group.id}?revision=2`);
    expect(notEmpty.status).toBe(422);
    expect(notEmpty.body.code).toBe('GROUP_NOT_EMPTY');

    expect((await call('DELETE', `/api/v1/groups/${group.id}/members/${a.id}`)).status).toBe(204);
    expect((await call('DELETE', `/api/v1/groups/${group.id}/members/${a.id}`)).status).toBe(404);
    expect((await call('DELETE', `/api/v1/groups/${group.id}/members/${b.id}`)).status).toBe(204);
    expect((await call('DELETE', `/api/v1/groups/${group.id}`, { headers: { 'If-Match': '"4"' } })).status).toBe(204);
    expect((await call('GET', `/api/v1/groups/${group.id}`)).status).toBe(404);
  });

  it('disables a group at a revision and refuses a stale one', async () => {
    const group = (await call('POST', '/api/v1/groups', { json: { name: 'canary' } })).body;
    const disabled = await call('PATCH', `/api/v1/groups/${group.id}`, { json: { revision: 1, enabled: false } });
    expect(disabled.body).toMatchObject({ enabled: false, revision: 2 });
    expect((await call('PATCH', `/api/v1/groups/${group.id}`, { json: { revision: 1, enabled: true } })).status).toBe(409);
    expect((await call('GET', `/api/v1/groups/${group.id}`)).body.enabled).toBe(false);
  });

  it('refuses unknown receivers and stores no group', async () => {
    const name = `ghost-${Date.now()}`;
    const res = await call('POST', '/api/v1/groups', { json: { name, receiverIds: ['3f0b6a5e-0000-4000-8000-000000000000'] } });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('UNKNOWN_RECEIVER');
    const all = await call('GET', '/api/v1/groups?limit=100');
    expect(all.body.items.some((g: { name: string }) => g.name === name)).toBe(false);
  });
});
