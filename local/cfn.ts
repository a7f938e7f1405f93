/**
 * Reading the few CloudFormation intrinsic shapes the local runtime meets in a
 * synthesized (unresolved) template: following references between resources
 * (the API Gateway emulator's links) without evaluating them. Evaluation to
 * local names is local/template.ts.
 */
import { createHash } from 'node:crypto';
import type { CfnResource, CfnTemplate } from './types.js';

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `{"Ref": "X"}` → `X`. */
export function refOf(value: unknown): string | undefined {
  if (isRecord(value) && typeof value.Ref === 'string') return value.Ref;
  return undefined;
}

/** `{"Fn::GetAtt": ["X", "Attr"]}` or `{"Fn::GetAtt": "X.Attr"}` → `["X", "Attr"]`. */
export function getAttOf(value: unknown): [string, string] | undefined {
  if (!isRecord(value)) return undefined;
  const arg = value['Fn::GetAtt'];
  if (Array.isArray(arg) && typeof arg[0] === 'string' && typeof arg[1] === 'string') return [arg[0], arg[1]];
  if (typeof arg === 'string') {
    const dot = arg.indexOf('.');
    if (dot > 0) return [arg.slice(0, dot), arg.slice(dot + 1)];
  }
  return undefined;
}

export function stringProp(props: Record<string, unknown> | undefined, key: string): string | undefined {
  const v = props?.[key];
  return typeof v === 'string' ? v : undefined;
}

/** The resources of one type, in template order (the order is meaningful: "first RestApi"). */
export function resourcesOfType(template: CfnTemplate, type: string): Array<[string, CfnResource]> {
  return Object.entries(template.Resources ?? {}).filter(([, r]) => r.Type === type);
}

/** Does `value` reference `logicalId` (by Ref, or by GetAtt when `attr` is given)? */
export function references(value: unknown, logicalId: string, attr?: string): boolean {
  if (refOf(value) === logicalId) return attr === undefined;
  const ga = getAttOf(value);
  return ga !== undefined && ga[0] === logicalId && (attr === undefined || ga[1] === attr);
}

/**
 * A stable, lower-case alphanumeric id derived from a seed, standing in for the
 * random ids AWS assigns (10 chars for REST API ids, 6 for resource ids), so that
 * ids are the same on every start and in every test.
 */
export function stableId(seed: string, length: number): string {
  const digest = createHash('sha256').update(seed).digest();
  let out = '';
  for (const byte of digest) {
    out += (byte % 36).toString(36);
    if (out.length === length) break;
  }
  return out;
}

const LAMBDA_TYPES = new Set(['AWS::Lambda::Function', 'AWS::Lambda::Alias', 'AWS::Lambda::Version']);

/**
 * Which function a Lambda integration Uri invokes. CDK emits
 * `Fn::Join ["", ["arn:", Ref Partition, ":apigateway:", Ref Region,
 * ":lambda:path/2015-03-31/functions/", GetAtt [Fn, Arn], "/invocations"]]`;
 * handwritten templates use `Fn::Sub` with `${Fn.Arn}`, and a template already
 * resolved to strings carries a plain ARN (`...:function:NAME[:qualifier]/invocations`).
 * Aliases and versions are followed to their function. Returns a logical id,
 * or a physical function name for resolved ARNs (the invoker takes both).
 */
export function lambdaTargetFromUri(uri: unknown, template: CfnTemplate): string | undefined {
  const fromLogical = (id: string): string | undefined => followToFunction(id, template);
  if (typeof uri === 'string') {
    const m = /:function:([^/:]+)(?::[^/]+)?\/invocations$/.exec(uri);
    return m?.[1];
  }
  if (!isRecord(uri)) return undefined;
  const join = uri['Fn::Join'];
  if (Array.isArray(join) && Array.isArray(join[1])) {
    for (const part of join[1] as unknown[]) {
      const ga = getAttOf(part);
      if (ga && ga[1] === 'Arn') {
        const hit = fromLogical(ga[0]);
        if (hit) return hit;
      }
      const ref = refOf(part);
      if (ref) {
        const hit = fromLogical(ref);
        if (hit) return hit;
      }
      if (typeof part === 'string') {
        const m = /:function:([^/:]+)/.exec(part);
        if (m?.[1]) return m[1];
      }
    }
    return undefined;
  }
  const sub = uri['Fn::Sub'];
  const subText = typeof sub === 'string' ? sub : Array.isArray(sub) && typeof sub[0] === 'string' ? sub[0] : undefined;
  if (subText) {
    for (const m of subText.matchAll(/\$\{([A-Za-z0-9]+)(?:\.Arn)?\}/g)) {
      const hit = m[1] ? fromLogical(m[1]) : undefined;
      if (hit) return hit;
    }
  }
  return undefined;
}

/** Function logical id for a Function / Alias / Version logical id (aliases point at their function). */
function followToFunction(logicalId: string, template: CfnTemplate, depth = 0): string | undefined {
  const res = template.Resources?.[logicalId];
  if (!res || !LAMBDA_TYPES.has(res.Type) || depth > 3) return undefined;
  if (res.Type === 'AWS::Lambda::Function') return logicalId;
  const fn = res.Properties?.FunctionName;
  if (typeof fn === 'string') return fn;
  const target = refOf(fn) ?? getAttOf(fn)?.[0];
  return target ? followToFunction(target, template, depth + 1) : undefined;
}
