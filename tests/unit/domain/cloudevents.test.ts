/**
 * Structured CloudEvents 1.0 and CDEvents 0.5 → release events
 * (shared/domain/cloudevents.ts, cdevents.ts): the mapping of every supported
 * CDEvent type, bad envelopes answered with a 400 naming the attribute, wrong
 * versions, unknown receivers, and a redelivered CloudEvent recorded once.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SUPPORTED_CDEVENT_TYPES, parsePackageUrl } from '../../../shared/domain/cdevents.js';
import { releaseEventFromCloudEvent, releaseEventIdOf } from '../../../shared/domain/cloudevents.js';
import { ValidationError } from '../../../shared/domain/errors.js';
import { EventService } from '../../../shared/domain/events.js';
import type { JsonObject, Receiver, ReleaseEvent } from '../../../shared/domain/model.js';
import type { ReleaseStore } from '../../../shared/domain/ports.js';
import { AlreadyExistsError } from '../../../shared/domain/errors.js';

const RECEIVER = '3f1c2b7e-5d4a-4e8b-9c0d-1a2b3c4d5e6f';
const TIME = '2026-11-23T10:05:00Z';

const cloudEvent = (over: JsonObject = {}): JsonObject => ({
  specversion: '1.0',
  id: 'run-4711',
  source: 'https://ci.example/pipelines/api-server',
  type: 'com.example.release.finished',
  time: TIME,
  receiverid: RECEIVER,
  datacontenttype: 'application/json',
  data: {
    name: 'api-server',
    version: '2.3.0',
    release: '2.3',
    platformId: 'linux-arm64',
    package: 'api-server',
    payload: { commit: 'abc1234' },
    success: true,
    eventStart: '2026-11-23T10:00:00Z',
  },
  ...over,
});

/** A CDEvent 0.5 in a CloudEvent, as the CDEvents CloudEvents binding has it. */
const cdEvent = (
  type: string,
  subject: JsonObject,
  over: { context?: JsonObject; customData?: JsonObject; envelope?: JsonObject } = {},
) => {
  const id = `cd-${type}`;
  const source = '/staging/tekton/';
  return {
    specversion: '1.0',
    id,
    source,
    type,
    time: TIME,
    receiverid: RECEIVER,
    data: {
      context: { specversion: '0.5.0', id, source, type, timestamp: TIME, ...over.context },
      subject,
      ...(over.customData ? { customData: over.customData } : {}),
    },
    ...over.envelope,
  };
};

/** The 400 a call throws, as path → message. */
function findings(call: () => unknown): Record<string, string> {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).code).toBe('INVALID_CLOUDEVENT');
    return Object.fromEntries(((error as ValidationError).errors ?? []).map((e) => [e.path, e.message]));
  }
  throw new Error('expected a ValidationError');
}

describe('a plain CloudEvent', () => {
  it('carries the release event in data, the receiver in the receiverid extension', () => {
    const { input, eventId, paths } = releaseEventFromCloudEvent(cloudEvent());
    expect(input).toEqual({
      receiverId: RECEIVER,
      name: 'api-server',
      version: '2.3.0',
      release: '2.3',
      platformId: 'linux-arm64',
      package: 'api-server',
      payload: { commit: 'abc1234' },
      success: true,
      eventStart: '2026-11-23T10:00:00Z',
      eventEnd: TIME, // absent in data: the CloudEvent's time
    });
    expect(eventId).toBe(releaseEventIdOf('https://ci.example/pipelines/api-server', 'run-4711'));
    expect(paths).toEqual({ receiverId: 'body.receiverid', payload: 'body.data.payload', eventEnd: 'body.time' });
  });

  it('gets one stable event id per source + id', () => {
    const a = releaseEventIdOf('s', 'id-1');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(releaseEventIdOf('s', 'id-1')).toBe(a);
    expect(releaseEventIdOf('s2', 'id-1')).not.toBe(a);
    expect(releaseEventIdOf('s', 'id-2')).not.toBe(a);
  });

  it('may name the receiver in data instead, but not two different ones', () => {
    const { receiverid: _none, ...noExtension } = cloudEvent();
    const data = { ...(noExtension.data as JsonObject), receiverId: RECEIVER };
    expect(releaseEventFromCloudEvent({ ...noExtension, data }).input.receiverId).toBe(RECEIVER);
    expect(findings(() => releaseEventFromCloudEvent({ ...cloudEvent(), data: { ...data, receiverId: randomUUID() } }))).toHaveProperty(
      'body.data.receiverId',
    );
    expect(findings(() => releaseEventFromCloudEvent(noExtension))).toHaveProperty('body.receiverid');
  });

  it('names each bad release event field in data', () => {
    const found = findings(() =>
      releaseEventFromCloudEvent(cloudEvent({ time: undefined, data: { name: '', version: 7, success: 'yes', extra: 1 } })),
    );
    expect(Object.keys(found).sort()).toEqual([
      'body.data.eventEnd',
      'body.data.eventStart',
      'body.data.extra',
      'body.data.name',
      'body.data.package',
      'body.data.platformId',
      'body.data.release',
      'body.data.success',
      'body.data.version',
    ]);
  });
});

