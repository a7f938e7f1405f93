/**
 * events/ holds one sample per API route, valid for the route's current schemas, for `npm run invoke`;
 * each has the shape API Gateway sends (the Powertools parser schema of its source).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { APIGatewayProxyEventSchema, APIGatewayRequestAuthorizerEventSchema } from '@aws-lambda-powertools/parser/schemas';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { allRoutes } from '../../shared/api/routes.js';
import { bodySchemaFor, lowerCaseHeaders, mediaTypeOf, routeKey } from '../../shared/http/route.js';
import { CLOUDEVENTS_JSON, releaseEventFromCloudEvent } from '../../shared/domain/cloudevents.js';

const dir = path.resolve(import.meta.dirname, '../../events');
const all = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((file) => ({ file, event: JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Record<string, unknown> }));
/** API Gateway events (the others, e.g. rotate-signing-key.json, are direct invocations of a function). */
const apiEvents = all.filter(({ event }) => typeof event.httpMethod === 'string');
/** REQUEST authorizer samples, if any: they carry the request too, but no body. */
const authorizerSamples = apiEvents.filter(({ event }) => event.type === 'REQUEST');
const samples = apiEvents
  .filter(({ event }) => event.type === undefined)
  .map(({ file, event }) => ({ file, event: event as unknown as APIGatewayProxyEvent }));

const schemaIssues = (result: { success: boolean; error?: { issues: Array<{ path: PropertyKey[]; message: string }> } }) =>
  result.success ? [] : (result.error?.issues ?? []).map((i) => `${i.path.map(String).join('.')}: ${i.message}`);

describe('sample API Gateway events', () => {
  it('cover every route', () => {
    const covered = new Set(samples.map(({ event }) => routeKey(event.httpMethod, event.resource)));
    expect(allRoutes.map((r) => routeKey(r.method, r.path)).filter((k) => !covered.has(k))).toEqual([]);
  });

  it.each(samples)('$file parses against its route', ({ event }) => {
    const route = allRoutes.find((r) => routeKey(r.method, r.path) === routeKey(event.httpMethod, event.resource));
    expect(route).toBeDefined();
    expect(route?.params?.safeParse(event.pathParameters ?? {}).success ?? true).toBe(true);
    expect(route?.query?.safeParse(event.queryStringParameters ?? {}).success ?? true).toBe(true);
    // The schema of the sample's media type (application/cloudevents+json has its own).
    const body = route ? bodySchemaFor(route, mediaTypeOf(lowerCaseHeaders(event.headers)['content-type'])) : undefined;
    if (body) expect(schemaIssues(body.safeParse(JSON.parse(event.body ?? 'null')))).toEqual([]);
    expect(event.requestContext.resourcePath).toBe(event.resource);
  });

  const cloudEventSamples = samples.filter(
    ({ event }) => mediaTypeOf(lowerCaseHeaders(event.headers)['content-type']) === CLOUDEVENTS_JSON,
  );
  it('include a CloudEvent and a CDEvent POST', () => {
    expect(cloudEventSamples.map(({ file }) => file).sort()).toEqual(['events-create-cdevent.json', 'events-create-cloudevent.json']);
  });
  it.each(cloudEventSamples)('$file is a CloudEvent that maps to a release event', ({ event }) => {
    expect(() => releaseEventFromCloudEvent(JSON.parse(event.body ?? 'null'))).not.toThrow();
  });

  it.each(samples)('$file is a proxy event as API Gateway sends it (APIGatewayProxyEventSchema)', ({ event }) => {
    expect(schemaIssues(APIGatewayProxyEventSchema.safeParse(event))).toEqual([]);
  });

  it.runIf(authorizerSamples.length > 0).each(authorizerSamples)(
    '$file is a REQUEST authorizer event as API Gateway sends it (APIGatewayRequestAuthorizerEventSchema)',
    ({ event }) => {
      expect(schemaIssues(APIGatewayRequestAuthorizerEventSchema.safeParse(event))).toEqual([]);
    },
  );
});
