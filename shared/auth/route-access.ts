/**
 * Which role each route needs, as the Lambda authorizer reads it: a plain
 * `"METHOD /path" → access` table derived from the route contract
 * (shared/api/routes.ts) at synth time and handed to the authorizer in its
 * environment (lib/auth.ts), so the authorizer bundles no zod schemas.
 * tests/cdk/authorizer-routes.test.ts checks the synthesized table against
 * the contract.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { routeKey, type RouteSpec } from '../http/route.js';
import { isRole, type Access } from './roles.js';

export type RouteAccessTable = Readonly<Record<string, Access>>;

// ---- edge keys (issue 10) ----

/** The routes an edge key may call, for its own edge only (RouteSpec.edgeKey), as `"METHOD /path"` keys. */
export type EdgeRouteSet = ReadonlySet<string>;

/** The authorizer's environment variable holding the edge-key routes as a JSON array. */
export const EDGE_ROUTES_ENV = 'SWITCHYARD_EDGE_ROUTES';

/** The edge-key routes of a list of routes, sorted so the template is stable. */
export function edgeRouteKeys(routes: ReadonlyArray<Pick<RouteSpec, 'method' | 'path' | 'edgeKey'>>): string[] {
  return routes
    .filter((r) => r.edgeKey === true)
    .map((r) => routeKey(r.method, r.path))
    .sort();
}

/** Reads the edge-key routes from the environment; throws when missing or malformed (the authorizer then fails closed). */
export function edgeRoutesFromEnv(env: NodeJS.ProcessEnv = process.env): EdgeRouteSet {
  const raw = env[EDGE_ROUTES_ENV];
  if (!raw) throw new Error(`${EDGE_ROUTES_ENV} is not set: the stack sets it on the authorizer (lib/auth.ts)`);
  const list = JSON.parse(raw) as unknown;
  if (!Array.isArray(list) || !list.every((k) => typeof k === 'string' && /^[A-Z]+ \//.test(k)))
    throw new Error(`${EDGE_ROUTES_ENV} is not a JSON array of "METHOD /path" keys`);
  return new Set(list as string[]);
}

/** The authorizer's environment variable holding the table: JSON, or `deflate:` and the base64 of the raw-deflated JSON. */
export const ROUTE_ACCESS_ENV = 'SWITCHYARD_ROUTE_ACCESS';

const DEFLATED = 'deflate:';

/**
 * The table as the environment holds it: deflated, because the plain JSON
 * (~45 bytes a route) outgrew the share of Lambda's 4 KB environment the
 * authorizer can spare once the rollout routes came (issue 10); the keys
 * repeat so much that it deflates about fivefold.
 */
export function encodeRouteAccess(table: RouteAccessTable): string {
  return DEFLATED + deflateRawSync(JSON.stringify(table), { level: 9 }).toString('base64');
}

/** The table of a list of routes, keys sorted so the template is stable. */
export function routeAccessTable(routes: ReadonlyArray<Pick<RouteSpec, 'method' | 'path' | 'access'>>): RouteAccessTable {
  const entries = routes.map((r) => [routeKey(r.method, r.path), r.access] as const);
  return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

const isAccess = (value: unknown): value is Access => value === 'public' || (typeof value === 'string' && isRole(value));

/** Reads the table from the environment; throws when it is missing or malformed (the authorizer then fails closed). */
export function routeAccessFromEnv(env: NodeJS.ProcessEnv = process.env): RouteAccessTable {
  const raw = env[ROUTE_ACCESS_ENV];
  if (!raw) throw new Error(`${ROUTE_ACCESS_ENV} is not set: the stack sets it on the authorizer (lib/auth.ts)`);
  const json = raw.startsWith(DEFLATED) ? inflateRawSync(Buffer.from(raw.slice(DEFLATED.length), 'base64')).toString('utf8') : raw;
  const table = JSON.parse(json) as unknown;
  if (typeof table !== 'object' || table === null || Array.isArray(table)) throw new Error(`${ROUTE_ACCESS_ENV} is not a JSON object`);
  for (const [route, access] of Object.entries(table)) {
    if (!isAccess(access)) throw new Error(`${ROUTE_ACCESS_ENV}: ${route} has unknown access ${JSON.stringify(access)}`);
  }
  return table as RouteAccessTable;
}
