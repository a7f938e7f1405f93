/** events/ holds one sample per API route, valid for the route's current schemas, for `npm run invoke`. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { allRoutes } from '../../shared/api/routes.js';
import { routeKey } from '../../shared/http/route.js';

const dir = path.resolve(import.meta.dirname, '../../events');
const samples = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((file) => ({ file, event: JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as APIGatewayProxyEvent }))
  .filter(({ event }) => typeof event.httpMethod === 'string');

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
    if (route?.body) expect(route.body.safeParse(JSON.parse(event.body ?? 'null')).success).toBe(true);
    expect(event.requestContext.resourcePath).toBe(event.resource);
  });
});
