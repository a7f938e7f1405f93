/**
 * Configurations end to end (DESIGN.md §4, §6), over the HTTP API of the
 * running stack: a developer-operator writes versions, another operator
 * approves, and every change arrives at a webhook subscriber as its event.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, login } from '../support/http.js';
import { eventually, subscribedReceiver, type Subscribed } from '../support/webhooks.js';

const PASSWORD = 'configurations password 1234';
const BASE = '/api/v1/configurations';

interface User {
  id: string;
  bearer: string;
}

let author: User;
let approver: User;
let developer: User;
let subscribed: Subscribed;

async function userWith(role: string, from: string): Promise<User> {
  const username = `config-${role}-${randomUUID().slice(0, 8)}`;
  const created = await call('POST', '/api/v1/users', { json: { username, password: PASSWORD, roles: [role] } });
  expect(created.status).toBe(201);
  return { id: created.body.id, bearer: (await login(username, PASSWORD, from)).accessToken };
}

beforeAll(async () => {
  author = await userWith('operator', '127.0.7.1');
  approver = await userWith('operator', '127.0.7.2');
  developer = await userWith('developer', '127.0.7.3');
  subscribed = await subscribedReceiver([
    'configuration.created',
    'configuration.version_created',
    'configuration.approved',
    'configuration.deleted',
  ]);
});

afterAll(async () => {
  await subscribed?.receiver.close();
});

const v1 = { routes: [{ path: '/a', origin: 'o1', ttlSeconds: 60 }], rateLimit: { requestsPerSecond: 500 } };
const v2 = {
  routes: [
    { path: '/a', origin: 'o1', ttlSeconds: 120 },
    { path: '/b', origin: 'o2' },
  ],
  rateLimit: { requestsPerSecond: 500 },
  compression: true,
};
const schema = {
  type: 'object',
  required: ['routes'],
  properties: { routes: { type: 'array', items: { type: 'object', required: ['path', 'origin'] } } },
};

/** The event types delivered about one configuration, in the order they arrived. */
const eventTypesAbout = (id: string) =>
  subscribed.receiver.deliveries
    .map((d) => JSON.parse(d.body) as { type: string; subject: string; data: Record<string, unknown> })
    .filter((e) => e.subject === id);