describe('a bad CloudEvent envelope is a 400 naming the attribute', () => {
  const { id: _id, ...noId } = cloudEvent();
  const cases: Array<[string, unknown, string]> = [
    ['not an object', [1, 2], 'body'],
    ['no id', noId, 'body.id'],
    ['an empty source', cloudEvent({ source: '' }), 'body.source'],
    ['a numeric type', cloudEvent({ type: 5 }), 'body.type'],
    ['specversion 0.3', cloudEvent({ specversion: '0.3' }), 'body.specversion'],
    ['a source that is no URI-reference (SDK)', cloudEvent({ source: 'has space' }), 'body.source'],
    ['a time that is no RFC 3339 date-time (SDK)', cloudEvent({ time: 'yesterday' }), 'body.time'],
    ['a dataschema that is no URI (SDK)', cloudEvent({ dataschema: 'not a uri' }), 'body.dataschema'],
    ['an upper-case extension name', cloudEvent({ Bad_Ext: 'x' }), 'body.Bad_Ext'],
    ['an object as extension value', cloudEvent({ traceinfo: { a: 1 } }), 'body.traceinfo'],
    ['binary data', cloudEvent({ data: undefined, data_base64: 'e30=' }), 'body.data_base64'],
    ['no data', cloudEvent({ data: undefined }), 'body.data'],
    ['XML data', cloudEvent({ datacontenttype: 'text/xml' }), 'body.datacontenttype'],
    ['a receiverid that is no UUID', cloudEvent({ receiverid: 'ci' }), 'body.receiverid'],
  ];
  it.each(cases)('%s', (_label, body, path) => {
    expect(findings(() => releaseEventFromCloudEvent(body))).toHaveProperty([path]);
  });
});

