/**
 * Changing a user ends its sessions (docs/auth.md "When a user loses rights"):
 * after PATCH disable / password / roles its refresh tokens fail at once and its
 * access tokens get 401 once the authorizer's cache (2 s in the e2e runtime) has passed.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { call, login } from '../support/http.js';

/** The e2e runtime's authorizer cache (tests/setup/runtime.ts), plus a margin. */
const PAST_THE_CACHE_MS = 2_000 + 700;
const PASSWORD = 'session password 1234';

const changes: Array<[string, Record<string, unknown>, string]> = [
  ['disabling it', { disabled: true }, '127.0.3.1'],
  ['changing its password', { password: 'another password 5678' }, '127.0.3.2'],
  ['changing its roles', { roles: ['viewer'] }, '127.0.3.3'],
];

describe('changing a user', () => {
  it.each(changes)('%s revokes its refresh token at once and its access token after the authorizer cache', async (_, patch, from) => {
    const username = `sessions-${randomUUID().slice(0, 8)}`;
    const created = await call('POST', '/api/v1/users', { json: { username, password: PASSWORD, roles: ['developer'] } });
    expect(created.status).toBe(201);
    const pair = await login(username, PASSWORD, from);
    const asUser = { as: { bearer: pair.accessToken } };
    // Cached by the authorizer from here on.
    expect((await call('GET', '/api/v1/receivers', asUser)).status).toBe(200);

    const changed = await call('PATCH', `/api/v1/users/${created.body.id}`, { json: { revision: created.body.revision, ...patch } });
    expect(changed.status).toBe(200);
    expect(changed.body).not.toHaveProperty('sessionGeneration');

    const refreshed = await call('POST', '/api/v1/auth/refresh', { as: 'anonymous', from, json: { refreshToken: pair.refreshToken } });
    expect(refreshed.status).toBe(401);
    await sleep(PAST_THE_CACHE_MS);
    const after = await call('GET', '/api/v1/receivers', asUser);
    expect(after.status).toBe(401);
    expect(after.headers.get('content-type')).toMatch(/problem\+json/);
  });

  it('keeps sessions when nothing that grants rights changes, and a new login carries the new roles', async () => {
    const from = '127.0.3.4';
    const username = `sessions-${randomUUID().slice(0, 8)}`;
    const created = await call('POST', '/api/v1/users', { json: { username, password: PASSWORD, roles: ['developer'] } });
    const pair = await login(username, PASSWORD, from);
    const same = await call('PATCH', `/api/v1/users/${created.body.id}`, {
      json: { revision: created.body.revision, roles: ['developer'] },
    });
    expect(same.status).toBe(200);
    await sleep(PAST_THE_CACHE_MS);
    expect((await call('GET', '/api/v1/receivers', { as: { bearer: pair.accessToken } })).status).toBe(200);

    const demoted = await call('PATCH', `/api/v1/users/${created.body.id}`, { json: { revision: same.body.revision, roles: ['viewer'] } });
    expect(demoted.status).toBe(200);
    const again = await login(username, PASSWORD, from);
    const asViewer = { as: { bearer: again.accessToken } };
    expect((await call('GET', '/api/v1/receivers', asViewer)).status).toBe(200);
    expect((await call('GET', '/api/v1/users', asViewer)).status).toBe(403);
  });
});