describe('configurations', () => {
  it('create → update → versions → diff → approve (not by the author) → events and audit', async () => {
    const as = { bearer: author.bearer };
    const created = await call('POST', BASE, {
      as,
      from: '127.0.7.1',
      json: { name: 'edge-eu', description: 'EU edges', content: v1, schema },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'edge-eu', latestVersion: 1, revision: 1, createdBy: author.id, schema });
    expect(created.headers.get('location')).toBe(`${BASE}/${created.body.id}`);
    expect(created.headers.get('etag')).toBe('"1"');
    const id = created.body.id as string;

    const updated = await call('PUT', `${BASE}/${id}`, { as, from: '127.0.7.1', headers: { 'If-Match': '"1"' }, json: { content: v2 } });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ latestVersion: 2, revision: 2, schema });
    expect(updated.headers.get('etag')).toBe('"2"');
    expect(updated.headers.get('location')).toBe(`${BASE}/${id}/versions/2`);

    const stale = await call('PUT', `${BASE}/${id}`, { as, from: '127.0.7.1', json: { revision: 1, content: { stale: true } } });
    expect(stale.status).toBe(409);
    expect(stale.body.code).toBe('VERSION_CONFLICT');

    const versions = await call('GET', `${BASE}/${id}/versions`);
    expect(versions.status).toBe(200);
    expect(versions.body.items.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    expect(versions.body.items[0]).not.toHaveProperty('content');
    const second = await call('GET', `${BASE}/${id}/versions/2`);
    expect(second.body).toMatchObject({ configurationId: id, version: 2, content: v2, schema, author: author.id });
    expect((await call('GET', `${BASE}/${id}/versions/1`)).body.content).toEqual(v1);

    const diff = await call('GET', `${BASE}/${id}/diff?from=1&to=2`);
    expect(diff.status).toBe(200);
    expect(diff.body).toEqual({
      from: 1,
      to: 2,
      patch: [
        { op: 'add', path: '/compression', value: true },
        { op: 'replace', path: '/routes/0/ttlSeconds', value: 120 },
        { op: 'add', path: '/routes/-', value: { path: '/b', origin: 'o2' } },
      ],
    });

    const valid = await call('POST', `${BASE}/${id}/validate`, { as, from: '127.0.7.1' });
    expect(valid.body).toEqual({ version: 2, valid: true, problems: [] });

    const own = await call('POST', `${BASE}/${id}/versions/2/approve`, { as, from: '127.0.7.1' });
    expect(own.status).toBe(422);
    expect(own.body.code).toBe('SELF_APPROVAL');
    const byDeveloper = await call('POST', `${BASE}/${id}/versions/2/approve`, { as: { bearer: developer.bearer }, from: '127.0.7.3' });
    expect(byDeveloper.status).toBe(403);

    const approved = await call('POST', `${BASE}/${id}/versions/2/approve`, { as: { bearer: approver.bearer }, from: '127.0.7.2' });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ version: 2, author: author.id, approvedBy: approver.id });
    // Approving again answers the first approval and emits nothing.
    const again = await call('POST', `${BASE}/${id}/approve`, { as: 'admin' });
    expect(again.body).toMatchObject({ version: 2, approvedBy: approver.id, approvedAt: approved.body.approvedAt });

    // An approved version may be deployed: the configuration stays.
    const refused = await call('DELETE', `${BASE}/${id}?revision=2`, { as, from: '127.0.7.1' });
    expect(refused.status).toBe(422);
    expect(refused.body.code).toBe('CONFIGURATION_IN_USE');

    const events = await eventually(
      () => {
        const got = eventTypesAbout(id);
        return got.length >= 3 ? got : undefined;
      },
      20_000,
      'the configuration events',
    );
    expect(events.map((e) => e.type).sort()).toEqual(['configuration.approved', 'configuration.created', 'configuration.version_created']);
    expect(events.find((e) => e.type === 'configuration.approved')!.data).toMatchObject({
      configurationId: id,
      version: 2,
      approvedBy: approver.id,
    });
    expect(events.find((e) => e.type === 'configuration.approved')!.data).not.toHaveProperty('content');

    const trail = await call('GET', `/api/v1/audit?actorId=${approver.id}`);
    expect(trail.body.items).toEqual([
      expect.objectContaining({
        action: 'approveConfigurationVersion',
        status: 200,
        resourceId: id,
        path: `${BASE}/${id}/versions/2/approve`,
      }),
    ]);
  });

  it('validate lists the problems of a content that breaks its own schema (200), and such a version cannot be approved', async () => {
    const as = { bearer: author.bearer };
    const created = await call('POST', BASE, {
      as,
      from: '127.0.7.1',
      json: { name: 'broken', content: { routes: [{ path: '/a' }, { path: '/a', origin: 'o' }] }, schema },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const verdict = await call('POST', `${BASE}/${id}/validate?version=1`, { as, from: '127.0.7.1' });
    expect(verdict.status).toBe(200);
    expect(verdict.body.valid).toBe(false);
    expect(verdict.body.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ code: 'SCHEMA_MISMATCH', path: expect.stringContaining('content.routes.0') }),
        expect.objectContaining({ code: 'DUPLICATE_ROUTE_PATH', path: 'content.routes.1.path' }),
      ]),
    );
    const approve = await call('POST', `${BASE}/${id}/approve`, { as: { bearer: approver.bearer }, from: '127.0.7.2' });
    expect(approve.status).toBe(422);
    expect(approve.body.code).toBe('CONFIGURATION_INVALID');

    // Without an approved version it can be deleted, with its versions.
    expect((await call('DELETE', `${BASE}/${id}`, { as, from: '127.0.7.1', headers: { 'If-Match': '"1"' } })).status).toBe(204);
    expect((await call('GET', `${BASE}/${id}/versions/1`)).status).toBe(404);
    await eventually(
      () => (eventTypesAbout(id).some((e) => e.type === 'configuration.deleted') ? true : undefined),
      20_000,
      'configuration.deleted',
    );
  });

  it('replays a create sent again with the same Idempotency-Key: one configuration, one event', async () => {
    const as = { bearer: developer.bearer };
    const key = randomUUID();
    const send = () =>
      call('POST', BASE, { as, from: '127.0.7.3', headers: { 'Idempotency-Key': key }, json: { name: `idem-${key}`, content: v1 } });
    const first = await send();
    const second = await send();
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body.id).toBe(first.body.id);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    await eventually(() => (eventTypesAbout(first.body.id).length > 0 ? true : undefined), 20_000, 'configuration.created');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(eventTypesAbout(first.body.id).map((e) => e.type)).toEqual(['configuration.created']);
  });

  it('answers bad input with 400 and stores nothing: a schema that does not compile, too deep a content, a non-integer version', async () => {
    const as = { bearer: developer.bearer };
    const before = (await call('GET', `/api/v1/audit?actorId=${developer.id}`)).body.items.length;
    const badSchema = await call('POST', BASE, { as, from: '127.0.7.3', json: { name: 'x', content: {}, schema: { type: 'nope' } } });
    expect(badSchema.status).toBe(400);
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 200; i++) deep = { d: deep };
    const tooDeep = await call('POST', BASE, { as, from: '127.0.7.3', json: { name: 'x', content: deep } });
    expect(tooDeep.status).toBe(400);
    expect(tooDeep.body.code).toBe('CONTENT_TOO_DEEP');
    const tooLarge = await call('POST', BASE, { as, from: '127.0.7.3', json: { name: 'x', content: { blob: 'x'.repeat(300 * 1024) } } });
    expect(tooLarge.status).toBe(400);
    expect(tooLarge.body.code).toBe('CONTENT_TOO_LARGE');
    expect((await call('GET', `/api/v1/audit?actorId=${developer.id}`)).body.items.length).toBe(before);

    const id = (await call('GET', `${BASE}?limit=1`)).body.items[0].id as string;
    for (const path of [
      `${BASE}/${id}/versions/1.5`,
      `${BASE}/${id}/versions/abc`,
      `${BASE}/${id}/versions/0`,
      `${BASE}/${id}/diff?from=a&to=1`,
    ]) {
      const res = await call('GET', path);
      expect(res.status, path).toBe(400);
    }
    expect((await call('GET', `${BASE}/${id}/versions/99`)).status).toBe(404);
  });
});
