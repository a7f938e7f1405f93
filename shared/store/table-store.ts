/**
 * What every store over the single table shares: consistent reads of an
 * entity's data, filtered and cursor-paginated Queries, revision-guarded
 * replace and delete, and the translation of DynamoDB condition failures
 * into domain errors.
 */
import {
  ConditionalCheckFailedException,
  TransactionCanceledException,
  type AttributeValue,
  type CancellationReason,
} from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { NotFoundError, VersionConflictError } from '../domain/errors.js';
import type { AuditRecord } from '../domain/identity.js';
import type { Page, PageRequest } from '../domain/model.js';
import type { AuditContext } from '../domain/ports.js';
import { currentAudit, rememberAudited } from './audit-scope.js';
import { cursorKeyFromEnv, decodeCursor, encodeCursor, queryFingerprint } from './cursor.js';
import { eventTypeOf, type ChangeKind } from '../events/types.js';
import { cloudEvent, traceparentFromXRay, type SwitchyardCloudEvent } from '../events/cloudevent.js';
import { GSI2, GSI2_KEY, keys, LIST_SHARDS } from './keys.js';
import { mergeShardReads, sortKeyCondition, type ShardRead } from './sharded-page.js';

/** A filter query may need several reads to fill a page; this bounds the work per request. */
const MAX_READS_PER_PAGE = 10;
/** Items a filtered read evaluates at a time (each read costs by items evaluated, not returned). */
const FILTERED_READ_SIZE = 100;
/** Reads per shard per page of a filtered sharded list: 8 shards × 2 × 100 bounds a page at 1 600 items evaluated. */
const SHARD_READS_PER_PAGE = 2;

/** A newest-first list spread over write shards (./sharded-page.ts), on gsi2. */
export interface ShardedQuery {
  partitions: readonly string[];
  /** Inclusive sort-key bounds. */
  from?: string;
  to?: string;
  filter?: { expression: string; names: Record<string, string>; values: Record<string, unknown> };
  page: PageRequest;
  fingerprint: unknown;
}

export interface PagedQuery {
  input: Omit<QueryCommandInput, 'Limit' | 'ExclusiveStartKey' | 'TableName'>;
  keyAttributes: readonly string[];
  page: PageRequest;
  fingerprint: unknown;
}

/** An equality on one field of an item's `data` (listPartition). */
export interface DataFilter {
  field: string;
  value: unknown;
}

/** One element of a TransactWriteItems call, in the document client's (unmarshalled) form. */
export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

const STATUS_OF: Record<ChangeKind, number> = {
  created: 201,
  updated: 200,
  deleted: 204,
  enabled: 200,
  disabled: 200,
  secret_rotated: 200,
  // ---- rollouts (issue 10): configurations (and a deployment's approval gate) ----
  approved: 200,
  // ---- edge health: the job's own writes (no request; 200 as any recorded update) ----
  unhealthy: 200,
  healthy: 200,
  // ---- rollouts (issue 10): deployments: each a state change of an existing record ----
  started: 200,
  stage_applied: 200,
  waiting_approval: 200,
  stage_completed: 200,
  promoted: 200,
  paused: 200,
  resumed: 200,
  succeeded: 200,
  rolling_back: 200,
  rolled_back: 200,
  failed: 200,
};

/** The change a commit makes: its audit record and its outbox CloudEvent (shared/events/catalog.ts) are built from it. */
export interface ChangeDescription {
  /** Entity type, e.g. `Receiver`. */
  entity: string;
  /** The id of the entity the request addressed (for a membership, the group). */
  resourceId: string;
  change: ChangeKind;
  /** The event's `data`: the entity after the change (default for a deletion: `{ id: resourceId }`); the event type's schema keeps only its public fields. */
  data?: unknown;
}

export interface CommitOptions {
  /** Required: a change is not written without its audit record and its event. */
  audit: ChangeDescription;
}

