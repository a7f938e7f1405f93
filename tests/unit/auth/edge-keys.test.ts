/**
 * The authorizer's decisions for edge keys (issue 10): an edge key may read
 * its own desired-config and post its own heartbeat, nothing else; another
 * edge's id is refused exactly like an id that does not exist; a deleted
 * edge's key is unknown (401).
 */
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { allRoutes } from '../../../shared/api/routes.js';
import type { EdgeKeyLookup } from '../../../shared/auth/authenticate.js';
import { createAuthorizer, UNAUTHORIZED } from '../../../shared/auth/authorizer.js';
import { principalOf } from '../../../shared/auth/principal.js';
import { rateBucket } from '../../../shared/auth/rate-limits.js';
import { EDGE_ROUTES_ENV, edgeRouteKeys, edgeRoutesFromEnv, routeAccessTable } from '../../../shared/auth/route-access.js';
import { generateEdgeKey, hashApiKey, isEdgeKey } from '../../../shared/auth/secrets.js';
import type { IdentityStore } from '../../../shared/domain/identity.js';

const EDGE = '0b7f7c8e-1111-4000-8000-00000000e001';
const OTHER = '0b7f7c8e-2222-4000-8000-00000000e002';
const MISSING = '0b7f7c8e-3333-4000-8000-00000000e003';
const V1 = '/api/v1/edge-locations';

function fixture() {
  const key = generateEdgeKey();
  const owners = new Map([[hashApiKey(key), { edgeId: EDGE, name: 'fra-1' }]]);
  let lookups = 0;
  const edges: EdgeKeyLookup = {
    findEdgeByKeyHash: async (hash) => {
      lookups++;
      return owners.get(hash);
    },
  };
  // An edge key never reaches the identity store: any call to it fails the test.
  const store = new Proxy({} as IdentityStore, {
    get: (_, name) => () => {
      throw new Error(`identity store called: ${String(name)}`);
    },
  });
  const authorize = createAuthorizer({
    routes: allRoutes,
    store,
    edges,
    signingKeys: async () => ({ keys: [] }),
    tokens: { issuer: 'switchyard', audience: 'switchyard-api', accessTokenSeconds: 900 },
    cacheSeconds: 0,
  });
  return { key, owners, authorize, lookups: () => lookups };
}

const event = (method: string, resource: string, key: string, id?: string): APIGatewayRequestAuthorizerEvent =>
  ({
    type: 'REQUEST',
    methodArn: `arn:aws:execute-api:us-east-1:000000000000:api/prod/${method}${resource}`,
    resource,
    path: id ? resource.replace('{id}', id) : resource,
    httpMethod: method,
    headers: { 'X-API-Key': key },
    multiValueHeaders: {},
    pathParameters: id ? { id } : null,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: {} as APIGatewayRequestAuthorizerEvent['requestContext'],
  }) as APIGatewayRequestAuthorizerEvent;

const effect = (r: Awaited<ReturnType<ReturnType<typeof fixture>['authorize']>>) =>
  r.policyDocument.Statement[0] && 'Effect' in r.policyDocument.Statement[0] ? r.policyDocument.Statement[0].Effect : undefined;

