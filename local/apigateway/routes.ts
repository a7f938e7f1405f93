/**
 * The REST API as the emulator sees it: the resource tree, methods,
 * integrations, validators, models, gateway responses and stage, read from the
 * synthesized template, plus route matching.
 *
 * Matching follows API Gateway REST (v1): the request path is walked segment by
 * segment from the root; at each level a literal child (`/receivers`) is tried
 * before a path-variable child (`/{id}`), which is tried before a greedy child
 * (`/{proxy+}`, one or more remaining segments). A deeper mismatch backtracks to
 * the next candidate. Once a resource is found the method is looked up on that
 * resource only (exact verb, then ANY); a resource without the verb is not a
 * fallback to a sibling `{proxy+}`: API Gateway answers 403 there too.
 */
import type { CfnTemplate } from '../types.js';
import { getAttOf, isRecord, references, refOf, resourcesOfType, stableId, stringProp, lambdaTargetFromUri } from '../cfn.js';

export interface MockIntegrationResponse {
  statusCode: string;
  selectionPattern?: string;
  /** `method.response.header.X` → `'literal'` (or a `method.request.*` reference). */
  responseParameters: Record<string, string>;
  responseTemplates: Record<string, string>;
}

export type IntegrationDef =
  | { type: 'AWS_PROXY'; functionRef: string }
  | { type: 'MOCK'; requestTemplates: Record<string, string>; integrationResponses: MockIntegrationResponse[] }
  | { type: 'UNSUPPORTED'; integrationType: string; reason: string };

export interface RequestValidatorDef {
  logicalId: string;
  validateRequestBody: boolean;
  validateRequestParameters: boolean;
}

export interface MethodDef {
  logicalId: string;
  httpMethod: string;
  /** NONE | AWS_IAM | CUSTOM | COGNITO_USER_POOLS */
  authorizationType: string;
  /** Logical id of the `AWS::ApiGateway::Authorizer` (CUSTOM methods). */
  authorizerLogicalId?: string;
  apiKeyRequired: boolean;
  integration: IntegrationDef;
  /** `method.request.querystring.x` / `method.request.header.x` / `method.request.path.x` → required. */
  requestParameters: Record<string, boolean>;
  /** Content type → model logical id. */
  requestModels: Record<string, string>;
  validator?: RequestValidatorDef;
}

export interface ResourceNode {
  /** null for the root resource. */
  logicalId: string | null;
  /** Stand-in for the AWS resource id (`requestContext.resourceId`). */
  resourceId: string;
  pathPart: string;
  /** Template path, e.g. `/api/v1/receivers/{id}` (`event.resource`). */
  path: string;
  kind: 'root' | 'literal' | 'param' | 'greedy';
  paramName?: string;
  children: ResourceNode[];
  methods: Map<string, MethodDef>;
}

export interface ModelDef {
  logicalId: string;
  name?: string;
  contentType?: string;
  schema: unknown;
}

export interface GatewayResponseDef {
  responseType: string;
  statusCode?: number;
  /** `gatewayresponse.header.X` → `'literal'` or a `method.request.*` reference. */
  responseParameters: Record<string, string>;
  responseTemplates: Record<string, string>;
}

export interface ApiDefinition {
  logicalId: string;
  apiId: string;
  /** Stand-in for the id of the deployment behind the stage (`requestContext.deploymentId`). */
  deploymentId: string;
  name?: string;
  stageName: string;
  stageVariables: Record<string, string> | null;
  /** Present when the stage has `AccessLogSetting.Format`. */
  accessLogFormat?: string;
  /** `BinaryMediaTypes` of the RestApi (empty when not declared). */
  binaryMediaTypes: string[];
  root: ResourceNode;
  models: Map<string, ModelDef>;
  gatewayResponses: Map<string, GatewayResponseDef>;
  /** Things in the template the emulator skipped, for the host to print. */
  warnings: string[];
}

export interface RestApiSummary {
  logicalId: string;
  stageName: string;
  apiId: string;
}

const DEFAULT_STAGE = 'prod';

export function listRestApis(template: CfnTemplate): RestApiSummary[] {
  return resourcesOfType(template, 'AWS::ApiGateway::RestApi').map(([logicalId]) => ({
    logicalId,
    stageName: findStage(template, logicalId).stageName,
    apiId: stableId(`restapi:${logicalId}`, 10),
  }));
}

interface StageInfo {
  stageName: string;
  variables: Record<string, string> | null;
  accessLogFormat?: string;
}

