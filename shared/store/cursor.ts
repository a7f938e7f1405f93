/**
 * Opaque page cursors: base64url JSON of DynamoDB's LastEvaluatedKey plus a
 * fingerprint of the query it belongs to, so a cursor replayed against other
 * filters, or edited by hand, is a 400 and never reaches DynamoDB.
 */
import { createHash } from 'node:crypto';
import { ValidationError } from '../domain/errors.js';

type Key = Record<string, string>;

export function queryFingerprint(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 12);
}

export function encodeCursor(lastKey: Record<string, unknown> | undefined, fingerprint: string): string | undefined {
  if (!lastKey) return undefined;
  return Buffer.from(JSON.stringify({ k: lastKey, f: fingerprint }), 'utf8').toString('base64url');
}

function invalid(): never {
  throw new ValidationError(
    'cursor is not valid for this query',
    [{ path: 'query.cursor', message: 'use the nextCursor of the previous page, with the same filters' }],
    'INVALID_CURSOR',
  );
}

export function decodeCursor(cursor: string | undefined, fingerprint: string, keyAttributes: readonly string[]): Key | undefined {
  if (cursor === undefined) return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    invalid();
  }
  if (typeof decoded !== 'object' || decoded === null) invalid();
  const { k, f } = decoded as { k?: unknown; f?: unknown };
  if (f !== fingerprint || typeof k !== 'object' || k === null) invalid();
  const key = k as Record<string, unknown>;
  const names = Object.keys(key).sort();
  const expected = [...keyAttributes].sort();
  if (names.length !== expected.length || names.some((n, i) => n !== expected[i])) invalid();
  if (Object.values(key).some((v) => typeof v !== 'string' || v.length === 0 || v.length > 1024)) invalid();
  return key as Key;
}
