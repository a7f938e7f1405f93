/**
 * The Lambda REQUEST authorizer's decision, kept apart from the handler so it
 * can be tested directly: authenticate the credential, then apply RBAC from
 * the route contract (the one place roles are checked).
 *
 * API Gateway's own result cache is off (TTL 0): its cache key needs every
 * identity source present, and callers send either `Authorization` or
 * `X-API-Key`. Instead the authenticated principal is cached here, per
 * execution environment, by a hash of the credential for a short TTL;
 * the access-token revocation list is still read on every request so logout
 * takes effect at once. (API-key revocation takes up to the TTL, as it would
 * behind API Gateway's cache; so does disabling a user or changing its
 * password or roles, which authenticate() checks on every uncached decision:
 * docs/auth.md "When a user loses rights".)
 */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { createHash } from 'node:crypto';
import type { IdentityStore } from '../domain/identity.js';
import { lowerCaseHeaders, routeKey, type RouteSpec } from '../http/route.js';
import { authenticate, credentialFrom, type Credential, type EdgeKeyLookup } from './authenticate.js';
import { authorizerContext, type Principal } from './principal.js';
import { edgeRouteKeys, routeAccessTable, type EdgeRouteSet, type RouteAccessTable } from './route-access.js';
import { satisfies } from './roles.js';
import type { SigningKeySet } from './signing-keys.js';
import type { TokenConfig } from './tokens.js';

export interface AuthorizerDeps {
  /**
   * Which role each route needs: the table the stack passes in the environment
   * (shared/auth/route-access.ts), or the route contract itself (tests, bench).
   * A route missing from it needs `admin`.
   */
  routes: RouteAccessTable | ReadonlyArray<Pick<RouteSpec, 'method' | 'path' | 'access' | 'edgeKey'>>;
  store: IdentityStore;
  // ---- edge keys (issue 10) ----
  /**
   * The routes an edge key may call for its own edge: the set the stack
   * passes in the environment, or (default) those of `routes` when it is the
   * route contract. None when `routes` is a table and this is absent.
   */
  edgeRoutes?: EdgeRouteSet;
  /** Finds an edge key's edge; without it every edge key is unknown. */
  edges?: EdgeKeyLookup;
  signingKeys: () => Promise<SigningKeySet>;
  tokens: TokenConfig;
  cacheSeconds: number;
  now?: () => Date;
}

/** API Gateway turns exactly this error message into a 401. */
export const UNAUTHORIZED = 'Unauthorized';

const isRouteList = (
  routes: AuthorizerDeps['routes'],
): routes is ReadonlyArray<Pick<RouteSpec, 'method' | 'path' | 'access' | 'edgeKey'>> => Array.isArray(routes);

type CachedPrincipal = { principal: Omit<Principal, 'sourceIp'>; until: number };

export function createAuthorizer(deps: AuthorizerDeps) {
  const cache = new Map<string, CachedPrincipal>();
  const access: RouteAccessTable = isRouteList(deps.routes) ? routeAccessTable(deps.routes) : deps.routes;
  const edgeRoutes: EdgeRouteSet = deps.edgeRoutes ?? new Set(isRouteList(deps.routes) ? edgeRouteKeys(deps.routes) : []);
  const now = deps.now ?? (() => new Date());

  async function principalFor(credential: Credential, at: Date): Promise<Omit<Principal, 'sourceIp'>> {
    const cacheKey = createHash('sha256')
      .update(credential.kind === 'api-key' ? `k:${credential.key}` : `b:${credential.token}`)
      .digest('base64url');
    const hit = cache.get(cacheKey);
    if (hit && hit.until > at.getTime()) {
      if (hit.principal.token && (await deps.store.isAccessTokenRevoked(hit.principal.token.jti))) throw new Error(UNAUTHORIZED);
      return hit.principal;
    }
    const principal = await authenticate(credential, {
      store: deps.store,
      signingKeys: deps.signingKeys,
      tokens: deps.tokens,
      now: at,
      ...(deps.edges ? { edges: deps.edges } : {}),
    });
    const until = Math.min(at.getTime() + deps.cacheSeconds * 1000, principal.token ? principal.token.exp * 1000 : Infinity);
    if (cache.size > 1000) cache.clear();
    cache.set(cacheKey, { principal, until });
    return principal;
  }

  return async function authorize(event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> {
    const headers = lowerCaseHeaders(event.headers);
    let principal: Omit<Principal, 'sourceIp'>;
    try {
      const credential = credentialFrom(headers);
      if (!credential) throw new Error(UNAUTHORIZED);
      principal = await principalFor(credential, now());
    } catch {
      // Every authentication failure looks the same from outside.
      throw new Error(UNAUTHORIZED);
    }
    const key = routeKey(event.httpMethod, event.resource);
    const required = Object.hasOwn(access, key) ? (access[key] ?? 'admin') : 'admin';
    // An edge key holds no role: only its own edge's edge-key routes, decided before any lookup of the `{id}`, so the
    // answer (403) is the same for another edge and for no edge at all: it never tells an edge what else exists.
    const allowed =
      principal.kind === 'edge'
        ? edgeRoutes.has(key) && principal.edgeId !== undefined && event.pathParameters?.id === principal.edgeId
        : satisfies(principal.roles, required);
    return {
      principalId: principal.id,
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: allowed ? 'Allow' : 'Deny', Resource: event.methodArn }],
      },
      // On a deny the ACCESS_DENIED gateway response reads requiredRole to name the missing role.
      context: { ...authorizerContext(principal), requiredRole: required },
    };
  };
}
