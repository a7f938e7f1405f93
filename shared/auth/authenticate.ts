/**
 * Who is calling, from the request's credential: `Authorization: Bearer <jwt>`
 * or `X-API-Key: <key>`. Used by the Lambda authorizer; any failure is the same
 * InvalidTokenError so a 401 tells an attacker nothing.
 */
import type { IdentityStore } from '../domain/identity.js';
import type { Principal } from './principal.js';
import { hashApiKey, isEdgeKey } from './secrets.js';
import type { EdgeKeyOwner } from '../domain/edge-service.js';
import type { SigningKeySet } from './signing-keys.js';
import { InvalidTokenError, verifyAccessToken, type TokenConfig } from './tokens.js';

/** The authorizer's read of an edge key's lookup item (shared/store/edge-store.ts). */
export interface EdgeKeyLookup {
  findEdgeByKeyHash(hash: string): Promise<EdgeKeyOwner | undefined>;
}

export type Credential = { kind: 'bearer'; token: string } | { kind: 'api-key'; key: string };

/** Reads the credential from lower-cased headers; undefined when there is none. */
export function credentialFrom(headers: Record<string, string | undefined>): Credential | undefined {
  const apiKey = headers['x-api-key']?.trim();
  if (apiKey) return { kind: 'api-key', key: apiKey };
  const authorization = headers.authorization?.trim();
  if (!authorization) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(authorization);
  if (!match?.[1]) throw new InvalidTokenError('not a bearer token');
  return { kind: 'bearer', token: match[1] };
}

export async function authenticate(
  credential: Credential,
  deps: {
    store: IdentityStore;
    signingKeys: () => Promise<SigningKeySet>;
    tokens: TokenConfig;
    now: Date;
    /** Edge keys (`sye_…`) by hash; without it an edge key is unknown. */
    edges?: EdgeKeyLookup;
  },
): Promise<Omit<Principal, 'sourceIp'>> {
  if (credential.kind === 'api-key' && isEdgeKey(credential.key)) {
    // Its lookup item exists only while the edge does: a deleted edge's key is unknown (401), like a revoked API key.
    const owner = deps.edges ? await deps.edges.findEdgeByKeyHash(hashApiKey(credential.key)) : undefined;
    if (!owner) throw new InvalidTokenError('unknown edge key');
    return { id: `edge:${owner.edgeId}`, kind: 'edge', name: owner.name, roles: [], edgeId: owner.edgeId };
  }
  if (credential.kind === 'api-key') {
    const key = await deps.store.findApiKeyByHash(hashApiKey(credential.key));
    if (!key || key.revokedAt) throw new InvalidTokenError('unknown api key');
    return { id: `apikey:${key.id}`, kind: 'api-key', name: key.name, roles: [key.role] };
  }
  const claims = await verifyAccessToken(await deps.signingKeys(), deps.tokens, credential.token, deps.now);
  // Both reads at once: the user check adds no latency, and the authorizer caches the principal so it costs one read per
  // credential per cache period (the revocation read it already did on every request stays per request).
  const [revoked, user] = await Promise.all([deps.store.isAccessTokenRevoked(claims.jti), deps.store.getUser(claims.sub)]);
  if (revoked) throw new InvalidTokenError('revoked');
  // Deleted, disabled, or its password or roles changed since the token was issued (users.ts bumps the generation).
  if (!user || user.disabled || (user.sessionGeneration ?? 0) !== claims.gen) throw new InvalidTokenError('stale session');
  return { id: claims.sub, kind: 'user', name: claims.name, roles: claims.roles, token: { jti: claims.jti, exp: claims.exp } };
}