describe('an edge key', () => {
  it('is told apart from API keys by its prefix', () => {
    const key = generateEdgeKey();
    expect(key).toMatch(/^sye_[A-Za-z0-9_-]{43}$/);
    expect(isEdgeKey(key)).toBe(true);
    expect(isEdgeKey('sy_abc')).toBe(false);
  });

  it('reads its own desired-config and posts its own heartbeat', async () => {
    const f = fixture();
    for (const [method, path] of [
      ['GET', `${V1}/{id}/desired-config`],
      ['POST', `${V1}/{id}/heartbeat`],
    ] as const) {
      const result = await f.authorize(event(method, path, f.key, EDGE));
      expect(effect(result), `${method} ${path}`).toBe('Allow');
      expect(result.principalId).toBe(`edge:${EDGE}`);
      expect(result.context).toMatchObject({ kind: 'edge', edgeId: EDGE, roles: '', name: 'fra-1' });
    }
  });

  it("is refused another edge's id and an id that does not exist alike (403: existence never leaks)", async () => {
    const f = fixture();
    for (const id of [OTHER, MISSING]) {
      const config = await f.authorize(event('GET', `${V1}/{id}/desired-config`, f.key, id));
      const heartbeat = await f.authorize(event('POST', `${V1}/{id}/heartbeat`, f.key, id));
      expect([effect(config), effect(heartbeat)]).toEqual(['Deny', 'Deny']);
      // The same context whatever the id: nothing about the other edge was looked up.
      expect(config.context).toEqual((await f.authorize(event('GET', `${V1}/{id}/desired-config`, f.key, MISSING))).context);
    }
    // One lookup per decision, of the key only: never of the id in the path.
    expect(f.lookups()).toBe(6);
  });

  it('is refused every other route, even about its own edge', async () => {
    const f = fixture();
    const edgeRoutes = new Set(edgeRouteKeys(allRoutes));
    const others = allRoutes.filter((r) => r.access !== 'public' && !edgeRoutes.has(`${r.method} ${r.path}`));
    expect(others.length).toBeGreaterThan(40);
    for (const route of others) {
      const result = await f.authorize(event(route.method, route.path, f.key, route.path.includes('{id}') ? EDGE : undefined));
      expect(effect(result), `${route.method} ${route.path}`).toBe('Deny');
      // The 403 names the role the route needs (the ACCESS_DENIED response reads it).
      expect(result.context?.requiredRole).toBe(route.access);
    }
  });

  it('of a deleted edge (its lookup item gone) or an unknown one is a 401', async () => {
    const f = fixture();
    f.owners.clear();
    await expect(f.authorize(event('GET', `${V1}/{id}/desired-config`, f.key, EDGE))).rejects.toThrow(UNAUTHORIZED);
    await expect(f.authorize(event('POST', `${V1}/{id}/heartbeat`, generateEdgeKey(), EDGE))).rejects.toThrow(UNAUTHORIZED);
  });

  it('is unknown to an authorizer without an edge lookup', async () => {
    const f = fixture();
    const bare = createAuthorizer({
      routes: routeAccessTable(allRoutes),
      store: {} as IdentityStore,
      signingKeys: async () => ({ keys: [] }),
      tokens: { issuer: 'switchyard', audience: 'switchyard-api', accessTokenSeconds: 900 },
      cacheSeconds: 0,
    });
    await expect(bare(event('GET', `${V1}/{id}/desired-config`, f.key, EDGE))).rejects.toThrow(UNAUTHORIZED);
  });

  it('reaches the handlers as an edge principal charged to its own authenticated bucket', () => {
    const principal = principalOf({
      requestContext: {
        identity: { sourceIp: '10.0.0.1' },
        authorizer: { principalId: `edge:${EDGE}`, kind: 'edge', name: 'fra-1', roles: '', edgeId: EDGE },
      },
    } as never);
    expect(principal).toMatchObject({ id: `edge:${EDGE}`, kind: 'edge', roles: [], edgeId: EDGE });
    const config = { windowSeconds: 60, anonymous: 10, authenticated: 100, admin: 1000, login: 5 };
    expect(rateBucket('default', principal, config, 0)).toMatchObject({ key: `authenticated:edge:${EDGE}`, limit: 100 });
  });
});

describe('the edge-key routes', () => {
  it('are exactly desired-config and heartbeat', () => {
    expect(edgeRouteKeys(allRoutes)).toEqual([`GET ${V1}/{id}/desired-config`, `POST ${V1}/{id}/heartbeat`]);
  });

  it('are read from the environment, and refused when missing or malformed (fail closed)', () => {
    const keys = edgeRouteKeys(allRoutes);
    expect([...edgeRoutesFromEnv({ [EDGE_ROUTES_ENV]: JSON.stringify(keys) })]).toEqual(keys);
    expect(() => edgeRoutesFromEnv({})).toThrow(EDGE_ROUTES_ENV);
    expect(() => edgeRoutesFromEnv({ [EDGE_ROUTES_ENV]: '{}' })).toThrow('JSON array');
    expect(() => edgeRoutesFromEnv({ [EDGE_ROUTES_ENV]: '["desired-config"]' })).toThrow('JSON array');
  });
});
