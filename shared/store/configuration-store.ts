/**
 * Edge configurations in the single table (DESIGN.md §3, §6;
 * shared/domain/configurations.ts holds the rules). A configuration and its
 * versions share one partition, `CONFIG#id`:
 * - the configuration at sk `CONFIG` (revisioned, listed newest first in
 *   gsi2 `CONFIGS`), with `approvedVersions` beside its data: how many of its
 *   versions are approved, so that a delete can refuse in its one
 *   conditional write (an approved version may be deployed);
 * - each version at sk `VERSION#000001`…, written once (attribute_not_exists)
 *   and never changed except for its approval, itself written once
 *   (attribute_not_exists(data.approvedBy)).
 * Every change goes through `commit`: the change, its audit record and its
 * outbox CloudEvent in one transaction.
 */
import { BatchWriteCommand, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Configuration, ConfigurationStore, ConfigurationVersion } from '../domain/configurations.js';
import { AlreadyExistsError, NotFoundError, RuleViolationError, VersionConflictError } from '../domain/errors.js';
import type { Page, PageRequest } from '../domain/model.js';
import { keys, TABLE_KEY } from './keys.js';
import { cancellationCodes, isCancelled, TableStore } from './table-store.js';

const CONFIGURATION = 'Configuration';
const VERSION = 'ConfigurationVersion';
/** BatchWriteItem takes at most 25 requests. */
const BATCH_WRITE_SIZE = 25;

export class DynamoConfigurationStore extends TableStore implements ConfigurationStore {
  private configurationItem(configuration: Configuration) {
    return this.revisionedItem(CONFIGURATION, keys.configuration(configuration.id), keys.configurationsPartition, configuration);
  }

  private versionItem(version: ConfigurationVersion) {
    return { ...keys.configurationVersion(version.configurationId, version.version), type: VERSION, version: 1, data: version };
  }

