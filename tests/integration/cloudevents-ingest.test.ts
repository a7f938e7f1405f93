/**
 * POST /api/v1/events with a structured CloudEvent or a CDEvent, through the
 * events function's real handler (the whole middleware chain) against DynamoDB
 * Local: each creates one event readable with GET, a redelivery creates none,
 * and a bad envelope is a 400 problem that stores nothing.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { ReceiverService } from '../../shared/domain/receivers.js';
import { DynamoReleaseStore } from '../../shared/store/release-store.js';
import { apiEvent, lambdaContext } from '../support/api-event.js';
import { eventBody, receiverBody } from '../support/samples.js';
import { freshTable, TEST_AUDIT } from '../support/table.js';

type Handler = (event: APIGatewayProxyEvent, context: typeof lambdaContext) => Promise<APIGatewayProxyResult>;

let handler: Handler;
let strictReceiver: string;
let openReceiver: string;

beforeAll(async () => {
  const { tableName, client } = await freshTable();
  Object.assign(process.env, {
    TABLE_NAME: tableName,
    AWS_ENDPOINT_URL_DYNAMODB: inject('dynamoEndpoint'),
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  });
  const receivers = new ReceiverService(
    new DynamoReleaseStore(client, tableName, { audit: TEST_AUDIT }),
    { now: () => new Date().toISOString() },
    {
      next: () => randomUUID(),
    },
  );
  // The sample receiver's schema wants { commit, buildUrl? }; the CDEvent receiver takes the CDEvent as its payload.
  strictReceiver = (await receivers.create(receiverBody())).id;
  openReceiver = (
    await receivers.create(
      receiverBody({ name: `cdevents-${randomUUID().slice(0, 8)}`, schema: { type: 'object', required: ['context', 'subject'] } }),
    )
  ).id;
  ({ handler } = (await import('../../functions/events/index.js')) as { handler: Handler });
});

const who = { principalId: 'user-ci', kind: 'user', name: 'ci', roles: 'developer' };

function call(method: string, resource: string, over: Partial<APIGatewayProxyEvent> = {}, contentType = 'application/json') {
  const base = apiEvent({ httpMethod: method, resource, ...over });
  const event = {
    ...base,
    headers: { 'content-type': contentType, ...over.headers },
    requestContext: { ...base.requestContext, requestId: randomUUID(), authorizer: who },
  } as APIGatewayProxyEvent;
  return handler(event, lambdaContext);
}

const post = (body: unknown, contentType = 'application/cloudevents+json') =>
  call('POST', '/api/v1/events', { body: JSON.stringify(body) }, contentType);
const get = (id: string) => call('GET', '/api/v1/events/{id}', { path: `/api/v1/events/${id}`, pathParameters: { id } });
const eventsOf = async (receiverId: string) => {
  const res = await call('GET', '/api/v1/events', { queryStringParameters: { receiverId } });
  expect(res.statusCode).toBe(200);
  return (JSON.parse(res.body) as { items: Array<{ id: string }> }).items;
};

const cloudEvent = (receiverid: string, over: Record<string, unknown> = {}) => {
  const { receiverId: _r, ...data } = eventBody(receiverid);
  return {
    specversion: '1.0',
    id: `gha-${randomUUID()}`,
    source: 'https://github.com/example/api-server/actions',
    type: 'com.github.workflow_run.completed',
    time: '2026-11-20T10:05:00Z',
    datacontenttype: 'application/json',
    receiverid,
    data,
    ...over,
  };
};

const cdEvent = (receiverid: string, type = 'dev.cdevents.service.deployed.0.3.0') => {
  const id = randomUUID();
  const source = '/prod/argocd/';
  return {
    specversion: '1.0',
    id,
    source,
    type,
    subject: 'checkout',
    time: '2026-11-21T08:00:00Z',
    receiverid,
    data: {
      context: { specversion: '0.5.0', id, source, type, timestamp: '2026-11-21T08:00:00Z' },
      subject: {
        id: 'checkout',
        source,
        content: { environment: { id: 'prod-eu' }, artifactId: 'pkg:oci/checkout@sha256%3Aabc123' },
      },
    },
  };
};

describe('POST /api/v1/events with application/cloudevents+json', () => {
  it('records a CloudEvent once; a redelivery answers the first event', async () => {
    const before = (await eventsOf(strictReceiver)).length;
    const body = cloudEvent(strictReceiver);
    const res = await post(body);
    expect(res.statusCode).toBe(201);
    const created = JSON.parse(res.body) as { id: string };
    expect(res.headers?.Location).toBe(`/api/v1/events/${created.id}`);
    expect(JSON.parse((await get(created.id)).body)).toMatchObject({
      id: created.id,
      receiverId: strictReceiver,
      name: 'api-server',
      version: '2.3.0',
      payload: { commit: 'abc1234' },
      eventStart: '2026-11-20T10:00:00.000Z',
      eventEnd: '2026-11-20T10:05:00.000Z',
    });

    const again = await post(body);
    expect(again.statusCode).toBe(200);
    expect(again.headers?.['Idempotent-Replayed']).toBe('true');
    expect(JSON.parse(again.body)).toEqual(JSON.parse(res.body));
    expect((await eventsOf(strictReceiver)).length).toBe(before + 1);
  });

  it('records a CDEvent 0.5 (service.deployed) as a release event', async () => {
    const res = await post(cdEvent(openReceiver));
    expect(res.statusCode).toBe(201);
    const { id } = JSON.parse(res.body) as { id: string };
    const stored = JSON.parse((await get(id)).body) as Record<string, unknown>;
    expect(stored).toMatchObject({
      receiverId: openReceiver,
      name: 'checkout',
      version: 'sha256:abc123',
      package: 'pkg:oci/checkout',
      platformId: 'prod-eu',
      success: true,
      eventStart: '2026-11-21T08:00:00.000Z',
    });
    expect(stored.payload).toMatchObject({ context: { type: 'dev.cdevents.service.deployed.0.3.0' } });
  });

  it('answers a bad envelope with a 400 naming the attribute, and stores nothing', async () => {
    const before = (await eventsOf(openReceiver)).length;
    const cases: Array<[unknown, string]> = [
      [{ ...cloudEvent(openReceiver), specversion: '0.3' }, 'body.specversion'],
      [{ ...cloudEvent(openReceiver), source: 'not a uri reference' }, 'body.source'],
      [cdEvent(openReceiver, 'dev.cdevents.environment.created.0.3.0'), 'body.type'],
      [
        { ...cdEvent(openReceiver), data: { ...cdEvent(openReceiver).data, context: { specversion: '0.4.1' } } },
        'body.data.context.specversion',
      ],
      [(({ receiverid: _r, ...rest }) => rest)(cdEvent(openReceiver)), 'body.receiverid'],
      [(({ id: _i, ...rest }) => rest)(cloudEvent(openReceiver)), 'body.id'],
    ];
    for (const [body, path] of cases) {
      const res = await post(body);
      expect(res.statusCode, path).toBe(400);
      expect(res.headers?.['Content-Type']).toBe('application/problem+json');
      const problem = JSON.parse(res.body) as { errors?: Array<{ path: string }> };
      expect(problem.errors?.map((e) => e.path)).toContain(path);
    }
    expect((await eventsOf(openReceiver)).length).toBe(before);
  });

  it('names the receiverid of an unknown receiver (422)', async () => {
    const res = await post(cloudEvent(randomUUID()));
    expect(res.statusCode).toBe(422);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'UNKNOWN_RECEIVER', errors: [{ path: 'body.receiverid' }] });
  });

  it('still takes the plain JSON body, and refuses a CloudEvent sent as application/json', async () => {
    const plain = await post(eventBody(strictReceiver), 'application/json');
    expect(plain.statusCode).toBe(201);
    const mislabelled = await post(cloudEvent(strictReceiver), 'application/json');
    expect(mislabelled.statusCode).toBe(400);
    expect(JSON.parse(mislabelled.body)).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('takes a charset parameter, and names both media types when refusing another', async () => {
    const withCharset = await post(cloudEvent(strictReceiver), 'application/cloudevents+json; charset=utf-8');
    expect(withCharset.statusCode).toBe(201);
    const text = await post(cloudEvent(strictReceiver), 'text/plain');
    expect(text.statusCode).toBe(415);
    expect(JSON.parse(text.body)).toMatchObject({
      code: 'UNSUPPORTED_MEDIA_TYPE',
      detail: 'Send the body as application/json or application/cloudevents+json (got text/plain)',
    });
  });
});
