/**
 * Access tokens: RS256 JWTs signed and verified with jose (no hand-written JWT
 * code). Every claim is validated: signature, `alg` pinned to RS256 (so
 * `alg: none` and HS256-with-the-public-key fail), `iss`, `aud`, `exp`,
 * `nbf`, `iat`, `jti`, `sub`, `roles`, `gen` (when present) and a `kid` that
 * must be in the key set.
 */
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, errors, jwtVerify, SignJWT, type JWK } from 'jose';
import { isRole, type Role } from './roles.js';
import { currentKey, importPrivateKey, publicJwks, SIGNING_ALGORITHM, type SigningKeySet } from './signing-keys.js';

export interface TokenConfig {
  issuer: string;
  audience: string;
  accessTokenSeconds: number;
}

export interface AccessClaims {
  sub: string;
  jti: string;
  roles: Role[];
  name: string;
  exp: number;
  /**
   * The user's session generation when the token was issued (claim `gen`;
   * tokens from before it existed have none: 0). The authorizer refuses a
   * token whose generation is no longer the user's (shared/auth/authenticate.ts).
   */
  gen: number;
}

/** Any reason a token is refused; callers answer 401 without detail. */
export class InvalidTokenError extends Error {
  override readonly name = 'InvalidTokenError';
}

export async function issueAccessToken(
  keys: SigningKeySet,
  config: TokenConfig,
  subject: { id: string; name: string; roles: Role[]; generation?: number },
  now: Date,
): Promise<{ token: string; jti: string; expiresAt: number }> {
  const key = currentKey(keys, now);
  if (!key) throw new Error('No signing key: the key set is empty (bootstrap has not run?)');
  const iat = Math.floor(now.getTime() / 1000);
  const exp = iat + config.accessTokenSeconds;
  const jti = randomUUID();
  const token = await new SignJWT({
    roles: subject.roles,
    name: subject.name,
    // Absent means 0, so tokens of a user that never lost rights look as they did before `gen` existed.
    ...(subject.generation ? { gen: subject.generation } : {}),
  })
    .setProtectedHeader({ alg: SIGNING_ALGORITHM, kid: key.kid, typ: 'JWT' })
    .setSubject(subject.id)
    .setIssuer(config.issuer)
    .setAudience(config.audience)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(exp)
    .setJti(jti)
    .sign(await importPrivateKey(key));
  return { token, jti, expiresAt: exp };
}

export async function verifyAccessToken(keys: SigningKeySet, config: TokenConfig, token: string, now: Date): Promise<AccessClaims> {
  const jwks = createLocalJWKSet(publicJwks(keys, now) as { keys: JWK[] });
  try {
    const { payload } = await jwtVerify(token, jwks, {
      algorithms: [SIGNING_ALGORITHM],
      issuer: config.issuer,
      audience: config.audience,
      requiredClaims: ['sub', 'iat', 'nbf', 'exp', 'jti'],
      currentDate: now,
      clockTolerance: 5,
      typ: 'JWT',
    });
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is Role => typeof r === 'string' && isRole(r)) : undefined;
    if (!roles || roles.length !== (payload.roles as unknown[]).length) throw new InvalidTokenError('roles claim is invalid');
    if (typeof payload.iat !== 'number' || payload.iat > Math.floor(now.getTime() / 1000) + 5)
      throw new InvalidTokenError('issued in the future');
    const gen = payload.gen ?? 0;
    if (typeof gen !== 'number' || !Number.isSafeInteger(gen) || gen < 0) throw new InvalidTokenError('gen claim is invalid');
    return {
      sub: payload.sub as string,
      jti: payload.jti as string,
      roles,
      name: String(payload.name ?? payload.sub),
      exp: payload.exp as number,
      gen,
    };
  } catch (error) {
    if (error instanceof InvalidTokenError) throw error;
    if (error instanceof errors.JOSEError) throw new InvalidTokenError(error.code);
    throw new InvalidTokenError('malformed token');
  }
}
