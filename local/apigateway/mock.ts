/**
 * MOCK integrations, as CDK generates them for CORS preflight
 * (`defaultCorsPreflightOptions` / `addCorsPreflight`).
 *
 * API Gateway picks the integration response whose SelectionPattern matches the
 * `statusCode` of the request template (`{ statusCode: 200 }`), else the default
 * one (no SelectionPattern); headers come from its ResponseParameters
 * (`method.response.header.X: "'value'"`), the body from its ResponseTemplate.
 *
 * Response templates are VTL, which is not evaluated in general. The one VTL
 * template CDK emits is recognised: with several `allowOrigins`, aws-cdk-lib
 * (checked against 2.276.0, `ResourceBase.addCorsPreflight` →
 * `renderResponseTemplate` in aws-apigateway/lib/resource.js) puts the first
 * origin in the static Access-Control-Allow-Origin header and renders
 *
 *   #set($origin = $input.params().header.get("Origin"))
 *   #if($origin == "")
 *     #set($origin = $input.params().header.get("origin"))
 *   #end
 *   #if($origin == "https://b.example" || $origin == "https://c.example")
 *     #set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)
 *   #end
 *
 * i.e. the request's Origin replaces the header when it is one of the other
 * origins. The `$origin == "..."` literals are parsed out of the template and
 * that override applied; everything else in a template containing VTL
 * directives renders as an empty body (what this template renders to).
 */
import type { HttpResponse } from './gateway-responses.js';
import { setHeader } from './gateway-responses.js';
import type { RequestState } from './request.js';
import { contextVariables, headerValue, resolveMappingExpression, substituteVariables } from './request.js';
import type { MockIntegrationResponse } from './routes.js';

interface OriginOverride {
  /** Header the template overrides (`Access-Control-Allow-Origin`). */
  header: string;
  origins: string[];
}

/** Recognise CDK's multi-origin CORS template; undefined for anything else. */
export function parseCorsOriginTemplate(template: string): OriginOverride | undefined {
  if (!/\$input\.params\(\)\.header\.get\("Origin"\)/.test(template)) return undefined;
  const override = /#set\(\$context\.responseOverride\.header\.([A-Za-z0-9-]+)\s*=\s*\$origin\)/.exec(template);
  if (!override?.[1]) return undefined;
  const origins: string[] = [];
  for (const cond of template.matchAll(/#if\(([^\n]*)\)/g)) {
    for (const lit of (cond[1] ?? '').matchAll(/\$origin\s*==\s*"([^"]*)"/g)) {
      if (lit[1]) origins.push(lit[1]);
    }
  }
  return { header: override[1], origins };
}

function selectIntegrationResponse(
  requestTemplates: Record<string, string>,
  responses: MockIntegrationResponse[],
): MockIntegrationResponse | undefined {
  const template = requestTemplates['application/json'] ?? Object.values(requestTemplates)[0] ?? '';
  const selector = /statusCode["']?\s*:\s*["']?(\d{3})/.exec(template)?.[1] ?? '200';
  for (const r of responses) {
    if (r.selectionPattern === undefined || r.selectionPattern === '') continue;
    try {
      if (new RegExp(`^(?:${r.selectionPattern})$`).test(selector)) return r;
    } catch {
      // an invalid pattern never matches
    }
  }
  return responses.find((r) => r.selectionPattern === undefined || r.selectionPattern === '') ?? responses[0];
}

type MockIntegration = { requestTemplates: Record<string, string>; integrationResponses: MockIntegrationResponse[] };

/** What a MOCK integration answers does not depend on the request but for the mapped values: work it out once. */
interface PreparedMock {
  chosen: MockIntegrationResponse | undefined;
  contentType: string | undefined;
  template: string;
  cors: OriginOverride | undefined;
}

const prepared = new WeakMap<MockIntegration, PreparedMock>();

function prepare(integration: MockIntegration): PreparedMock {
  let p = prepared.get(integration);
  if (!p) {
    const chosen = selectIntegrationResponse(integration.requestTemplates, integration.integrationResponses);
    const templates = chosen?.responseTemplates ?? {};
    const contentType = templates['application/json'] !== undefined ? 'application/json' : Object.keys(templates)[0];
    const template = contentType ? (templates[contentType] ?? '') : '';
    p = { chosen, contentType, template, cors: parseCorsOriginTemplate(template) };
    prepared.set(integration, p);
  }
  return p;
}

export function runMockIntegration(state: RequestState, integration: MockIntegration): HttpResponse {
  const { chosen, contentType, template, cors } = prepare(integration);
  const statusCode = Number(chosen?.statusCode ?? 200) || 200;
  const headers: Array<[string, string[]]> = [];
  for (const [key, expr] of Object.entries(chosen?.responseParameters ?? {})) {
    const m = /^method\.response\.header\.(.+)$/.exec(key);
    if (!m?.[1]) continue;
    const value = resolveMappingExpression(expr, state);
    if (value !== undefined) setHeader(headers, m[1], [value]);
  }
  let body = '';
  if (cors) {
    const origin = headerValue(state, 'origin');
    if (origin !== undefined && cors.origins.includes(origin)) setHeader(headers, cors.header, [origin]);
  } else if (template && !/^\s*#/m.test(template)) {
    body = substituteVariables(template, contextVariables(state));
  }
  if (!headers.some(([k]) => k.toLowerCase() === 'content-type')) headers.push(['Content-Type', [contentType ?? 'application/json']]);
  // 204 and 304 carry no body in HTTP.
  return { statusCode, headers, body: statusCode === 204 || statusCode === 304 ? '' : body };
}