/** The stored form of an audit record: newest first per actor (gsi1) and overall (gsi2). */
export function auditItem(record: AuditRecord, shards: number): Record<string, unknown> {
  return {
    ...keys.audit(record.id),
    type: 'Audit',
    version: 1,
    gsi1pk: keys.auditOfActor(record.actor.id),
    gsi1sk: `${record.at}#${record.id}`,
    gsi2pk: keys.auditShard(record.id, shards),
    gsi2sk: `${record.at}#${record.id}`,
    data: record,
  };
}

/** The stored form of an outbox item: the CloudEvent, pending (in gsi1) until the relay has put it on the bus. */
export function outboxItem(event: SwitchyardCloudEvent, shards: number): Record<string, unknown> {
  return {
    ...keys.outbox(event.id),
    type: 'Outbox',
    version: 1,
    gsi1pk: keys.outboxPendingShard(event.id, shards),
    gsi1sk: `${event.time}#${event.id}`,
    event,
  };
}

export type { ChangeKind };

export function cancellationCodes(error: TransactionCanceledException): (string | undefined)[] {
  return (error.CancellationReasons ?? []).map((r: CancellationReason) => r.Code);
}

export function isConditionFailure(error: unknown): boolean {
  return error instanceof ConditionalCheckFailedException || (error as { name?: string })?.name === 'ConditionalCheckFailedException';
}

export function isCancelled(error: unknown): error is TransactionCanceledException {
  return error instanceof TransactionCanceledException || (error as { name?: string })?.name === 'TransactionCanceledException';
}

export interface StoreOptions {
  /**
   * The audit context of changes made outside any request's withAudit scope
   * (scheduled jobs, tests). Without one, such a change is refused.
   */
  audit?: AuditContext;
  /** The HMAC key of page cursors (./cursor.ts); default: CURSOR_KEY_SECRET_ARN, else a per-process random key. */
  cursorKey?: () => Promise<Uint8Array>;
  /**
   * Write shards of the events, audit and deliveries lists (default LIST_SHARDS). Part of
   * the data layout: readers and writers of one table must agree. Other
   * values are for benchmarks that compare layouts.
   */
  listShards?: number;
}

export abstract class TableStore {
  constructor(
    protected readonly client: DynamoDBDocumentClient,
    protected readonly tableName: string,
    protected readonly options: StoreOptions = {},
  ) {
    this.cursorKey = options.cursorKey ?? cursorKeyFromEnv();
    this.listShards = options.listShards ?? LIST_SHARDS;
  }

  private readonly cursorKey: () => Promise<Uint8Array>;
  protected readonly listShards: number;

