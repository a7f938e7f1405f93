/**
 * Reading untrusted JSON field by field, collecting every problem as a
 * FieldError so one 400 names them all (structured CloudEvents and CDEvents).
 */
import { ValidationError, type FieldError } from './errors.js';
import type { JsonObject } from './model.js';

/** RFC 3339 date-time, as the plain JSON body requires (an offset or Z is mandatory). */
export const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i;

/** At most this many findings are reported (a body of 10 000 bad keys gets a bounded answer). */
const MAX_FINDINGS = 20;

/**
 * The 400 for a bad CloudEvent. The detail quotes nothing the caller sent (as
 * for malformed JSON: a body may hold secrets); `errors` names each attribute.
 */
export const invalid = (errors: FieldError[]): ValidationError => {
  const count = errors.length === 1 ? '1 problem' : `${errors.length} problems`;
  return new ValidationError(`The CloudEvent is invalid (${count}; see errors)`, errors.slice(0, MAX_FINDINGS), 'INVALID_CLOUDEVENT');
};

export const isJsonObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Collects field errors while reading untrusted values. */
export class FieldReader {
  readonly errors: FieldError[] = [];

  fail(path: string, message: string): undefined {
    this.errors.push({ path, message });
    return undefined;
  }

  /** A trimmed non-empty string of at most `max` characters, or undefined (with an error) if absent or bad. */
  text(value: unknown, path: string, max: number): string | undefined {
    if (value === undefined || value === null) return this.fail(path, 'is required');
    if (typeof value !== 'string') return this.fail(path, 'must be a string');
    const trimmed = value.trim();
    if (trimmed.length === 0) return this.fail(path, 'must not be empty');
    if (trimmed.length > max) return this.fail(path, `must be at most ${max} characters`);
    return trimmed;
  }

  /** An RFC 3339 date-time with an offset. */
  instant(value: unknown, path: string): string | undefined {
    if (value === undefined || value === null) return this.fail(path, 'is required');
    if (typeof value !== 'string' || !RFC3339.test(value) || Number.isNaN(Date.parse(value))) {
      return this.fail(path, 'must be an RFC 3339 date-time with an offset, e.g. 2026-11-23T10:00:00Z');
    }
    return value;
  }

  boolean(value: unknown, path: string): boolean | undefined {
    if (typeof value !== 'boolean') return this.fail(path, 'must be true or false');
    return value;
  }

  object(value: unknown, path: string): JsonObject | undefined {
    if (!isJsonObject(value)) return this.fail(path, 'must be a JSON object');
    return value;
  }

  throwIfAny(): void {
    if (this.errors.length > 0) throw invalid(this.errors);
  }
}
