/**
 * Lambda-backed CloudFormation custom resources, run locally as CloudFormation
 * runs them: for each `AWS::CloudFormation::CustomResource` / `Custom::*`
 * whose ServiceToken is a function of the template, in dependency order, the
 * function is invoked with the custom resource request and the result is what
 * it PUTs to the ResponseURL (served by the local AWS endpoint).
 *
 * - State (PhysicalResourceId, last properties, Data) is kept per stack in
 *   `<stateDir>/custom-resources.json`: Create the first time, Update when the
 *   resolved properties changed, nothing when they did not; a resource gone
 *   from the template gets a Delete, and so does the old physical id of an
 *   Update that returned a new one (CloudFormation's cleanup phase).
 * - As in CloudFormation, property values reach the function as strings
 *   (numbers and booleans included).
 * - FAILED, no response, or a timeout throws `CustomResourceError`: the local
 *   runtime must not start half-configured. Resources completed before it stay
 *   recorded (no rollback), so the next start resumes where this one stopped.
 * - `Ref` / `Fn::GetAtt` of a completed custom resource are its
 *   PhysicalResourceId / Data: the result carries them for the template
 *   resolution, and later custom resources in the same run already see them.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { getAttOf, isRecord, refOf } from './cfn.js';
import { readJsonFile, writeJsonFileAtomic } from './aws/json-file.js';
import type { HttpRouteHandler } from './aws/server.js';
import type { TemplateResolver } from './template.js';
import type { CfnResource, CfnTemplate, FunctionInvoker } from './types.js';

export const CUSTOM_RESOURCES_STATE_FILE = 'custom-resources.json';
export const RESPONSE_PATH_PREFIX = '/cloudformation-response/';
/** CloudFormation rejects a response body larger than this. */
const MAX_RESPONSE_BYTES = 4096;

/** Where the ResponseURL is served: the local AWS endpoint satisfies it. */
export interface ResponseUrlHost {
  endpoint: string;
  addRoute(pathPrefix: string, handler: HttpRouteHandler): () => void;
}

export interface RunCustomResourcesOptions {
  template: CfnTemplate;
  resolver: TemplateResolver;
  invoker: FunctionInvoker;
  responseHost: ResponseUrlHost;
  /** Folder of the state file; omit to keep no state (every run Creates). */
  stateDir?: string;
  /** Added to the function's Timeout to wait for the response (cold start + PUT). Default 15 s (Lambda's 10 s init limit + 5 s). */
  responseMarginMs?: number;
  /** Overrides the whole wait for a response (tests). */
  responseTimeoutMs?: number;
  /** How long to wait for a PUT after the function returned without one. Default 1 s. */
  noResponseGraceMs?: number;
  /** Progress lines (`Create Custom::X (LogicalId)...`). */
  onLog?: (line: string) => void;
}

export type CustomResourceAction = 'Create' | 'Update' | 'Delete' | 'Unchanged';

export interface CustomResourceOutcome {
  logicalId: string;
  resourceType: string;
  action: CustomResourceAction;
  physicalResourceId: string;
  /** `Fn::GetAtt [LogicalId, Key]` values. */
  data: Record<string, unknown>;
  noEcho: boolean;
}

export interface CustomResourcesResult {
  /** In the order they ran (Deletes last). */
  outcomes: CustomResourceOutcome[];
  /** For TemplateResolver: Ref → physical id, Fn::GetAtt → Data, per logical id of every custom resource in the template that ran or was unchanged. */
  outputs: Record<string, { physicalResourceId: string; data: Record<string, unknown> }>;
  /** Custom resources not run (ServiceToken not a function of the template, e.g. an SNS topic), and Delete failures. */
  warnings: string[];
}

/** A custom resource answered FAILED, did not answer, or timed out. */
export class CustomResourceError extends Error {
  override readonly name = 'CustomResourceError';
  constructor(
    readonly logicalId: string,
    readonly resourceType: string,
    readonly requestType: 'Create' | 'Update' | 'Delete',
    readonly reason: string,
  ) {
    super(`Custom resource ${logicalId} (${resourceType}) ${requestType} failed: ${reason}`);
  }
}