  /**
   * The one write path of every change: the change's items, its audit record
   * and its outbox CloudEvent (DESIGN.md §5) in ONE TransactWriteItems, so
   * they commit together or not at all: an event exists if and only if its
   * change committed. The change items come first and keep their indexes, so
   * a caller maps `CancellationReasons[i]` of its own items exactly as
   * before; an audit or outbox failure cancels the change too. Throws
   * (writing nothing) when no audit context is set (./audit-scope.ts) or the
   * change has no event type (shared/events/catalog.ts).
   */
  protected async commit(changes: TransactItem[], options: CommitOptions): Promise<void> {
    const { entity, resourceId, change, data } = options.audit;
    const context = currentAudit() ?? this.options.audit;
    if (!context) {
      throw new Error(`${entity} ${resourceId}: a change needs an audit context (withAudit) and is not written without one`);
    }
    const at = new Date().toISOString();
    const record: AuditRecord = { id: randomUUID(), at, ...context, status: STATUS_OF[change], resourceId };
    const traceparent = traceparentFromXRay(process.env._X_AMZN_TRACE_ID);
    const event = cloudEvent({
      id: randomUUID(),
      type: eventTypeOf(entity, change),
      subject: resourceId,
      time: at,
      data: data ?? { id: resourceId },
      ...(traceparent ? { traceparent } : {}),
    });
    const append = (item: Record<string, unknown>): TransactItem => ({
      Put: { TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' },
    });
    await this.client.send(
      new TransactWriteCommand({
        // Append-only: an audit record or an event is never overwritten.
        TransactItems: [...changes, append(auditItem(record, this.listShards)), append(outboxItem(event, this.listShards))],
      }),
    );
    rememberAudited(context.requestId);
  }

  /**
   * The stored form of a revisioned entity listed newest first in `partition`
   * (gsi2): keys, type, the lock `version`, and the entity under `data`.
   */
  protected revisionedItem<T extends { id: string; revision: number; createdAt: string }>(
    type: string,
    key: Record<string, string>,
    partition: string,
    entity: T,
  ) {
    const { revision, ...data } = entity;
    return { ...key, type, version: revision, gsi2pk: partition, gsi2sk: `${entity.createdAt}#${entity.id}`, data };
  }

  /** Back from the stored form: the data with its lock version as `revision`. */
  protected static revisioned<T>(raw: Record<string, unknown>): T {
    return { ...(raw.data as object), revision: raw.version as number } as T;
  }

  /**
   * A page of the entities in a gsi2 partition, newest first; `where` keeps
   * those whose `data.<field>` equals the value (every one of them, when
   * several are given).
   */
  protected listPartition<T>(
    partition: string,
    page: PageRequest,
    toItem: (raw: Record<string, unknown>) => T,
    where?: DataFilter | readonly DataFilter[],
  ): Promise<Page<T>> {
    const filters: readonly DataFilter[] = where === undefined ? [] : 'field' in where ? [where] : where;
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    filters.forEach((f, i) => {
      names[`#f${i}`] = f.field;
      values[`:v${i}`] = f.value;
    });
    return this.queryPage(
      {
        input: {
          IndexName: GSI2,
          KeyConditionExpression: '#pk = :pk',
          ...(filters.length > 0 ? { FilterExpression: filters.map((_, i) => `#data.#f${i} = :v${i}`).join(' AND ') } : {}),
          ExpressionAttributeNames: { '#pk': 'gsi2pk', ...(filters.length > 0 ? { '#data': 'data', ...names } : {}) },
          ExpressionAttributeValues: { ':pk': partition, ...values },
          ScanIndexForward: false,
        },
        keyAttributes: GSI2_KEY,
        page,
        // One filter keeps the fingerprint it always had ([partition, field, value]), so cursors already handed out stay valid.
        fingerprint: [partition, ...filters.flatMap((f) => [f.field, f.value])],
      },
      toItem,
    );
  }

  /**
   * One page of a write-sharded list (./sharded-page.ts): every shard read in
   * parallel below the cursor, merged newest first. The cursor is the sort
   * key the page ended at, authenticated like every cursor.
   */
  protected async queryShards<T>(q: ShardedQuery, toItem: (raw: Record<string, unknown>) => T): Promise<Page<T>> {
    const fingerprint = queryFingerprint(q.fingerprint);
    const cursorKey = await this.cursorKey();
    const before = decodeCursor(q.page.cursor, fingerprint, ['gsi2sk'], cursorKey)?.gsi2sk;
    const range = sortKeyCondition('#sk', { from: q.from, to: q.to, before });
    if (range.empty) return { items: [] };
    const reads = await Promise.all(
      q.partitions.map((partition) =>
        this.readShard(
          {
            IndexName: GSI2,
            KeyConditionExpression: range.expression ? `#pk = :pk AND ${range.expression}` : '#pk = :pk',
            ...(q.filter ? { FilterExpression: q.filter.expression } : {}),
            ExpressionAttributeNames: { '#pk': 'gsi2pk', ...(range.expression ? { '#sk': 'gsi2sk' } : {}), ...q.filter?.names },
            ExpressionAttributeValues: { ':pk': partition, ...range.values, ...q.filter?.values },
            ScanIndexForward: false,
          },
          q.page.limit,
          q.partitions.length,
          q.filter !== undefined,
          range.dropExactly,
        ),
      ),
    );
    const merged = mergeShardReads(reads, q.page.limit);
    const nextCursor = encodeCursor(merged.before === undefined ? undefined : { gsi2sk: merged.before }, fingerprint, cursorKey);
    return { items: merged.items.map(toItem), ...(nextCursor ? { nextCursor } : {}) };
  }

  /**
   * One shard's matches for a page, newest first. A shard is asked for about
   * twice its share of the page, not the whole page: ids spread evenly over
   * shards, so that nearly always fills the page at an eighth of the items
   * read. A shard that yields its share with more left counts as stopped at
   * its last item, so the merge stays exact (a page may then come up short,
   * with a cursor).
   */
  private async readShard(
    input: Omit<QueryCommandInput, 'Limit' | 'ExclusiveStartKey' | 'TableName'>,
    limit: number,
    shards: number,
    filtered: boolean,
    dropExactly: string | undefined,
  ): Promise<ShardRead<Record<string, unknown>>> {
    const share = Math.min(limit, Math.ceil((2 * limit) / shards) + 2);
    const items: { sortKey: string; item: Record<string, unknown> }[] = [];
    let startKey: Record<string, unknown> | undefined;
    let lastEvaluated: string | undefined;
    // With the whole page from this shard it is full (the merge needs no more of it); with its share, it stopped at `at`.
    const stopped = (at: string | undefined): ShardRead<Record<string, unknown>> => ({
      items,
      exhausted: false,
      ...(at !== undefined ? { stoppedAt: at } : {}),
    });
    for (let reads = 0; reads < (filtered ? SHARD_READS_PER_PAGE : MAX_READS_PER_PAGE); reads++) {
      const remaining = share - items.length;
      const out = await this.client.send(
        new QueryCommand({
          ...input,
          TableName: this.tableName,
          // One more than needed when the cursor's own item may come back and be dropped.
          Limit: filtered ? Math.max(remaining, FILTERED_READ_SIZE) : remaining + (dropExactly === undefined ? 0 : 1),
          ExclusiveStartKey: startKey,
        }),
      );
      for (const raw of out.Items ?? []) {
        const sortKey = raw.gsi2sk as string;
        if (sortKey === dropExactly) continue;
        // More matches than the share: everything down to the last one taken is known.
        if (items.length === share) return stopped(share < limit ? (items.at(-1) as { sortKey: string }).sortKey : undefined);
        items.push({ sortKey, item: raw });
      }
      startKey = out.LastEvaluatedKey;
      if (!startKey) return { items, exhausted: true };
      lastEvaluated = startKey.gsi2sk as string;
      if (items.length === share) return stopped(share < limit ? lastEvaluated : undefined);
    }
    return { items, exhausted: false, ...(lastEvaluated !== undefined ? { stoppedAt: lastEvaluated } : {}) };
  }

  protected async getData<T>(key: Record<string, string>): Promise<(T & { revision: number }) | undefined> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    if (!Item) return undefined;
    return { ...(Item.data as T), revision: Item.version as number };
  }