/** The stage: an `AWS::ApiGateway::Stage` of this API, else a Deployment's `StageName`. */
function findStage(template: CfnTemplate, apiId: string): StageInfo {
  for (const [, stage] of resourcesOfType(template, 'AWS::ApiGateway::Stage')) {
    const p = stage.Properties ?? {};
    if (!references(p.RestApiId, apiId)) continue;
    const vars = isRecord(p.Variables) ? stringRecord(p.Variables) : {};
    const log = isRecord(p.AccessLogSetting) ? stringProp(p.AccessLogSetting, 'Format') : undefined;
    return {
      stageName: stringProp(p, 'StageName') ?? DEFAULT_STAGE,
      variables: Object.keys(vars).length > 0 ? vars : null,
      ...(log ? { accessLogFormat: log } : {}),
    };
  }
  for (const [, dep] of resourcesOfType(template, 'AWS::ApiGateway::Deployment')) {
    const p = dep.Properties ?? {};
    if (references(p.RestApiId, apiId) && typeof p.StageName === 'string') {
      return { stageName: p.StageName, variables: null };
    }
  }
  return { stageName: DEFAULT_STAGE, variables: null };
}

function stringRecord(value: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  return out;
}

function booleanRecord(value: unknown): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  if (isRecord(value)) for (const [k, v] of Object.entries(value)) out[k] = v === true || v === 'true';
  return out;
}

