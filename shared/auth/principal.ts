/**
 * The caller, as the Lambda authorizer describes it in
 * `requestContext.authorizer` (string values only, as API Gateway passes
 * them): `principalId`, `kind`, `name`, `roles` (comma-separated).
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { isRole, type Role } from './roles.js';

/** `edge`: an edge location's own key (issue 10); it holds no role and may only call its own edge's edge-key routes. */
export type PrincipalKind = 'user' | 'api-key' | 'edge' | 'anonymous';

export interface Principal {
  id: string;
  kind: PrincipalKind;
  name: string;
  roles: Role[];
  sourceIp: string;
  /** For bearer tokens: the token's `jti` and `exp`, so logout can revoke it. */
  token?: { jti: string; exp: number };
  /** For edge keys: the edge the key belongs to. */
  edgeId?: string;
}

/** What the authorizer puts in its `context` for the handlers. */
export interface AuthorizerContext {
  principalId: string;
  kind: Exclude<PrincipalKind, 'anonymous'>;
  name: string;
  roles: string;
  [key: string]: string;
}

export function authorizerContext(principal: Omit<Principal, 'sourceIp'>): AuthorizerContext {
  return {
    principalId: principal.id,
    kind: principal.kind as AuthorizerContext['kind'],
    name: principal.name,
    roles: principal.roles.join(','),
    ...(principal.token ? { tokenId: principal.token.jti, tokenExpiresAt: String(principal.token.exp) } : {}),
    ...(principal.edgeId ? { edgeId: principal.edgeId } : {}),
  };
}

export function principalOf(event: Pick<APIGatewayProxyEvent, 'requestContext'>): Principal {
  const sourceIp = event.requestContext?.identity?.sourceIp ?? 'unknown';
  const auth = (event.requestContext?.authorizer ?? null) as Record<string, unknown> | null;
  const id = typeof auth?.principalId === 'string' ? auth.principalId : undefined;
  if (!id) return { id: `ip:${sourceIp}`, kind: 'anonymous', name: 'anonymous', roles: [], sourceIp };
  const roles = String(auth?.roles ?? '')
    .split(',')
    .map((r) => r.trim())
    .filter(isRole);
  const kind = auth?.kind === 'api-key' ? 'api-key' : auth?.kind === 'edge' ? 'edge' : 'user';
  const edgeId = kind === 'edge' && typeof auth?.edgeId === 'string' ? auth.edgeId : undefined;
  // A token whose expiry is not a whole number of seconds is not one (a revocation record needs its TTL).
  const exp = Number(auth?.tokenExpiresAt);
  const token = typeof auth?.tokenId === 'string' && Number.isSafeInteger(exp) && exp > 0 ? { jti: auth.tokenId, exp } : undefined;
  return { id, kind, name: String(auth?.name ?? id), roles, sourceIp, ...(token ? { token } : {}), ...(edgeId ? { edgeId } : {}) };
}