  /**
   * One page of a Query, newest first, always full unless the partition is
   * exhausted. With a filter, each read evaluates a larger batch and the page
   * stops at `limit` matches; the cursor is then the key of the last item
   * returned (a valid ExclusiveStartKey), so nothing is skipped or repeated.
   */
  protected async queryPage<T>(q: PagedQuery, toItem: (raw: Record<string, unknown>) => T): Promise<Page<T>> {
    const fingerprint = queryFingerprint(q.fingerprint);
    const cursorKey = await this.cursorKey();
    let startKey: Record<string, unknown> | undefined = decodeCursor(q.page.cursor, fingerprint, q.keyAttributes, cursorKey);
    const filtered = q.input.FilterExpression !== undefined;
    const items: T[] = [];
    for (let reads = 0; reads < MAX_READS_PER_PAGE && items.length < q.page.limit; reads++) {
      const remaining = q.page.limit - items.length;
      const out = await this.client.send(
        new QueryCommand({
          ...q.input,
          TableName: this.tableName,
          Limit: filtered ? Math.max(remaining, FILTERED_READ_SIZE) : remaining,
          ExclusiveStartKey: startKey,
        }),
      );
      const batch = out.Items ?? [];
      const taken = batch.slice(0, remaining);
      items.push(...taken.map(toItem));
      if (taken.length < batch.length) {
        const last = taken.at(-1) as Record<string, unknown>;
        startKey = Object.fromEntries(q.keyAttributes.map((k) => [k, last[k]]));
        break;
      }
      startKey = out.LastEvaluatedKey;
      if (!startKey) break;
    }
    const nextCursor = encodeCursor(startKey, fingerprint, cursorKey);
    return nextCursor ? { items, nextCursor } : { items };
  }

