/**
 * Method request validation (`AWS::ApiGateway::RequestValidator`).
 *
 * - Parameters (ValidateRequestParameters): every `method.request.querystring.x`
 *   / `method.request.header.x` marked `true` in the method's RequestParameters
 *   must be present and not blank, else 400 BAD_REQUEST_PARAMETERS
 *   `Missing required request parameters: [x, y]`.
 * - Body (ValidateRequestBody): the model is chosen by the request's media
 *   type (no Content-Type counts as application/json, API Gateway's default),
 *   then `$default`; with no matching model the body passes through unchecked,
 *   as in API Gateway. An empty body is not validated (reported behaviour of
 *   API Gateway; uncertain, the handlers validate anyway).
 *
 * API Gateway validates with JSON Schema draft-04, so this uses Ajv's draft-04
 * class (`ajv-draft-04`, maintained by the Ajv authors) plus `ajv-formats` for
 * the formats API Gateway's validator knows. The `validationErrorString` is an
 * approximation of the messages of API Gateway's validator
 * (java json-schema-validator), e.g.
 * `[object has missing required properties (["name"]), instance type (integer) does not match any allowed primitive type (allowed: ["string"])]`;
 * the wording is reproduced for the common keywords only, without JSON pointers.
 */
import AjvDraft04Module from 'ajv-draft-04';
import type { ErrorObject, ValidateFunction } from 'ajv-draft-04';
import ajvFormatsModule from 'ajv-formats';
import { isRecord } from '../cfn.js';
import type { RequestState } from './request.js';
import { headerValue, queryOf } from './request.js';
import type { ApiDefinition, MethodDef } from './routes.js';

// Both packages are CommonJS with `module.exports = fn; exports.default = fn`;
// under nodenext the default import is typed as the module object, so take `.default`
// (present at runtime too).
const Ajv = AjvDraft04Module.default;
const addFormats = ajvFormatsModule.default;

export type BodyValidationResult = { ok: true } | { ok: false; validationErrorString: string };

const MODEL_URI_PREFIX = 'https://apigateway.local/models/';

export class RequestValidation {
  private readonly validators = new Map<string, ValidateFunction>();
  /** Models whose schema could not be compiled (API Gateway would have refused them at deploy). */
  readonly warnings: string[] = [];

  constructor(private readonly api: ApiDefinition) {
    const ajv = new Ajv({ allErrors: true, strict: false, logger: false });
    addFormats(ajv, ['date-time', 'email', 'hostname', 'ipv4', 'ipv6', 'uri', 'regex']);
    const byName = new Map<string, string>();
    for (const m of api.models.values()) if (m.name) byName.set(m.name, m.logicalId);
    for (const model of api.models.values()) {
      if (!isRecord(model.schema)) continue;
      try {
        ajv.addSchema(
          rewriteModelRefs(stripIds(model.schema), byName, api.models) as Record<string, unknown>,
          MODEL_URI_PREFIX + model.logicalId,
        );
      } catch (err) {
        this.warnings.push(`${model.logicalId}: model schema not usable (${(err as Error).message})`);
      }
    }
    for (const model of api.models.values()) {
      try {
        const fn = ajv.getSchema(MODEL_URI_PREFIX + model.logicalId);
        if (fn) this.validators.set(model.logicalId, fn);
      } catch (err) {
        this.warnings.push(`${model.logicalId}: model schema not usable (${(err as Error).message})`);
      }
    }
  }

  /** Names of required parameters that are missing or blank (empty when the validator does not check parameters). */
  missingParameters(method: MethodDef, state: RequestState): string[] {
    if (!method.validator?.validateRequestParameters) return [];
    const missing: string[] = [];
    for (const { where, name } of requiredParameters(method)) {
      let value: string | undefined;
      if (where === 'querystring' || where === 'multivaluequerystring')
        value = queryOf(state).find(([k, v]) => k === name && v !== '')?.[1];
      else if (where === 'header' || where === 'multivalueheader') value = headerValue(state, name);
      else value = state.match?.pathParameters?.[name];
      if (value === undefined || value.trim() === '') missing.push(name);
    }
    return missing;
  }

  validateBody(method: MethodDef, state: RequestState): BodyValidationResult {
    if (!method.validator?.validateRequestBody) return { ok: true };
    const mediaType = (headerValue(state, 'content-type') ?? 'application/json').split(';')[0]!.trim().toLowerCase();
    const modelId = method.requestModels[mediaType] ?? method.requestModels.$default;
    if (!modelId) return { ok: true };
    const validate = this.validators.get(modelId);
    if (!validate || state.body.length === 0) return { ok: true };
    let data: unknown;
    try {
      data = JSON.parse(state.body.toString('utf8'));
    } catch (err) {
      return { ok: false, validationErrorString: `[Invalid JSON: ${(err as Error).message}]` };
    }
    if (validate(data)) return { ok: true };
    return { ok: false, validationErrorString: `[${describeErrors(validate.errors ?? [], data).join(', ')}]` };
  }
}

/** The required request parameters of each method, parsed once (methods are fixed for the server's life). */
const requiredByMethod = new WeakMap<MethodDef, Array<{ where: string; name: string }>>();

function requiredParameters(method: MethodDef): Array<{ where: string; name: string }> {
  let list = requiredByMethod.get(method);
  if (!list) {
    list = [];
    for (const [key, required] of Object.entries(method.requestParameters)) {
      if (!required) continue;
      const m = /^method\.request\.(querystring|header|multivaluequerystring|multivalueheader|path)\.(.+)$/.exec(key);
      if (m) list.push({ where: m[1]!, name: m[2]! });
    }
    requiredByMethod.set(method, list);
  }
  return list;
}