export function buildApiDefinition(template: CfnTemplate, restApiLogicalId: string): ApiDefinition {
  const apiRes = template.Resources[restApiLogicalId];
  if (!apiRes || apiRes.Type !== 'AWS::ApiGateway::RestApi') {
    throw new Error(`${restApiLogicalId} is not an AWS::ApiGateway::RestApi in the template`);
  }
  const warnings: string[] = [];
  const apiProps = apiRes.Properties ?? {};
  if (apiProps.Body !== undefined || apiProps.BodyS3Location !== undefined) {
    warnings.push(`${restApiLogicalId}: OpenAPI Body/BodyS3Location definitions are not read; only Resource/Method resources are served`);
  }
  const belongs = (props: Record<string, unknown> | undefined): boolean => references(props?.RestApiId, restApiLogicalId);
  const stage = findStage(template, restApiLogicalId);
  const apiId = stableId(`restapi:${restApiLogicalId}`, 10);

  const root: ResourceNode = {
    logicalId: null,
    resourceId: stableId(`root:${restApiLogicalId}`, 10),
    pathPart: '',
    path: '/',
    kind: 'root',
    children: [],
    methods: new Map(),
  };

  // Resources: create the nodes, then link each to its parent (order-independent).
  const nodes = new Map<string, ResourceNode>();
  const parentOf = new Map<string, unknown>();
  for (const [id, res] of resourcesOfType(template, 'AWS::ApiGateway::Resource')) {
    if (!belongs(res.Properties)) continue;
    const pathPart = stringProp(res.Properties, 'PathPart') ?? '';
    const greedy = /^\{(.+)\+\}$/.exec(pathPart);
    const param = /^\{(.+)\}$/.exec(pathPart);
    nodes.set(id, {
      logicalId: id,
      resourceId: stableId(`resource:${id}`, 6),
      pathPart,
      path: '',
      kind: greedy ? 'greedy' : param ? 'param' : 'literal',
      ...(greedy?.[1] ? { paramName: greedy[1] } : param?.[1] ? { paramName: param[1] } : {}),
      children: [],
      methods: new Map(),
    });
    parentOf.set(id, res.Properties?.ParentId);
  }
  const resolveResource = (ref: unknown): ResourceNode | undefined => {
    const ga = getAttOf(ref);
    if (ga && ga[0] === restApiLogicalId && ga[1] === 'RootResourceId') return root;
    const id = refOf(ref);
    return id ? nodes.get(id) : undefined;
  };
  for (const [id, node] of nodes) {
    const parent = resolveResource(parentOf.get(id));
    if (!parent) {
      warnings.push(`${id}: parent resource not found; skipped`);
      continue;
    }
    parent.children.push(node);
  }
  const assignPaths = (node: ResourceNode, prefix: string): void => {
    for (const child of node.children) {
      child.path = `${prefix === '/' ? '' : prefix}/${child.pathPart}`;
      assignPaths(child, child.path);
    }
    // Candidate order for matching: literal, then {param}, then {greedy+}.
    const rank = { root: 0, literal: 0, param: 1, greedy: 2 } as const;
    node.children.sort((a, b) => rank[a.kind] - rank[b.kind]);
  };
  assignPaths(root, '/');

  // Validators and models.
  const validators = new Map<string, RequestValidatorDef>();
  for (const [id, res] of resourcesOfType(template, 'AWS::ApiGateway::RequestValidator')) {
    if (!belongs(res.Properties)) continue;
    validators.set(id, {
      logicalId: id,
      validateRequestBody: res.Properties?.ValidateRequestBody === true,
      validateRequestParameters: res.Properties?.ValidateRequestParameters === true,
    });
  }
  const models = new Map<string, ModelDef>();
  for (const [id, res] of resourcesOfType(template, 'AWS::ApiGateway::Model')) {
    if (!belongs(res.Properties)) continue;
    const p = res.Properties ?? {};
    const name = stringProp(p, 'Name');
    const contentType = stringProp(p, 'ContentType');
    models.set(id, {
      logicalId: id,
      ...(name ? { name } : {}),
      ...(contentType ? { contentType } : {}),
      schema: typeof p.Schema === 'string' ? safeJson(p.Schema) : p.Schema,
    });
  }

  // Methods.
  for (const [id, res] of resourcesOfType(template, 'AWS::ApiGateway::Method')) {
    const p = res.Properties ?? {};
    if (!belongs(p)) continue;
    const node = resolveResource(p.ResourceId);
    if (!node) {
      warnings.push(`${id}: resource not found; skipped`);
      continue;
    }
    const httpMethod = (stringProp(p, 'HttpMethod') ?? 'ANY').toUpperCase();
    const integration = readIntegration(id, p.Integration, template);
    if (integration.type === 'UNSUPPORTED') warnings.push(`${id}: ${integration.reason}`);
    const requestModels: Record<string, string> = {};
    if (isRecord(p.RequestModels)) {
      for (const [ct, ref] of Object.entries(p.RequestModels)) {
        // A model is referenced by Ref (its name) in CFN; a plain string is a model name.
        const modelId = refOf(ref) ?? (typeof ref === 'string' ? findModelByName(models, ref) : undefined);
        if (modelId) requestModels[ct.toLowerCase()] = modelId;
      }
    }
    const validatorId = refOf(p.RequestValidatorId);
    const validator = validatorId ? validators.get(validatorId) : undefined;
    const authorizerLogicalId = refOf(p.AuthorizerId);
    const authorizationType = (stringProp(p, 'AuthorizationType') ?? 'NONE').toUpperCase();
    // CUSTOM is the Lambda authorizer step (authorizer.ts); IAM and Cognito are not emulated.
    if (authorizationType !== 'NONE' && authorizationType !== 'CUSTOM') {
      warnings.push(`${id}: AuthorizationType ${authorizationType} is not enforced locally (requests pass with authorizer null)`);
    }
    if (p.ApiKeyRequired === true) warnings.push(`${id}: ApiKeyRequired is not enforced locally`);
    node.methods.set(httpMethod, {
      logicalId: id,
      httpMethod,
      authorizationType,
      ...(authorizerLogicalId ? { authorizerLogicalId } : {}),
      apiKeyRequired: p.ApiKeyRequired === true,
      integration,
      requestParameters: booleanRecord(p.RequestParameters),
      requestModels,
      ...(validator ? { validator } : {}),
    });
  }

  // Gateway responses.
  const gatewayResponses = new Map<string, GatewayResponseDef>();
  for (const [, res] of resourcesOfType(template, 'AWS::ApiGateway::GatewayResponse')) {
    const p = res.Properties ?? {};
    if (!belongs(p)) continue;
    const type = stringProp(p, 'ResponseType');
    if (!type) continue;
    const status = Number(p.StatusCode);
    gatewayResponses.set(type, {
      responseType: type,
      ...(Number.isInteger(status) && status > 0 ? { statusCode: status } : {}),
      responseParameters: isRecord(p.ResponseParameters) ? stringRecord(p.ResponseParameters) : {},
      responseTemplates: isRecord(p.ResponseTemplates) ? stringRecord(p.ResponseTemplates) : {},
    });
  }

  const binaryMediaTypes = Array.isArray(apiProps.BinaryMediaTypes)
    ? apiProps.BinaryMediaTypes.filter((t): t is string => typeof t === 'string').map((t) => t.replace(/~1/g, '/'))
    : [];
  const name = stringProp(apiProps, 'Name');
  return {
    logicalId: restApiLogicalId,
    apiId,
    deploymentId: stableId(`deployment:${restApiLogicalId}`, 6),
    ...(name ? { name } : {}),
    stageName: stage.stageName,
    stageVariables: stage.variables,
    ...(stage.accessLogFormat ? { accessLogFormat: stage.accessLogFormat } : {}),
    binaryMediaTypes,
    root,
    models,
    gatewayResponses,
    warnings,
  };
}

