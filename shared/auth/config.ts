/** Auth settings from the function environment the stack sets (lib/auth.ts). */
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SDK_TIMEOUTS } from '../sdk-timeouts.js';
import type { SessionConfig } from './sessions.js';
import { parseSigningKeySet, type SigningKeySet } from './signing-keys.js';

export function sessionConfigFromEnv(env: NodeJS.ProcessEnv = process.env): SessionConfig {
  return {
    issuer: env.JWT_ISSUER ?? 'switchyard',
    audience: env.JWT_AUDIENCE ?? 'switchyard-api',
    accessTokenSeconds: Number(env.ACCESS_TOKEN_SECONDS ?? 900),
    refreshTokenSeconds: Number(env.REFRESH_TOKEN_SECONDS ?? 604_800),
  };
}

let secrets: SecretsProvider | undefined;

/**
 * The signing key set from Secrets Manager, cached for a minute per execution
 * environment (Powertools Parameters). A rotation reaches every function within
 * that minute; the previous key keeps verifying meanwhile (grace period).
 */
export function signingKeysFromSecret(env: NodeJS.ProcessEnv = process.env): () => Promise<SigningKeySet> {
  const secretId = env.SIGNING_KEYS_SECRET_ARN;
  return async () => {
    if (!secretId) throw new Error('SIGNING_KEYS_SECRET_ARN is not set');
    secrets ??= new SecretsProvider({ clientConfig: { requestHandler: SDK_TIMEOUTS } });
    const value = await secrets.get(secretId, { maxAge: 60, transform: 'json' });
    return parseSigningKeySet(value);
  };
}

export interface RateLimitConfig {
  windowSeconds: number;
  anonymous: number;
  authenticated: number;
  admin: number;
  login: number;
}

export function rateLimitConfigFromEnv(env: NodeJS.ProcessEnv = process.env): RateLimitConfig {
  return {
    windowSeconds: Number(env.RATE_LIMIT_WINDOW_SECONDS ?? 60),
    anonymous: Number(env.RATE_LIMIT_ANONYMOUS ?? 10),
    authenticated: Number(env.RATE_LIMIT_AUTHENTICATED ?? 100),
    admin: Number(env.RATE_LIMIT_ADMIN ?? 1000),
    login: Number(env.RATE_LIMIT_LOGIN ?? 5),
  };
}
