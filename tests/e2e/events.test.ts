import { beforeAll, describe, expect, it } from 'vitest';
import { call } from '../support/http.js';
import { eventBody, receiverBody } from '../support/samples.js';

let receiverId: string;

beforeAll(async () => {
  receiverId = (await call('POST', '/api/v1/receivers', { json: receiverBody() })).body.id;
});

describe('events', () => {
  it('ingests a valid event and reads it back', async () => {
    const created = await call('POST', '/api/v1/events', { json: eventBody(receiverId) });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`/api/v1/events/${created.body.id}`);
    expect(created.body).toMatchObject({ receiverId, success: true, eventStart: '2026-11-20T10:00:00.000Z' });
    expect((await call('GET', `/api/v1/events/${created.body.id}`)).body).toEqual(created.body);
  });

  it('refuses a payload that breaks the receiver schema with 422 and field errors, storing nothing', async () => {
    const marker = `pkg-${Date.now()}`;
    const res = await call('POST', '/api/v1/events', {
      json: eventBody(receiverId, { package: marker, payload: { commit: 'NOT-HEX', extra: 1 } }),
    });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('PAYLOAD_SCHEMA_MISMATCH');
    expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['body.payload', 'body.payload.commit']);
    expect((await call('GET', `/api/v1/events?receiverId=${receiverId}&package=${marker}`)).body.items).toEqual([]);
  });

  it('refuses events for unknown receivers and impossible time ranges', async () => {
    const unknown = await call('POST', '/api/v1/events', { json: eventBody('3f0b6a5e-0000-4000-8000-000000000000') });
    expect(unknown.status).toBe(422);
    expect(unknown.body.code).toBe('UNKNOWN_RECEIVER');
    const backwards = await call('POST', '/api/v1/events', { json: eventBody(receiverId, { eventEnd: '2026-11-20T09:00:00Z' }) });
    expect(backwards.status).toBe(400);
    expect(backwards.body.errors).toEqual([{ path: 'body.eventEnd', message: expect.any(String) }]);
  });

  it('queries by receiver, success, platform, package and time range, newest first, in pages', async () => {
    const { body: r } = await call('POST', '/api/v1/receivers', { json: receiverBody() });
    const day = (d: number) => `2026-09-${String(d).padStart(2, '0')}T08:00:00Z`;
    const ids: string[] = [];
    for (let d = 1; d <= 5; d++) {
      const res = await call('POST', '/api/v1/events', {
        json: eventBody(r.id, { eventStart: day(d), eventEnd: day(d), success: d % 2 === 1, platformId: d <= 3 ? 'linux' : 'windows' }),
      });
      ids.push(res.body.id);
    }
    const list = async (query: string) => (await call('GET', `/api/v1/events?receiverId=${r.id}&${query}`)).body;
    expect((await list('limit=10')).items.map((e: { id: string }) => e.id)).toEqual([...ids].reverse());
    expect((await list('success=false')).items.map((e: { id: string }) => e.id)).toEqual([ids[3], ids[1]]);
    expect((await list('platformId=windows')).items.map((e: { id: string }) => e.id)).toEqual([ids[4], ids[3]]);
    expect((await list(`from=${day(2)}&to=${day(4)}`)).items.map((e: { id: string }) => e.id)).toEqual([ids[3], ids[2], ids[1]]);
    expect((await list('package=nothing-like-this')).items).toEqual([]);

    const first = await list('limit=2&success=true');
    const second = await list(`limit=2&success=true&cursor=${encodeURIComponent(first.nextCursor)}`);
    expect([...first.items, ...second.items].map((e: { id: string }) => e.id)).toEqual([ids[4], ids[2], ids[0]]);

    expect((await call('GET', '/api/v1/events?success=maybe')).status).toBe(400);
    expect((await call('GET', '/api/v1/events?from=yesterday')).status).toBe(400);
    expect((await call('GET', `/api/v1/events?from=${day(5)}&to=${day(1)}`)).status).toBe(400);
  });
});

describe('events as CloudEvents (application/cloudevents+json)', () => {
  const asCloudEvent = { 'Content-Type': 'application/cloudevents+json' };

  it('records a structured CloudEvent once, through API Gateway and the authorizer', async () => {
    const { receiverId: _r, ...data } = eventBody(receiverId);
    const cloudEvent = {
      specversion: '1.0',
      id: `e2e-${Date.now()}`,
      source: 'https://ci.example/e2e',
      type: 'com.example.release.finished',
      time: '2026-11-20T10:05:00Z',
      receiverid: receiverId,
      data,
    };
    const created = await call('POST', '/api/v1/events', { json: cloudEvent, headers: asCloudEvent });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ receiverId, name: 'api-server', version: '2.3.0' });
    const again = await call('POST', '/api/v1/events', { json: cloudEvent, headers: asCloudEvent });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(created.body);
  });

  it('records a CDEvent and refuses an unsupported one with a 400 naming type', async () => {
    const { body: open } = await call('POST', '/api/v1/receivers', { json: receiverBody({ schema: { type: 'object' } }) });
    const cdEvent = (type: string) => {
      const id = `cd-${type}-${Date.now()}`;
      return {
        specversion: '1.0',
        id,
        source: '/e2e/tekton/',
        type,
        receiverid: open.id,
        data: {
          context: { specversion: '0.5.0', id, source: '/e2e/tekton/', type, timestamp: '2026-11-22T12:00:00Z' },
          subject: { id: 'run-1', content: { pipelineName: 'release', uri: 'https://tekton.example/run-1', outcome: 'failure' } },
        },
      };
    };
    const finished = await call('POST', '/api/v1/events', {
      json: cdEvent('dev.cdevents.pipelinerun.finished.0.3.0'),
      headers: asCloudEvent,
    });
    expect(finished.status).toBe(201);
    expect(finished.body).toMatchObject({ name: 'release', version: 'run-1', success: false, platformId: '/e2e/tekton/' });
    const unsupported = await call('POST', '/api/v1/events', {
      json: cdEvent('dev.cdevents.taskrun.finished.0.3.0'),
      headers: asCloudEvent,
    });
    expect(unsupported.status).toBe(400);
    expect(unsupported.body.errors.map((e: { path: string }) => e.path)).toEqual(['body.type']);
    expect((await call('GET', `/api/v1/events?receiverId=${open.id}`)).body.items).toHaveLength(1);
  });
});
