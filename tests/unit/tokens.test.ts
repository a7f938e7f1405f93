import { describe, expect, it } from 'vitest';
import { activeKeys, currentKey, generateSigningKey, publicJwks, rotateSigningKeys } from '../../shared/auth/signing-keys.js';
import { InvalidTokenError, issueAccessToken, verifyAccessToken } from '../../shared/auth/tokens.js';
import { satisfies, tierOf } from '../../shared/auth/roles.js';
import { rateBucket } from '../../shared/auth/rate-limits.js';
import { badTokens } from '../support/tokens.js';

const config = { issuer: 'switchyard', audience: 'switchyard-api', accessTokenSeconds: 900 };

describe('access tokens', () => {
  it('carry and verify every claim', async () => {
    const keys = { keys: [await generateSigningKey(new Date())] };
    const now = new Date();
    const { token, jti } = await issueAccessToken(keys, config, { id: 'u1', name: 'ada', roles: ['developer'] }, now);
    const claims = await verifyAccessToken(keys, config, token, now);
    expect(claims).toMatchObject({ sub: 'u1', jti, roles: ['developer'], name: 'ada' });
    expect(claims.exp - Math.floor(now.getTime() / 1000)).toBe(900);
    const [, payload] = token.split('.');
    expect(Object.keys(JSON.parse(Buffer.from(payload as string, 'base64url').toString())).sort()).toEqual(
      ['aud', 'exp', 'iat', 'iss', 'jti', 'name', 'nbf', 'roles', 'sub'].sort(),
    );
  });

  it('refuse every kind of bad token', async () => {
    const keys = { keys: [await generateSigningKey(new Date())] };
    const valid = (await issueAccessToken(keys, config, { id: 'u1', name: 'ada', roles: ['viewer'] }, new Date())).token;
    const bad = await badTokens({ keys, issuer: config.issuer, audience: config.audience, subject: 'u1', valid });
    for (const [name, token] of Object.entries(bad)) {
      await expect(verifyAccessToken(keys, config, token, new Date()), name).rejects.toBeInstanceOf(InvalidTokenError);
    }
  });

  it('keep verifying with the previous key through a rotation, then stop', async () => {
    const t0 = new Date('2026-01-01T00:00:00Z');
    const first = { keys: [await generateSigningKey(t0)] };
    const old = (await issueAccessToken(first, config, { id: 'u1', name: 'ada', roles: ['viewer'] }, t0)).token;
    const t1 = new Date(t0.getTime() + 60_000);
    const rotated = await rotateSigningKeys(first, t1, 1200);
    expect(currentKey(rotated, t1)?.kid).not.toBe(first.keys[0]?.kid);
    expect(publicJwks(rotated, t1).keys).toHaveLength(2);
    await expect(verifyAccessToken(rotated, config, old, t1)).resolves.toMatchObject({ sub: 'u1' });
    const t2 = new Date(t1.getTime() + 1201_000);
    expect(activeKeys(rotated, t2)).toHaveLength(1);
    await expect(verifyAccessToken(rotated, config, old, t2)).rejects.toBeInstanceOf(InvalidTokenError);
    expect((await rotateSigningKeys(rotated, t2, 1200)).keys).toHaveLength(2);
  });
});

describe('roles and rate tiers', () => {
  it('rank viewer < developer < operator < admin', () => {
    expect(satisfies(['viewer'], 'viewer')).toBe(true);
    expect(satisfies(['viewer'], 'developer')).toBe(false);
    expect(satisfies(['operator'], 'developer')).toBe(true);
    expect(satisfies(['admin'], 'admin')).toBe(true);
    expect(satisfies([], 'viewer')).toBe(false);
    expect(satisfies([], 'public')).toBe(true);
    expect(tierOf(['admin', 'viewer'])).toBe('admin');
    expect(tierOf(['developer'])).toBe('authenticated');
    expect(tierOf([])).toBe('anonymous');
  });

  it('charge logins per client IP and others per principal and tier', () => {
    const limits = { windowSeconds: 60, anonymous: 10, authenticated: 100, admin: 1000, login: 5 };
    const anon = { id: 'ip:1.2.3.4', kind: 'anonymous' as const, name: 'anonymous', roles: [], sourceIp: '1.2.3.4' };
    const admin = { id: 'u1', kind: 'user' as const, name: 'root', roles: ['admin' as const], sourceIp: '1.2.3.4' };
    const t = Date.UTC(2026, 0, 1, 0, 0, 30);
    expect(rateBucket('login', anon, limits, t)).toMatchObject({
      key: 'login:ip:1.2.3.4',
      limit: 5,
      resetAt: Date.UTC(2026, 0, 1, 0, 1) / 1000,
    });
    expect(rateBucket('default', anon, limits, t)).toMatchObject({ key: 'anonymous:ip:1.2.3.4', limit: 10 });
    expect(rateBucket('default', admin, limits, t)).toMatchObject({ key: 'admin:u1', limit: 1000 });
    expect(rateBucket('none', admin, limits, t)).toBeUndefined();
  });
});
