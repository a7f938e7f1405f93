import { createHash } from 'node:crypto';

/**
 * A UUID v5 (RFC 9562 §5.5) of `parts` in `namespace`: the same parts give
 * the same id in every process, so a retried write of the same thing finds
 * the first one (a CloudEvent ingested twice, a delivery fanned out twice).
 * Written here rather than with the `uuid` package: it is ten lines of
 * SHA-1, and the parts are JSON-encoded so ["a#b","c"] and ["a","b#c"] differ.
 */
export function derivedUuid(namespace: Buffer, parts: readonly string[]): string {
  const hash = createHash('sha1').update(namespace).update(JSON.stringify(parts)).digest();
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