/** Model schemas carry their own `$schema`/`id`; ids would clash with the keys models are registered under. */
function stripIds(schema: Record<string, unknown>): Record<string, unknown> {
  const { id: _id, $id: _$id, ...rest } = schema;
  return rest;
}

/**
 * Models reference each other with
 * `https://apigateway.amazonaws.com/restapis/{api}/models/{name}`; in an
 * unresolved template the `$ref` is an intrinsic (`Fn::Join` with a `Ref` of the
 * model). Point both forms at the local registration of the model.
 */
function rewriteModelRefs(value: unknown, byName: Map<string, string>, models: ApiDefinition['models']): unknown {
  if (Array.isArray(value)) return value.map((v) => rewriteModelRefs(v, byName, models));
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === '$ref') {
      out[k] = rewriteRef(v, byName, models);
    } else {
      out[k] = rewriteModelRefs(v, byName, models);
    }
  }
  return out;
}

function rewriteRef(ref: unknown, byName: Map<string, string>, models: ApiDefinition['models']): unknown {
  if (typeof ref === 'string') {
    const m = /\/models\/([^/#]+)(#.*)?$/.exec(ref);
    const target = m?.[1] ? (byName.get(m[1]) ?? (models.has(m[1]) ? m[1] : undefined)) : undefined;
    return target ? MODEL_URI_PREFIX + target + (m?.[2] ?? '') : ref;
  }
  // Find a Ref to a model anywhere inside the intrinsic.
  const stack: unknown[] = [ref];
  while (stack.length > 0) {
    const cur = stack.pop();
    if (Array.isArray(cur)) stack.push(...(cur as unknown[]));
    else if (isRecord(cur)) {
      if (typeof cur.Ref === 'string' && models.has(cur.Ref)) return MODEL_URI_PREFIX + cur.Ref;
      stack.push(...Object.values(cur));
    }
  }
  return ref;
}

function pointerGet(data: unknown, pointer: string): unknown {
  if (pointer === '') return data;
  let cur: unknown = data;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) cur = cur[Number(key)];
    else if (isRecord(cur)) cur = cur[key];
    else return undefined;
  }
  return cur;
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

const quoteList = (items: unknown[]): string => items.map((i) => JSON.stringify(i)).join(',');

/** Ajv errors → messages in the style of API Gateway's validator. */
function describeErrors(errors: ErrorObject[], data: unknown): string[] {
  const out: string[] = [];
  const grouped = new Map<string, { keyword: string; names: string[] }>();
  for (const e of errors) {
    const value = pointerGet(data, e.instancePath);
    const p = e.params as Record<string, unknown>;
    switch (e.keyword) {
      case 'required':
      case 'additionalProperties': {
        const key = `${e.keyword} ${e.instancePath}`;
        const name = String(p.missingProperty ?? p.additionalProperty);
        const g = grouped.get(key);
        if (g) g.names.push(name);
        else {
          grouped.set(key, { keyword: e.keyword, names: [name] });
          out.push(key); // placeholder, replaced below (keeps the order)
        }
        break;
      }
      case 'type': {
        const allowed = Array.isArray(p.type) ? (p.type as unknown[]) : String(p.type).split(',');
        out.push(`instance type (${jsonType(value)}) does not match any allowed primitive type (allowed: [${quoteList(allowed)}])`);
        break;
      }
      case 'enum':
        out.push(
          `instance value (${JSON.stringify(value)}) not found in enum (possible values: [${quoteList((p.allowedValues as unknown[]) ?? [])}])`,
        );
        break;
      case 'minLength':
        out.push(`string ${JSON.stringify(value)} is too short (length: ${String(value).length}, required minimum: ${String(p.limit)})`);
        break;
      case 'maxLength':
        out.push(`string ${JSON.stringify(value)} is too long (length: ${String(value).length}, maximum allowed: ${String(p.limit)})`);
        break;
      case 'pattern':
        out.push(`ECMA 262 regex ${JSON.stringify(p.pattern)} does not match input string ${JSON.stringify(value)}`);
        break;
      case 'minimum':
        out.push(
          p.comparison === '>'
            ? `numeric instance is not strictly greater than the required minimum ${String(p.limit)}`
            : `numeric instance is lower than the required minimum (minimum: ${String(p.limit)}, found: ${String(value)})`,
        );
        break;
      case 'maximum':
        out.push(
          p.comparison === '<'
            ? `numeric instance is not strictly lower than the required maximum ${String(p.limit)}`
            : `numeric instance is greater than the required maximum (maximum: ${String(p.limit)}, found: ${String(value)})`,
        );
        break;
      case 'minItems':
        out.push(
          `array is too short: must have at least ${String(p.limit)} elements but instance has ${Array.isArray(value) ? value.length : 0} elements`,
        );
        break;
      case 'maxItems':
        out.push(
          `array is too long: must have at most ${String(p.limit)} elements but instance has ${Array.isArray(value) ? value.length : 0} elements`,
        );
        break;
      case 'format':
        out.push(`string ${JSON.stringify(value)} is invalid against requested format ${JSON.stringify(p.format)}`);
        break;
      default:
        out.push(`${e.instancePath || 'instance'} ${e.message ?? 'is invalid'}`);
    }
  }
  return out.map((entry) => {
    const g = grouped.get(entry);
    if (!g) return entry;
    return g.keyword === 'required'
      ? `object has missing required properties ([${quoteList(g.names)}])`
      : `object instance has properties which are not allowed by the schema: [${quoteList(g.names)}]`;
  });
}