interface StoredResource {
  resourceType: string;
  /** Logical id of the function that serves it (for a later Delete). */
  functionLogicalId: string;
  physicalResourceId: string;
  /** ResourceProperties as last sent (resolved, stringified, ServiceToken included). */
  properties: Record<string, unknown>;
  data: Record<string, unknown>;
  noEcho: boolean;
}

interface StateFile {
  formatVersion: 1;
  stacks: Record<string, { resources: Record<string, StoredResource> }>;
}

interface CfnResponseBody {
  Status?: unknown;
  Reason?: unknown;
  PhysicalResourceId?: unknown;
  StackId?: unknown;
  RequestId?: unknown;
  LogicalResourceId?: unknown;
  Data?: unknown;
  NoEcho?: unknown;
}

export type CustomResourceRequest = {
  RequestType: 'Create' | 'Update' | 'Delete';
  ServiceToken: string;
  ResponseURL: string;
  StackId: string;
  RequestId: string;
  ResourceType: string;
  LogicalResourceId: string;
  ResourceProperties: Record<string, unknown>;
  PhysicalResourceId?: string;
  OldResourceProperties?: Record<string, unknown>;
};

export function isCustomResourceType(type: string): boolean {
  return type === 'AWS::CloudFormation::CustomResource' || type.startsWith('Custom::');
}

/** CloudFormation hands custom resources every scalar as a string. */
function stringifyScalars(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stringifyScalars);
  if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, stringifyScalars(v)]));
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return value;
}

/** Key-order independent equality of JSON values. */
function sameJson(a: unknown, b: unknown): boolean {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : isRecord(v)
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canonical(v[k])]),
          )
        : v;
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** Logical ids a value refers to: Ref, Fn::GetAtt, and `${X}` / `${X.Attr}` in Fn::Sub. */
function referencedIds(value: unknown, out = new Set<string>()): Set<string> {
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

/**
 * The custom resources in an order that respects dependencies, direct or
 * through other resources (DependsOn and references). Throws on a cycle.
 */
export function customResourceOrder(template: CfnTemplate): string[] {
  const resources = template.Resources;
  const deps = (id: string): string[] => {
    const r = resources[id];
    if (!r) return [];
    const dependsOn = r.DependsOn === undefined ? [] : Array.isArray(r.DependsOn) ? r.DependsOn : [r.DependsOn];
    return [...new Set([...dependsOn, ...referencedIds(r.Properties ?? {})])].filter((d) => d in resources && d !== id);
  };
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, trail: string[]) => {
    const s = state.get(id);
    if (s === 'done') return;
    if (s === 'visiting') throw new Error(`Circular dependency between resources: ${[...trail, id].join(' -> ')}`);
    state.set(id, 'visiting');
    for (const d of deps(id)) visit(d, [...trail, id]);
    state.set(id, 'done');
    if (isCustomResourceType((resources[id] as CfnResource).Type)) order.push(id);
  };
  for (const id of Object.keys(resources)) visit(id, []);
  return order;
}

/**
 * Replaces `Ref` / `Fn::GetAtt` of completed custom resources (physical id /
 * Data) in a raw template value, so TemplateResolver can resolve the rest.
 * Also usable by the runtime until TemplateResolver knows these outputs.
 */
export function substituteCustomResourceOutputs(
  value: unknown,
  outputs: Record<string, { physicalResourceId: string; data: Record<string, unknown> }>,
): unknown {
  const attribute = (id: string, attr: string): unknown => {
    const out = outputs[id] as { data: Record<string, unknown> };
    if (!(attr in out.data)) {
      throw new Error(`CustomResource attribute error: Vendor response doesn't contain ${attr} key in object ${id} Data`);
    }
    return out.data[attr];
  };
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (!isRecord(v)) return v;
    const ref = refOf(v);
    if (ref && Object.keys(v).length === 1 && outputs[ref]) return outputs[ref].physicalResourceId;
    const getAtt = getAttOf(v);
    if (getAtt && Object.keys(v).length === 1 && outputs[getAtt[0]]) return attribute(getAtt[0], getAtt[1]);
    const sub = v['Fn::Sub'];
    if (sub !== undefined && Object.keys(v).length === 1) {
      const [text, vars] =
        typeof sub === 'string' ? [sub, {}] : Array.isArray(sub) ? [sub[0], isRecord(sub[1]) ? sub[1] : {}] : [undefined, {}];
      if (typeof text === 'string') {
        const extra: Record<string, unknown> = {};
        for (const m of text.matchAll(/\$\{([^}!][^}]*)\}/g)) {
          const name = m[1] as string;
          if (name in vars) continue;
          const [id, attr] = name.split('.') as [string, string | undefined];
          if (!outputs[id]) continue;
          extra[name] = attr === undefined ? outputs[id].physicalResourceId : attribute(id, attr);
        }
        const walkedVars = walk(vars) as Record<string, unknown>;
        return { 'Fn::Sub': Object.keys(extra).length || Array.isArray(sub) ? [text, { ...walkedVars, ...extra }] : text };
      }
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
  };
  return walk(value);
}

