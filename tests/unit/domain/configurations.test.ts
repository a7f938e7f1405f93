import { describe, expect, it } from 'vitest';
import {
  approveVersion,
  ConfigurationService,
  DEFAULT_CONFIGURATION_RULES,
  diffVersions,
  validateVersion,
  type Configuration,
  type ConfigurationStore,
  type ConfigurationVersion,
} from '../../../shared/domain/configurations.js';
import { assertDeployable } from '../../../shared/domain/deployments.js';
import { ForbiddenError, NotFoundError, RuleViolationError, ValidationError, VersionConflictError } from '../../../shared/domain/errors.js';
import type { JsonObject } from '../../../shared/domain/model.js';

const T = '2026-11-23T12:00:00.000Z';

function version(content: JsonObject, extra: Partial<ConfigurationVersion> = {}): ConfigurationVersion {
  return { configurationId: 'cfg', version: 1, content, author: 'dev', createdAt: T, ...extra };
}

const operator = { id: 'op', roles: ['operator'] as const };

function memoryStore() {
  const configurations = new Map<string, Configuration>();
  const versions = new Map<string, ConfigurationVersion>();
  const events: string[] = [];
  const key = (id: string, v: number) => `${id}@${v}`;
  const store: ConfigurationStore = {
    async createConfiguration(c, first, change) {
      configurations.set(c.id, c);
      versions.set(key(c.id, 1), first);
      events.push(change);
    },
    getConfiguration: async (id) => configurations.get(id),
    listConfigurations: async () => ({ items: [...configurations.values()] }),
    async addVersion(c, v, expectedRevision, change) {
      if (configurations.get(c.id)?.revision !== expectedRevision) throw new VersionConflictError('Configuration', c.id, expectedRevision);
      configurations.set(c.id, c);
      versions.set(key(c.id, v.version), v);
      events.push(change);
    },
    getVersion: async (id, v) => versions.get(key(id, v)),
    listVersions: async (id) => ({ items: [...versions.values()].filter((v) => v.configurationId === id).reverse() }),
    async approveVersion(id, v, approval, change) {
      const current = versions.get(key(id, v))!;
      if (current.approvedBy) return current;
      const approved = { ...current, ...approval };
      versions.set(key(id, v), approved);
      events.push(change);
      return approved;
    },
    async deleteConfiguration(id, _expected, change) {
      configurations.delete(id);
      events.push(change);
    },
  };
  let n = 0;
  const service = new ConfigurationService(store, { now: () => T }, { next: () => `00000000-0000-4000-8000-00000000000${++n}` });
  return { store, service, events, versions };
}

