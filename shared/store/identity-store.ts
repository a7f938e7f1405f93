import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { AlreadyExistsError, NotFoundError } from '../domain/errors.js';
import type { ApiKey, AuditQuery, AuditRecord, IdentityStore, RefreshFamily, UserRecord } from '../domain/identity.js';
import type { Page, PageRequest } from '../domain/model.js';
import { GSI1, GSI1_KEY, keys, SORT_HIGH } from './keys.js';
import { takeAudited } from './audit-scope.js';
import { sortKeyCondition } from './sharded-page.js';
import { auditItem, cancellationCodes, isCancelled, isConditionFailure, TableStore } from './table-store.js';

export class DynamoIdentityStore extends TableStore implements IdentityStore {
  // ---- users --------------------------------------------------------------

  private userItem(user: UserRecord) {
    return this.revisionedItem('User', keys.user(user.id), keys.usersPartition, user);
  }

  async createUser(user: UserRecord): Promise<void> {
    try {
      await this.commit(
        [
          // The username item makes usernames unique (case-insensitively) in the same transaction.
          {
            Put: {
              TableName: this.tableName,
              Item: { ...keys.username(user.username), type: 'Username', userId: user.id },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          { Put: { TableName: this.tableName, Item: this.userItem(user), ConditionExpression: 'attribute_not_exists(pk)' } },
        ],
        { audit: { entity: 'User', resourceId: user.id, change: 'created', data: user } },
      );
    } catch (error) {
      // Only the two change items: a failed audit put is not a taken username.
      if (isCancelled(error) && cancellationCodes(error).slice(0, 2).includes('ConditionalCheckFailed')) {
        throw new AlreadyExistsError(`User ${user.username} already exists`);
      }
      throw error;
    }
  }

  getUser(id: string): Promise<UserRecord | undefined> {
    return this.getData<UserRecord>(keys.user(id));
  }

  async getUserByUsername(username: string): Promise<UserRecord | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: keys.username(username), ConsistentRead: true }),
    );
    return Item ? this.getUser(Item.userId as string) : undefined;
  }

  replaceUser(user: UserRecord, expectedRevision: number): Promise<void> {
    return this.replaceData('User', keys.user(user.id), user, expectedRevision);
  }

  async deleteUser(user: UserRecord, expectedRevision: number): Promise<void> {
    try {
      await this.commit(
        [
          {
            Delete: {
              TableName: this.tableName,
              Key: keys.user(user.id),
              ConditionExpression: 'version = :expected',
              ExpressionAttributeValues: { ':expected': expectedRevision },
            },
          },
          { Delete: { TableName: this.tableName, Key: keys.username(user.username) } },
        ],
        { audit: { entity: 'User', resourceId: user.id, change: 'deleted' } },
      );
    } catch (error) {
      if (isCancelled(error) && cancellationCodes(error)[0] === 'ConditionalCheckFailed') {
        throw await this.lostRace('User', user.id, expectedRevision, keys.user(user.id));
      }
      throw error;
    }
  }

  listUsers(page: PageRequest): Promise<Page<UserRecord>> {
    return this.listPartition(keys.usersPartition, page, (raw) => TableStore.revisioned<UserRecord>(raw));
  }

  // ---- API keys -------------------------------------------------------------

  async createApiKey(key: ApiKey, hash: string): Promise<void> {
    await this.commit(
      [
        {
          Put: {
            TableName: this.tableName,
            Item: {
              ...keys.apiKey(key.id),
              type: 'ApiKey',
              version: 1,
              hash,
              gsi2pk: keys.apiKeysPartition,
              gsi2sk: `${key.createdAt}#${key.id}`,
              data: key,
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        // Looked up by hash on every request with a consistent read, so a new key works at once and a revoked one stops at once.
        {
          Put: {
            TableName: this.tableName,
            Item: { ...keys.apiKeyHash(hash), type: 'ApiKeyHash', keyId: key.id, data: key },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
      ],
      { audit: { entity: 'ApiKey', resourceId: key.id, change: 'created', data: key } },
    );
  }

  async findApiKeyByHash(hash: string): Promise<ApiKey | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: keys.apiKeyHash(hash), ConsistentRead: true }),
    );
    return Item ? (Item.data as ApiKey) : undefined;
  }

  async getApiKey(id: string): Promise<ApiKey | undefined> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: keys.apiKey(id), ConsistentRead: true }));
    return Item ? (Item.data as ApiKey) : undefined;
  }

  async revokeApiKey(id: string, at: string): Promise<ApiKey> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: keys.apiKey(id), ConsistentRead: true }));
    if (!Item) throw new NotFoundError('ApiKey', id);
    const key = Item.data as ApiKey;
    if (key.revokedAt) return key;
    const revoked = { ...key, revokedAt: at };
    await this.commit(
      [
        {
          Update: {
            TableName: this.tableName,
            Key: keys.apiKey(id),
            UpdateExpression: 'SET #data = :data, version = version + :one',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeNames: { '#data': 'data' },
            ExpressionAttributeValues: { ':data': revoked, ':one': 1 },
          },
        },
        { Delete: { TableName: this.tableName, Key: keys.apiKeyHash(Item.hash as string) } },
      ],
      { audit: { entity: 'ApiKey', resourceId: id, change: 'deleted', data: revoked } },
    );
    return revoked;
  }

  listApiKeys(page: PageRequest): Promise<Page<ApiKey>> {
    return this.listPartition(keys.apiKeysPartition, page, (raw) => raw.data as ApiKey);
  }

  // ---- sessions -------------------------------------------------------------

  async createRefreshFamily(family: RefreshFamily): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...keys.refreshFamily(family.familyId), type: 'RefreshFamily', ...family },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async getRefreshFamily(familyId: string): Promise<RefreshFamily | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: keys.refreshFamily(familyId), ConsistentRead: true }),
    );
    if (!Item) return undefined;
    const { familyId: id, userId, currentHash, expiresAt, revoked, generation } = Item as RefreshFamily & { generation?: unknown };
    // The user's session generation at login (absent on families created before it existed): refresh refuses a stale one.
    return { familyId: id, userId, currentHash, expiresAt, revoked, ...(typeof generation === 'number' ? { generation } : {}) };
  }

  async rotateRefresh(familyId: string, expectedHash: string, nextHash: string): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.refreshFamily(familyId),
          UpdateExpression: 'SET currentHash = :next',
          ConditionExpression: 'currentHash = :expected AND revoked = :false AND expiresAt > :now',
          ExpressionAttributeValues: {
            ':next': nextHash,
            ':expected': expectedHash,
            ':false': false,
            ':now': Math.floor(Date.now() / 1000),
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async revokeRefreshFamily(familyId: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.refreshFamily(familyId),
          UpdateExpression: 'SET revoked = :true',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':true': true },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  async revokeAccessToken(jti: string, expiresAt: number): Promise<void> {
    await this.client.send(
      new PutCommand({ TableName: this.tableName, Item: { ...keys.revokedJti(jti), type: 'RevokedToken', expiresAt } }),
    );
  }

  async isAccessTokenRevoked(jti: string): Promise<boolean> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: keys.revokedJti(jti), ConsistentRead: true }));
    return Item !== undefined;
  }

  // ---- audit ----------------------------------------------------------------

  /**
   * The HTTP chain's audit line for a write that is not a store change (login,
   * logout, refresh). A request whose change already committed its audit
   * record in its own transaction (TableStore.commit) is not recorded twice.
   */
  async appendAudit(record: AuditRecord): Promise<void> {
    if (takeAudited(record.requestId)) return;
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: auditItem(record, this.listShards),
        // Append-only: an audit record is never overwritten.
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  listAudit(query: AuditQuery): Promise<Page<AuditRecord>> {
    const to = query.to === undefined ? undefined : `${query.to}${SORT_HIGH}`;
    const filter =
      query.action === undefined
        ? undefined
        : { expression: '#data.#action = :action', names: { '#data': 'data', '#action': 'action' }, values: { ':action': query.action } };
    const fingerprint = ['audit', query.actorId, query.action, query.from, query.to];
    const toRecord = (raw: Record<string, unknown>) => raw.data as AuditRecord;
    if (query.actorId === undefined) {
      return this.queryShards(
        {
          partitions: keys.auditShards(this.listShards),
          ...(query.from !== undefined ? { from: query.from } : {}),
          ...(to !== undefined ? { to } : {}),
          ...(filter ? { filter } : {}),
          page: query,
          fingerprint,
        },
        toRecord,
      );
    }
    // One actor's records: a partition written at that actor's rate only.
    const range = sortKeyCondition('#sk', { from: query.from, to });
    if (range.empty) return Promise.resolve({ items: [] });
    return this.queryPage(
      {
        input: {
          IndexName: GSI1,
          KeyConditionExpression: range.expression ? `#pk = :pk AND ${range.expression}` : '#pk = :pk',
          ...(filter ? { FilterExpression: filter.expression } : {}),
          ExpressionAttributeNames: { '#pk': 'gsi1pk', ...(range.expression ? { '#sk': 'gsi1sk' } : {}), ...filter?.names },
          ExpressionAttributeValues: { ':pk': keys.auditOfActor(query.actorId), ...range.values, ...filter?.values },
          ScanIndexForward: false,
        },
        keyAttributes: GSI1_KEY,
        page: query,
        fingerprint,
      },
      toRecord,
    );
  }

  // ---- rate limits ------------------------------------------------------------

  async countRequest(bucket: string, windowStart: number, windowSeconds: number): Promise<number> {
    const out = await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.rate(bucket, windowStart),
        // ADD is atomic, so concurrent Lambda instances share one count; TTL removes old windows.
        UpdateExpression: 'ADD #count :one SET expiresAt = if_not_exists(expiresAt, :ttl), #type = :type',
        ExpressionAttributeNames: { '#count': 'count', '#type': 'type' },
        ExpressionAttributeValues: { ':one': 1, ':ttl': windowStart + windowSeconds + 60, ':type': 'RateCount' },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return Number(out.Attributes?.count ?? 1);
  }
}