/** The function (logical id) a ServiceToken invokes, if it is one of the template's. */
function serviceFunction(rawToken: unknown, resolvedToken: unknown, template: CfnTemplate, resolver: TemplateResolver): string | undefined {
  const follow = (id: string, depth = 0): string | undefined => {
    const r = template.Resources[id];
    if (!r || depth > 3) return undefined;
    if (r.Type === 'AWS::Lambda::Function') return id;
    if (r.Type === 'AWS::Lambda::Alias' || r.Type === 'AWS::Lambda::Version') {
      const fn = r.Properties?.FunctionName;
      const target = refOf(fn) ?? getAttOf(fn)?.[0];
      return target ? follow(target, depth + 1) : undefined;
    }
    return undefined;
  };
  const direct = refOf(rawToken) ?? getAttOf(rawToken)?.[0];
  if (direct) return follow(direct);
  if (typeof resolvedToken !== 'string') return undefined;
  const name = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)/.exec(resolvedToken)?.[1];
  if (!name) return undefined;
  return resolver.resourcesOfType('AWS::Lambda::Function').find(([id]) => resolver.nameOf(id) === name)?.[0];
}

function functionTimeoutMs(functionLogicalId: string, template: CfnTemplate, resolver: TemplateResolver): number {
  const raw = template.Resources[functionLogicalId]?.Properties?.Timeout;
  const seconds = Number(raw === undefined ? 3 : resolver.resolve(raw));
  return (Number.isFinite(seconds) && seconds > 0 ? seconds : 3) * 1000;
}