describe('validateVersion', () => {
  it('accepts valid content and reports nothing', () => {
    expect(validateVersion(version({ routes: [{ path: '/a', ttlSeconds: 60 }] }))).toEqual([]);
  });

  it('checks the content against its own JSON Schema', () => {
    const schema = {
      type: 'object',
      properties: { cache: { type: 'object', properties: { ttl: { type: 'integer' } } } },
      required: ['cache'],
    };
    const problems = validateVersion(version({ cache: { ttl: 'long' } }, { schema }));
    expect(problems).toEqual([{ code: 'SCHEMA_MISMATCH', path: 'content.cache.ttl', message: 'must be integer' }]);
    expect(validateVersion(version({}, { schema })).map((p) => p.code)).toEqual(['SCHEMA_MISMATCH']);
  });

  it('refuses forbidden keys at any depth, and reports missing required keys', () => {
    const content = JSON.parse('{"a": {"__proto__": {"polluted": true}}, "b": [{"constructor": 1}]}') as JsonObject;
    const problems = validateVersion(version(content), { ...DEFAULT_CONFIGURATION_RULES, requiredKeys: ['routes', 'constructor'] });
    expect(problems.map((p) => [p.code, p.path])).toEqual(
      expect.arrayContaining([
        ['FORBIDDEN_KEY', 'content.a.__proto__'],
        ['FORBIDDEN_KEY', 'content.b.0.constructor'],
        ['REQUIRED_KEY_MISSING', 'content.routes'],
        ['REQUIRED_KEY_MISSING', 'content.constructor'],
      ]),
    );
    expect(problems).toHaveLength(4);
  });

  it('enforces the size and depth limits without running the schema', () => {
    const big = version({ blob: 'x'.repeat(300 * 1024) }, { schema: { type: 'object' } });
    expect(validateVersion(big).map((p) => p.code)).toEqual(['CONTENT_TOO_LARGE']);
    let deep: JsonObject = {};
    for (let i = 0; i < 40; i++) deep = { d: deep };
    expect(validateVersion(version(deep)).map((p) => p.code)).toEqual(['CONTENT_TOO_DEEP']);
    expect(validateVersion(version({ a: 1 }), { ...DEFAULT_CONFIGURATION_RULES, maxBytes: 4 }).map((p) => p.code)).toEqual([
      'CONTENT_TOO_LARGE',
    ]);
  });

  it('bounds TTLs and refuses two routes for one path (seed 003 safety and conflict checks)', () => {
    const problems = validateVersion(
      version({ defaultTtlSeconds: -1, routes: [{ path: '/a', ttl: 1.5 }, { path: '/b' }, { path: '/a', ttl: 10 }] }),
    );
    expect(problems.map((p) => [p.code, p.path])).toEqual(
      expect.arrayContaining([
        ['TTL_OUT_OF_RANGE', 'content.defaultTtlSeconds'],
        ['TTL_OUT_OF_RANGE', 'content.routes.0.ttl'],
        ['DUPLICATE_ROUTE_PATH', 'content.routes.2.path'],
      ]),
    );
    expect(problems).toHaveLength(3);
  });
});

