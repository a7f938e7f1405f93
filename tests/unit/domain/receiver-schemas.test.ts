/**
 * Receiver schemas are untrusted input (issue 7): each finding is reproduced
 * through the domain services, so the same tests ran against the code before
 * the fix (and failed there). No timing is asserted: the ReDoS cases use an
 * input that the backtracking engine never finishes, so before the fix they
 * ran into the test timeout, and after it they complete with the right answer.
 */
import { randomUUID } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it, vi } from 'vitest';
import { ValidationError, RuleViolationError } from '../../../shared/domain/errors.js';
import { EventService, type CreateEventInput } from '../../../shared/domain/events.js';
import * as jsonSchema from '../../../shared/domain/json-schema.js';
import type { JsonObject, Receiver, ReleaseEvent } from '../../../shared/domain/model.js';
import type { ReleaseStore } from '../../../shared/domain/ports.js';
import { ReceiverService } from '../../../shared/domain/receivers.js';

/** Just the receiver and event calls the two services make; the rest of ReleaseStore is never reached here. */
function memoryStore() {
  const receivers = new Map<string, Receiver>();
  const events: ReleaseEvent[] = [];
  const store = {
    receivers,
    events,
    createReceiver: async (r: Receiver) => void receivers.set(r.id, r),
    getReceiver: async (id: string) => receivers.get(id),
    replaceReceiver: async (r: Receiver) => void receivers.set(r.id, r),
    createEvent: async (e: ReleaseEvent) => void events.push(e),
  };
  return store;
}

function services() {
  const store = memoryStore();
  // Unique across the file: the code before this fix cached validators by receiver id + revision, module-wide.
  const ids = { next: () => randomUUID() };
  const clock = { now: () => '2026-11-23T12:00:00.000Z' };
  // The fake implements only what these services call (see memoryStore).
  const asStore = store as unknown as ReleaseStore;
  return { store, receivers: new ReceiverService(asStore, clock, ids), events: new EventService(asStore, clock, ids) };
}

const receiver = (schema: JsonObject) => ({ name: `r-${Math.random().toString(36).slice(2, 8)}`, type: 't', version: '1', schema });
const event = (receiverId: string, payload: JsonObject): CreateEventInput => ({
  receiverId,
  name: 'n',
  version: '1',
  release: '1',
  platformId: 'p',
  package: 'pkg',
  payload,
  success: true,
  eventStart: '2026-11-20T10:00:00Z',
  eventEnd: '2026-11-20T10:05:00Z',
});

/** The rejection a promise ends in (or undefined when it resolves). */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return error;
  }
}

describe('schemas with the same $id', () => {
  const id = 'https://schemas.example/release.json';

  it('are accepted for two receivers, and each receiver’s events meet its own schema', async () => {
    const { receivers, events } = services();
    const a = await receivers.create(receiver({ $id: id, type: 'object', required: ['commit'] }));
    const b = await receivers.create(receiver({ $id: id, type: 'object', required: ['build'] }));
    expect(b.id).not.toBe(a.id);

    await expect(events.ingest(event(a.id, { commit: 'x' }))).resolves.toMatchObject({ receiverId: a.id });
    await expect(events.ingest(event(b.id, { build: 'y' }))).resolves.toMatchObject({ receiverId: b.id });
    const wrong = await failure(events.ingest(event(b.id, { commit: 'x' })));
    expect(wrong).toBeInstanceOf(RuleViolationError);
    expect(wrong).toMatchObject({ code: 'PAYLOAD_SCHEMA_MISMATCH' });
  });

  it('validate events against a receiver’s new revision when its schema changes but keeps its $id', async () => {
    const { receivers, events } = services();
    const r = await receivers.create(receiver({ $id: id, type: 'object', required: ['commit'] }));
    await events.ingest(event(r.id, { commit: 'x' }));
    await receivers.update(r.id, { revision: 1, schema: { $id: id, type: 'object', required: ['build'] } });

    await expect(events.ingest(event(r.id, { build: 'y' }))).resolves.toMatchObject({ receiverId: r.id });
    expect(await failure(events.ingest(event(r.id, { commit: 'x' })))).toMatchObject({ code: 'PAYLOAD_SCHEMA_MISMATCH' });
  });
});

