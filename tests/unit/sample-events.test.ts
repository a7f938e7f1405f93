/**
 * events/ holds one sample per API route, valid for the route's current schemas, for `npm run invoke`;
 * each has the shape API Gateway sends (the Powertools parser schema of its source).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  APIGatewayProxyEventSchema,
  APIGatewayRequestAuthorizerEventSchema,
  EventBridgeSchema,
  SqsSchema,
} from '@aws-lambda-powertools/parser/schemas';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { allRoutes } from '../../shared/api/routes.js';
import { bodySchemaFor, lowerCaseHeaders, mediaTypeOf, routeKey } from '../../shared/http/route.js';
import { CLOUDEVENTS_JSON, releaseEventFromCloudEvent } from '../../shared/domain/cloudevents.js';
import { deliveryIdOf } from '../../shared/domain/webhooks.js';
import { StoredCloudEventSchema } from '../../shared/events/outbox-schema.js';
import { RolloutTaskSchema } from '../../shared/rollouts/task-schema.js';
import { DeliveryRecordSchema, FanoutRecordSchema } from '../../shared/webhooks/messages.js';

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

/** Samples of the event functions (`npm run invoke <function> -e events/<file>`): the shape their source sends, and the record schema their batch parser applies. */
describe('sample events of the event functions', () => {
  const sample = (file: string) => {
    const found = all.find((s) => s.file === file);
    if (!found) throw new Error(`events/${file} is missing`);
    return found.event;
  };

  it.each(['outbox-sweeper-scheduled.json', 'deployment-reconciler-scheduled.json'])(
    '%s is a scheduled EventBridge event (EventBridgeSchema)',
    (file) => {
      expect(schemaIssues(EventBridgeSchema.safeParse(sample(file)))).toEqual([]);
    },
  );

  const taskSamples = all.filter(({ file }) => file.startsWith('rollout-tasks-'));
  it("cover every action of the rollout and rollback machines but failRollback (the machine passes a failed task's Cause)", () => {
    const actions = new Set(taskSamples.map(({ event }) => event.action));
    const missing = RolloutTaskSchema.options.map((o) => o.shape.action.value).filter((a) => !actions.has(a) && a !== 'failRollback');
    expect(missing).toEqual([]);
  });
  it.each(taskSamples)('$file is a Step Functions task input the rollout-tasks function accepts', ({ event }) => {
    expect(schemaIssues(RolloutTaskSchema.safeParse(event))).toEqual([]);
  });

  it('edge-health-scheduled.json is a scheduled EventBridge event (EventBridgeSchema)', () => {
    const event = sample('edge-health-scheduled.json');
    expect(schemaIssues(EventBridgeSchema.safeParse(event))).toEqual([]);
    expect(event).toMatchObject({ source: 'aws.events', 'detail-type': 'Scheduled Event' });
  });

  it('webhook-fanout-sqs.json is an SQS batch whose records are bus entries carrying an event.created CloudEvent', () => {
    const event = sample('webhook-fanout-sqs.json');
    expect(schemaIssues(SqsSchema.safeParse(event))).toEqual([]);
    const records = (event as { Records: unknown[] }).Records;
    expect(records.length).toBeGreaterThan(0);
    for (const record of records) {
      const parsed = FanoutRecordSchema.safeParse(record);
      expect(schemaIssues(parsed)).toEqual([]);
      const body = parsed.data!.body;
      expect(body).toMatchObject({ source: 'switchyard.events', 'detail-type': 'event.created' });
      expect(body.detail.type).toBe('event.created');
      // The detail is a CloudEvent the relay could have put: the outbox's own schema accepts it.
      expect(schemaIssues(StoredCloudEventSchema.safeParse(body.detail))).toEqual([]);
    }
  });

  it('webhook-dispatcher-sqs.json is an SQS batch whose records name a delivery', () => {
    const event = sample('webhook-dispatcher-sqs.json');
    expect(schemaIssues(SqsSchema.safeParse(event))).toEqual([]);
    const fanoutEvent = sample('webhook-fanout-sqs.json') as { Records: Array<{ body: string }> };
    const eventId = (JSON.parse(fanoutEvent.Records[0]!.body) as { detail: { id: string } }).detail.id;
    for (const record of (event as { Records: unknown[] }).Records) {
      const parsed = DeliveryRecordSchema.safeParse(record);
      expect(schemaIssues(parsed)).toEqual([]);
      // The delivery of the fan-out sample's event to subscription f47ac10b-…: the two samples go together.
      expect(parsed.data!.body.deliveryId).toBe(deliveryIdOf('f47ac10b-58cc-4372-a567-0e02b2c3d479', eventId));
    }
  });
});
