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
  DeleteCommand,
  GetCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { NotFoundError, VersionConflictError } from '../domain/errors.js';
import type { Page, PageRequest } from '../domain/model.js';
import { decodeCursor, encodeCursor, queryFingerprint } from './cursor.js';
import { GSI2, GSI2_KEY } from './keys.js';

/** A filter query may need several reads to fill a page; this bounds the work per request. */
const MAX_READS_PER_PAGE = 10;
/** Items a filtered read evaluates at a time (each read costs by items evaluated, not returned). */
const FILTERED_READ_SIZE = 100;

export interface PagedQuery {
  input: Omit<QueryCommandInput, 'Limit' | 'ExclusiveStartKey' | 'TableName'>;
  keyAttributes: readonly string[];
  page: PageRequest;
  fingerprint: unknown;
}

export function cancellationCodes(error: TransactionCanceledException): (string | undefined)[] {
  return (error.CancellationReasons ?? []).map((r: CancellationReason) => r.Code);
}

export function isConditionFailure(error: unknown): boolean {
  return error instanceof ConditionalCheckFailedException || (error as { name?: string })?.name === 'ConditionalCheckFailedException';
}

export function isCancelled(error: unknown): error is TransactionCanceledException {
  return error instanceof TransactionCanceledException || (error as { name?: string })?.name === 'TransactionCanceledException';
}

export abstract class TableStore {
  constructor(
    protected readonly client: DynamoDBDocumentClient,
    protected readonly tableName: string,
  ) {}

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

  /** A page of the entities in a gsi2 partition, newest first. */
  protected listPartition<T>(partition: string, page: PageRequest, toItem: (raw: Record<string, unknown>) => T): Promise<Page<T>> {
    return this.queryPage(
      {
        input: {
          IndexName: GSI2,
          KeyConditionExpression: 'gsi2pk = :pk',
          ExpressionAttributeValues: { ':pk': partition },
          ScanIndexForward: false,
        },
        keyAttributes: GSI2_KEY,
        page,
        fingerprint: [partition],
      },
      toItem,
    );
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
    let startKey: Record<string, unknown> | undefined = decodeCursor(q.page.cursor, fingerprint, q.keyAttributes);
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
    const nextCursor = encodeCursor(startKey, fingerprint);
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
      await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: key,
          ConditionExpression: `version = :expected AND (${guard.condition})`,
          ...(guard.names ? { ExpressionAttributeNames: guard.names } : {}),
          ExpressionAttributeValues: { ':expected': expectedRevision, ':zero': 0 },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const old = (error as ConditionalCheckFailedException).Item;
      if (!old) throw new NotFoundError(entity, id);
      if (old.version?.N !== String(expectedRevision)) throw new VersionConflictError(entity, id, expectedRevision);
      throw guard.inUse(old);
    }
  }

  /**
   * Replaces an entity's data if the stored version is still the expected one.
   * An update, not a put, so counters kept beside the data (groupCount) survive.
   */
  protected async replaceData(
    entity: string,
    key: Record<string, string>,
    value: { id: string; revision: number },
    expectedRevision: number,
  ): Promise<void> {
    const { revision, ...data } = value;
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: 'SET #data = :data, version = :next',
          ConditionExpression: 'version = :expected',
          ExpressionAttributeNames: { '#data': 'data' },
          ExpressionAttributeValues: { ':data': data, ':next': revision, ':expected': expectedRevision },
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) throw await this.lostRace(entity, value.id, expectedRevision, key);
      throw error;
    }
  }

  /** After a failed version condition: gone (404) or changed (409). */
  protected async lostRace(entity: string, id: string, expectedRevision: number, key: Record<string, string>): Promise<Error> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    return Item ? new VersionConflictError(entity, id, expectedRevision) : new NotFoundError(entity, id);
  }
}
