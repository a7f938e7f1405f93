/** Logging in, refreshing, logging out, the JWKS and the bootstrap credentials, as a client does them. */
import { createLocalJWKSet, jwtVerify } from 'jose';
import { describe, expect, inject, it } from 'vitest';
import { call, login } from '../support/http.js';

const FROM = '127.0.2.1';

describe('bootstrap credentials', () => {
  it('let the admin log in with the password and call with the API key', async () => {
    const pair = await login('admin', inject('adminPassword'), FROM);
    expect((await call('GET', '/api/v1/users', { as: { bearer: pair.accessToken } })).status).toBe(200);
    expect((await call('GET', '/api/v1/users', { as: 'admin' })).status).toBe(200);
  });
});

describe('tokens', () => {
  it('are RS256 JWTs verifiable with the published JWKS, with every claim', async () => {
    const pair = await login('admin', inject('adminPassword'), FROM);
    const jwks = await call('GET', '/api/v1/auth/jwks', { as: 'anonymous', from: FROM });
    expect(jwks.status).toBe(200);
    expect(jwks.body.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', kid: expect.any(String) });
    expect(JSON.stringify(jwks.body)).not.toMatch(/"d"|"p"|"q"/);
    const { payload, protectedHeader } = await jwtVerify(pair.accessToken, createLocalJWKSet(jwks.body), {
      issuer: 'switchyard',
      audience: 'switchyard-api',
    });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload).toMatchObject({ roles: ['admin'], sub: expect.any(String), jti: expect.any(String) });
    expect((payload.exp as number) - (payload.iat as number)).toBe(900);
    expect(payload.nbf).toBe(payload.iat);
  });

  it('refresh rotates, and replaying a rotated refresh token ends the session', async () => {
    const first = await login('admin', inject('adminPassword'), FROM);
    const refreshed = await call('POST', '/api/v1/auth/refresh', {
      as: 'anonymous',
      from: FROM,
      json: { refreshToken: first.refreshToken },
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refreshToken).not.toBe(first.refreshToken);
    const replay = await call('POST', '/api/v1/auth/refresh', { as: 'anonymous', from: FROM, json: { refreshToken: first.refreshToken } });
    expect(replay.status).toBe(401);
    const afterTheft = await call('POST', '/api/v1/auth/refresh', {
      as: 'anonymous',
      from: FROM,
      json: { refreshToken: refreshed.body.refreshToken },
    });
    expect(afterTheft.status).toBe(401);
  });

  it('logout revokes the access token and the refresh token at once', async () => {
    const pair = await login('admin', inject('adminPassword'), FROM);
    expect((await call('GET', '/api/v1/receivers', { as: { bearer: pair.accessToken } })).status).toBe(200);
    const out = await call('POST', '/api/v1/auth/logout', { as: { bearer: pair.accessToken }, json: { refreshToken: pair.refreshToken } });
    expect(out.status).toBe(204);
    expect((await call('GET', '/api/v1/receivers', { as: { bearer: pair.accessToken } })).status).toBe(401);
    expect(
      (await call('POST', '/api/v1/auth/refresh', { as: 'anonymous', from: FROM, json: { refreshToken: pair.refreshToken } })).status,
    ).toBe(401);
  });

  it('login answers the same for an unknown user and a wrong password', async () => {
    const unknown = await call('POST', '/api/v1/auth/login', {
      as: 'anonymous',
      from: '127.0.2.2',
      json: { username: 'nobody', password: 'whatever-password' },
    });
    const wrong = await call('POST', '/api/v1/auth/login', {
      as: 'anonymous',
      from: '127.0.2.2',
      json: { username: 'admin', password: 'whatever-password' },
    });
    expect(unknown.status).toBe(401);
    expect(wrong.status).toBe(401);
    const strip = (b: Record<string, unknown>) => ({ ...b, requestId: undefined });
    expect(strip(unknown.body)).toEqual(strip(wrong.body));
  });
});

describe('users and API keys', () => {
  it('an API key is shown once, works with its role, and stops working when revoked', async () => {
    const created = await call('POST', '/api/v1/api-keys', { json: { name: 'ci pipeline', role: 'developer' } });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^sy_/);
    const listed = await call('GET', '/api/v1/api-keys?limit=100');
    const entry = listed.body.items.find((k: { id: string }) => k.id === created.body.id);
    expect(entry).toMatchObject({ role: 'developer', prefix: created.body.key.slice(0, 10) });
    expect(JSON.stringify(listed.body)).not.toContain(created.body.key);

    const key = { apiKey: created.body.key as string };
    expect(
      (await call('POST', '/api/v1/receivers', { as: key, json: { name: 'by-key', type: 't', version: '1', schema: {} } })).status,
    ).toBe(201);
    const forbidden = await call('GET', '/api/v1/users', { as: key });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toMatchObject({ status: 403, code: 'FORBIDDEN', detail: expect.stringContaining('admin') });

    expect((await call('DELETE', `/api/v1/api-keys/${created.body.id}`)).status).toBe(204);
    expect((await call('GET', `/api/v1/api-keys/${created.body.id}`)).body.revokedAt).toBeDefined();
    // The authorizer caches a checked key briefly (2 s in the e2e stack, 30 s by default); poll until the revocation shows.
    let status = 0;
    for (let i = 0; i < 10 && status !== 401; i++) {
      status = (await call('GET', '/api/v1/receivers', { as: key })).status;
      if (status !== 401) await new Promise((r) => setTimeout(r, 1000));
    }
    expect(status).toBe(401);
  });

  it('a user created by an admin can log in with the roles given; duplicates are 409; weak passwords 400', async () => {
    const username = `dev-${Date.now()}`;
    const created = await call('POST', '/api/v1/users', { json: { username, password: 'a long enough password', roles: ['developer'] } });
    expect(created.status).toBe(201);
    expect(created.body).not.toHaveProperty('passwordHash');
    expect(
      (await call('POST', '/api/v1/users', { json: { username, password: 'a long enough password', roles: ['viewer'] } })).status,
    ).toBe(409);
    expect((await call('POST', '/api/v1/users', { json: { username: `${username}x`, password: 'short', roles: ['viewer'] } })).status).toBe(
      400,
    );
    const pair = await login(username, 'a long enough password', '127.0.2.3');
    expect((await call('GET', '/api/v1/receivers', { as: { bearer: pair.accessToken } })).status).toBe(200);
  });
});