function findModelByName(models: Map<string, ModelDef>, name: string): string | undefined {
  for (const m of models.values()) if (m.name === name) return m.logicalId;
  return undefined;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function readIntegration(methodId: string, value: unknown, template: CfnTemplate): IntegrationDef {
  if (!isRecord(value)) return { type: 'UNSUPPORTED', integrationType: 'NONE', reason: 'method has no Integration' };
  const type = String(value.Type ?? '').toUpperCase();
  if (type === 'AWS_PROXY') {
    const functionRef = lambdaTargetFromUri(value.Uri, template);
    if (!functionRef) {
      return {
        type: 'UNSUPPORTED',
        integrationType: type,
        reason: `AWS_PROXY integration of ${methodId} does not point at a Lambda function this emulator can find`,
      };
    }
    return { type: 'AWS_PROXY', functionRef };
  }
  if (type === 'MOCK') {
    const integrationResponses: MockIntegrationResponse[] = [];
    if (Array.isArray(value.IntegrationResponses)) {
      for (const r of value.IntegrationResponses as unknown[]) {
        if (!isRecord(r)) continue;
        const selectionPattern = stringProp(r, 'SelectionPattern');
        integrationResponses.push({
          statusCode: String(r.StatusCode ?? '200'),
          ...(selectionPattern !== undefined ? { selectionPattern } : {}),
          responseParameters: isRecord(r.ResponseParameters) ? stringRecord(r.ResponseParameters) : {},
          responseTemplates: isRecord(r.ResponseTemplates) ? stringRecord(r.ResponseTemplates) : {},
        });
      }
    }
    return {
      type: 'MOCK',
      requestTemplates: isRecord(value.RequestTemplates) ? stringRecord(value.RequestTemplates) : {},
      integrationResponses,
    };
  }
  return {
    type: 'UNSUPPORTED',
    integrationType: type,
    reason: `integration type ${type || '(none)'} is not emulated locally (AWS_PROXY and MOCK are)`,
  };
}

export interface RouteMatch {
  resource: ResourceNode;
  /** Decoded path variables; null when the resource has none (as in the proxy event). */
  pathParameters: Record<string, string> | null;
  /** Undefined when the resource exists but has neither the verb nor ANY. */
  method: MethodDef | undefined;
}

/** The HTTP methods a REST API method can have (besides ANY, which stands for all of them). */
const API_GATEWAY_VERBS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * Match a raw (still percent-encoded, query-less) request path. Empty segments
 * are ignored, so a trailing slash or a doubled slash still matches.
 */
export function matchRoute(api: ApiDefinition, httpMethod: string, rawPath: string): RouteMatch | undefined {
  const verb = httpMethod.toUpperCase();
  // Most requests name a literal-only resource exactly as the tree spells it (no empty segment, no trailing
  // slash, nothing percent-encoded): the walk below would find that very resource first, since literal
  // children are tried first at every level, so look it up directly.
  if (!rawPath.includes('%') && !rawPath.includes('//') && (rawPath.length === 1 || !rawPath.endsWith('/'))) {
    const node = literalResources(api).get(rawPath);
    if (node) return { resource: node, pathParameters: null, method: methodFor(node, verb) };
  }
  const segments = rawPath.split('/').filter((s) => s.length > 0);
  const found = walk(api.root, segments, 0, {});
  if (!found) return undefined;
  return {
    resource: found.node,
    pathParameters: Object.keys(found.params).length > 0 ? found.params : null,
    method: methodFor(found.node, verb),
  };
}

function methodFor(node: ResourceNode, verb: string): MethodDef | undefined {
  // ANY stands for API Gateway's seven verbs only; another verb (PROPFIND, TRACE...) has no method anywhere.
  return node.methods.get(verb) ?? (API_GATEWAY_VERBS.has(verb) ? node.methods.get('ANY') : undefined);
}

/** The resources whose path has literal parts only, by path, computed once per API definition. */
const literalIndex = new WeakMap<ApiDefinition, Map<string, ResourceNode>>();

function literalResources(api: ApiDefinition): Map<string, ResourceNode> {
  let index = literalIndex.get(api);
  if (!index) {
    const found = new Map<string, ResourceNode>();
    const visit = (node: ResourceNode): void => {
      found.set(node.path, node);
      for (const child of node.children) if (child.kind === 'literal') visit(child);
    };
    visit(api.root);
    literalIndex.set(api, found);
    index = found;
  }
  return index;
}

function walk(
  node: ResourceNode,
  segments: string[],
  index: number,
  params: Record<string, string>,
): { node: ResourceNode; params: Record<string, string> } | undefined {
  if (index === segments.length) return { node, params };
  const raw = segments[index] as string;
  const decoded = safeDecode(raw);
  for (const child of node.children) {
    if (child.kind === 'literal') {
      if (child.pathPart !== decoded && child.pathPart !== raw) continue;
      const hit = walk(child, segments, index + 1, params);
      if (hit) return hit;
    } else if (child.kind === 'param') {
      const hit = walk(child, segments, index + 1, { ...params, [child.paramName as string]: decoded });
      if (hit) return hit;
    } else if (child.kind === 'greedy') {
      return { node: child, params: { ...params, [child.paramName as string]: safeDecode(segments.slice(index).join('/')) } };
    }
  }
  return undefined;
}
