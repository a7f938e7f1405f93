/**
 * Edge locations in the single table (DESIGN.md §4, §6): the edge, its key
 * lookup item (by hash, as API keys), its heartbeats (TTL) and the
 * assignment a rollout writes. Edge changes go through `commit` (audit and
 * `edge.*` event in one transaction); heartbeats are high-volume bookkeeping
 * (an edge posts one every ~10 s) and are written directly, like webhook
 * deliveries: no audit line, no event.
 *
 * The edge-health job (shared/domain/edge-health.ts) keeps the health it last
 * recorded top-level on the edge item (`healthState`, `healthChangedAt`),
 * never in `data` and never touching `version`: an administrator's PATCH at a
 * revision does not conflict with it, and it does not conflict with them.
 */
import { GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { EdgeHealthChange, EdgeHealthObservation, EdgeHealthStore } from '../domain/edge-health.js';
import type { ConfigurationContentReader, EdgeKeyOwner, EdgeQuery, EdgeRecord, EdgeStore, HeartbeatQuery } from '../domain/edge-service.js';
import type { EdgeAssignment, EdgeHealth, HeartbeatRecord } from '../domain/edges.js';
import { AlreadyExistsError, NotFoundError } from '../domain/errors.js';
import type { JsonObject, Page } from '../domain/model.js';
import { randomUUID } from 'node:crypto';
import { GSI2, heartbeatRange, keys, TABLE_KEY } from './keys.js';
import { cancellationCodes, isCancelled, isConditionFailure, TableStore, type TransactItem } from './table-store.js';

const EDGE = 'EdgeLocation';

/** How long heartbeats stay for `GET /edge-locations/{id}/metrics` and rollout evaluation before TTL removes them. */
export const HEARTBEAT_RETENTION_SECONDS = 7 * 24 * 60 * 60;

type Found = { edge: EdgeRecord; lastHeartbeat?: HeartbeatRecord };

export class DynamoEdgeStore extends TableStore implements EdgeStore, EdgeHealthStore, ConfigurationContentReader {
  /** The edge item read back: its data, and the heartbeat summary kept beside it. */
  private static found(raw: Record<string, unknown>): Found {
    const edge = TableStore.revisioned<EdgeRecord>(raw);
    const last = raw.lastHeartbeat as HeartbeatRecord | undefined;
    return last ? { edge, lastHeartbeat: last } : { edge };
  }

  async createEdge(edge: EdgeRecord, keyHash: string): Promise<void> {
    const item = { ...this.revisionedItem(EDGE, keys.edge(edge.id), keys.edgesPartition, edge), keyHash };
    try {
      await this.commit(
        [
          { Put: { TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } },
          // Read by the authorizer with a consistent read: a new edge's key works at once, a deleted edge's stops.
          {
            Put: {
              TableName: this.tableName,
              Item: { ...keys.edgeKeyHash(keyHash), type: 'EdgeKeyHash', edgeId: edge.id, name: edge.name },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
        ],
        { audit: { entity: EDGE, resourceId: edge.id, change: 'created', data: edge } },
      );
    } catch (error) {
      if (isCancelled(error) && cancellationCodes(error).slice(0, 2).includes('ConditionalCheckFailed')) {
        throw new AlreadyExistsError(`${EDGE} ${edge.id} already exists`);
      }
      throw error;
    }
  }

  async getEdge(id: string): Promise<Found | undefined> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: keys.edge(id), ConsistentRead: true }));
    return Item ? DynamoEdgeStore.found(Item) : undefined;
  }

  /** An update of `data` only: the heartbeat summary and the key hash beside it stay. */
  replaceEdge(edge: EdgeRecord, expectedRevision: number): Promise<void> {
    return this.replaceData(EDGE, keys.edge(edge.id), edge, expectedRevision);
  }

  async deleteEdge(id: string, expectedRevision: number): Promise<void> {
    const key = keys.edge(id);
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    if (!Item) throw new NotFoundError(EDGE, id);
    await this.commitAtRevision(
      EDGE,
      id,
      key,
      expectedRevision,
      [
        {
          Delete: {
            TableName: this.tableName,
            Key: key,
            ConditionExpression: 'version = :expected',
            ExpressionAttributeValues: { ':expected': expectedRevision },
          },
        },
        { Delete: { TableName: this.tableName, Key: keys.edgeKeyHash(Item.keyHash as string) } },
        { Delete: { TableName: this.tableName, Key: keys.edgeAssignment(id) } },
      ],
      { audit: { entity: EDGE, resourceId: id, change: 'deleted' } },
    );
  }

  listEdges(query: EdgeQuery): Promise<Page<Found>> {
    return this.listPartition(
      keys.edgesPartition,
      query,
      DynamoEdgeStore.found,
      query.region === undefined ? undefined : { field: 'region', value: query.region },
    );
  }

  /**
   * The heartbeat item and the edge's summary in one transaction, so the
   * summary never names a heartbeat that was not stored; on condition that
   * the edge exists (a deleted edge's cached key gets a 404, not an orphan).
   */
  async recordHeartbeat(record: HeartbeatRecord): Promise<void> {
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableName,
                Key: keys.edge(record.edgeId),
                UpdateExpression: 'SET lastHeartbeat = :hb',
                ConditionExpression: 'attribute_exists(pk)',
                ExpressionAttributeValues: { ':hb': record },
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: {
                  ...keys.heartbeat(record.edgeId, record.at, randomUUID()),
                  type: 'Heartbeat',
                  expiresAt: Math.floor(Date.parse(record.at) / 1000) + HEARTBEAT_RETENTION_SECONDS,
                  data: record,
                },
              },
            },
          ],
        }),
      );
    } catch (error) {
      if (isCancelled(error) && cancellationCodes(error)[0] === 'ConditionalCheckFailed') throw new NotFoundError(EDGE, record.edgeId);
      throw error;
    }
  }

  listHeartbeats(edgeId: string, query: HeartbeatQuery): Promise<Page<HeartbeatRecord>> {
    const { low, high } = heartbeatRange(query.from, query.to);
    return this.queryPage(
      {
        input: {
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
          ExpressionAttributeValues: { ':pk': keys.edge(edgeId).pk, ':low': low, ':high': high },
          ScanIndexForward: false,
        },
        keyAttributes: TABLE_KEY,
        page: query,
        fingerprint: ['heartbeats', edgeId, query.from, query.to],
      },
      (raw) => raw.data as HeartbeatRecord,
    );
  }

  /** The assignment item's `data` is an EdgeAssignment; the rollout writes it (and its rollback restores it). */
  async getAssignment(edgeId: string): Promise<EdgeAssignment | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: keys.edgeAssignment(edgeId), ConsistentRead: true }),
    );
    return Item ? (Item.data as EdgeAssignment) : undefined;
  }

  async findEdgeByKeyHash(hash: string): Promise<EdgeKeyOwner | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: keys.edgeKeyHash(hash), ConsistentRead: true }),
    );
    return Item ? { edgeId: Item.edgeId as string, name: Item.name as string } : undefined;
  }

  /**
   * Every edge of the EDGES partition (gsi2, every page) with the health the
   * job last recorded and its newest heartbeat's time. Only those attributes
   * are read: the job never needs tags or heartbeat figures.
   */
  async listEdgeHealth(): Promise<EdgeHealthObservation[]> {
    const observations: EdgeHealthObservation[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: GSI2,
          KeyConditionExpression: 'gsi2pk = :pk',
          ExpressionAttributeValues: { ':pk': keys.edgesPartition },
          ExpressionAttributeNames: { '#data': 'data', '#id': 'id', '#name': 'name', '#region': 'region', '#at': 'at' },
          ProjectionExpression: '#data.#id, #data.#name, #data.#region, healthState, lastHeartbeat.#at',
          ExclusiveStartKey: startKey,
        }),
      );
      for (const raw of out.Items ?? []) {
        const data = raw.data as { id: string; name: string; region: string };
        const at = (raw.lastHeartbeat as { at?: string } | undefined)?.at;
        observations.push({
          edge: { id: data.id, name: data.name, region: data.region },
          recorded: (raw.healthState as EdgeHealth | undefined) ?? 'unknown',
          ...(at !== undefined ? { lastHeartbeatAt: at } : {}),
        });
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return observations;
  }

  /**
   * Sets `healthState` to `change.to` on condition that the edge still exists,
   * its recorded health is still `change.from` (absent for `unknown`) and its
   * newest heartbeat is still the one judged: a heartbeat landing while the
   * job runs makes the write fail instead of emitting a false
   * `edge.unhealthy`. A change with an event goes through `commit` (audit and
   * outbox in the same transaction; the job's audit context is the store's
   * StoreOptions.audit); a first healthy observation is a plain update. A
   * failed condition answers false and writes nothing.
   */
  async recordHealth(change: EdgeHealthChange, at: string): Promise<boolean> {
    const update: TransactItem = {
      Update: {
        TableName: this.tableName,
        Key: keys.edge(change.edge.id),
        UpdateExpression: 'SET healthState = :to, healthChangedAt = :now',
        ConditionExpression: [
          'attribute_exists(pk)',
          change.from === 'unknown' ? 'attribute_not_exists(healthState)' : 'healthState = :from',
          'lastHeartbeat.#at = :at',
        ].join(' AND '),
        ExpressionAttributeNames: { '#at': 'at' },
        ExpressionAttributeValues: {
          ':to': change.to,
          ':now': at,
          ':at': change.lastHeartbeatAt,
          ...(change.from === 'unknown' ? {} : { ':from': change.from }),
        },
      },
    };
    try {
      if (!change.event) {
        await this.client.send(new UpdateCommand(update.Update as NonNullable<TransactItem['Update']>));
        return true;
      }
      const data = { ...change.edge, health: change.to, lastHeartbeatAt: change.lastHeartbeatAt };
      await this.commit([update], { audit: { entity: EDGE, resourceId: change.edge.id, change: change.to, data } });
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      if (isCancelled(error) && cancellationCodes(error)[0] === 'ConditionalCheckFailed') return false;
      throw error;
    }
  }

  /**
   * A configuration version's content: the version item (./keys.ts
   * `configurationVersion`) with the ConfigurationVersion
   * (shared/domain/configurations.ts) under `data`.
   */
  async versionContent(configurationId: string, version: number): Promise<JsonObject | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.configurationVersion(configurationId, version),
        ConsistentRead: true,
      }),
    );
    const content = (Item?.data as { content?: unknown } | undefined)?.content;
    return content !== null && typeof content === 'object' && !Array.isArray(content) ? (content as JsonObject) : undefined;
  }
}
