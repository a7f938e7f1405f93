/** The configuration store on DynamoDB Local: a configuration and its immutable versions, approvals written once, one event per change. */
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationService, type Actor } from '../../shared/domain/configurations.js';
import { NotFoundError, RuleViolationError, ValidationError, VersionConflictError } from '../../shared/domain/errors.js';
import type { SwitchyardCloudEvent } from '../../shared/events/cloudevent.js';
import { DynamoConfigurationStore } from '../../shared/store/configuration-store.js';
import { systemClock, uuidIds } from '../../shared/store/index.js';
import { keys } from '../../shared/store/keys.js';
import { freshTable, scanTable, TEST_AUDIT } from '../support/table.js';

let tableName: string;
let client: DynamoDBDocumentClient;
let store: DynamoConfigurationStore;
let service: ConfigurationService;

const ada: Actor = { id: 'user:ada', roles: ['developer'] };
const olu: Actor = { id: 'user:olu', roles: ['operator'] };

beforeAll(async () => {
  ({ tableName, client } = await freshTable());
  store = new DynamoConfigurationStore(client, tableName, { audit: TEST_AUDIT });
  service = new ConfigurationService(store, systemClock, uuidIds);
});

const scanAll = () => scanTable(client, tableName);

/** The outbox events about one configuration, oldest first. */
async function eventsAbout(subject: string): Promise<SwitchyardCloudEvent[]> {
  return (await scanAll())
    .filter((item) => item.type === 'Outbox' && (item.event as SwitchyardCloudEvent).subject === subject)
    .map((item) => item.event as SwitchyardCloudEvent)
    .sort((a, b) => a.time.localeCompare(b.time));
}

async function auditCount(resourceId: string): Promise<number> {
  return (await scanAll()).filter((item) => item.type === 'Audit' && (item.data as { resourceId: string }).resourceId === resourceId)
    .length;
}

const content = { routes: [{ path: '/a', origin: 'o1', ttlSeconds: 60 }] };
const schema = { type: 'object', required: ['routes'], properties: { routes: { type: 'array' } } };

