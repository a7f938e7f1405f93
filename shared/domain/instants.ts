/**
 * Instants as stored: UTC ISO 8601. Its own module (no dependencies) so a
 * function that only compares times does not bundle the event service and
 * its JSON Schema validator (ajv).
 */

/** ISO 8601 with a fixed width (`toISOString`), so string order is time order in sort keys. */
export function normalizeInstant(value: string): string {
  return new Date(value).toISOString();
}