describe('catastrophic backtracking', () => {
  // 64 × "a" and a "!": a backtracking engine needs ~2^64 steps for ^(a+)+$; a linear one answers at once.
  const evil = `${'a'.repeat(64)}!`;

  it('answers a `pattern` that would backtrack with a plain schema mismatch', { timeout: 20_000 }, async () => {
    const { receivers, events } = services();
    const r = await receivers.create(receiver({ type: 'object', properties: { v: { type: 'string', pattern: '^(a+)+$' } } }));
    expect(await failure(events.ingest(event(r.id, { v: evil })))).toMatchObject({
      code: 'PAYLOAD_SCHEMA_MISMATCH',
      errors: [{ path: 'body.payload.v', message: 'must match pattern "^(a+)+$"' }],
    });
    await expect(events.ingest(event(r.id, { v: 'aaaa' }))).resolves.toMatchObject({ receiverId: r.id });
  });

  it('matches `patternProperties` names without backtracking', { timeout: 20_000 }, async () => {
    const { receivers, events } = services();
    const r = await receivers.create(
      receiver({ type: 'object', patternProperties: { '^(a+)+$': { type: 'number' } }, additionalProperties: false }),
    );
    expect(await failure(events.ingest(event(r.id, { [evil]: 1 })))).toMatchObject({ code: 'PAYLOAD_SCHEMA_MISMATCH' });
    await expect(events.ingest(event(r.id, { aaa: 1 }))).resolves.toMatchObject({ receiverId: r.id });
  });

  it('creates a receiver whose `properties` names would make ajv’s strict check backtrack', { timeout: 20_000 }, async () => {
    // ajv's strict mode tests each patternProperties pattern against the properties names with the native RegExp while compiling.
    const { receivers } = services();
    await expect(
      receivers.create(
        receiver({ type: 'object', properties: { [evil]: { type: 'string' } }, patternProperties: { '^(a+)+$': { type: 'string' } } }),
      ),
    ).resolves.toMatchObject({ revision: 1 });
  });

  it('checks `format: regex` values by compiling them, never by running them', { timeout: 20_000 }, async () => {
    const { receivers, events } = services();
    const r = await receivers.create(receiver({ type: 'object', properties: { rx: { type: 'string', format: 'regex' } } }));
    await expect(events.ingest(event(r.id, { rx: '^(a+)+$' }))).resolves.toMatchObject({ receiverId: r.id });
    expect(await failure(events.ingest(event(r.id, { rx: '([' })))).toMatchObject({ code: 'PAYLOAD_SCHEMA_MISMATCH' });
  });

  it('refuses, at creation, a pattern the linear-time engine cannot run (backreference, lookahead)', async () => {
    const { receivers } = services();
    for (const pattern of ['^(a)\\1$', '^(?=a)a+$']) {
      const error = await failure(receivers.create(receiver({ type: 'string', pattern })));
      expect(error).toBeInstanceOf(ValidationError);
      expect(error).toMatchObject({
        code: 'INVALID_SCHEMA',
        errors: [{ path: 'body.schema', message: expect.stringContaining('linear-time') }],
      });
    }
  });

  it('keeps ECMAScript pattern syntax that RE2 spells differently', async () => {
    const { receivers, events } = services();
    const r = await receivers.create(
      receiver({ type: 'object', properties: { v: { type: 'string', pattern: '^\\u{1F680}(?<n>\\d+)$' } } }),
    );
    await expect(events.ingest(event(r.id, { v: '🚀42' }))).resolves.toMatchObject({ receiverId: r.id });
    expect(await failure(events.ingest(event(r.id, { v: '🚀x' })))).toMatchObject({ code: 'PAYLOAD_SCHEMA_MISMATCH' });
  });
});

/** The limits this issue chose; the module's constants are checked against them below. */
const MAX_BYTES = 64 * 1024;
const MAX_DEPTH = 32;
const MAX_CACHED_VALIDATORS = 100;

