/** The authorizer's role table (generated at synth time, passed in its environment) is exactly the route contract. */
import { beforeAll, describe, expect, it } from 'vitest';
import { allRoutes } from '../../shared/api/routes.js';
import { EDGE_ROUTES_ENV, edgeRoutesFromEnv, ROUTE_ACCESS_ENV, routeAccessFromEnv } from '../../shared/auth/route-access.js';
import { synthTemplate } from '../support/synth.js';

let environments: Array<Record<string, unknown>>;

beforeAll(() => {
  const template = synthTemplate();
  environments = Object.values(template.Resources)
    .filter((r) => r.Type === 'AWS::Lambda::Function')
    .map((r) => (r.Properties as { Environment?: { Variables?: Record<string, unknown> } }).Environment?.Variables ?? {});
});

describe("the authorizer's route table", () => {
  it('is given to the authorizer only', () => {
    expect(environments.filter((env) => ROUTE_ACCESS_ENV in env)).toHaveLength(1);
  });

  it('names, for every route of the contract and no other, the access the contract declares', () => {
    const env = environments.find((e) => ROUTE_ACCESS_ENV in e) as Record<string, string>;
    const table = routeAccessFromEnv(env);
    const contract = Object.fromEntries(allRoutes.map((r) => [`${r.method} ${r.path}`, r.access]));
    expect(table).toEqual(contract);
    expect(Object.keys(table)).toHaveLength(allRoutes.length);
  });

  it('is deflated, well inside the 4 KB of environment a function has', () => {
    const env = environments.find((e) => ROUTE_ACCESS_ENV in e) as Record<string, string>;
    expect(env[ROUTE_ACCESS_ENV]!.startsWith('deflate:')).toBe(true);
    expect(Buffer.byteLength(env[ROUTE_ACCESS_ENV]!)).toBeLessThan(2048);
  });

  it('is refused when missing or malformed, so the authorizer fails closed', () => {
    expect(() => routeAccessFromEnv({})).toThrow(ROUTE_ACCESS_ENV);
    expect(() => routeAccessFromEnv({ [ROUTE_ACCESS_ENV]: '[]' })).toThrow('not a JSON object');
    expect(() => routeAccessFromEnv({ [ROUTE_ACCESS_ENV]: '{"GET /x":"root"}' })).toThrow('unknown access');
  });

  // ---- edge keys (issue 10) ----
  it('comes with the edge-key routes of the contract, to the authorizer only', () => {
    expect(environments.filter((env) => EDGE_ROUTES_ENV in env)).toHaveLength(1);
    const env = environments.find((e) => EDGE_ROUTES_ENV in e) as Record<string, string>;
    const contract = allRoutes.filter((r) => r.edgeKey).map((r) => `${r.method} ${r.path}`);
    expect([...edgeRoutesFromEnv(env)].sort()).toEqual(contract.sort());
    expect(contract).toEqual(['GET /api/v1/edge-locations/{id}/desired-config', 'POST /api/v1/edge-locations/{id}/heartbeat']);
  });
});
