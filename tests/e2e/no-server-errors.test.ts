/**
 * Bad input is the caller's problem: every route, fed junk by an admin (so the
 * authorizer lets it through to the handler), answers 4xx problem+json and never 5xx.
 */
import { describe, expect, it } from 'vitest';
import { allRoutes } from '../../shared/api/routes.js';
import { call } from '../support/http.js';

const JUNK_BODIES: Array<{ label: string; body: string; contentType?: string }> = [
  { label: 'malformed JSON', body: '{"a":' },
  { label: 'JSON array', body: '[1,2,3]' },
  { label: 'JSON null', body: 'null' },
  { label: 'JSON string', body: '"x"' },
  {
    label: 'wrong types everywhere',
    body: JSON.stringify({
      name: 1,
      type: [],
      version: {},
      schema: 'x',
      receiverId: 42,
      success: 'yes',
      eventStart: 7,
      roles: 'admin',
      username: null,
      password: 1,
      refreshToken: [],
      revision: 'one',
      enabled: 'no',
    }),
  },
  { label: 'deep nesting', body: `${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}` },
  { label: 'huge number', body: JSON.stringify({ revision: 1e308, limit: -1 }) },
  { label: 'prototype pollution', body: '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}' },
  { label: 'text/plain', body: 'hello', contentType: 'text/plain' },
  { label: 'no content type', body: '{}', contentType: '' },
];

const JUNK_QUERIES = [
  '?limit=abc',
  '?limit=0',
  '?cursor=%E2%9C%93',
  '?cursor=eyJrIjp7InBrIjoxfSwiZiI6IngifQ',
  '?from=yesterday&to=tomorrow',
  '?unknown=1',
  '?revision=-5',
];

function concretePath(path: string, id: string): string {
  return path.replace(/\{[^}]+\}/g, id);
}

describe('no server errors for bad input', () => {
  it('holds for every route, body and query we can think of', async () => {
    // An admin key of its own, so the junk reaches the handlers instead of a shared rate-limit bucket.
    const key = (await call('POST', '/api/v1/api-keys', { json: { name: 'junk sender', role: 'admin' } })).body.key as string;
    const failures: string[] = [];
    let limited = 0;
    let sent = 0;
    for (const route of allRoutes) {
      const targets = [
        ...['not-a-uuid', '3f0b6a5e-0000-4000-8000-000000000000', '%00', 'a'.repeat(300)].map((id) => concretePath(route.path, id)),
        ...JUNK_QUERIES.map((query) => `${concretePath(route.path, '3f0b6a5e-0000-4000-8000-000000000000')}${query}`),
      ];
      const attempts = route.body ? JUNK_BODIES : [{ label: 'no body', body: undefined as string | undefined, contentType: undefined }];
      for (const target of [...new Set(targets)]) {
        const [path, q] = target.split('?');
        const query = q ? `?${q}` : '';
        for (const attempt of attempts) {
          {
            const headers: Record<string, string> = {};
            if (attempt.body !== undefined && attempt.contentType !== '')
              headers['Content-Type'] = attempt.contentType ?? 'application/json';
            const res = await call(route.method, `${path}${query}`, {
              as: { apiKey: key },
              // Public routes are limited per client IP: give every request its own address.
              from: `127.0.${6 + Math.floor(sent / 250)}.${(sent++ % 250) + 1}`,
              headers,
              ...(attempt.body !== undefined ? { body: attempt.body } : {}),
            });
            if (res.status === 429) limited++;
            if (res.status >= 500)
              failures.push(`${route.method} ${path}${query} [${attempt.label}] → ${res.status} ${res.text.slice(0, 160)}`);
            else if (res.status >= 400 && !(res.headers.get('content-type') ?? '').includes('application/problem+json')) {
              failures.push(`${route.method} ${path}${query} [${attempt.label}] → ${res.status} without problem+json`);
            }
          }
        }
      }
    }
    expect(failures).toEqual([]);
    expect(limited, 'requests were rate limited instead of reaching the handlers').toBe(0);
  }, 300_000);
});