describe('schema limits', () => {
  it('are the documented ones', () => {
    expect(jsonSchema.SCHEMA_LIMITS).toEqual({ maxBytes: MAX_BYTES, maxDepth: MAX_DEPTH });
    expect(jsonSchema.MAX_CACHED_VALIDATORS).toBe(MAX_CACHED_VALIDATORS);
  });

  it(`refuses a schema larger than ${MAX_BYTES} bytes with SCHEMA_TOO_LARGE, naming the limit`, async () => {
    const { receivers, store } = services();
    const properties = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`property${i}`, { type: 'string', maxLength: 10 }]));
    const error = await failure(receivers.create(receiver({ type: 'object', properties })));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({
      code: 'SCHEMA_TOO_LARGE',
      errors: [{ path: 'body.schema', message: expect.stringContaining(String(MAX_BYTES)) }],
    });
    expect(store.receivers.size).toBe(0);
  });

  it(`refuses a schema nested deeper than ${MAX_DEPTH} levels with SCHEMA_TOO_DEEP, on create and update`, async () => {
    const { receivers } = services();
    const nest = (levels: number): JsonObject => {
      let schema: JsonObject = { type: 'string' };
      for (let i = 0; i < levels; i++) schema = { type: 'object', properties: { a: schema } };
      return schema;
    };
    for (const levels of [40, 20_000]) {
      const error = await failure(receivers.create(receiver(nest(levels))));
      expect(error).toBeInstanceOf(ValidationError);
      expect(error).toMatchObject({
        code: 'SCHEMA_TOO_DEEP',
        errors: [{ path: 'body.schema', message: expect.stringContaining(String(MAX_DEPTH)) }],
      });
    }
    const r = await receivers.create(receiver(nest(5)));
    expect(await failure(receivers.update(r.id, { revision: 1, schema: nest(40) }))).toMatchObject({ code: 'SCHEMA_TOO_DEEP' });
  });

  it('answers an event for a stored schema that no longer compiles with a 422, not a crash', async () => {
    const { events, store } = services();
    const stored = { id: 'legacy', name: 'legacy', type: 't', version: '1', description: '', revision: 1, createdAt: '', updatedAt: '' };
    // A typo ajv's strict mode refuses, and a lookahead RE2 cannot run: both could only have been stored before these checks.
    for (const schema of [
      { type: 'object', minLenght: 1 },
      { type: 'string', pattern: '^(?=a)' },
    ]) {
      store.receivers.set('legacy', { ...stored, schema });
      const error = await failure(events.ingest(event('legacy', {})));
      expect(error).toBeInstanceOf(RuleViolationError);
      expect(error).toMatchObject({ code: 'RECEIVER_SCHEMA_UNUSABLE' });
    }
  });
});

describe('remote references', () => {
  it('are never fetched: a schema with a remote $ref is refused as invalid', async () => {
    const fetchSpy = vi.spyOn(globalThis, 'fetch');
    try {
      const { receivers } = services();
      const error = await failure(receivers.create(receiver({ $ref: 'https://schemas.example/remote.json' })));
      expect(error).toMatchObject({
        code: 'INVALID_SCHEMA',
        errors: [{ path: 'body.schema', message: expect.stringContaining('https://schemas.example/remote.json') }],
      });
      expect(fetchSpy).not.toHaveBeenCalled();
    } finally {
      fetchSpy.mockRestore();
    }
  });
});

describe('compiled validators', () => {
  // Node's `gc` for this test only: the flag takes effect for functions created afterwards.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;

  it(`are kept for at most ${MAX_CACHED_VALIDATORS} schemas; older schemas can be garbage-collected`, { timeout: 30_000 }, async () => {
    const { receivers, events, store } = services();
    // In a function of its own so that no local variable of this test keeps the receiver.
    const firstSchema = await (async () => {
      const first = await receivers.create(receiver({ type: 'object', properties: { first: { type: 'string' } } }));
      await events.ingest(event(first.id, {}));
      // The store lets go of the receiver; only the validator cache could still hold its schema.
      store.receivers.delete(first.id);
      store.events.length = 0;
      return new WeakRef(first.schema);
    })();

    // More schemas than the bound, and than the 500 at which the earlier id@revision map started over, so that only
    // a cache that truly lets go (ajv's own kept every schema it compiled) passes.
    for (let i = 0; i < Math.max(MAX_CACHED_VALIDATORS + 20, 520); i++) {
      const r = await receivers.create(receiver({ type: 'object', properties: { [`p${i}`]: { type: 'string' } } }));
      await events.ingest(event(r.id, {}));
    }

    await new Promise((resolve) => setTimeout(resolve, 0)); // WeakRef targets stay alive until the current job ends
    gc();
    expect(firstSchema.deref()).toBeUndefined();
    expect(jsonSchema.cachedValidatorCount()).toBeLessThanOrEqual(MAX_CACHED_VALIDATORS);
  });
});
