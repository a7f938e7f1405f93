import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../shared/domain/errors.js';
import { decodeCursor, encodeCursor, queryFingerprint } from '../../shared/store/cursor.js';

describe('cursors', () => {
  const secret = randomBytes(32);
  const attrs = ['pk', 'sk', 'gsi2pk', 'gsi2sk'];
  const fp = queryFingerprint(['events', 'r1']);
  const key = { pk: 'EVENT#1', sk: 'EVENT', gsi2pk: 'EVENTS', gsi2sk: '2026-01-01T00:00:00.000Z#1' };
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

  it('round-trip for the same query under the same key', () => {
    expect(decodeCursor(encodeCursor(key, fp, secret), fp, attrs, secret)).toEqual(key);
    expect(encodeCursor(undefined, fp, secret)).toBeUndefined();
  });

  it('are refused for another query, other key attributes or garbage', () => {
    const cursor = encodeCursor(key, fp, secret) as string;
    expect(() => decodeCursor(cursor, queryFingerprint(['events', 'r2']), attrs, secret)).toThrow(ValidationError);
    expect(() => decodeCursor(cursor, fp, ['pk', 'sk'], secret)).toThrow(ValidationError);
    expect(() => decodeCursor('%%%', fp, ['pk'], secret)).toThrow(ValidationError);
  });

  it('are refused when edited, even into a well-formed cursor of the same query (it would reach DynamoDB)', () => {
    const cursor = encodeCursor(key, fp, secret) as string;
    const [payload, tag] = cursor.split('.') as [string, string];
    const editedKey = b64({ k: { ...key, gsi2pk: 'RECEIVERS' } });
    expect(() => decodeCursor(`${editedKey}.${tag}`, fp, attrs, secret)).toThrow(ValidationError);
    // The old unauthenticated format: right fingerprint, edited key.
    expect(() => decodeCursor(b64({ k: { ...key, gsi2pk: 'RECEIVERS' }, f: fp }), fp, attrs, secret)).toThrow(ValidationError);
    const flipped = `${payload}.${tag.startsWith('A') ? 'B' : 'A'}${tag.slice(1)}`;
    expect(() => decodeCursor(flipped, fp, attrs, secret)).toThrow(ValidationError);
  });

  it('are refused when minted under another key (another deployment)', () => {
    const foreign = encodeCursor(key, fp, randomBytes(32)) as string;
    expect(() => decodeCursor(foreign, fp, attrs, secret)).toThrow(ValidationError);
  });
});
