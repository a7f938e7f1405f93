/**
 * The order CloudFormation creates a template's resources in: every resource
 * after the ones it references (`Ref`, `Fn::GetAtt`, `${X}` in `Fn::Sub`) or
 * names in `DependsOn`.
 */
import { getAttOf, isRecord, refOf } from '../cfn.js';
import type { CfnResource, CfnTemplate } from '../types.js';

/** Logical ids a value refers to: Ref, Fn::GetAtt, and `${X}` / `${X.Attr}` in Fn::Sub. */
export function referencedIds(value: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    for (const v of value) referencedIds(v, out);
    return out;
  }
  if (!isRecord(value)) return out;
  const ref = refOf(value);
  if (ref) out.add(ref);
  const getAtt = getAttOf(value);
  if (getAtt) out.add(getAtt[0]);
  const sub = value['Fn::Sub'];
  const subText = typeof sub === 'string' ? sub : Array.isArray(sub) && typeof sub[0] === 'string' ? sub[0] : undefined;
  if (subText) {
    const vars = Array.isArray(sub) && isRecord(sub[1]) ? sub[1] : {};
    for (const m of subText.matchAll(/\$\{([^}!][^}]*)\}/g)) {
      const name = (m[1] as string).split('.')[0] as string;
      if (!(name in vars)) out.add(name);
    }
  }
  for (const v of Object.values(value)) referencedIds(v, out);
  return out;
}

/** The resources `logicalId` needs created before it (only resources of the template; parameters and pseudo parameters are not). */
export function dependenciesOf(template: CfnTemplate, logicalId: string): string[] {
  const resource = template.Resources[logicalId];
  if (!resource) return [];
  const dependsOn = resource.DependsOn === undefined ? [] : Array.isArray(resource.DependsOn) ? resource.DependsOn : [resource.DependsOn];
  const referenced = referencedIds(resource.Properties ?? {});
  return [...new Set([...dependsOn, ...referenced])].filter((id) => id !== logicalId && id in template.Resources);
}

/** Every resource in an order that respects dependencies (template order among independent ones). Throws on a cycle. */
export function creationOrder(template: CfnTemplate): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, trail: string[]) => {
    const s = state.get(id);
    if (s === 'done') return;
    if (s === 'visiting') throw new Error(`Circular dependency between resources: ${[...trail, id].join(' -> ')}`);
    state.set(id, 'visiting');
    for (const d of dependenciesOf(template, id)) visit(d, [...trail, id]);
    state.set(id, 'done');
    order.push(id);
  };
  for (const id of Object.keys(template.Resources)) visit(id, []);
  return order;
}

/** The resources of `types` in creation order. */
export function creationOrderOf(template: CfnTemplate, accept: (resource: CfnResource) => boolean): string[] {
  return creationOrder(template).filter((id) => accept(template.Resources[id] as CfnResource));
}
