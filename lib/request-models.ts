/**
 * API Gateway request models (JSON Schema draft 4) derived from the same zod
 * schemas the handlers parse with. The gateway copy is deliberately coarse
 * (shape, types, lengths, required, no unknown fields): it rejects junk before
 * a Lambda runs, while formats and patterns stay with zod, whose errors name
 * the field precisely.
 */
import * as z from 'zod';

const DROPPED_KEYWORDS = new Set(['format', 'pattern', 'example', 'examples', 'description', '$schema', 'id']);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function coarsen(node: Json): Json {
  if (Array.isArray(node)) return node.map(coarsen);
  if (node === null || typeof node !== 'object') return node;
  const out: { [key: string]: Json } = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED_KEYWORDS.has(key)) continue;
    // API Gateway's validator rejects `maximum` beyond a Java long; zod emits Number.MAX_SAFE_INTEGER, which is fine, but drop it anyway: no meaning for us.
    if (key === 'maximum' && value === Number.MAX_SAFE_INTEGER) continue;
    out[key] =
      key === 'properties' ? Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, coarsen(v as Json)])) : coarsen(value);
  }
  return out;
}

export function gatewayModelSchema(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { target: 'draft-4', io: 'input', unrepresentable: 'any' }) as { [key: string]: Json };
  // Named schemas (`.meta({ id })`) come out as a $ref into definitions; a model is self-contained, so inline it.
  let root: Json = json;
  const ref = json.$ref;
  if (typeof ref === 'string' && ref.startsWith('#/definitions/')) {
    root = (json.definitions as { [key: string]: Json })[ref.slice('#/definitions/'.length)] ?? json;
  }
  return { $schema: 'http://json-schema.org/draft-04/schema#', ...(coarsen(root) as object) };
}
