/**
 * The signing key set: RS256 key pairs identified by `kid`, stored as one JSON
 * secret (Secrets Manager in the stack, generated into the local data folder
 * by the local runtime). The newest active key signs; every key not yet
 * retired verifies, so tokens signed before a rotation stay valid for their
 * lifetime (the grace period).
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import * as z from 'zod';

export const SIGNING_ALGORITHM = 'RS256';

const StoredKey = z.object({
  kid: z.string().min(1),
  privateJwk: z.record(z.string(), z.unknown()),
  publicJwk: z.record(z.string(), z.unknown()),
  createdAt: z.string(),
  /** After this instant the key neither signs nor verifies (absent: still active). */
  retireAt: z.string().optional(),
});
export type StoredKey = z.infer<typeof StoredKey>;

export const SigningKeySet = z.object({ keys: z.array(StoredKey) });
export type SigningKeySet = z.infer<typeof SigningKeySet>;

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
