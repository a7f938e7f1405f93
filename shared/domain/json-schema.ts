/**
 * Receiver payload schemas are JSON Schema 2020-12, compiled with ajv in strict
 * schema mode, so a typo such as `minLenght` is rejected when the receiver is
 * created rather than silently ignored when events arrive.
 *
 * A schema comes from a caller, and ajv turns a schema into code: it is
 * untrusted input here, so
 * - each schema compiles in an Ajv instance of its own: no `$id` registry is
 *   shared between receivers (two receivers, or two revisions of one, may use
 *   the same `$id`), and nothing a compile registers outlives its validator;
 * - compiled validators sit in a bounded LRU keyed by a hash of the schema
 *   (`MAX_CACHED_VALIDATORS`), so memory stays bounded however many schemas a
 *   warm container sees;
 * - a schema's size and nesting depth are limited (`SCHEMA_LIMITS`), checked
 *   before ajv sees it;
 * - `pattern`/`patternProperties` run on RE2JS, a linear-time engine
 *   (shared/domain/linear-regexp.ts), so no pattern can backtrack
 *   catastrophically; a pattern RE2 cannot run (backreferences, lookaround)
 *   is refused when the receiver is created;
 * - a remote `$ref` is never fetched: only the synchronous `compile` is used
 *   and no `loadSchema` is given, so an unresolvable `$ref` is a compile error.
 */