describe('approveVersion', () => {
  it('records the approver and time', () => {
    const r = approveVersion(version({}), operator, T);
    expect(r).toEqual({ changed: true, version: { ...version({}), approvedBy: 'op', approvedAt: T } });
  });

  it('needs the operator role', () => {
    expect(() => approveVersion(version({}), { id: 'x', roles: ['developer'] }, T)).toThrow(ForbiddenError);
    expect(approveVersion(version({}), { id: 'x', roles: ['admin'] }, T).changed).toBe(true);
  });

  it("refuses the version's author (422 SELF_APPROVAL)", () => {
    const error = (() => {
      try {
        approveVersion(version({}, { author: 'op' }), operator, T);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(RuleViolationError);
    expect((error as RuleViolationError).code).toBe('SELF_APPROVAL');
  });

  it('refuses an invalid version (422 CONFIGURATION_INVALID with the problems)', () => {
    try {
      approveVersion(version({ routes: [{ path: '/a' }, { path: '/a' }] }), operator, T);
      expect.unreachable();
    } catch (e) {
      expect((e as RuleViolationError).code).toBe('CONFIGURATION_INVALID');
      expect((e as RuleViolationError).errors).toEqual([
        { path: 'content.routes.1.path', message: '/a is already routed by content.routes.0 (DUPLICATE_ROUTE_PATH)' },
      ]);
    }
  });

  it('is idempotent: an approved version stays approved by its first approver', () => {
    const approved = version({}, { approvedBy: 'first', approvedAt: T });
    expect(approveVersion(approved, { id: 'second', roles: ['operator'] }, '2027-01-01T00:00:00.000Z')).toEqual({
      version: approved,
      changed: false,
    });
  });

  it('only an approved version is deployable', () => {
    expect(() => assertDeployable(version({}))).toThrow(RuleViolationError);
    expect(() => assertDeployable(version({}))).toThrow(/is not approved/);
    expect(() => assertDeployable(version({}, { approvedBy: 'op' }))).not.toThrow();
  });
});

describe('diffVersions', () => {
  it('answers an RFC 6902 patch', () => {
    const patch = diffVersions(version({ a: 1, b: { c: [1, 2] }, gone: true }), version({ a: 2, b: { c: [1, 2, 3] }, added: 'x' }));
    expect(patch).toEqual(
      expect.arrayContaining([
        { op: 'replace', path: '/a', value: 2 },
        { op: 'add', path: '/b/c/-', value: 3 },
        { op: 'remove', path: '/gone' },
        { op: 'add', path: '/added', value: 'x' },
      ]),
    );
    expect(patch).toHaveLength(4);
    expect(diffVersions(version({ a: 1 }), version({ a: 1 }))).toEqual([]);
  });
});

describe('ConfigurationService', () => {
  it('creates version 1 and makes version n+1 on every update, never changing old versions', async () => {
    const { service, events, versions } = memoryStore();
    const { configuration } = await service.create({ name: 'edge', content: { a: 1 }, schema: { type: 'object' } }, 'dev');
    expect(configuration).toMatchObject({ latestVersion: 1, revision: 1 });
    const v2 = await service.update(configuration.id, { revision: 1, content: { a: 2 } }, 'dev');
    expect(v2.version).toMatchObject({ version: 2, content: { a: 2 }, schema: { type: 'object' } });
    expect(v2.configuration).toMatchObject({ latestVersion: 2, revision: 2 });
    expect((await service.getVersion(configuration.id, 1)).content).toEqual({ a: 1 });
    expect(versions.size).toBe(2);
    await expect(service.update(configuration.id, { revision: 1, content: { a: 3 } }, 'dev')).rejects.toThrow(VersionConflictError);
    expect(events).toEqual(['configuration.created', 'configuration.version_created']);
  });

  it('refuses a schema that does not compile and content over the limits (400)', async () => {
    const { service } = memoryStore();
    await expect(service.create({ name: 'x', content: {}, schema: { type: 'objekt' } }, 'dev')).rejects.toThrow(ValidationError);
    await expect(service.create({ name: 'x', content: { blob: 'x'.repeat(300 * 1024) } }, 'dev')).rejects.toMatchObject({
      code: 'CONTENT_TOO_LARGE',
    });
  });

  it('validates, approves once, and diffs', async () => {
    const { service, events } = memoryStore();
    const { configuration } = await service.create({ name: 'edge', content: { routes: [{ path: '/a' }, { path: '/a' }] } }, 'dev');
    expect(await service.validate(configuration.id)).toMatchObject({
      version: 1,
      valid: false,
      problems: [{ code: 'DUPLICATE_ROUTE_PATH' }],
    });
    await expect(service.approve(configuration.id, 1, operator)).rejects.toMatchObject({ code: 'CONFIGURATION_INVALID' });
    await service.update(configuration.id, { revision: 1, content: { routes: [{ path: '/a' }, { path: '/b' }] } }, 'dev');
    expect((await service.validate(configuration.id)).valid).toBe(true);
    const approved = await service.approve(configuration.id, 2, operator);
    expect(approved).toMatchObject({ version: 2, approvedBy: 'op', approvedAt: T });
    expect(await service.approve(configuration.id, undefined, { id: 'op2', roles: ['operator'] })).toEqual(approved);
    expect(events.filter((e) => e === 'configuration.approved')).toHaveLength(1);
    expect(await service.diff(configuration.id, 1, 2)).toEqual({
      from: 1,
      to: 2,
      patch: [{ op: 'replace', path: '/routes/1/path', value: '/b' }],
    });
  });

  it('answers 404 for a missing configuration or version, 400 for a bad version number', async () => {
    const { service } = memoryStore();
    const { configuration } = await service.create({ name: 'edge', content: {} }, 'dev');
    await expect(service.getVersion(configuration.id, 9)).rejects.toThrow(NotFoundError);
    await expect(service.getVersion('nope', 1)).rejects.toMatchObject({ entity: 'Configuration' });
    await expect(service.diff(configuration.id, 0, 1)).rejects.toThrow(ValidationError);
  });
});
