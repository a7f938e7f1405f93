/**
 * Passwords and API keys. Passwords are hashed with scrypt (node:crypto, the
 * maintained primitive built into Node; no native addon to ship to Lambda)
 * and compared in constant time. API keys are 256-bit random secrets, so a
 * single SHA-256 is enough to store them: there is nothing to brute-force.
 */
import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const scrypt = (password: string, salt: Buffer, keylen: number, options: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) =>
    scryptCallback(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))),
  );

/** OWASP's scrypt minimum (N=2^17, r=8, p=1) needs 128 MiB; memory is raised to fit. */
const PARAMS = { N: 2 ** 17, r: 8, p: 1, maxmem: 256 * 1024 * 1024 };
const KEY_LENGTH = 32;

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, PARAMS);
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scrypt(password.normalize('NFKC'), Buffer.from(salt, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: PARAMS.maxmem,
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * A hash of a password nobody has: verifying against it for unknown users makes
 * "no such user" cost the same scrypt work as "wrong password".
 */
let decoy: Promise<string> | undefined;
export function decoyPasswordHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(16).toString('base64url'));
  return decoy;
}

export const API_KEY_PREFIX = 'sy_';

export function generateApiKey(): string {
  return `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('base64url');
}

/**
 * Edge keys (DESIGN.md §4: "Edge locations authenticate with their own key"):
 * sent as X-API-Key like an API key, told apart by this prefix, stored as the
 * same single SHA-256 (hashApiKey) under their own lookup item.
 */
export const EDGE_KEY_PREFIX = 'sye_';

export function generateEdgeKey(): string {
  return `${EDGE_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function isEdgeKey(key: string): boolean {
  return key.startsWith(EDGE_KEY_PREFIX);
}

/** Opaque refresh tokens: `<familyId>.<secret>`; only the secret's hash is stored. */
export function generateRefreshSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashToken(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}
