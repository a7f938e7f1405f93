/**
 * Opaque page cursors: base64url JSON of DynamoDB's LastEvaluatedKey plus a
 * fingerprint of the query it belongs to, authenticated with an HMAC-SHA256
 * under a key from Secrets Manager. A cursor that was edited, replayed
 * against other filters or minted by another deployment fails the MAC and is
 * a 400; it never reaches DynamoDB (whose ValidationException would be a 500).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createHash } from 'node:crypto';
import { ValidationError } from '../domain/errors.js';

type Key = Record<string, string>;

export function queryFingerprint(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 12);
}

/** The MAC covers the payload and the query's fingerprint, so a cursor is only good for the query that issued it. */
function mac(key: Uint8Array, payload: string, fingerprint: string): Buffer {
  return createHmac('sha256', key).update(payload).update('\n').update(fingerprint).digest();
}

export function encodeCursor(lastKey: Record<string, unknown> | undefined, fingerprint: string, key: Uint8Array): string | undefined {
  if (!lastKey) return undefined;
  const payload = Buffer.from(JSON.stringify({ k: lastKey }), 'utf8').toString('base64url');
  return `${payload}.${mac(key, payload, fingerprint).toString('base64url')}`;
}

function invalid(): never {
  throw new ValidationError(
    'cursor is not valid for this query',
    [{ path: 'query.cursor', message: 'use the nextCursor of the previous page, with the same filters' }],
    'INVALID_CURSOR',
  );
}

export function decodeCursor(
  cursor: string | undefined,
  fingerprint: string,
  keyAttributes: readonly string[],
  key: Uint8Array,
): Key | undefined {
  if (cursor === undefined) return undefined;
  const [payload, tag, extra] = cursor.split('.');
  if (!payload || !tag || extra !== undefined) invalid();
  const expected = mac(key, payload, fingerprint);
  const given = Buffer.from(tag, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) invalid();
  // Authentic from here on; the shape checks only guard against our own bugs.
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    invalid();
  }
  const k = (decoded as { k?: unknown } | null)?.k;
  if (typeof k !== 'object' || k === null) invalid();
  const names = Object.keys(k).sort();
  const wanted = [...keyAttributes].sort();
  if (names.length !== wanted.length || names.some((n, i) => n !== wanted[i])) invalid();
  if (Object.values(k).some((v) => typeof v !== 'string' || v.length === 0 || v.length > 1024)) invalid();
  return k as Key;
}

/**
 * The cursor key of this execution environment: the secret named by
 * CURSOR_KEY_SECRET_ARN (the stack sets it on every API function), read once
 * and cached. Without it (unit and integration tests) a random key per
 * process: cursors then work within the process only.
 */
export function cursorKeyFromEnv(env: NodeJS.ProcessEnv = process.env): () => Promise<Uint8Array> {
  let key: Promise<Uint8Array> | undefined;
  return () => {
    key ??= (async () => {
      const secretId = env.CURSOR_KEY_SECRET_ARN;
      if (!secretId) return randomBytes(32);
      const { getSecret } = await import('@aws-lambda-powertools/parameters/secrets');
      const value = await getSecret<string>(secretId, { maxAge: 3600 });
      if (!value) throw new Error('the cursor key secret is empty');
      return Buffer.from(value, 'utf8');
    })();
    // A failed read is retried on the next request instead of being cached.
    key.catch(() => (key = undefined));
    return key;
  };
}