import { Ajv2020, type ErrorObject, type Options, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { createHash } from 'node:crypto';
import type { FieldError } from './errors.js';
import { linearRegExp } from './linear-regexp.js';
import type { JsonObject } from './model.js';

/**
 * Limits on a receiver schema. 64 KiB of JSON is far more than a payload schema
 * needs and small enough for a DynamoDB item (400 KB) and a fast compile; 32
 * levels of nesting cover any hand-written schema and keep ajv's recursive
 * compiler (and JSON.stringify) far from the stack limit.
 */
export const SCHEMA_LIMITS = { maxBytes: 64 * 1024, maxDepth: 32 } as const;

/** How many compiled validators a container keeps (each owns its Ajv instance, ~tens of KiB). */
export const MAX_CACHED_VALIDATORS = 100;

/** A problem with a schema, with the code the HTTP layer reports. */
export interface SchemaProblem {
  code: 'SCHEMA_TOO_LARGE' | 'SCHEMA_TOO_DEEP' | 'INVALID_SCHEMA';
  message: string;
  errors: FieldError[];
}

// Strict about unknown keywords and formats (typos), lenient about valid-but-loose schemas (open tuples, untyped keywords).
const BASE_OPTIONS: Options = {
  allErrors: true,
  strict: true,
  strictRequired: false,
  strictTuples: false,
  strictTypes: false,
  validateFormats: true,
  // Strict mode would otherwise test each `patternProperties` pattern against the
  // `properties` names at compile time with the native, backtracking RegExp:
  // a ReDoS at receiver creation, before our engine is involved.
  allowMatchingProperties: true,
};

function withFormats(ajv: Ajv2020): Ajv2020 {
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  return ajv;
}

/**
 * Validates schemas against the 2020-12 meta-schema only: `validateSchema`
 * registers nothing, so this one instance is shared. The meta-schemas are
 * trusted and keep the native RegExp.
 */
const metaValidator = withFormats(new Ajv2020({ ...BASE_OPTIONS }));

/** A fresh instance per schema: no meta-schemas (checked above), nothing shared, user patterns on RE2JS. */
function isolatedAjv(): Ajv2020 {
  return withFormats(
    new Ajv2020({
      ...BASE_OPTIONS,
      meta: false,
      validateSchema: false,
      addUsedSchema: false,
      code: { regExp: linearRegExp },
    }),
  );
}

/**
 * The nesting depth of a JSON value, or `limit + 1` as soon as it exceeds
 * `limit`. Iterative, so a hostile 10 000-level body cannot overflow the stack.
 */
function depthOf(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [unknown, number];
    if (node === null || typeof node !== 'object') continue;
    if (depth > deepest) deepest = depth;
    if (deepest > limit) return deepest;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** The size and depth limits; `undefined` when the schema is within them. */
export function schemaLimitProblem(schema: JsonObject): SchemaProblem | undefined {
  const depth = depthOf(schema, SCHEMA_LIMITS.maxDepth);
  if (depth > SCHEMA_LIMITS.maxDepth) {
    return {
      code: 'SCHEMA_TOO_DEEP',
      message: `schema nests deeper than the limit of ${SCHEMA_LIMITS.maxDepth} levels`,
      errors: [{ path: 'body.schema', message: `must nest at most ${SCHEMA_LIMITS.maxDepth} levels deep (maxDepth)` }],
    };
  }
  const bytes = Buffer.byteLength(JSON.stringify(schema), 'utf8');
  if (bytes > SCHEMA_LIMITS.maxBytes) {
    return {
      code: 'SCHEMA_TOO_LARGE',
      message: `schema is ${bytes} bytes of JSON; the limit is ${SCHEMA_LIMITS.maxBytes}`,
      errors: [{ path: 'body.schema', message: `must be at most ${SCHEMA_LIMITS.maxBytes} bytes of JSON (maxBytes), is ${bytes}` }],
    };
  }
  return undefined;
}

function toFieldErrors(prefix: string, errors: ErrorObject[] | null | undefined): FieldError[] {
  return (errors ?? []).map((e) => ({
    path: `${prefix}${e.instancePath.replace(/\//g, '.')}`,
    message: `${e.message ?? 'is invalid'}${e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})` : ''}`,
  }));
}

/** Limits, then the meta-schema, then an isolated compile; throws nothing. */
function compile(schema: JsonObject): { validate: ValidateFunction } | { problem: SchemaProblem } {
  const limit = schemaLimitProblem(schema);
  if (limit) return { problem: limit };
  const invalid = (message: string, errors: FieldError[]): { problem: SchemaProblem } => ({
    problem: {
      code: 'INVALID_SCHEMA',
      message: 'schema is not a valid JSON Schema (2020-12)',
      errors: errors.length > 0 ? errors : [{ path: 'body.schema', message }],
    },
  });
  try {
    if (!metaValidator.validateSchema(schema)) {
      return invalid('does not match the 2020-12 meta-schema', toFieldErrors('body.schema', metaValidator.errors));
    }
    return { validate: isolatedAjv().compile(schema) };
  } catch (error) {
    return invalid((error as Error).message, []);
  }
}

/** Returns the problem with a schema itself (limits, meta-schema, compile), or `undefined` when it is usable. */
export function schemaProblem(schema: JsonObject): SchemaProblem | undefined {
  const result = compile(schema);
  if ('problem' in result) return result.problem;
  remember(keyOf(schema), result.validate);
  return undefined;
}

/** Returns the problems with a schema itself, or [] when it is usable. */
export function checkSchema(schema: JsonObject): FieldError[] {
  return schemaProblem(schema)?.errors ?? [];
}

/**
 * Compiled validators, least recently used first (a Map iterates in insertion
 * order; a hit is re-inserted at the end). Keyed by a hash of the schema
 * itself, not by receiver id + revision: equal schemas share one validator and
 * a changed schema can never hit a stale one.
 */
const compiled = new Map<string, ValidateFunction>();

function keyOf(schema: JsonObject): string {
  return createHash('sha256').update(JSON.stringify(schema)).digest('base64url');
}

function remember(key: string, validate: ValidateFunction): void {
  compiled.delete(key);
  compiled.set(key, validate);
  while (compiled.size > MAX_CACHED_VALIDATORS) {
    const oldest = compiled.keys().next().value as string;
    compiled.delete(oldest);
  }
}

/** How many compiled validators are cached (for tests and metrics). */
export function cachedValidatorCount(): number {
  return compiled.size;
}

/**
 * Validates a payload against a stored receiver schema. A stored schema that
 * no longer compiles (stored before these limits, or with a pattern RE2 cannot
 * run) throws `UnusableSchemaError`, which the caller turns into a 422.
 */
export function validatePayload(schema: JsonObject, payload: unknown): FieldError[] {
  const key = keyOf(schema);
  let validate = compiled.get(key);
  if (!validate) {
    const result = compile(schema);
    if ('problem' in result) throw new UnusableSchemaError(result.problem);
    validate = result.validate;
  }
  remember(key, validate);
  return validate(payload) ? [] : toFieldErrors('body.payload', validate.errors);
}

/** A stored schema that cannot be compiled under the current rules. */
export class UnusableSchemaError extends Error {
  constructor(readonly problem: SchemaProblem) {
    super(`${problem.message}: ${problem.errors.map((e) => e.message).join('; ')}`);
    this.name = 'UnusableSchemaError';
  }
}