  async createConfiguration(configuration: Configuration, first: ConfigurationVersion, change: 'configuration.created'): Promise<void> {
    void change;
    try {
      await this.commit(
        [
          {
            Put: {
              TableName: this.tableName,
              Item: { ...this.configurationItem(configuration), approvedVersions: 0 },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          { Put: { TableName: this.tableName, Item: this.versionItem(first), ConditionExpression: 'attribute_not_exists(pk)' } },
        ],
        { audit: { entity: CONFIGURATION, resourceId: configuration.id, change: 'created', data: configuration } },
      );
    } catch (error) {
      if (isCancelled(error) && cancellationCodes(error).includes('ConditionalCheckFailed')) {
        throw new AlreadyExistsError(`${CONFIGURATION} ${configuration.id} already exists`);
      }
      throw error;
    }
  }

  getConfiguration(id: string): Promise<Configuration | undefined> {
    return this.getData<Configuration>(keys.configuration(id));
  }

  listConfigurations(page: PageRequest): Promise<Page<Configuration>> {
    return this.listPartition(keys.configurationsPartition, page, (raw) => TableStore.revisioned<Configuration>(raw));
  }

  async addVersion(
    configuration: Configuration,
    version: ConfigurationVersion,
    expectedRevision: number,
    change: 'configuration.version_created',
  ): Promise<void> {
    void change;
    const key = keys.configuration(configuration.id);
    try {
      await this.commit(
        [
          // An update, not a put: `approvedVersions` beside the data survives.
          this.dataUpdate(key, configuration, expectedRevision),
          { Put: { TableName: this.tableName, Item: this.versionItem(version), ConditionExpression: 'attribute_not_exists(pk)' } },
        ],
        { audit: { entity: CONFIGURATION, resourceId: configuration.id, change: 'updated', data: configuration } },
      );
    } catch (error) {
      if (!isCancelled(error)) throw error;
      const [configurationCode, versionCode] = cancellationCodes(error);
      if (configurationCode === 'ConditionalCheckFailed') throw await this.lostRace(CONFIGURATION, configuration.id, expectedRevision, key);
      // The revision matched but the version exists: only a store out of step could do that; a retry reads afresh.
      if (versionCode === 'ConditionalCheckFailed') throw new VersionConflictError(CONFIGURATION, configuration.id, expectedRevision);
      throw error;
    }
  }

  async getVersion(configurationId: string, version: number): Promise<ConfigurationVersion | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: keys.configurationVersion(configurationId, version), ConsistentRead: true }),
    );
    return Item?.data as ConfigurationVersion | undefined;
  }

  listVersions(configurationId: string, page: PageRequest): Promise<Page<ConfigurationVersion>> {
    return this.queryPage(
      {
        input: {
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': keys.configuration(configurationId).pk, ':prefix': keys.configurationVersionPrefix },
          ScanIndexForward: false,
          ConsistentRead: true,
        },
        keyAttributes: TABLE_KEY,
        page,
        fingerprint: ['configuration-versions', configurationId],
      },
      (raw) => raw.data as ConfigurationVersion,
    );
  }

  async approveVersion(
    configurationId: string,
    version: number,
    approval: { approvedBy: string; approvedAt: string },
    change: 'configuration.approved',
  ): Promise<ConfigurationVersion> {
    void change;
    const key = keys.configurationVersion(configurationId, version);
    const current = await this.getVersion(configurationId, version);
    if (!current) throw new NotFoundError(VERSION, `${configurationId}@${version}`);
    if (current.approvedBy !== undefined) return current;
    const approved: ConfigurationVersion = { ...current, ...approval };
    try {
      await this.commit(
        [
          {
            Update: {
              TableName: this.tableName,
              Key: key,
              UpdateExpression: 'SET #data.#by = :by, #data.#at = :at',
              ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#data.#by)',
              ExpressionAttributeNames: { '#data': 'data', '#by': 'approvedBy', '#at': 'approvedAt' },
              ExpressionAttributeValues: { ':by': approval.approvedBy, ':at': approval.approvedAt },
            },
          },
          {
            // The count a delete checks; the configuration must still exist (a delete may have won the race).
            Update: {
              TableName: this.tableName,
              Key: keys.configuration(configurationId),
              UpdateExpression: 'ADD approvedVersions :one',
              ConditionExpression: 'attribute_exists(pk)',
              ExpressionAttributeValues: { ':one': 1 },
            },
          },
        ],
        {
          audit: {
            entity: VERSION,
            resourceId: configurationId,
            change: 'approved',
            data: approved,
          },
        },
      );
      return approved;
    } catch (error) {
      if (!isCancelled(error) || !cancellationCodes(error).includes('ConditionalCheckFailed')) throw error;
      // Another approval won the race (it stays on record), or the configuration is gone.
      const stored = await this.getVersion(configurationId, version);
      const parent = await this.getConfiguration(configurationId);
      if (!parent) throw new NotFoundError(CONFIGURATION, configurationId);
      if (!stored) throw new NotFoundError(VERSION, `${configurationId}@${version}`);
      return stored;
    }
  }

  /**
   * Deletes the configuration at `expectedRevision` if none of its versions is
   * approved (422 CONFIGURATION_IN_USE: an approved version may be deployed and
   * an edge may be running it), then its versions. The configuration item goes
   * in the change's transaction (with its audit and event); the versions after
   * it, in batches: once the configuration is gone no route reaches them (the
   * service reads the configuration first), and a batch that fails leaves only
   * unreachable items behind.
   */
  async deleteConfiguration(id: string, expectedRevision: number, change: 'configuration.deleted'): Promise<void> {
    void change;
    await this.deleteUnused(CONFIGURATION, keys.configuration(id), id, expectedRevision, {
      condition: 'attribute_not_exists(approvedVersions) OR approvedVersions = :zero',
      inUse: (old) =>
        new RuleViolationError(
          `Configuration ${id} has ${old.approvedVersions?.N ?? 'some'} approved version(s), which may be deployed; it cannot be deleted`,
          'CONFIGURATION_IN_USE',
        ),
    });
    await this.deleteVersions(id);
  }

  private async deleteVersions(id: string): Promise<void> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': keys.configuration(id).pk, ':prefix': keys.configurationVersionPrefix },
          ProjectionExpression: 'pk, sk',
          ExclusiveStartKey: startKey,
        }),
      );
      const items = out.Items ?? [];
      for (let i = 0; i < items.length; i += BATCH_WRITE_SIZE) {
        let requests: Record<string, unknown[]> | undefined = {
          [this.tableName]: items.slice(i, i + BATCH_WRITE_SIZE).map((item) => ({ DeleteRequest: { Key: { pk: item.pk, sk: item.sk } } })),
        };
        for (let attempt = 0; requests && Object.keys(requests).length > 0 && attempt < 5; attempt++) {
          const result = await this.client.send(new BatchWriteCommand({ RequestItems: requests as never }));
          requests = result.UnprocessedItems as Record<string, unknown[]> | undefined;
        }
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey);
  }
}
