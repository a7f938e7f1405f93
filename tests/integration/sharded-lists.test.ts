/**
 * The event list and the audit list are spread over write shards (no hot
 * partition); on DynamoDB Local, a caller paging them still gets every item
 * once, newest first, with filters and time ranges, exactly as from one
 * partition.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { EventService } from '../../shared/domain/events.js';
import type { AuditRecord, AuditQuery } from '../../shared/domain/identity.js';
import type { ReleaseEvent } from '../../shared/domain/model.js';
import type { EventQuery } from '../../shared/domain/ports.js';
import { ReceiverService } from '../../shared/domain/receivers.js';
import { systemClock, uuidIds } from '../../shared/store/index.js';
import { DynamoIdentityStore } from '../../shared/store/identity-store.js';
import { GSI2, LIST_SHARDS } from '../../shared/store/keys.js';
import { DynamoReleaseStore } from '../../shared/store/release-store.js';
import { eventBody, receiverBody } from '../support/samples.js';
import { freshTable, TEST_AUDIT } from '../support/table.js';

let client: Awaited<ReturnType<typeof freshTable>>['client'];
let tableName: string;
let releases: DynamoReleaseStore;
let identity: DynamoIdentityStore;
const ingested: ReleaseEvent[] = [];
const audit: AuditRecord[] = [];

/** 45 events over 15 instants (three per instant: equal eventStart, ordered by id). */
const instant = (n: number) => `2026-11-${String(1 + (n % 15)).padStart(2, '0')}T08:00:00.000Z`;

beforeAll(async () => {
  ({ client, tableName } = await freshTable());
  releases = new DynamoReleaseStore(client, tableName, { audit: TEST_AUDIT });
  identity = new DynamoIdentityStore(client, tableName, { audit: TEST_AUDIT });
  const receiver = await new ReceiverService(releases, systemClock, uuidIds).create(receiverBody());
  const events = new EventService(releases, systemClock, uuidIds);
  for (let n = 0; n < 45; n++) {
    ingested.push(await events.ingest(eventBody(receiver.id, { eventStart: instant(n), eventEnd: instant(n), success: n % 3 !== 0 })));
  }
  for (let n = 0; n < 30; n++) {
    const record: AuditRecord = {
      ...TEST_AUDIT,
      id: randomUUID(),
      requestId: `login-${n}`,
      at: `2026-11-23T09:00:${String(n % 20).padStart(2, '0')}.000Z`,
      action: n % 2 ? 'login' : 'logout',
      status: 200,
    };
    await identity.appendAudit(record);
    audit.push(record);
  }
}, 120_000);

const newestFirst = <T>(items: T[], sortKey: (item: T) => string) => [...items].sort((a, b) => (sortKey(a) < sortKey(b) ? 1 : -1));
const eventKey = (e: ReleaseEvent) => `${e.eventStart}#${e.id}`;

async function allPages<T>(
  list: (cursor?: string) => Promise<{ items: T[]; nextCursor?: string }>,
): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await list(cursor);
    items.push(...page.items);
    cursor = page.nextCursor;
    pages++;
  } while (cursor && pages < 100);
  return { items, pages };
}

describe('the event list over write shards', () => {
  it('spreads its entries over the shards instead of one partition', async () => {
    const used = await Promise.all(
      Array.from({ length: LIST_SHARDS }, (_, n) =>
        client
          .send(
            new QueryCommand({
              TableName: tableName,
              IndexName: GSI2,
              KeyConditionExpression: 'gsi2pk = :pk',
              ExpressionAttributeValues: { ':pk': `EVENTS#${n}` },
              Select: 'COUNT',
            }),
          )
          .then((out) => out.Count ?? 0),
      ),
    );
    expect(used.reduce((a, b) => a + b, 0)).toBe(45);
    expect(used.filter((count) => count > 0).length).toBeGreaterThanOrEqual(6);
  });

  it.each([1, 4, 7, 45, 100])('pages every event once, newest first, %i at a time', async (limit) => {
    const { items } = await allPages((cursor) => releases.listEvents({ limit, ...(cursor ? { cursor } : {}) }));
    expect(items.map((e) => e.id)).toEqual(newestFirst(ingested, eventKey).map((e) => e.id));
  });

  it('pages a filtered time range exactly', async () => {
    const query: EventQuery = { limit: 4, success: false, from: instant(3), to: '2026-11-10T08:00:00Z' };
    const { items } = await allPages((cursor) => releases.listEvents({ ...query, ...(cursor ? { cursor } : {}) }));
    const expected = ingested.filter((e) => !e.success && e.eventStart >= instant(3) && e.eventStart <= '2026-11-10T08:00:00.000Z#~');
    expect(expected.length).toBeGreaterThan(3);
    expect(items.map((e) => e.id)).toEqual(newestFirst(expected, eventKey).map((e) => e.id));
  });

  it('refuses a cursor of another query (400), as before sharding', async () => {
    const page = await releases.listEvents({ limit: 2 });
    await expect(releases.listEvents({ limit: 2, success: true, cursor: page.nextCursor as string })).rejects.toMatchObject({
      code: 'INVALID_CURSOR',
    });
  });
});

describe('the audit list over write shards', () => {
  const auditKey = (r: AuditRecord) => `${r.at}#${r.id}`;
  const ours = (records: AuditRecord[]) => records.filter((r) => r.requestId.startsWith('login-') || r.requestId.startsWith('logout-'));

  it('pages every record once, newest first, with and without an action filter', async () => {
    for (const query of [{ limit: 3 }, { limit: 5, action: 'login' }] as AuditQuery[]) {
      const { items } = await allPages((cursor) => identity.listAudit({ ...query, ...(cursor ? { cursor } : {}) }));
      const expected = audit.filter((r) => query.action === undefined || r.action === query.action);
      expect(ours(items).map((r) => r.id)).toEqual(newestFirst(expected, auditKey).map((r) => r.id));
    }
  });
});
