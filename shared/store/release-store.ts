import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { AlreadyExistsError, NotFoundError, RuleViolationError, VersionConflictError } from '../domain/errors.js';
import type { Group, Membership, Page, PageRequest, Receiver, ReleaseEvent } from '../domain/model.js';
import type { EventQuery, ReceiverQuery, ReleaseStore } from '../domain/ports.js';
import { GSI1, GSI1_KEY, GSI2, GSI2_KEY, keys, SORT_HIGH, TABLE_KEY } from './keys.js';
import { sortKeyCondition } from './sharded-page.js';
import { cancellationCodes, isCancelled, TableStore } from './table-store.js';

export class DynamoReleaseStore extends TableStore implements ReleaseStore {
  /** Readiness probe: one cheap key read proves the table answers. */
  async ping(): Promise<void> {
    await this.client.send(new GetCommand({ TableName: this.tableName, Key: keys.health }));
  }

  // ---- receivers ----------------------------------------------------------

  private receiverItem(receiver: Receiver) {
    return this.revisionedItem('Receiver', keys.receiver(receiver.id), keys.receiversPartition, receiver);
  }

  async createReceiver(receiver: Receiver): Promise<void> {
    try {
      await this.commit(
        [
          {
            Put: {
              TableName: this.tableName,
              Item: { ...this.receiverItem(receiver), groupCount: 0 },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
        ],
        { audit: { entity: 'Receiver', resourceId: receiver.id, change: 'created', data: receiver } },
      );
    } catch (error) {
      if (isCancelled(error) && cancellationCodes(error)[0] === 'ConditionalCheckFailed') {
        throw new AlreadyExistsError(`Receiver ${receiver.id} already exists`);
      }
      throw error;
    }
  }

  getReceiver(id: string): Promise<Receiver | undefined> {
    return this.getData<Receiver>(keys.receiver(id));
  }

  async replaceReceiver(receiver: Receiver, expectedRevision: number): Promise<void> {
    await this.replaceData('Receiver', keys.receiver(receiver.id), receiver, expectedRevision);
  }

  async deleteReceiver(id: string, expectedRevision: number): Promise<void> {
    await this.deleteUnused('Receiver', keys.receiver(id), id, expectedRevision, {
      // Membership writes keep groupCount, so "in use" is checked in the same condition as the revision.
      condition: 'attribute_not_exists(groupCount) OR groupCount = :zero',
      inUse: (old) =>
        new RuleViolationError(
          `Receiver ${id} is a member of ${old.groupCount?.N ?? 'some'} group(s); remove it from them first`,
          'RECEIVER_IN_USE',
        ),
    });
  }

  listReceivers(query: ReceiverQuery): Promise<Page<Receiver>> {
    const filters: string[] = [];
    const names: Record<string, string> = { '#pk': 'gsi2pk' };
    const values: Record<string, unknown> = { ':pk': keys.receiversPartition };
    if (query.name !== undefined) {
      filters.push('#data.#name = :name');
      Object.assign(names, { '#data': 'data', '#name': 'name' });
      values[':name'] = query.name;
    }
    if (query.type !== undefined) {
      filters.push('#data.#type = :type');
      Object.assign(names, { '#data': 'data', '#type': 'type' });
      values[':type'] = query.type;
    }
    return this.queryPage(
      {
        input: {
          IndexName: GSI2,
          KeyConditionExpression: '#pk = :pk',
          ...(filters.length ? { FilterExpression: filters.join(' AND ') } : {}),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ScanIndexForward: false,
        },
        keyAttributes: GSI2_KEY,
        page: query,
        fingerprint: ['receivers', query.name, query.type],
      },
      (raw) => TableStore.revisioned<Receiver>(raw),
    );
  }

  // ---- groups -------------------------------------------------------------

  private groupItem(group: Group) {
    return this.revisionedItem('Group', keys.group(group.id), keys.groupsPartition, group);
  }

  private membershipItem(groupId: string, receiverId: string, addedAt: string) {
    return {
      ...keys.membership(groupId, receiverId),
      type: 'Membership',
      version: 1,
      gsi1pk: keys.groupsOfReceiver(receiverId),
      gsi1sk: `${addedAt}#${groupId}`,
      data: { groupId, receiverId, addedAt } satisfies Membership,
    };
  }

  /** Membership counts on the receiver so a receiver in use cannot be deleted (checked atomically). */
  private receiverCountUpdate(receiverId: string, delta: 1 | -1) {
    return {
      Update: {
        TableName: this.tableName,
        Key: keys.receiver(receiverId),
        UpdateExpression: 'SET groupCount = if_not_exists(groupCount, :zero) + :delta',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':zero': 0, ':delta': delta },
      },
    };
  }

  async createGroup(group: Group, receiverIds: string[]): Promise<void> {
    try {
      await this.commit(
        [
          { Put: { TableName: this.tableName, Item: this.groupItem(group), ConditionExpression: 'attribute_not_exists(pk)' } },
          ...receiverIds.flatMap((rid) => [
            { Put: { TableName: this.tableName, Item: this.membershipItem(group.id, rid, group.createdAt) } },
            this.receiverCountUpdate(rid, 1),
          ]),
        ],
        { audit: { entity: 'Group', resourceId: group.id, change: 'created', data: group } },
      );
    } catch (error) {
      if (!isCancelled(error)) throw error;
      const codes = cancellationCodes(error);
      if (codes[0] === 'ConditionalCheckFailed') throw new AlreadyExistsError(`Group ${group.id} already exists`);
      const missing = receiverIds.filter((_, i) => codes[2 + i * 2] === 'ConditionalCheckFailed');
      if (missing.length) {
        throw new RuleViolationError(
          'Some receiverIds do not exist',
          'UNKNOWN_RECEIVER',
          missing.map((id) => ({ path: 'body.receiverIds', message: `no receiver ${id}` })),
        );
      }
      throw error;
    }
  }

  getGroup(id: string): Promise<Group | undefined> {
    return this.getData<Group>(keys.group(id));
  }

  async replaceGroup(group: Group, expectedRevision: number): Promise<void> {
    await this.replaceData('Group', keys.group(group.id), group, expectedRevision);
  }

  async deleteGroup(id: string, expectedRevision: number): Promise<void> {
    await this.deleteUnused('Group', keys.group(id), id, expectedRevision, {
      condition: '#data.memberCount = :zero',
      names: { '#data': 'data' },
      inUse: () => new RuleViolationError(`Group ${id} still has members; remove them first`, 'GROUP_NOT_EMPTY'),
    });
  }

  listGroups(page: PageRequest): Promise<Page<Group>> {
    return this.listPartition(keys.groupsPartition, page, (raw) => TableStore.revisioned<Group>(raw));
  }

  /** Membership changes bump the group's revision and member count in the same transaction. */
  private groupMemberUpdate(groupId: string, delta: 1 | -1, at: string) {
    return {
      Update: {
        TableName: this.tableName,
        Key: keys.group(groupId),
        UpdateExpression: 'SET version = version + :one, #data.memberCount = #data.memberCount + :delta, #data.updatedAt = :at',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#data': 'data' },
        ExpressionAttributeValues: { ':one': 1, ':delta': delta, ':at': at },
      },
    };
  }

  async addMember(groupId: string, receiverId: string, addedAt: string): Promise<boolean> {
    try {
      await this.commit(
        [
          {
            Put: {
              TableName: this.tableName,
              Item: this.membershipItem(groupId, receiverId, addedAt),
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          this.groupMemberUpdate(groupId, 1, addedAt),
          this.receiverCountUpdate(receiverId, 1),
        ],
        { audit: { entity: 'Membership', resourceId: groupId, change: 'created', data: { groupId, receiverId, addedAt } } },
      );
      return true;
    } catch (error) {
      if (!isCancelled(error)) throw error;
      const [member, group, receiver] = cancellationCodes(error);
      if (group === 'ConditionalCheckFailed') throw new NotFoundError('Group', groupId);
      if (receiver === 'ConditionalCheckFailed') throw new NotFoundError('Receiver', receiverId);
      if (member === 'ConditionalCheckFailed') return false;
      throw error;
    }
  }

  async removeMember(groupId: string, receiverId: string, at: string): Promise<boolean> {
    try {
      await this.commit(
        [
          {
            Delete: { TableName: this.tableName, Key: keys.membership(groupId, receiverId), ConditionExpression: 'attribute_exists(pk)' },
          },
          this.groupMemberUpdate(groupId, -1, at),
          this.receiverCountUpdate(receiverId, -1),
        ],
        { audit: { entity: 'Membership', resourceId: groupId, change: 'deleted', data: { groupId, receiverId, removedAt: at } } },
      );
      return true;
    } catch (error) {
      if (!isCancelled(error)) throw error;
      const [member] = cancellationCodes(error);
      if (member === 'ConditionalCheckFailed') return false;
      throw error;
    }
  }

  listMembers(groupId: string, page: PageRequest): Promise<Page<Membership>> {
    return this.queryPage(
      {
        input: {
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': keys.group(groupId).pk, ':prefix': keys.memberPrefix },
        },
        keyAttributes: TABLE_KEY,
        page,
        fingerprint: ['members', groupId],
      },
      (raw) => raw.data as Membership,
    );
  }

  listGroupsOfReceiver(receiverId: string, page: PageRequest): Promise<Page<Membership>> {
    return this.queryPage(
      {
        input: {
          IndexName: GSI1,
          KeyConditionExpression: 'gsi1pk = :pk',
          ExpressionAttributeValues: { ':pk': keys.groupsOfReceiver(receiverId) },
          ScanIndexForward: false,
        },
        keyAttributes: GSI1_KEY,
        page,
        fingerprint: ['groupsOf', receiverId],
      },
      (raw) => raw.data as Membership,
    );
  }

  // ---- events -------------------------------------------------------------

  async createEvent(event: ReleaseEvent, receiverRevision: number): Promise<void> {
    const sortKey = `${event.eventStart}#${event.id}`;
    try {
      await this.commit(
        [
          {
            Put: {
              TableName: this.tableName,
              Item: {
                ...keys.event(event.id),
                type: 'Event',
                version: 1,
                gsi1pk: keys.eventsOfReceiver(event.receiverId),
                gsi1sk: sortKey,
                gsi2pk: keys.eventsShard(event.id, this.listShards),
                gsi2sk: sortKey,
                data: event,
              },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          {
            // The payload was validated against this revision's schema; refuse if the receiver changed meanwhile.
            ConditionCheck: {
              TableName: this.tableName,
              Key: keys.receiver(event.receiverId),
              ConditionExpression: 'version = :rev',
              ExpressionAttributeValues: { ':rev': receiverRevision },
            },
          },
        ],
        { audit: { entity: 'Event', resourceId: event.id, change: 'created', data: event } },
      );
    } catch (error) {
      if (!isCancelled(error)) throw error;
      const [put, receiver] = cancellationCodes(error);
      if (receiver === 'ConditionalCheckFailed') {
        throw new VersionConflictError('Receiver', event.receiverId, receiverRevision);
      }
      if (put === 'ConditionalCheckFailed') throw new AlreadyExistsError(`Event ${event.id} already exists`);
      throw error;
    }
  }

  getEvent(id: string): Promise<ReleaseEvent | undefined> {
    return this.getData<ReleaseEvent>(keys.event(id)).then((e) => {
      if (!e) return undefined;
      const { revision: _r, ...event } = e;
      return event;
    });
  }

  listEvents(query: EventQuery): Promise<Page<ReleaseEvent>> {
    const byReceiver = query.receiverId !== undefined;
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const filters: string[] = [];
    const filterOn = (field: string, value: unknown) => {
      if (value === undefined) return;
      names['#data'] = 'data';
      names[`#${field}`] = field;
      values[`:${field}`] = value;
      filters.push(`#data.#${field} = :${field}`);
    };
    filterOn('name', query.name);
    filterOn('success', query.success);
    filterOn('platformId', query.platformId);
    filterOn('package', query.package);
    const to = query.to === undefined ? undefined : `${query.to}${SORT_HIGH}`;
    const fingerprint = ['events', query.receiverId, query.name, query.success, query.platformId, query.package, query.from, query.to];
    const toEvent = (raw: Record<string, unknown>) => raw.data as ReleaseEvent;
    if (!byReceiver) {
      return this.queryShards(
        {
          partitions: keys.eventsShards(this.listShards),
          ...(query.from !== undefined ? { from: query.from } : {}),
          ...(to !== undefined ? { to } : {}),
          ...(filters.length ? { filter: { expression: filters.join(' AND '), names, values } } : {}),
          page: query,
          fingerprint,
        },
        toEvent,
      );
    }
    // One receiver's events: its own partition, written at that receiver's rate only.
    const range = sortKeyCondition('#sk', { from: query.from, to });
    if (range.empty) return Promise.resolve({ items: [] });
    Object.assign(names, { '#pk': 'gsi1pk' }, range.expression ? { '#sk': 'gsi1sk' } : {});
    Object.assign(values, { ':pk': keys.eventsOfReceiver(query.receiverId as string) }, range.values);
    const keyCondition = range.expression ? `#pk = :pk AND ${range.expression}` : '#pk = :pk';
    return this.queryPage(
      {
        input: {
          IndexName: GSI1,
          KeyConditionExpression: keyCondition,
          ...(filters.length ? { FilterExpression: filters.join(' AND ') } : {}),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ScanIndexForward: false,
        },
        keyAttributes: GSI1_KEY,
        page: query,
        fingerprint,
      },
      toEvent,
    );
  }
}