describe('CDEvents 0.5', () => {
  const OCI = 'pkg:oci/myapp@sha256%3A0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427';
  const DIGEST = 'sha256:0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427';

  it('lists the supported types', () => {
    expect(SUPPORTED_CDEVENT_TYPES).toEqual([
      'dev.cdevents.pipelinerun.started.0.3.x',
      'dev.cdevents.pipelinerun.finished.0.3.x',
      'dev.cdevents.build.finished.0.3.x',
      'dev.cdevents.artifact.packaged.0.3.x',
      'dev.cdevents.artifact.published.0.3.x',
      'dev.cdevents.service.deployed.0.3.x',
      'dev.cdevents.service.upgraded.0.3.x',
      'dev.cdevents.service.rolledback.0.3.x',
    ]);
  });

  it('reads package URLs', () => {
    expect(parsePackageUrl(OCI)).toEqual({ package: 'pkg:oci/myapp', name: 'myapp', version: DIGEST });
    expect(parsePackageUrl('pkg:golang/mygit.com/myorg/myapp@234fd47?arch=x#sub')).toEqual({
      package: 'pkg:golang/mygit.com/myorg/myapp',
      name: 'myapp',
      version: '234fd47',
    });
    expect(parsePackageUrl('myapp')).toBeUndefined();
  });

  const pick = (body: unknown) => {
    const { input, paths } = releaseEventFromCloudEvent(body);
    const { receiverId, name, version, release, platformId, package: pkg, success, eventStart, eventEnd } = input;
    expect(receiverId).toBe(RECEIVER);
    expect(eventEnd).toBe(TIME);
    expect(input.payload).toEqual((body as JsonObject).data); // the receiver's schema sees the CDEvent
    expect(paths).toMatchObject({ receiverId: 'body.receiverid', payload: 'body.data' });
    return { name, version, release, platformId, package: pkg, success, eventStart };
  };

  const run = { id: 'tekton/pipelinerun-1234', content: { pipelineName: 'api-release', uri: 'https://tekton.example/runs/1234' } };

  it('pipelineRun.finished: the pipeline, the run as version, success from the outcome', () => {
    for (const [outcome, success] of [
      ['success', true],
      ['failure', false],
      ['error', false],
      ['cancel', false],
    ] as const) {
      const body = cdEvent('dev.cdevents.pipelinerun.finished.0.3.0', { ...run, content: { ...run.content, outcome } });
      expect(pick(body)).toEqual({
        name: 'api-release',
        version: 'tekton/pipelinerun-1234',
        release: 'tekton/pipelinerun-1234',
        platformId: '/staging/tekton/',
        package: 'api-release',
        success,
        eventStart: TIME,
      });
    }
  });

  it('pipelineRun.finished needs an outcome, unless customData says success', () => {
    const body = cdEvent('dev.cdevents.pipelinerun.finished.0.3.0', run);
    expect(findings(() => releaseEventFromCloudEvent(body))).toHaveProperty(['body.data.subject.content.outcome']);
    const told = cdEvent('dev.cdevents.pipelinerun.finished.0.3.0', run, {
      customData: { success: true, version: '2.3.0', release: '2.3', eventStart: '2026-11-23T10:00:00Z', extra: 'kept' },
    });
    expect(pick(told)).toMatchObject({ success: true, version: '2.3.0', release: '2.3', eventStart: '2026-11-23T10:00:00Z' });
  });

  it('pipelineRun.started: a started run is a successful event', () => {
    expect(pick(cdEvent('dev.cdevents.pipelinerun.started.0.3.1', run))).toMatchObject({ name: 'api-release', success: true });
  });

  it('build.finished: name, version and package from the artifact id', () => {
    expect(pick(cdEvent('dev.cdevents.build.finished.0.3.0', { id: 'build-77', content: { artifactId: OCI } }))).toEqual({
      name: 'myapp',
      version: DIGEST,
      release: DIGEST,
      platformId: '/staging/tekton/',
      package: 'pkg:oci/myapp',
      success: true,
      eventStart: TIME,
    });
  });

  it.each(['packaged', 'published'])('artifact.%s: the subject id is the artifact', (predicate) => {
    const subject = { id: 'pkg:golang/mygit.com/myorg/myapp@234fd47e07d1004f0aed9c', content: { change: { id: 'c1' } } };
    expect(pick(cdEvent(`dev.cdevents.artifact.${predicate}.0.3.0`, subject))).toEqual({
      name: 'myapp',
      version: '234fd47e07d1004f0aed9c',
      release: '234fd47e07d1004f0aed9c',
      platformId: '/staging/tekton/',
      package: 'pkg:golang/mygit.com/myorg/myapp',
      success: true,
      eventStart: TIME,
    });
  });

  it('artifact.* without a version in its purl asks for one', () => {
    const body = cdEvent('dev.cdevents.artifact.published.0.3.0', { id: 'pkg:oci/myapp', content: {} });
    expect(findings(() => releaseEventFromCloudEvent(body))['body.data.subject.id']).toMatch(/version/);
  });

  it.each([
    ['deployed', true],
    ['upgraded', true],
    ['rolledback', false],
  ] as const)('service.%s: the service, the artifact it runs, the environment as platform', (predicate, success) => {
    const subject = { id: 'checkout', content: { environment: { id: 'prod-eu' }, artifactId: OCI } };
    expect(pick(cdEvent(`dev.cdevents.service.${predicate}.0.3.0`, subject))).toEqual({
      name: 'checkout',
      version: DIGEST,
      release: DIGEST,
      platformId: 'prod-eu',
      package: 'pkg:oci/myapp',
      success,
      eventStart: TIME,
    });
  });

  it('service.* names the missing environment and artifact', () => {
    const body = cdEvent('dev.cdevents.service.deployed.0.3.0', { id: 'checkout', content: {} });
    const found = findings(() => releaseEventFromCloudEvent(body));
    expect(found).toHaveProperty(['body.data.subject.content.environment']);
    expect(found).toHaveProperty(['body.data.subject.content.artifactId']);
  });

  it('refuses an unsupported type, naming type and listing the supported ones', () => {
    const body = cdEvent('dev.cdevents.environment.created.0.3.0', { id: 'env', content: { name: 'prod' } });
    const message = findings(() => releaseEventFromCloudEvent(body))['body.type'];
    expect(message).toContain('environment.created is not a supported CDEvent');
    expect(message).toContain('dev.cdevents.service.deployed.0.3.x');
    expect(findings(() => releaseEventFromCloudEvent(cdEvent('dev.cdevents.nonsense', run)))).toHaveProperty(['body.type']);
  });

  it('refuses other event versions and other CDEvents spec versions', () => {
    const old = cdEvent('dev.cdevents.pipelinerun.finished.0.2.0', { ...run, content: { ...run.content, outcome: 'success' } });
    expect(findings(() => releaseEventFromCloudEvent(old))['body.type']).toContain('0.2.0 is not the CDEvents 0.5 one');
    const draft = cdEvent('dev.cdevents.pipelinerun.finished.0.3.0-draft', run);
    expect(findings(() => releaseEventFromCloudEvent(draft))).toHaveProperty(['body.type']);
    for (const specversion of ['0.4.1', '0.6.0', '1.0.0', 5]) {
      const body = cdEvent('dev.cdevents.pipelinerun.started.0.3.0', run, { context: { specversion } });
      expect(findings(() => releaseEventFromCloudEvent(body))['body.data.context.specversion']).toContain('0.5.x');
    }
    const patch = cdEvent('dev.cdevents.pipelinerun.started.0.3.0', run, { context: { specversion: '0.5.1' } });
    expect(pick(patch).name).toBe('api-release');
  });

  it('holds the CloudEvents binding: the context repeats the envelope id, source and type', () => {
    const body = cdEvent('dev.cdevents.pipelinerun.started.0.3.0', run, { context: { id: 'other', source: '/elsewhere' } });
    const found = findings(() => releaseEventFromCloudEvent(body));
    expect(found).toHaveProperty(['body.data.context.id']);
    expect(found).toHaveProperty(['body.data.context.source']);
  });

  it('names a missing context, subject, timestamp or receiver', () => {
    const bare = { ...cdEvent('dev.cdevents.pipelinerun.started.0.3.0', run), data: {} };
    expect(Object.keys(findings(() => releaseEventFromCloudEvent(bare)))).toEqual(['body.data.context', 'body.data.subject']);
    const noTime = cdEvent('dev.cdevents.pipelinerun.started.0.3.0', run, { context: { timestamp: 'now' } });
    expect(findings(() => releaseEventFromCloudEvent(noTime))).toHaveProperty(['body.data.context.timestamp']);
    const { receiverid: _r, ...noReceiver } = cdEvent('dev.cdevents.pipelinerun.started.0.3.0', run);
    expect(findings(() => releaseEventFromCloudEvent(noReceiver))).toHaveProperty(['body.receiverid']);
  });
});

