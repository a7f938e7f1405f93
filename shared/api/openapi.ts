/**
 * Generates the OpenAPI 3.1 document from the route contract and its zod
 * schemas (build-time only: functions never import this file).
 */
import { OpenAPIRegistry, OpenApiGeneratorV31, type ResponseConfig } from '@asteasolutions/zod-to-openapi';
import * as z from 'zod';
import type { RouteSpec } from '../http/route.js';
import { allRoutes } from './routes.js';
import { ProblemSchema } from './schemas.js';

const ERROR_RESPONSES: Record<number, string> = {
  400: 'Bad input: malformed JSON, wrong types, unknown fields, invalid cursor (field errors in `errors`)',
  404: 'No such resource or route',
  409: 'Version conflict: the revision you sent is stale, or the resource already exists',
  412: 'If-Match does not match the current revision',
  413: 'Body larger than the limit (1 MiB by default)',
  415: 'Body is not application/json (or another media type the operation lists)',
  422: 'Well-formed but breaks a business rule (e.g. payload does not match the receiver schema)',
  500: 'Unexpected failure (quote requestId)',
};

const IfMatchHeader = z.object({
  'If-Match': z.string().optional().meta({ description: 'ETag of the revision you are changing, e.g. "3" (alternative to `revision`)' }),
});

function errorStatuses(route: RouteSpec): number[] {
  const statuses = [400, 500];
  if (route.params) statuses.push(404);
  if (route.body) statuses.push(413, 415, 422);
  if (route.ifMatch) statuses.push(409, 412);
  if (route.method === 'POST' || route.method === 'PUT') statuses.push(409, 422);
  return [...new Set(statuses)].sort();
}

/** application/json, then each further media type the route declares with its schema. */
function requestContent(route: RouteSpec): Record<string, { schema: z.ZodType }> {
  const content: Record<string, { schema: z.ZodType }> = {};
  if (route.body) content['application/json'] = { schema: route.body };
  for (const [mediaType, schema] of Object.entries(route.mediaBodies ?? {})) content[mediaType] = { schema };
  return content;
}

export function generateOpenApi(version: string): Record<string, unknown> {
  const registry = new OpenAPIRegistry();
  for (const route of allRoutes) {
    const responses: Record<string, ResponseConfig> = {};
    for (const [status, spec] of Object.entries(route.responses)) {
      responses[status] = {
        description: spec.description,
        ...(spec.schema ? { content: { 'application/json': { schema: spec.schema } } } : {}),
      };
    }
    for (const status of errorStatuses(route)) {
      responses[String(status)] ??= {
        description: ERROR_RESPONSES[status] ?? 'Error',
        content: { 'application/problem+json': { schema: ProblemSchema } },
      };
    }
    registry.registerPath({
      method: route.method.toLowerCase() as 'get',
      path: route.path,
      operationId: route.operationId,
      summary: route.summary,
      ...(route.description ? { description: route.description } : {}),
      tags: route.tags,
      request: {
        ...(route.params ? { params: route.params as z.ZodObject } : {}),
        ...(route.query ? { query: route.query as z.ZodObject } : {}),
        ...(route.ifMatch ? { headers: IfMatchHeader } : {}),
        ...(route.body ? { body: { required: true, content: requestContent(route) } } : {}),
      } as never,
      responses,
    });
  }
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Switchyard API',
      version,
      description:
        'Serverless release-control plane. Errors are RFC 9457 problem+json. Writes to revisioned resources need `revision` in the body or an `If-Match` ETag; a stale one answers 409 (412 for If-Match).',
    },
    servers: [{ url: 'http://127.0.0.1:3000', description: 'npm start (embedded local runtime)' }],
  }) as unknown as Record<string, unknown>;
}
