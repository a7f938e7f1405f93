/** Rate limits as a client meets them: headers on every answer, 429 with Retry-After, and the reset. */
import { describe, expect, it } from 'vitest';
import { call } from '../support/http.js';

// The e2e stack uses 10-second windows (tests/setup/runtime.ts); production uses 60.
describe('rate limits', () => {
  it('anonymous callers get 10 per window per IP, then 429 until the window resets', async () => {
    const from = '127.0.4.1';
    // Start at the beginning of a window so all eleven calls land in the same one.
    const first = await call('GET', '/api/v1/auth/jwks', { as: 'anonymous', from });
    const reset = Number(first.headers.get('x-ratelimit-reset'));
    await new Promise((r) => setTimeout(r, Math.max(0, reset * 1000 - Date.now()) + 50));

    const remaining: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await call('GET', '/api/v1/auth/jwks', { as: 'anonymous', from });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-ratelimit-limit')).toBe('10');
      remaining.push(Number(res.headers.get('x-ratelimit-remaining')));
    }
    expect(remaining).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);

    const limited = await call('GET', '/api/v1/auth/jwks', { as: 'anonymous', from });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('content-type')).toContain('application/problem+json');
    expect(limited.body).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(10);
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');

    // Another client IP has its own bucket.
    expect((await call('GET', '/api/v1/auth/jwks', { as: 'anonymous', from: '127.0.4.2' })).status).toBe(200);

    await new Promise((r) => setTimeout(r, retryAfter * 1000 + 100));
    const after = await call('GET', '/api/v1/auth/jwks', { as: 'anonymous', from });
    expect(after.status).toBe(200);
    expect(after.headers.get('x-ratelimit-remaining')).toBe('9');
  }, 40_000);

  it('logins are limited to 5 per window per client IP, charged before the password is checked', async () => {
    const from = '127.0.4.3';
    // Start at the beginning of a window (read from a probe on another IP: the login bucket is per IP) and send
    // the six at once: the limiter charges before the password hash, so they all land in that window even on a
    // loaded machine, where six logins one after another (a 128 MiB scrypt each) outlasted the 10-second window.
    const probe = await call('POST', '/api/v1/auth/login', {
      as: 'anonymous',
      from: '127.0.4.4',
      json: { username: 'admin', password: 'x' },
    });
    const reset = Number(probe.headers.get('x-ratelimit-reset'));
    expect(reset).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, Math.max(0, reset * 1000 - Date.now()) + 50));
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        call('POST', '/api/v1/auth/login', { as: 'anonymous', from, json: { username: 'admin', password: 'wrong password here' } }),
      ),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    const limited = answers.find((a) => a.status === 429)!;
    expect(limited.body).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(limited.headers.get('x-ratelimit-limit')).toBe('5');
  }, 40_000);

  it('authenticated callers see their tier in the headers; health is never limited', async () => {
    const admin = await call('GET', '/api/v1/receivers', { as: 'admin' });
    expect(admin.headers.get('x-ratelimit-limit')).toBe('1000');
    const health = await call('GET', '/health', { as: 'anonymous' });
    expect(health.headers.get('x-ratelimit-limit')).toBeNull();
  });
});