  /**
   * Deletes an entity at `expectedRevision` if `guard.condition` holds (it is
   * not in use), in one conditional write; on failure the old item tells which
   * of gone (404), changed (409) or in use (422) it was.
   */
  protected async deleteUnused(
    entity: string,
    key: Record<string, string>,
    id: string,
    expectedRevision: number,
    guard: { condition: string; names?: Record<string, string>; inUse: (old: Record<string, AttributeValue>) => Error },
  ): Promise<void> {
    try {
      await this.commit(
        [
          {
            Delete: {
              TableName: this.tableName,
              Key: key,
              ConditionExpression: `version = :expected AND (${guard.condition})`,
              ...(guard.names ? { ExpressionAttributeNames: guard.names } : {}),
              ExpressionAttributeValues: { ':expected': expectedRevision, ':zero': 0 },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
        ],
        { audit: { entity, resourceId: id, change: 'deleted' } },
      );
    } catch (error) {
      if (!isCancelled(error) || error.CancellationReasons?.[0]?.Code !== 'ConditionalCheckFailed') throw error;
      const old = error.CancellationReasons[0].Item;
      if (!old) throw new NotFoundError(entity, id);
      if (old.version?.N !== String(expectedRevision)) throw new VersionConflictError(entity, id, expectedRevision);
      throw guard.inUse(old);
    }
  }

  /**
   * Replaces an entity's data if the stored version is still the expected one.
   * An update, not a put, so counters kept beside the data (groupCount) survive.
   */
  protected replaceData(
    entity: string,
    key: Record<string, string>,
    value: { id: string; revision: number },
    expectedRevision: number,
  ): Promise<void> {
    return this.commitAtRevision(entity, value.id, key, expectedRevision, [this.dataUpdate(key, value, expectedRevision)], {
      audit: { entity, resourceId: value.id, change: 'updated', data: value },
    });
  }

  /**
   * The write that sets an entity's `data` (its revision becomes the lock
   * `version`) if the stored version is still `expectedRevision`; what is kept
   * beside `data` (counters, summaries) survives.
   */
  protected dataUpdate(key: Record<string, string>, value: { revision: number }, expectedRevision: number): TransactItem {
    const { revision, ...data } = value;
    return {
      Update: {
        TableName: this.tableName,
        Key: key,
        UpdateExpression: 'SET #data = :data, version = :next',
        ConditionExpression: 'version = :expected',
        ExpressionAttributeNames: { '#data': 'data' },
        ExpressionAttributeValues: { ':data': data, ':next': revision, ':expected': expectedRevision },
      },
    };
  }

  /** `commit`, where the first item is guarded by `expectedRevision`: its failed condition is answered as gone (404) or changed (409). */
  protected async commitAtRevision(
    entity: string,
    id: string,
    key: Record<string, string>,
    expectedRevision: number,
    changes: TransactItem[],
    options: CommitOptions,
  ): Promise<void> {
    try {
      await this.commit(changes, options);
    } catch (error) {
      if (isCancelled(error) && cancellationCodes(error)[0] === 'ConditionalCheckFailed') {
        throw await this.lostRace(entity, id, expectedRevision, key);
      }
      throw error;
    }
  }

  /** After a failed version condition: gone (404) or changed (409). */
  protected async lostRace(entity: string, id: string, expectedRevision: number, key: Record<string, string>): Promise<Error> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    return Item ? new VersionConflictError(entity, id, expectedRevision) : new NotFoundError(entity, id);
  }
}
