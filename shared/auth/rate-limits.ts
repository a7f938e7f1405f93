/**
 * Which counter a request is charged to and its limit (seed 004 §3.2): per
 * principal by tier, logins per client IP, health never. Fixed windows,
 * counted atomically in DynamoDB so every Lambda instance shares them.
 */
import type { RateLimitConfig } from './config.js';
import type { Principal } from './principal.js';
import { tierOf } from './roles.js';

export type RatePolicy = 'default' | 'login' | 'none';

export interface RateBucket {
  key: string;
  limit: number;
  windowStart: number;
  resetAt: number;
}

export function rateBucket(policy: RatePolicy, principal: Principal, config: RateLimitConfig, nowMs: number): RateBucket | undefined {
  if (policy === 'none') return undefined;
  const windowStart = Math.floor(nowMs / 1000 / config.windowSeconds) * config.windowSeconds;
  const resetAt = windowStart + config.windowSeconds;
  if (policy === 'login') return { key: `login:ip:${principal.sourceIp}`, limit: config.login, windowStart, resetAt };
  // An edge key holds no role but is authenticated: its own bucket at that tier (a heartbeat and a poll every 10 s fit).
  const tier = principal.kind === 'edge' ? 'authenticated' : tierOf(principal.roles);
  const key = principal.kind === 'anonymous' ? `anonymous:ip:${principal.sourceIp}` : `${tier}:${principal.id}`;
  return { key, limit: config[tier], windowStart, resetAt };
}

export function rateHeaders(bucket: RateBucket, count: number): Record<string, string> {
  return {
    'X-RateLimit-Limit': String(bucket.limit),
    'X-RateLimit-Remaining': String(Math.max(0, bucket.limit - count)),
    'X-RateLimit-Reset': String(bucket.resetAt),
  };
}
