/**
 * The outbox side of the table for the relay and the sweeper: which events
 * are already on the bus, marking them so, and finding the ones that never
 * got there. Relayed items leave the pending index and expire by TTL.
 */
import {
  BatchGetCommand,
  QueryCommand,
  TransactWriteCommand,
  type BatchGetCommandOutput,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { SwitchyardCloudEvent } from '../events/cloudevent.js';
import { GSI1, keys, LIST_SHARDS } from './keys.js';
import { chunks } from './batches.js';

/** How long a relayed outbox item stays (for inspection) before TTL removes it. */
const RELAYED_RETENTION_SECONDS = 24 * 60 * 60;
/** BatchGetItem reads at most 100 keys; TransactWriteItems writes at most 100 items. */
const MAX_KEYS_PER_CALL = 100;

export class OutboxStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly shards = LIST_SHARDS,
  ) {}

  async relayedAmong(ids: readonly string[]): Promise<Set<string>> {
    const relayed = new Set<string>();
    for (const chunk of chunks(ids, MAX_KEYS_PER_CALL)) {
      let request: Record<string, unknown>[] | undefined = chunk.map((id) => keys.outbox(id));
      // BatchGetItem may leave keys unprocessed under load: read them again until none are left.
      for (let attempt = 0; request && request.length > 0; attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** attempt)));
        const out: BatchGetCommandOutput = await this.client.send(
          new BatchGetCommand({
            RequestItems: {
              [this.tableName]: { Keys: request, ConsistentRead: true, ProjectionExpression: 'pk, relayedAt' },
            },
          }),
        );
        for (const item of out.Responses?.[this.tableName] ?? []) {
          if (item.relayedAt !== undefined) relayed.add(String(item.pk).slice('OUTBOX#'.length));
        }
        request = out.UnprocessedKeys?.[this.tableName]?.Keys;
      }
    }
    return relayed;
  }

  async markRelayed(ids: readonly string[], now = new Date()): Promise<void> {
    const relayedAt = now.toISOString();
    const expiresAt = Math.floor(now.getTime() / 1000) + RELAYED_RETENTION_SECONDS;
    for (const chunk of chunks(ids, MAX_KEYS_PER_CALL)) {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: chunk.map((id) => ({
            Update: {
              TableName: this.tableName,
              Key: keys.outbox(id),
              UpdateExpression: 'SET relayedAt = if_not_exists(relayedAt, :at), expiresAt = :ttl REMOVE gsi1pk, gsi1sk',
              // Never re-create an item TTL already removed.
              ConditionExpression: 'attribute_exists(pk)',
              ExpressionAttributeValues: { ':at': relayedAt, ':ttl': expiresAt },
            },
          })),
        }),
      );
    }
  }

  /** Events still pending that were written before `cutoff`, oldest first, at most `limit` per shard. */
  async pendingBefore(cutoff: Date, limit: number): Promise<SwitchyardCloudEvent[]> {
    const perShard = await Promise.all(
      keys.outboxPendingShards(this.shards).map(async (partition) => {
        const out = await this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: GSI1,
            KeyConditionExpression: 'gsi1pk = :pk AND gsi1sk < :cutoff',
            ExpressionAttributeValues: { ':pk': partition, ':cutoff': cutoff.toISOString() },
            Limit: limit,
          }),
        );
        return (out.Items ?? []).map((item) => item.event as SwitchyardCloudEvent);
      }),
    );
    return perShard.flat().sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  }
}
