/**
 * Every route × every kind of caller, with the exact status each must get,
 * and proof that a denied write stored nothing. Refused credentials beyond
 * the anonymous caller are sampled per function (see routesFor).
 */
import { GetSecretValueCommand, ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { allRoutes } from '../../shared/api/routes.js';
import type { Access } from '../../shared/auth/roles.js';
import { parseSigningKeySet } from '../../shared/auth/signing-keys.js';
import { routeKey } from '../../shared/http/route.js';
import { call, login, type Caller } from '../support/http.js';
import { eventBody, receiverBody } from '../support/samples.js';
import { badTokens } from '../support/tokens.js';

const PASSWORD = 'matrix password 1234';
const MISSING = '3f0b6a5e-0000-4000-8000-00000000beef';

interface Fixtures {
  receiverId: string;
  groupId: string;
  eventId: string;
  userId: string;
  apiKeyId: string;
  subscriptionId: string;
  // ---- edge locations (issue 10) ----
  edgeId: string;
  edgeKey: string;
  // ---- configurations (issue 10) ----
  configurationId: string;
}

interface Probe {
  path: string;
  json?: unknown;
  /** Status when the caller is allowed through the authorizer. */
  allowed: number;
  /** For writes that would store something: how to tell afterwards whether it was stored. */
  stored?: (marker: string) => Promise<boolean>;
}

const exists = async (path: string, field: string, marker: string) =>
  (await call('GET', path)).body.items.some((item: Record<string, unknown>) => item[field] === marker);

/** One request per route that reaches a deterministic answer once authorized. */
function probes(f: Fixtures, marker: string): Record<string, Probe> {
  return {
    'GET /health': { path: '/health', allowed: 200 },
    'GET /health/live': { path: '/health/live', allowed: 200 },
    'GET /health/ready': { path: '/health/ready', allowed: 200 },
    'POST /api/v1/receivers': {
      path: '/api/v1/receivers',
      json: receiverBody({ name: marker }),
      allowed: 201,
      stored: (m) => exists(`/api/v1/receivers?name=${m}`, 'name', m),
    },
    'GET /api/v1/receivers': { path: '/api/v1/receivers', allowed: 200 },
    'GET /api/v1/receivers/{id}': { path: `/api/v1/receivers/${f.receiverId}`, allowed: 200 },
    // No revision: an authorized caller gets 400 and nothing changes either way.
    'PATCH /api/v1/receivers/{id}': { path: `/api/v1/receivers/${f.receiverId}`, json: { description: marker }, allowed: 400 },
    'DELETE /api/v1/receivers/{id}': { path: `/api/v1/receivers/${MISSING}?revision=1`, allowed: 404 },
    'GET /api/v1/receivers/{id}/groups': { path: `/api/v1/receivers/${f.receiverId}/groups`, allowed: 200 },
    'POST /api/v1/groups': {
      path: '/api/v1/groups',
      json: { name: marker },
      allowed: 201,
      stored: (m) => exists('/api/v1/groups?limit=100', 'name', m),
    },
    'GET /api/v1/groups': { path: '/api/v1/groups', allowed: 200 },
    'GET /api/v1/groups/{id}': { path: `/api/v1/groups/${f.groupId}`, allowed: 200 },
    'PATCH /api/v1/groups/{id}': { path: `/api/v1/groups/${f.groupId}`, json: { enabled: false }, allowed: 400 },
    'DELETE /api/v1/groups/{id}': { path: `/api/v1/groups/${MISSING}?revision=1`, allowed: 404 },
    'GET /api/v1/groups/{id}/members': { path: `/api/v1/groups/${f.groupId}/members`, allowed: 200 },
    'PUT /api/v1/groups/{id}/members/{receiverId}': { path: `/api/v1/groups/${MISSING}/members/${f.receiverId}`, allowed: 404 },
    'DELETE /api/v1/groups/{id}/members/{receiverId}': { path: `/api/v1/groups/${MISSING}/members/${f.receiverId}`, allowed: 404 },
    'POST /api/v1/events': {
      path: '/api/v1/events',
      json: eventBody(f.receiverId, { package: marker }),
      allowed: 201,
      stored: (m) => exists(`/api/v1/events?receiverId=${f.receiverId}&package=${m}`, 'package', m),
    },
    'GET /api/v1/events': { path: '/api/v1/events', allowed: 200 },
    'GET /api/v1/events/{id}': { path: `/api/v1/events/${f.eventId}`, allowed: 200 },
    // Public auth routes: a body the gateway model rejects, so no login is attempted or counted.
    'POST /api/v1/auth/login': { path: '/api/v1/auth/login', json: {}, allowed: 400 },
    'POST /api/v1/auth/refresh': { path: '/api/v1/auth/refresh', json: { refreshToken: 'not-a-token' }, allowed: 401 },
    'GET /api/v1/auth/jwks': { path: '/api/v1/auth/jwks', allowed: 200 },
    // Logout is probed last, separately (it revokes the caller's token).
    'POST /api/v1/users': {
      path: '/api/v1/users',
      json: { username: marker, password: PASSWORD, roles: ['viewer'] },
      allowed: 201,
      stored: (m) => exists('/api/v1/users?limit=100', 'username', m),
    },
    'GET /api/v1/users': { path: '/api/v1/users', allowed: 200 },
    'GET /api/v1/users/{id}': { path: `/api/v1/users/${f.userId}`, allowed: 200 },
    'PATCH /api/v1/users/{id}': { path: `/api/v1/users/${f.userId}`, json: { disabled: true }, allowed: 400 },
    'DELETE /api/v1/users/{id}': { path: `/api/v1/users/${MISSING}?revision=1`, allowed: 404 },
    'POST /api/v1/api-keys': {
      path: '/api/v1/api-keys',
      json: { name: marker, role: 'viewer' },
      allowed: 201,
      stored: (m) => exists('/api/v1/api-keys?limit=100', 'name', m),
    },
    'GET /api/v1/api-keys': { path: '/api/v1/api-keys', allowed: 200 },
    'GET /api/v1/api-keys/{id}': { path: `/api/v1/api-keys/${f.apiKeyId}`, allowed: 200 },
    'DELETE /api/v1/api-keys/{id}': { path: `/api/v1/api-keys/${MISSING}`, allowed: 404 },
    'GET /api/v1/audit': { path: '/api/v1/audit', allowed: 200 },
    // Disabled, so nothing is ever sent to the (loopback) URL.
    'POST /api/v1/webhooks/subscriptions': {
      path: '/api/v1/webhooks/subscriptions',
      json: { url: 'http://127.0.0.1:9/', eventTypes: ['*'], description: marker, enabled: false },
      allowed: 201,
      stored: (m) => exists('/api/v1/webhooks/subscriptions?limit=100', 'description', m),
    },
    'GET /api/v1/webhooks/subscriptions': { path: '/api/v1/webhooks/subscriptions', allowed: 200 },
    'GET /api/v1/webhooks/subscriptions/{id}': { path: `/api/v1/webhooks/subscriptions/${f.subscriptionId}`, allowed: 200 },
    'PATCH /api/v1/webhooks/subscriptions/{id}': {
      path: `/api/v1/webhooks/subscriptions/${f.subscriptionId}`,
      json: { description: marker },
      allowed: 400,
    },
    'DELETE /api/v1/webhooks/subscriptions/{id}': { path: `/api/v1/webhooks/subscriptions/${MISSING}?revision=1`, allowed: 404 },
    'POST /api/v1/webhooks/subscriptions/{id}/enable': { path: `/api/v1/webhooks/subscriptions/${MISSING}/enable`, json: {}, allowed: 404 },
    'POST /api/v1/webhooks/subscriptions/{id}/disable': {
      path: `/api/v1/webhooks/subscriptions/${MISSING}/disable`,
      json: {},
      allowed: 404,
    },
    'POST /api/v1/webhooks/subscriptions/{id}/rotate-secret': {
      path: `/api/v1/webhooks/subscriptions/${MISSING}/rotate-secret`,
      json: {},
      allowed: 404,
    },
    'POST /api/v1/webhooks/subscriptions/{id}/test': { path: `/api/v1/webhooks/subscriptions/${MISSING}/test`, allowed: 404 },
    'GET /api/v1/webhooks/deliveries': { path: '/api/v1/webhooks/deliveries', allowed: 200 },
    'GET /api/v1/webhooks/deliveries/{id}': { path: `/api/v1/webhooks/deliveries/${MISSING}`, allowed: 404 },
    'POST /api/v1/webhooks/deliveries/{id}/retry': { path: `/api/v1/webhooks/deliveries/${MISSING}/retry`, allowed: 404 },
    // ---- edge locations (issue 10): the fixture edge's own key is a caller below ----
    'POST /api/v1/edge-locations': {
      path: '/api/v1/edge-locations',
      json: { name: marker, region: 'matrix-1', continent: 'EU' },
      allowed: 201,
      stored: (m) => exists('/api/v1/edge-locations?region=matrix-1&limit=100', 'name', m),
    },
    'GET /api/v1/edge-locations': { path: '/api/v1/edge-locations', allowed: 200 },
    'GET /api/v1/edge-locations/{id}': { path: `/api/v1/edge-locations/${f.edgeId}`, allowed: 200 },
    'PATCH /api/v1/edge-locations/{id}': { path: `/api/v1/edge-locations/${f.edgeId}`, json: { name: marker }, allowed: 400 },
    'DELETE /api/v1/edge-locations/{id}': { path: `/api/v1/edge-locations/${MISSING}?revision=1`, allowed: 404 },
    // Nothing is assigned to the fixture edge: 404 once through the authorizer.
    'GET /api/v1/edge-locations/{id}/desired-config': { path: `/api/v1/edge-locations/${f.edgeId}/desired-config`, allowed: 404 },
    'POST /api/v1/edge-locations/{id}/heartbeat': {
      path: `/api/v1/edge-locations/${f.edgeId}/heartbeat`,
      json: { configurationId: 'c', activeVersion: 1, requests: 1, errorRate: 0, p95LatencyMs: 1, cacheHitRate: 1 },
      allowed: 202,
    },
    'GET /api/v1/edge-locations/{id}/metrics': { path: `/api/v1/edge-locations/${f.edgeId}/metrics`, allowed: 200 },
    // ---- deployments (issue 10): a missing configuration or deployment, so an authorized caller gets 404 and nothing starts ----
    'POST /api/v1/deployments': {
      path: '/api/v1/deployments',
      json: {
        configurationId: MISSING,
        version: 1,
        ...{ strategy: 'direct', targets: { edgeIds: [MISSING] }, bakeSeconds: 1, thresholds: {} },
      },
      allowed: 404,
    },
    'POST /api/v1/configurations/{id}/versions/{version}/deploy': {
      path: `/api/v1/configurations/${MISSING}/versions/1/deploy`,
      json: { strategy: 'direct', targets: { edgeIds: [MISSING] }, bakeSeconds: 1, thresholds: {} },
      allowed: 404,
    },
    'GET /api/v1/deployments': { path: '/api/v1/deployments', allowed: 200 },
    'GET /api/v1/deployments/{id}': { path: `/api/v1/deployments/${MISSING}`, allowed: 404 },
    ...Object.fromEntries(
      ['approve', 'promote', 'pause', 'resume', 'rollback'].map((action) => [
        `POST /api/v1/deployments/{id}/${action}`,
        { path: `/api/v1/deployments/${MISSING}/${action}`, json: {}, allowed: 404 },
      ]),
    ),
    // ---- configurations (issue 10) ----
    'POST /api/v1/configurations': {
      path: '/api/v1/configurations',
      json: { name: marker, content: { routes: [] } },
      allowed: 201,
      stored: (m) => exists('/api/v1/configurations?limit=100', 'name', m),
    },
    'GET /api/v1/configurations': { path: '/api/v1/configurations', allowed: 200 },
    'GET /api/v1/configurations/{id}': { path: `/api/v1/configurations/${f.configurationId}`, allowed: 200 },
    // No revision: an authorized caller gets 400 and no version is made either way.
    'PUT /api/v1/configurations/{id}': { path: `/api/v1/configurations/${f.configurationId}`, json: { content: { marker } }, allowed: 400 },
    'DELETE /api/v1/configurations/{id}': { path: `/api/v1/configurations/${MISSING}?revision=1`, allowed: 404 },
    'GET /api/v1/configurations/{id}/versions': { path: `/api/v1/configurations/${f.configurationId}/versions`, allowed: 200 },
    'GET /api/v1/configurations/{id}/versions/{version}': {
      path: `/api/v1/configurations/${f.configurationId}/versions/1`,
      allowed: 200,
    },
    'POST /api/v1/configurations/{id}/validate': { path: `/api/v1/configurations/${f.configurationId}/validate`, allowed: 200 },
    'POST /api/v1/configurations/{id}/approve': { path: `/api/v1/configurations/${MISSING}/approve`, allowed: 404 },
    'POST /api/v1/configurations/{id}/versions/{version}/approve': {
      path: `/api/v1/configurations/${MISSING}/versions/1/approve`,
      allowed: 404,
    },
    'GET /api/v1/configurations/{id}/diff': { path: `/api/v1/configurations/${f.configurationId}/diff?from=1&to=1`, allowed: 200 },
  };
}

type Role = Exclude<Access, 'public'>;
const RANK: Role[] = ['viewer', 'developer', 'operator', 'admin'];

interface CallerCase {
  name: string;
  caller: Caller;
  /** The highest role, or undefined for callers that must get 401 on every protected route. */
  role?: Role;
  from: string;
  /** An edge key's edge: it may call the edgeKey routes with this id, and gets 403 on everything else. */
  edgeId?: string;
}

let fixtures: Fixtures;
const cases: CallerCase[] = [];

beforeAll(async () => {
  const receiverId = (await call('POST', '/api/v1/receivers', { json: receiverBody() })).body.id;
  fixtures = {
    receiverId,
    groupId: (await call('POST', '/api/v1/groups', { json: { name: `matrix-${randomUUID()}` } })).body.id,
    eventId: (await call('POST', '/api/v1/events', { json: eventBody(receiverId) })).body.id,
    userId: (await call('POST', '/api/v1/users', { json: { username: `fixture-${Date.now()}`, password: PASSWORD, roles: ['viewer'] } }))
      .body.id,
    apiKeyId: (await call('POST', '/api/v1/api-keys', { json: { name: 'fixture', role: 'viewer' } })).body.id,
    subscriptionId: (
      await call('POST', '/api/v1/webhooks/subscriptions', {
        json: { url: 'http://127.0.0.1:9/', eventTypes: ['*'], description: 'matrix fixture', enabled: false },
      })
    ).body.id,
    ...(await (async () => {
      const edge = (await call('POST', '/api/v1/edge-locations', { json: { name: 'matrix fixture', region: 'matrix-1', continent: 'EU' } }))
        .body;
      return { edgeId: edge.id as string, edgeKey: edge.edgeKey as string };
    })()),
    // ---- configurations (issue 10) ----
    configurationId: (await call('POST', '/api/v1/configurations', { json: { name: `matrix-${randomUUID()}`, content: { routes: [] } } }))
      .body.id,
  };
  let ip = 10;
  const from = () => `127.0.3.${ip++}`;
  cases.push({ name: 'no credential', caller: 'anonymous', from: from() });
  for (const role of RANK) {
    const username = `matrix-${role}-${Date.now()}`;
    await call('POST', '/api/v1/users', { json: { username, password: PASSWORD, roles: [role] } });
    const pair = await login(username, PASSWORD, from());
    cases.push({ name: `${role} (bearer)`, caller: { bearer: pair.accessToken }, role, from: from() });
  }
  cases.push({ name: 'admin (API key)', caller: 'admin', role: 'admin', from: from() });

  // Tokens forged with the stack's real signing key need that key: read it from the local runtime's Secrets Manager.
  const admin = await login('admin', inject('adminPassword'), from());
  const revoked = await login('admin', inject('adminPassword'), from());
  expect((await call('POST', '/api/v1/auth/logout', { as: { bearer: revoked.accessToken }, json: {} })).status).toBe(204);
  cases.push({ name: 'revoked token', caller: { bearer: revoked.accessToken }, from: from() });
  cases.push({ name: 'unknown API key', caller: { apiKey: `sy_${randomUUID()}` }, from: from() });
  // ---- edge keys (issue 10) ----
  cases.push({ name: 'edge key', caller: { apiKey: fixtures.edgeKey }, edgeId: fixtures.edgeId, from: from() });
  cases.push({ name: 'unknown edge key', caller: { apiKey: `sye_${randomUUID()}` }, from: from() });
  const awsEndpoint = inject('awsEndpoint');
  if (awsEndpoint) {
    const secrets = new SecretsManagerClient({
      endpoint: awsEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const listed = await secrets.send(new ListSecretsCommand({}));
    const secretId = listed.SecretList?.find((s) => s.Name?.includes('SigningKeys'))?.ARN;
    const keys = parseSigningKeySet(
      JSON.parse((await secrets.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString ?? '{}'),
    );
    const sub = JSON.parse(Buffer.from(admin.accessToken.split('.')[1] as string, 'base64url').toString()).sub as string;
    const bad = await badTokens({ keys, issuer: 'switchyard', audience: 'switchyard-api', subject: sub, valid: admin.accessToken });
    for (const [name, token] of Object.entries(bad)) cases.push({ name: `bad token: ${name}`, caller: { bearer: token }, from: from() });
  }
});

/**
 * The routes a caller is probed on. Callers with a role or an edge meet every
 * route: what they may do differs per route. So does the anonymous caller,
 * which proves no protected route lacks the authorizer. The other refused
 * credentials (revoked, unknown, each forged token) are refused by that one
 * authorizer before any route matters, so each meets one protected route of
 * every function and every edge-key route (the authorizer's other path):
 * the full cross product was three quarters of the requests and most of
 * this file's 300 s in CI.
 */
function routesFor(c: CallerCase): typeof allRoutes {
  if (c.role || c.edgeId || c.caller === 'anonymous') return allRoutes;
  const firstOfFunction = new Set<string>();
  return allRoutes.filter((route) => {
    if (route.access === 'public') return false;
    if (route.edgeKey) return true;
    if (firstOfFunction.has(route.functionName)) return false;
    firstOfFunction.add(route.functionName);
    return true;
  });
}

function expectedStatus(access: Access, c: CallerCase, allowed: number, ownEdgeRoute = false): number {
  if (access === 'public') return allowed;
  if (c.edgeId) return ownEdgeRoute ? allowed : 403;
  if (!c.role) return 401;
  return RANK.indexOf(c.role) >= RANK.indexOf(access) ? allowed : 403;
}

describe('auth matrix', () => {
  it('covers every route of the contract', () => {
    const covered = new Set([...Object.keys(probes(fixtures, 'x')), 'POST /api/v1/auth/logout']);
    expect(allRoutes.map((r) => routeKey(r.method, r.path)).filter((k) => !covered.has(k))).toEqual([]);
  });

  it('answers every route × caller with the exact status, and denied writes store nothing', async () => {
    const failures: string[] = [];
    const markers: Array<{ marker: string; stored: (m: string) => Promise<boolean>; expectStored: boolean; label: string }> = [];
    // Callers are independent (own source address, marker and credential), so six run at a time.
    const probeCaller = async (c: CallerCase) => {
      const marker = `m${randomUUID().slice(0, 8)}`;
      const table = probes(fixtures, marker);
      for (const route of routesFor(c)) {
        const key = routeKey(route.method, route.path);
        const probe = table[key];
        if (!probe) continue;
        const res = await call(route.method, probe.path, {
          as: c.caller,
          from: c.from,
          ...(probe.json !== undefined ? { json: probe.json } : {}),
        });
        const ownEdgeRoute = route.edgeKey === true && c.edgeId !== undefined && probe.path.includes(`/${c.edgeId}/`);
        const want = expectedStatus(route.access, c, probe.allowed, ownEdgeRoute);
        if (res.status !== want) failures.push(`${c.name} ${key}: got ${res.status}, want ${want} ${res.text.slice(0, 120)}`);
        if (want === 401 && route.access !== 'public' && res.text.match(/expired|signature|audience|issuer|kid|revoked/i)) {
          failures.push(`${c.name} ${key}: 401 leaks why: ${res.text}`);
        }
        if (want === 403 && !String(res.body?.detail ?? '').includes(route.access))
          failures.push(`${c.name} ${key}: 403 does not name ${route.access}`);
        if (probe.stored) markers.push({ marker, stored: probe.stored, expectStored: want === probe.allowed, label: `${c.name} ${key}` });
      }
      const logout = await call('POST', '/api/v1/auth/logout', { as: c.caller, from: c.from, json: {} });
      const wantLogout = expectedStatus('viewer', c, 204);
      if (logout.status !== wantLogout) failures.push(`${c.name} logout: got ${logout.status}, want ${wantLogout}`);
    };
    const queue = [...cases];
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        for (let c = queue.shift(); c; c = queue.shift()) await probeCaller(c);
      }),
    );
    for (const m of markers) {
      if ((await m.stored(m.marker)) !== m.expectStored) failures.push(`${m.label}: stored=${!m.expectStored}, want ${m.expectStored}`);
    }
    expect(failures).toEqual([]);
    expect(cases.length).toBeGreaterThanOrEqual(8);
    // Every refused credential met every function: the sample is what the comment on routesFor says.
    const functions = new Set(allRoutes.filter((r) => r.access !== 'public').map((r) => r.functionName));
    for (const c of cases) {
      const met = routesFor(c).filter((r) => r.access !== 'public');
      expect(new Set(met.map((r) => r.functionName)), c.name).toEqual(functions);
    }
  }, 360_000);
});
