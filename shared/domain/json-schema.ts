/**
 * Receiver payload schemas are JSON Schema 2020-12, compiled with ajv in strict
 * schema mode, so a typo such as `minLenght` is rejected when the receiver is
 * created rather than silently ignored when events arrive.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { FieldError } from './errors.js';
import type { JsonObject } from './model.js';

// Strict about unknown keywords and formats (typos), lenient about valid-but-loose schemas (open tuples, untyped keywords).
const ajv = new Ajv2020({
  allErrors: true,
  strict: true,
  strictRequired: false,
  strictTuples: false,
  strictTypes: false,
  validateFormats: true,
});
(addFormats as unknown as (a: Ajv2020) => void)(ajv);

/** Compiled validators by receiver id + revision: a schema never changes within a revision. */
const compiled = new Map<string, ValidateFunction>();
const MAX_CACHED = 500;

function toFieldErrors(prefix: string, errors: ErrorObject[] | null | undefined): FieldError[] {
  return (errors ?? []).map((e) => ({
    path: `${prefix}${e.instancePath.replace(/\//g, '.')}`,
    message: `${e.message ?? 'is invalid'}${e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})` : ''}`,
  }));
}

/** Returns the problems with a schema itself, or [] when ajv can compile it. */
export function checkSchema(schema: JsonObject): FieldError[] {
  try {
    ajv.compile(schema);
    return [];
  } catch (error) {
    return [{ path: 'body.schema', message: (error as Error).message }];
  }
}

export function validatePayload(cacheKey: string, schema: JsonObject, payload: unknown): FieldError[] {
  let validate = compiled.get(cacheKey);
  if (!validate) {
    if (compiled.size >= MAX_CACHED) compiled.clear();
    validate = ajv.compile(schema);
    compiled.set(cacheKey, validate);
  }
  return validate(payload) ? [] : toFieldErrors('body.payload', validate.errors);
}