describe('DynamoConfigurationStore', () => {
  it('creates a configuration with its version 1 under CONFIG#id, and one configuration.created event', async () => {
    const { configuration, version } = await service.create({ name: 'edge-eu', content, schema }, ada.id);
    expect(configuration).toMatchObject({ name: 'edge-eu', latestVersion: 1, revision: 1, createdBy: ada.id, schema });
    expect(version).toMatchObject({ configurationId: configuration.id, version: 1, content, author: ada.id });
    expect(await service.get(configuration.id)).toEqual(configuration);
    expect(await service.getVersion(configuration.id, 1)).toEqual(version);

    const raw = await client.send(new GetCommand({ TableName: tableName, Key: keys.configuration(configuration.id) }));
    expect(raw.Item).toMatchObject({
      pk: `CONFIG#${configuration.id}`,
      sk: 'CONFIG',
      gsi2pk: 'CONFIGS',
      type: 'Configuration',
      approvedVersions: 0,
    });
    const rawVersion = await client.send(new GetCommand({ TableName: tableName, Key: keys.configurationVersion(configuration.id, 1) }));
    expect(rawVersion.Item).toMatchObject({ pk: `CONFIG#${configuration.id}`, sk: 'VERSION#000001', type: 'ConfigurationVersion' });

    const events = await eventsAbout(configuration.id);
    expect(events.map((e) => e.type)).toEqual(['configuration.created']);
    expect(events[0]!.source).toBe('switchyard/configurations');
    expect(events[0]!.data).toMatchObject({ id: configuration.id, name: 'edge-eu', latestVersion: 1 });
    expect(await auditCount(configuration.id)).toBe(1);
  });

  it('adds immutable versions n+1 at the read revision; a stale revision is a 409 that stores nothing', async () => {
    const { configuration } = await service.create({ name: 'versions', content }, ada.id);
    const second = await service.update(configuration.id, { revision: 1, content: { ...content, extra: true } }, ada.id);
    expect(second.configuration).toMatchObject({ latestVersion: 2, revision: 2 });
    expect(second.version).toMatchObject({ version: 2, content: { ...content, extra: true } });
    // The If-Match form.
    const third = await service.update(configuration.id, { content: { third: 3 } }, 'user:bea', '"2"');
    expect(third.version).toMatchObject({ version: 3, author: 'user:bea' });

    await expect(service.update(configuration.id, { revision: 1, content: { stale: true } }, ada.id)).rejects.toBeInstanceOf(
      VersionConflictError,
    );
    // The store's own guard, when two writers read the same revision.
    const stale = { ...third.configuration, latestVersion: 4, revision: 4 };
    await expect(
      store.addVersion(stale, { ...third.version, version: 4, content: { lost: true } }, 2, 'configuration.version_created'),
    ).rejects.toBeInstanceOf(VersionConflictError);
    expect(await store.getVersion(configuration.id, 4)).toBeUndefined();
    expect((await service.get(configuration.id)).latestVersion).toBe(3);

    // Version 1 is untouched.
    expect((await service.getVersion(configuration.id, 1)).content).toEqual(content);
    const page = await service.listVersions(configuration.id, { limit: 2 });
    expect(page.items.map((v) => v.version)).toEqual([3, 2]);
    expect(page.nextCursor).toBeDefined();
    const rest = await service.listVersions(configuration.id, { limit: 2, cursor: page.nextCursor });
    expect(rest.items.map((v) => v.version)).toEqual([1]);
    expect(rest.nextCursor).toBeUndefined();

    expect((await service.diff(configuration.id, 2, 3)).patch).toEqual(
      expect.arrayContaining([
        { op: 'add', path: '/third', value: 3 },
        { op: 'remove', path: '/extra' },
      ]),
    );

    const events = await eventsAbout(configuration.id);
    expect(events.map((e) => e.type)).toEqual(['configuration.created', 'configuration.version_created', 'configuration.version_created']);
    expect(events[2]!.data).toMatchObject({ latestVersion: 3, revision: 3 });
  });

  it('refuses a schema that does not compile and an over-deep content with 400, storing nothing', async () => {
    const before = (await scanAll()).length;
    await expect(service.create({ name: 'bad', content, schema: { type: 'no-such-type' } }, ada.id)).rejects.toBeInstanceOf(
      ValidationError,
    );
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) deep = { d: deep };
    await expect(service.create({ name: 'deep', content: deep }, ada.id)).rejects.toBeInstanceOf(ValidationError);
    expect((await scanAll()).length).toBe(before);
  });

  it('approves once: not by the author, exactly one configuration.approved event, and a second approval changes nothing', async () => {
    const { configuration } = await service.create({ name: 'approve', content }, 'user:olu');
    await expect(service.approve(configuration.id, 1, olu)).rejects.toMatchObject({ code: 'SELF_APPROVAL' });

    const other = { id: 'user:kim', roles: ['operator'] } as Actor;
    const approved = await service.approve(configuration.id, 1, other);
    expect(approved).toMatchObject({ version: 1, approvedBy: 'user:kim' });
    expect(await service.approve(configuration.id, 1, { id: 'user:zed', roles: ['admin'] })).toMatchObject({ approvedBy: 'user:kim' });
    // The store's conditional write: a racing second approval keeps the first.
    expect(
      await store.approveVersion(
        configuration.id,
        1,
        { approvedBy: 'user:late', approvedAt: new Date().toISOString() },
        'configuration.approved',
      ),
    ).toMatchObject({ approvedBy: 'user:kim' });

    const events = await eventsAbout(configuration.id);
    expect(events.map((e) => e.type)).toEqual(['configuration.created', 'configuration.approved']);
    expect(events[1]!.data).toEqual({
      configurationId: configuration.id,
      version: 1,
      author: 'user:olu',
      createdAt: approved.createdAt,
      approvedBy: 'user:kim',
      approvedAt: approved.approvedAt,
    });
  });

  it('refuses to approve an invalid version (422 CONFIGURATION_INVALID)', async () => {
    const { configuration } = await service.create({ name: 'invalid', content: { routes: 'nope' }, schema }, ada.id);
    const verdict = await service.validate(configuration.id);
    expect(verdict.valid).toBe(false);
    expect(verdict.problems[0]).toMatchObject({ code: 'SCHEMA_MISMATCH' });
    await expect(service.approve(configuration.id, undefined, olu)).rejects.toMatchObject({ code: 'CONFIGURATION_INVALID' });
    expect((await eventsAbout(configuration.id)).map((e) => e.type)).toEqual(['configuration.created']);
  });

  it('deletes a configuration without approved versions, with its versions; refuses one with an approved version (422)', async () => {
    const { configuration } = await service.create({ name: 'gone', content }, ada.id);
    await service.update(configuration.id, { revision: 1, content: { v: 2 } }, ada.id);
    await expect(service.delete(configuration.id, 1)).rejects.toBeInstanceOf(VersionConflictError);
    await service.delete(configuration.id, 2);
    await expect(service.get(configuration.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(service.getVersion(configuration.id, 1)).rejects.toBeInstanceOf(NotFoundError);
    expect((await scanAll()).filter((item) => item.pk === `CONFIG#${configuration.id}`)).toEqual([]);
    expect((await eventsAbout(configuration.id)).map((e) => e.type)).toEqual([
      'configuration.created',
      'configuration.version_created',
      'configuration.deleted',
    ]);

    const kept = (await service.create({ name: 'kept', content }, ada.id)).configuration;
    await service.approve(kept.id, 1, olu);
    const refused = service.delete(kept.id, 1);
    await expect(refused).rejects.toBeInstanceOf(RuleViolationError);
    await expect(refused).rejects.toMatchObject({ code: 'CONFIGURATION_IN_USE' });
    expect((await service.getVersion(kept.id, 1)).approvedBy).toBe(olu.id);
  });

  it('lists configurations newest first in cursor pages', async () => {
    const { tableName: t, client: c } = await freshTable();
    const own = new ConfigurationService(new DynamoConfigurationStore(c, t, { audit: TEST_AUDIT }), systemClock, uuidIds);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await own.create({ name: `c${i}`, content }, ada.id)).configuration.id);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await own.list({ limit: 2, ...(cursor ? { cursor } : {}) });
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((item) => item.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
  });
});
