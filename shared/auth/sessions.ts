/**
 * Login sessions: a short-lived access JWT plus an opaque refresh token
 * (`<familyId>.<secret>`). Refreshing rotates the secret; presenting a secret
 * that was already rotated means it leaked, so the whole family is revoked
 * (OAuth 2.0 Security BCP, refresh token rotation).
 */
import { randomUUID } from 'node:crypto';
import { UnauthenticatedError } from '../domain/errors.js';
import type { IdentityStore, UserRecord } from '../domain/identity.js';
import { decoyPasswordHash, generateRefreshSecret, hashToken, verifyPassword } from './secrets.js';
import type { SigningKeySet } from './signing-keys.js';
import { issueAccessToken, type AccessClaims, type TokenConfig } from './tokens.js';

export interface SessionConfig extends TokenConfig {
  refreshTokenSeconds: number;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  /** Seconds until the access token expires. */
  expiresIn: number;
  tokenType: 'Bearer';
}

const REJECTED = 'Invalid credentials';

export class SessionService {
  constructor(
    private readonly store: IdentityStore,
    private readonly signingKeys: () => Promise<SigningKeySet>,
    private readonly config: SessionConfig,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Same answer, and the same scrypt work, for an unknown user, a wrong password and a disabled account. */
  async login(username: string, password: string): Promise<TokenPair> {
    const user = await this.store.getUserByUsername(username);
    const valid = await verifyPassword(password, user?.passwordHash ?? (await decoyPasswordHash()));
    if (!user || !valid || user.disabled) throw new UnauthenticatedError(REJECTED);
    const familyId = randomUUID();
    const secret = generateRefreshSecret();
    const now = this.now();
    await this.store.createRefreshFamily({
      familyId,
      userId: user.id,
      currentHash: hashToken(secret),
      expiresAt: Math.floor(now.getTime() / 1000) + this.config.refreshTokenSeconds,
      revoked: false,
      generation: user.sessionGeneration ?? 0,
    });
    return this.pair(user, `${familyId}.${secret}`, now);
  }

  async refresh(refreshToken: string): Promise<TokenPair> {
    const [familyId, secret] = refreshToken.split('.');
    if (!familyId || !secret) throw new UnauthenticatedError(REJECTED);
    const family = await this.store.getRefreshFamily(familyId);
    const now = this.now();
    if (!family || family.revoked || family.expiresAt <= Math.floor(now.getTime() / 1000)) throw new UnauthenticatedError(REJECTED);
    const presented = hashToken(secret);
    const nextSecret = generateRefreshSecret();
    if (presented !== family.currentHash || !(await this.store.rotateRefresh(familyId, presented, hashToken(nextSecret)))) {
      // A rotated (or concurrently used) token came back: treat the family as stolen.
      await this.store.revokeRefreshFamily(familyId);
      throw new UnauthenticatedError(REJECTED);
    }
    const user = await this.store.getUser(family.userId);
    // Disabling the user or changing its password or roles bumps its generation: every family from before is dead.
    if (!user || user.disabled || (family.generation ?? 0) !== (user.sessionGeneration ?? 0)) {
      await this.store.revokeRefreshFamily(familyId);
      throw new UnauthenticatedError(REJECTED);
    }
    return this.pair(user, `${familyId}.${nextSecret}`, now);
  }

  /** Revokes the access token (until it would expire) and, if given and the caller's, its refresh family. */
  async logout(claims: Pick<AccessClaims, 'jti' | 'exp' | 'sub'>, refreshToken?: string): Promise<void> {
    await this.store.revokeAccessToken(claims.jti, claims.exp);
    const familyId = refreshToken?.split('.')[0];
    if (!familyId) return;
    const family = await this.store.getRefreshFamily(familyId);
    if (family && family.userId === claims.sub) await this.store.revokeRefreshFamily(familyId);
  }

  private async pair(user: UserRecord, refreshToken: string, now: Date): Promise<TokenPair> {
    const access = await issueAccessToken(
      await this.signingKeys(),
      this.config,
      { id: user.id, name: user.username, roles: user.roles, generation: user.sessionGeneration ?? 0 },
      now,
    );
    return { accessToken: access.token, refreshToken, expiresIn: this.config.accessTokenSeconds, tokenType: 'Bearer' };
  }
}
