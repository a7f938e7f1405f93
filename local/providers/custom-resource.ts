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
import { getAttOf, isRecord, refOf } from '../cfn.js';
import { readJsonFile, writeJsonFileAtomic } from '../aws/json-file.js';
import type { HttpRouteHandler } from '../aws/endpoint.js';
import { creationOrder, referencedIds } from '../template/graph.js';
import type { ResourceValues, TemplateResolver } from '../template/resolver.js';
import type { CfnResource, CfnTemplate, FunctionInvoker } from '../types.js';
import { CUSTOM_RESOURCE, isCustomResourceType, type ProviderContext, type ResourceProvider } from './provider.js';

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

/** The custom resources in creation order (dependencies first, direct or through other resources). Throws on a cycle. */
export function customResourceOrder(template: CfnTemplate): string[] {
  return creationOrder(template).filter((id) => isCustomResourceType((template.Resources[id] as CfnResource).Type));
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
  return resolver.resourcesOfType('AWS::Lambda::Function').find(([id]) => resolver.valuesOf(id)?.ref === name)?.[0];
}

function functionTimeoutMs(functionLogicalId: string, template: CfnTemplate, resolver: TemplateResolver): number {
  const raw = template.Resources[functionLogicalId]?.Properties?.Timeout;
  const seconds = Number(raw === undefined ? 3 : resolver.resolve(raw));
  return (Number.isFinite(seconds) && seconds > 0 ? seconds : 3) * 1000;
}

export interface CustomResourceRunner {
  /** Sends Create or Update (or nothing, when unchanged) for one custom resource; undefined when it was not run (see warnings). */
  create(logicalId: string): Promise<ResourceValues | undefined>;
  /** CloudFormation's cleanup phase: Deletes for replaced physical ids and for resources gone from the template. */
  finish(): Promise<void>;
  result(): CustomResourcesResult;
}

/** Runs custom resources one at a time, in the order the caller (the template walk) reaches them. */
export function customResourceRunner(options: RunCustomResourcesOptions): CustomResourceRunner {
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
  async function create(logicalId: string): Promise<ResourceValues | undefined> {
    inTemplate.add(logicalId);
    const resource = template.Resources[logicalId] as CfnResource;
    const rawProps = resource.Properties ?? {};
    const resolvedProps = resolver.resolve(rawProps);
    if (!isRecord(resolvedProps)) throw new Error(`Custom resource ${logicalId}: properties did not resolve to an object`);
    const serviceToken = resolvedProps.ServiceToken;
    if (typeof serviceToken !== 'string') throw new Error(`Custom resource ${logicalId} has no ServiceToken`);
    const functionLogicalId = serviceFunction(rawProps.ServiceToken, serviceToken, template, resolver);
    if (!functionLogicalId) {
      warnings.push(
        `Custom resource ${logicalId} (${resource.Type}) not run: its ServiceToken ${serviceToken} is not a Lambda function of the template`,
      );
      return undefined;
    }
    const notRun = [...referencedIds(rawProps)].filter(
      (id) => template.Resources[id] && isCustomResourceType((template.Resources[id] as CfnResource).Type) && !outputs[id],
    );
    if (notRun.length > 0) {
      warnings.push(`Custom resource ${logicalId} (${resource.Type}) not run: it refers to ${notRun.join(', ')}, which did not run`);
      return undefined;
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
    return { ref: result.physicalResourceId, attributes: result.data };
  }

  async function finish(): Promise<void> {
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
              ServiceToken: String(resource.properties.ServiceToken ?? resolver.valuesOf(resource.functionLogicalId)?.attributes.Arn ?? ''),
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
  }

  return { create, finish, result: () => ({ outcomes, outputs, warnings }) };
}

/** Runs every custom resource of a template (resources they reference must already be resolvable). */
export async function runCustomResources(options: RunCustomResourcesOptions): Promise<CustomResourcesResult> {
  const runner = customResourceRunner(options);
  for (const logicalId of customResourceOrder(options.template)) {
    const values = await runner.create(logicalId);
    if (values) options.resolver.setValues(logicalId, values);
    else options.resolver.markUnsupported(logicalId);
  }
  await runner.finish();
  return runner.result();
}

/**
 * The provider of `AWS::CloudFormation::CustomResource` and `Custom::*`: the
 * function behind the ServiceToken is invoked as CloudFormation invokes it,
 * and the ResponseURL is served by the local AWS endpoint.
 */
export function customResourceProvider(): ResourceProvider {
  let runner: CustomResourceRunner | undefined;
  const runnerFor = (context: ProviderContext) =>
    (runner ??= customResourceRunner({
      template: context.resolver.template,
      resolver: context.resolver,
      invoker: context.services.lambda,
      responseHost: context.services.endpoint,
      onLog: context.log,
      ...(context.dataDir ? { stateDir: context.dataDir } : {}),
    }));
  return {
    types: [CUSTOM_RESOURCE],
    async create(logicalId: string, resource: CfnResource, context: ProviderContext) {
      // undefined when not run (its ServiceToken is not a function of the template): references to it resolve to nothing.
      return runnerFor(context).create(logicalId);
    },
    async finish(context: ProviderContext) {
      const active = runnerFor(context);
      await active.finish();
      for (const warning of active.result().warnings) context.warn(warning);
    },
  };
}
