/**
 * The signing key set: RS256 key pairs identified by `kid`, stored as one JSON
 * secret (Secrets Manager in the stack, generated into the local data folder
 * by the local runtime). The newest active key signs; every key not yet
 * retired verifies, so tokens signed before a rotation stay valid for their
 * lifetime (the grace period).
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';

export const SIGNING_ALGORITHM = 'RS256';

export interface StoredKey {
  kid: string;
  privateJwk: Record<string, unknown>;
  publicJwk: Record<string, unknown>;
  createdAt: string;
  /** After this instant the key neither signs nor verifies (absent: still active). */
  retireAt?: string;
}

export interface SigningKeySet {
  keys: StoredKey[];
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function storedKey(value: unknown, index: number): StoredKey {
  const fail = (field: string): never => {
    throw new TypeError(`signing key set: keys[${index}].${field} is missing or invalid`);
  };
  if (!isObject(value)) throw new TypeError(`signing key set: keys[${index}] is not an object`);
  const { kid, privateJwk, publicJwk, createdAt, retireAt } = value;
  if (typeof kid !== 'string' || kid.length === 0) fail('kid');
  if (!isObject(privateJwk)) fail('privateJwk');
  if (!isObject(publicJwk)) fail('publicJwk');
  if (typeof createdAt !== 'string') fail('createdAt');
  if (retireAt !== undefined && typeof retireAt !== 'string') fail('retireAt');
  return {
    kid: kid as string,
    privateJwk: privateJwk as Record<string, unknown>,
    publicJwk: publicJwk as Record<string, unknown>,
    createdAt: createdAt as string,
    ...(retireAt !== undefined ? { retireAt: retireAt as string } : {}),
  };
}

/**
 * Checks a stored key set (the secret's JSON) and returns it without unknown
 * fields; throws a TypeError naming the first bad field. Hand-written rather
 * than a zod schema: the authorizer reads it on every cold start and bundles
 * nothing else of zod.
 */
export function parseSigningKeySet(value: unknown): SigningKeySet {
  if (!isObject(value) || !Array.isArray(value.keys)) throw new TypeError('signing key set: `keys` is not an array');
  return { keys: value.keys.map(storedKey) };
}

export async function generateSigningKey(now: Date): Promise<StoredKey> {
  const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALGORITHM, { extractable: true, modulusLength: 2048 });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return {
    kid,
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: SIGNING_ALGORITHM, use: 'sig' },
    publicJwk: { ...publicJwk, kid, alg: SIGNING_ALGORITHM, use: 'sig' },
    createdAt: now.toISOString(),
  };
}

/**
 * Adds a new signing key. Keys it replaces retire after `graceSeconds` (at
 * least the access-token lifetime); keys already retired are dropped.
 */
export async function rotateSigningKeys(set: SigningKeySet, now: Date, graceSeconds: number): Promise<SigningKeySet> {
  const retireAt = new Date(now.getTime() + graceSeconds * 1000).toISOString();
  const kept = set.keys.filter((k) => !k.retireAt || k.retireAt > now.toISOString()).map((k) => (k.retireAt ? k : { ...k, retireAt }));
  return { keys: [...kept, await generateSigningKey(now)] };
}

export function activeKeys(set: SigningKeySet, now: Date): StoredKey[] {
  return set.keys.filter((k) => !k.retireAt || k.retireAt > now.toISOString());
}

/** The key that signs new tokens: the newest one that is not retiring. */
export function currentKey(set: SigningKeySet, now: Date): StoredKey | undefined {
  const candidates = activeKeys(set, now).filter((k) => !k.retireAt);
  return candidates.sort((a, b) => a.createdAt.localeCompare(b.createdAt)).at(-1);
}

/** The public JSON Web Key Set published at /api/v1/auth/jwks. */
export function publicJwks(set: SigningKeySet, now: Date): { keys: JWK[] } {
  return { keys: activeKeys(set, now).map((k) => k.publicJwk as JWK) };
}

export async function importPrivateKey(key: StoredKey) {
  return importJWK(key.privateJwk as JWK, SIGNING_ALGORITHM);
}