describe('any JSON', () => {
  /** A valid CloudEvent or CDEvent with attributes and data fields replaced, added or dropped at random. */
  const mutated = fc
    .record({
      base: fc.constantFrom(
        cloudEvent(),
        cdEvent('dev.cdevents.service.deployed.0.3.0', { id: 'svc', content: { environment: { id: 'e' }, artifactId: 'pkg:oci/a@1' } }),
      ),
      top: fc.dictionary(
        fc.constantFrom('specversion', 'id', 'source', 'type', 'time', 'receiverid', 'data', 'datacontenttype', 'dataschema', 'Bad', 'x'),
        fc.jsonValue({ maxDepth: 2 }),
        { maxKeys: 3 },
      ),
      inData: fc.dictionary(
        fc.constantFrom('name', 'version', 'success', 'eventStart', 'payload', 'context', 'subject', 'customData', '__proto__'),
        fc.jsonValue({ maxDepth: 3 }),
        { maxKeys: 3 },
      ),
    })
    .map(({ base, top, inData }) => {
      const data = { ...(base.data as JsonObject), ...inData };
      return JSON.parse(JSON.stringify({ ...base, data, ...top })) as unknown;
    });

  it('maps to a release event or is a 400 that quotes nothing it was sent', () => {
    fc.assert(
      fc.property(mutated, (body) => {
        try {
          releaseEventFromCloudEvent(body);
        } catch (error) {
          expect(error).toBeInstanceOf(ValidationError);
          const { detail, errors } = { detail: (error as ValidationError).message, errors: (error as ValidationError).errors ?? [] };
          expect(errors.length).toBeGreaterThan(0);
          expect(detail).toMatch(/^The CloudEvent is invalid \(\d+ problems?; see errors\)$/);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('ingesting a CloudEvent', () => {
  function service(schema: JsonObject = { type: 'object' }) {
    const receivers = new Map<string, Receiver>();
    const events = new Map<string, ReleaseEvent>();
    receivers.set(RECEIVER, {
      id: RECEIVER,
      name: 'ci',
      type: 'ci.pipeline',
      version: '1',
      description: '',
      schema,
      revision: 1,
      createdAt: TIME,
      updatedAt: TIME,
    });
    const store = {
      getReceiver: async (id: string) => receivers.get(id),
      getEvent: async (id: string) => events.get(id),
      createEvent: async (e: ReleaseEvent) => {
        if (events.has(e.id)) throw new AlreadyExistsError(`Event ${e.id} already exists`);
        events.set(e.id, e);
      },
    } as unknown as ReleaseStore;
    return { events, service: new EventService(store, { now: () => TIME }, { next: () => randomUUID() }) };
  }

  it('records a redelivered CloudEvent once and answers the first event', async () => {
    const { events, service: svc } = service();
    const first = releaseEventFromCloudEvent(cloudEvent());
    const once = await svc.ingestOnce(first.input, first.eventId, first.paths);
    const again = releaseEventFromCloudEvent(cloudEvent({ data: { ...(cloudEvent().data as JsonObject), version: '9.9.9' } }));
    const twice = await svc.ingestOnce(again.input, again.eventId, again.paths);
    expect(once).toMatchObject({ replayed: false, event: { id: first.eventId, version: '2.3.0' } });
    expect(twice).toEqual({ replayed: true, event: once.event });
    expect(events.size).toBe(1);
  });

  it('names the field that puts eventEnd before eventStart', async () => {
    const { service: svc } = service();
    const late = { ...(cloudEvent().data as JsonObject), eventStart: '2026-11-23T11:00:00Z' };
    const plain = releaseEventFromCloudEvent(cloudEvent({ data: late }));
    await expect(svc.ingestOnce(plain.input, plain.eventId, plain.paths)).rejects.toMatchObject({ errors: [{ path: 'body.time' }] });
    const run = { id: 'run-1', content: { pipelineName: 'p' } };
    const cd = releaseEventFromCloudEvent(
      cdEvent('dev.cdevents.pipelinerun.started.0.3.0', run, { customData: { eventStart: '2026-11-23T11:00:00Z' } }),
    );
    await expect(svc.ingestOnce(cd.input, cd.eventId, cd.paths)).rejects.toMatchObject({
      errors: [{ path: 'body.data.customData.eventStart' }],
    });
  });

  it('names the receiverid attribute for an unknown receiver', async () => {
    const { events, service: svc } = service();
    const { input, eventId, paths } = releaseEventFromCloudEvent(cloudEvent({ receiverid: randomUUID() }));
    await expect(svc.ingestOnce(input, eventId, paths)).rejects.toMatchObject({
      code: 'UNKNOWN_RECEIVER',
      errors: [{ path: 'body.receiverid', message: 'no such receiver' }],
    });
    expect(events.size).toBe(0);
  });

  it("names the data field that breaks the receiver's schema", async () => {
    const { service: svc } = service({
      type: 'object',
      required: ['commit'],
      properties: { commit: { type: 'string', pattern: '^[0-9a-f]{7}$' } },
    });
    const { input, eventId, paths } = releaseEventFromCloudEvent(
      cloudEvent({ data: { ...(cloudEvent().data as JsonObject), payload: { commit: 'nope' } } }),
    );
    const error = await svc.ingestOnce(input, eventId, paths).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'PAYLOAD_SCHEMA_MISMATCH' });
    expect((error as ValidationError).errors?.[0]?.path).toBe('body.data.payload.commit');
  });
});