export async function runCustomResources(options: RunCustomResourcesOptions): Promise<CustomResourcesResult> {
  const { template, resolver, invoker, responseHost } = options;
  const stackName = resolver.env.stackName;
  const stackId = String(resolver.resolve({ Ref: 'AWS::StackId' }));
  const stateFile = options.stateDir ? path.join(path.resolve(options.stateDir), CUSTOM_RESOURCES_STATE_FILE) : undefined;
  const state: StateFile = (stateFile && readJsonFile<StateFile>(stateFile)) || { formatVersion: 1, stacks: {} };
  const stored = (state.stacks[stackName] ??= { resources: {} }).resources;
  const save = () => {
    if (stateFile) writeJsonFileAtomic(stateFile, state);
  };
  const log = options.onLog ?? (() => undefined);

  const outcomes: CustomResourceOutcome[] = [];
  const outputs: CustomResourcesResult['outputs'] = {};
  const warnings: string[] = [];
  /** Cleanup-phase Deletes: old physical ids of replaced resources. */
  const cleanup: Array<{ logicalId: string; resource: StoredResource }> = [];

  /** Sends one request and waits for the PUT to the ResponseURL. */
  async function send(
    request: Omit<CustomResourceRequest, 'ResponseURL' | 'RequestId' | 'StackId'>,
    functionLogicalId: string,
  ): Promise<{ physicalResourceId: string; data: Record<string, unknown>; noEcho: boolean }> {
    const requestId = randomUUID();
    const routePath = `${RESPONSE_PATH_PREFIX}${requestId}`;
    const event: CustomResourceRequest = {
      RequestType: request.RequestType,
      ServiceToken: request.ServiceToken,
      ResponseURL: `${responseHost.endpoint}${routePath}`,
      StackId: stackId,
      RequestId: requestId,
      ResourceType: request.ResourceType,
      LogicalResourceId: request.LogicalResourceId,
      ...(request.PhysicalResourceId !== undefined ? { PhysicalResourceId: request.PhysicalResourceId } : {}),
      ResourceProperties: request.ResourceProperties,
      ...(request.OldResourceProperties ? { OldResourceProperties: request.OldResourceProperties } : {}),
    };
    const fail = (reason: string) => new CustomResourceError(request.LogicalResourceId, request.ResourceType, request.RequestType, reason);
    const timeoutMs =
      options.responseTimeoutMs ?? functionTimeoutMs(functionLogicalId, template, resolver) + (options.responseMarginMs ?? 15_000);
    const graceMs = options.noResponseGraceMs ?? 1_000;

    type Outcome = { kind: 'response'; body: Buffer } | { kind: 'no-response'; detail: string } | { kind: 'timeout' };
    const timers: NodeJS.Timeout[] = [];
    let unregister = () => {};
    const outcome = await new Promise<Outcome>((resolve) => {
      let settled = false;
      const settle = (o: Outcome) => {
        if (settled) return;
        settled = true;
        resolve(o);
      };
      // The first PUT wins; S3 answers every PUT to a pre-signed URL with 200.
      unregister = responseHost.addRoute(routePath, ({ method, body }) => {
        if (method !== 'PUT') return { statusCode: 405, body: 'Method Not Allowed' };
        settle({ kind: 'response', body });
        return { statusCode: 200 };
      });
      timers.push(setTimeout(() => settle({ kind: 'timeout' }), timeoutMs));
      // CloudFormation invokes asynchronously and goes on once the response is in; so does this.
      invoker.invoke(functionLogicalId, event).then(
        (result) => {
          if (settled) return;
          const detail = result.ok
            ? 'the function returned without sending a response to the ResponseURL'
            : `the function failed without sending a response: ${result.payload.errorType}: ${result.payload.errorMessage}`;
          // A PUT the handler did not await may still be on its way.
          timers.push(setTimeout(() => settle({ kind: 'no-response', detail }), graceMs));
        },
        (error: unknown) =>
          settle({ kind: 'no-response', detail: `the function could not be invoked: ${(error as Error)?.message ?? String(error)}` }),
      );
    });
    for (const t of timers) clearTimeout(t);
    unregister();

    if (outcome.kind === 'timeout') throw fail(`no response within ${Math.round(timeoutMs / 1000)} s`);
    if (outcome.kind === 'no-response') throw fail(`no response: ${outcome.detail}`);
    if (outcome.body.length > MAX_RESPONSE_BYTES) throw fail('Response object is too long.');
    let body: CfnResponseBody;
    try {
      const parsed: unknown = JSON.parse(outcome.body.toString('utf8'));
      if (!isRecord(parsed)) throw new Error('not an object');
      body = parsed;
    } catch {
      throw fail('Invalid response object: the body is not a JSON object');
    }
    if (body.Status !== 'SUCCESS' && body.Status !== 'FAILED') throw fail(`Invalid response object: Status ${JSON.stringify(body.Status)}`);
    for (const [key, expected] of [
      ['RequestId', requestId],
      ['StackId', stackId],
      ['LogicalResourceId', request.LogicalResourceId],
    ] as const) {
      if (body[key] !== expected)
        throw fail(`Invalid response object: ${key} ${JSON.stringify(body[key])} does not match the request's ${JSON.stringify(expected)}`);
    }
    if (body.Status === 'FAILED') throw fail(typeof body.Reason === 'string' && body.Reason ? body.Reason : 'no reason given');
    const physicalResourceId = body.PhysicalResourceId;
    if (typeof physicalResourceId !== 'string' || !physicalResourceId) throw fail('Invalid PhysicalResourceId');
    if (body.Data !== undefined && body.Data !== null && !isRecord(body.Data))
      throw fail('Invalid response object: Data must be an object');
    return { physicalResourceId, data: isRecord(body.Data) ? body.Data : {}, noEcho: body.NoEcho === true || body.NoEcho === 'true' };
  }

  const inTemplate = new Set<string>();
  for (const logicalId of customResourceOrder(template)) {
    inTemplate.add(logicalId);
    const resource = template.Resources[logicalId] as CfnResource;
    const rawProps = resource.Properties ?? {};
    const resolvedProps = resolver.resolve(substituteCustomResourceOutputs(rawProps, outputs));
    if (!isRecord(resolvedProps)) throw new Error(`Custom resource ${logicalId}: properties did not resolve to an object`);
    const serviceToken = resolvedProps.ServiceToken;
    if (typeof serviceToken !== 'string') throw new Error(`Custom resource ${logicalId} has no ServiceToken`);
    const functionLogicalId = serviceFunction(rawProps.ServiceToken, serviceToken, template, resolver);
    if (!functionLogicalId) {
      warnings.push(
        `Custom resource ${logicalId} (${resource.Type}) not run: its ServiceToken ${serviceToken} is not a Lambda function of the template`,
      );
      continue;
    }
    const notRun = [...referencedIds(rawProps)].filter(
      (id) => template.Resources[id] && isCustomResourceType((template.Resources[id] as CfnResource).Type) && !outputs[id],
    );
    if (notRun.length > 0) {
      warnings.push(`Custom resource ${logicalId} (${resource.Type}) not run: it refers to ${notRun.join(', ')}, which did not run`);
      continue;
    }
    const properties = stringifyScalars(resolvedProps) as Record<string, unknown>;
    const previous = stored[logicalId];
    const base = { ServiceToken: serviceToken, ResourceType: resource.Type, LogicalResourceId: logicalId, ResourceProperties: properties };

    let action: CustomResourceAction;
    let result: { physicalResourceId: string; data: Record<string, unknown>; noEcho: boolean };
    if (previous && previous.resourceType === resource.Type && sameJson(previous.properties, properties)) {
      action = 'Unchanged';
      result = { physicalResourceId: previous.physicalResourceId, data: previous.data, noEcho: previous.noEcho };
    } else if (previous && previous.resourceType === resource.Type) {
      action = 'Update';
      log(`Update ${resource.Type} (${logicalId})`);
      result = await send(
        { ...base, RequestType: 'Update', PhysicalResourceId: previous.physicalResourceId, OldResourceProperties: previous.properties },
        functionLogicalId,
      );
      // A new physical id means replacement: the old one is deleted in the cleanup phase.
      if (result.physicalResourceId !== previous.physicalResourceId) cleanup.push({ logicalId, resource: previous });
    } else {
      // A changed resource type is a replacement too.
      if (previous) cleanup.push({ logicalId, resource: previous });
      action = 'Create';
      log(`Create ${resource.Type} (${logicalId})`);
      result = await send({ ...base, RequestType: 'Create' }, functionLogicalId);
    }
    if (action !== 'Unchanged') {
      stored[logicalId] = { resourceType: resource.Type, functionLogicalId, properties, ...result };
      save();
    }
    outputs[logicalId] = { physicalResourceId: result.physicalResourceId, data: result.data };
    outcomes.push({ logicalId, resourceType: resource.Type, action, ...result });
  }

  // Cleanup phase: replaced physical ids, then resources gone from the template.
  // As in CloudFormation, a failed Delete here does not fail the deployment.
  const removed = Object.keys(stored)
    .filter((id) => !inTemplate.has(id))
    .map((logicalId) => ({ logicalId, resource: stored[logicalId] as StoredResource, removed: true }));
  for (const { logicalId, resource, removed: isRemoved } of [...cleanup.map((c) => ({ ...c, removed: false })), ...removed.reverse()]) {
    const fn = template.Resources[resource.functionLogicalId];
    if (fn?.Type === 'AWS::Lambda::Function') {
      log(`Delete ${resource.resourceType} (${logicalId}, ${resource.physicalResourceId})`);
      try {
        await send(
          {
            RequestType: 'Delete',
            ServiceToken: String(resource.properties.ServiceToken ?? resolver.arnOf(resource.functionLogicalId)),
            ResourceType: resource.resourceType,
            LogicalResourceId: logicalId,
            PhysicalResourceId: resource.physicalResourceId,
            ResourceProperties: resource.properties,
          },
          resource.functionLogicalId,
        );
        outcomes.push({
          logicalId,
          resourceType: resource.resourceType,
          action: 'Delete',
          physicalResourceId: resource.physicalResourceId,
          data: {},
          noEcho: false,
        });
      } catch (error) {
        warnings.push((error as Error).message);
      }
    } else {
      warnings.push(
        `Custom resource ${logicalId} (${resource.resourceType}) not deleted: its function ${resource.functionLogicalId} is gone from the template`,
      );
    }
    if (isRemoved) {
      delete stored[logicalId];
      save();
    }
  }
  return { outcomes, outputs, warnings };
}
