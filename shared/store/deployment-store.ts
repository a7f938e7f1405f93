/**
 * Deployments in the single table (DESIGN.md §6): the deployment record,
 * the markers that hold each active deployment's edges against every other
 * create, the edges' assignments a rollout sets and its rollback restores,
 * and the heartbeats a stage's evaluation reads. Layout: ./keys.ts.
 *
 * One deployment per edge is enforced here, atomically: a create reads the
 * lock item's version, then every active marker (both consistent), and
 * commits the deployment, its marker and lock version + 1 conditional on the
 * version read, in one transaction. Two creates that read the same markers
 * cannot both commit, so two overlapping creates never both succeed; the
 * loser reads again and either finds the winner's marker (409) or, its
 * edges being disjoint, commits on the next try.
 */
import { BatchGetCommand, BatchWriteCommand, GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { BatchGetCommandOutput, BatchWriteCommandOutput, QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import {
  ACTIVE_STATUSES,
  conflictingDeployment,
  FINAL_STATUSES,
  type Deployment,
  type DeploymentEventType,
  type DeploymentStatus,
  type EdgePriorState,
  type Transition,
} from '../domain/deployments.js';
import type { EdgeAssignment, HeartbeatRecord } from '../domain/edges.js';
import { AlreadyExistsError, ConflictError } from '../domain/errors.js';
import type { Page } from '../domain/model.js';
import type { AssignmentStore, DeploymentQuery, DeploymentStore, HeartbeatReader } from '../domain/rollout-ports.js';
import type { ChangeKind } from '../events/types.js';
import { chunks, inParallel } from './batches.js';
import { heartbeatRange, keys } from './keys.js';
import { cancellationCodes, isCancelled, isConditionFailure, TableStore, type DataFilter, type TransactItem } from './table-store.js';

const DEPLOYMENT = 'Deployment';
/** BatchGetItem reads at most 100 keys. */
const BATCH_GET_SIZE = 100;
/** BatchWriteItem writes at most 25 items; TransactWriteItems at most 100. */
const BATCH_WRITE_SIZE = 25;
const TRANSACTION_SIZE = 100;
/** Tries of a batch's unprocessed items (or a conflicted transaction) before giving up (about 3 s of backoff): throttling that long is an outage, not a blip. */
const BATCH_ATTEMPTS = 8;
/** Calls in flight at once (heartbeat queries, batches): fast, and well inside a function's sockets. */
const IN_FLIGHT = 16;
/**
 * Tries of a create that keeps losing the lock to concurrent creates. Each
 * lost try means another create committed, so the creates as a whole always
 * progress, but of k creates arriving at the same instant the last may need
 * k tries: 12 covers a burst of a dozen (the backoff with jitter spreads it),
 * beyond that the create answers 409 CONCURRENT_CREATE to be retried.
 */
const CREATE_ATTEMPTS = 12;
/** The longest pause between two tries of a create (full jitter below it). */
const CREATE_BACKOFF_MAX_MS = 250;
/** Overlapping edges named in a 409 before "and N more". */
const NAMED_EDGES = 10;

/** What a marker holds: what conflictingDeployment needs of an active deployment. */
type Marker = Pick<Deployment, 'id' | 'status' | 'edgeIds' | 'createdAt'>;

type DeploymentChange = DeploymentEventType extends `deployment.${infer K}` ? K : never;
/** The change kind of a deployment event is its suffix (shared/events/types.ts maps it back). */
const changeOf = (event: DeploymentEventType): ChangeKind => event.slice('deployment.'.length) as DeploymentChange;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class DynamoDeploymentStore extends TableStore implements DeploymentStore, AssignmentStore, HeartbeatReader {
  // ---- the deployment record ------------------------------------------------------------

  async createDeployment(transition: Transition): Promise<void> {
    const d = transition.deployment;
    for (let attempt = 1; ; attempt++) {
      // The lock first, then the markers: a create that commits after the lock
      // was read fails our lock condition; one that committed before it has its
      // marker in what we read next. Read in parallel, a marker could be missed.
      const { Item: lock } = await this.client.send(
        new GetCommand({ TableName: this.tableName, Key: keys.deploymentsLock, ConsistentRead: true }),
      );
      const conflict = conflictingDeployment(d.edgeIds, await this.markers());
      if (conflict) {
        // The marker's status is the one the deployment was created with; the record has the current one.
        const holder = await this.getDeployment(conflict.deploymentId);
        // Finished since the markers were read (its marker went in the same write): read them again.
        if (holder && FINAL_STATUSES.includes(holder.status) && attempt < CREATE_ATTEMPTS) continue;
        const named = conflict.edgeIds.slice(0, NAMED_EDGES).join(', ');
        const more = conflict.edgeIds.length > NAMED_EDGES ? ` and ${conflict.edgeIds.length - NAMED_EDGES} more` : '';
        throw new ConflictError(
          `Edges ${named}${more} are in deployment ${conflict.deploymentId} (${holder?.status ?? conflict.status}): ` +
            'an edge is in one active deployment at a time',
          'EDGE_IN_DEPLOYMENT',
        );
      }
      const read = lock?.version as number | undefined;
      const marker: Marker = { id: d.id, status: d.status, edgeIds: d.edgeIds, createdAt: d.createdAt };
      try {
        await this.commit(
          [
            {
              Put: {
                TableName: this.tableName,
                Item: this.revisionedItem(DEPLOYMENT, keys.deployment(d.id), keys.deploymentsPartition, d),
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: { ...keys.activeDeployment(d.id), type: 'ActiveDeployment', version: 1, ...marker },
              },
            },
            {
              Update: {
                TableName: this.tableName,
                Key: keys.deploymentsLock,
                UpdateExpression: 'SET version = :next, #type = :type',
                ConditionExpression: read === undefined ? 'attribute_not_exists(pk)' : 'version = :read',
                ExpressionAttributeNames: { '#type': 'type' },
                ExpressionAttributeValues: {
                  ':next': (read ?? 0) + 1,
                  ':type': 'DeploymentsLock',
                  ...(read === undefined ? {} : { ':read': read }),
                },
              },
            },
          ],
          { audit: { entity: DEPLOYMENT, resourceId: d.id, change: 'created', data: this.eventData(transition) } },
        );
        return;
      } catch (error) {
        if (!isCancelled(error)) throw error;
        const codes = cancellationCodes(error);
        if (codes[0] === 'ConditionalCheckFailed') throw new AlreadyExistsError(`${DEPLOYMENT} ${d.id} already exists`);
        // Another create took the lock first (or was committing at the same moment): read again.
        const lostLock = codes[2] === 'ConditionalCheckFailed' || codes.includes('TransactionConflict');
        if (!lostLock) throw error;
        if (attempt >= CREATE_ATTEMPTS) {
          throw new ConflictError(
            `${DEPLOYMENT} ${d.id} lost ${attempt} times to deployments created at the same moment: try again`,
            'CONCURRENT_CREATE',
          );
        }
        await pause(Math.random() * Math.min(CREATE_BACKOFF_MAX_MS, 20 * 2 ** attempt));
      }
    }
  }

  async getDeployment(id: string): Promise<Deployment | undefined> {
    return this.getData<Deployment>(keys.deployment(id));
  }

  /**
   * The marker is written once and never updated: conflictingDeployment only
   * needs it to exist while the deployment is active (it is deleted in the
   * write that makes the deployment final), and the 409 reads the record for
   * the current status. Keeping its status current would turn every
   * no-event transition into a transaction for a field nothing decides on.
   */
  async saveTransition(transition: Transition): Promise<void> {
    const d = transition.deployment;
    const key = keys.deployment(d.id);
    const expected = d.revision - 1;
    const writes: TransactItem[] = [this.dataUpdate(key, d, expected)];
    if (FINAL_STATUSES.includes(d.status)) writes.push({ Delete: { TableName: this.tableName, Key: keys.activeDeployment(d.id) } });
    if (transition.event) {
      return this.commitAtRevision(DEPLOYMENT, d.id, key, expected, writes, {
        audit: { entity: DEPLOYMENT, resourceId: d.id, change: changeOf(transition.event), data: this.eventData(transition) },
      });
    }
    try {
      if (writes.length === 1) await this.client.send(new UpdateCommand(writes[0]!.Update!));
      else await this.client.send(new TransactWriteCommand({ TransactItems: writes }));
    } catch (error) {
      const lost = isConditionFailure(error) || (isCancelled(error) && cancellationCodes(error)[0] === 'ConditionalCheckFailed');
      if (lost) throw await this.lostRace(DEPLOYMENT, d.id, expected, key);
      throw error;
    }
  }

  listDeployments(query: DeploymentQuery): Promise<Page<Deployment>> {
    const where: DataFilter[] = [];
    if (query.status !== undefined) where.push({ field: 'status', value: query.status });
    if (query.configurationId !== undefined) where.push({ field: 'configurationId', value: query.configurationId });
    return this.listPartition(keys.deploymentsPartition, query, (raw) => TableStore.revisioned<Deployment>(raw), where);
  }

  async activeDeployments(): Promise<Deployment[]> {
    const ids = (await this.markers()).map((m) => m.id);
    const found = await this.batchGet(ids.map((id) => keys.deployment(id)));
    return found
      .map((raw) => TableStore.revisioned<Deployment>(raw))
      .filter((d) => ACTIVE_STATUSES.includes(d.status))
      .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1));
  }

  /** Every active deployment's marker, read consistently (all pages). */
  private async markers(): Promise<Marker[]> {
    const items = await this.queryAll({
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.activeDeploymentsPartition },
      ConsistentRead: true,
    });
    return items.map((raw) => ({
      id: raw.id as string,
      status: raw.status as DeploymentStatus,
      edgeIds: raw.edgeIds as string[],
      createdAt: raw.createdAt as string,
    }));
  }

  /** The event's data: the record (the event type's field list keeps its public summary) and the decision logged. */
  private eventData(transition: Transition): Record<string, unknown> {
    return { ...transition.deployment, decision: transition.decision };
  }

  // ---- assignments ------------------------------------------------------------------------

  async assignments(edgeIds: readonly string[]): Promise<Map<string, EdgeAssignment>> {
    const found = await this.batchGet(edgeIds.map((id) => keys.edgeAssignment(id)));
    return new Map(found.map((raw) => [(raw.data as EdgeAssignment).edgeId, raw.data as EdgeAssignment]));
  }

  /**
   * BatchWriteItem, 25 puts a call, the calls in parallel: a 100-edge stage
   * is 4 requests, not 100 (each put is one write unit either way, and the
   * puts need no condition: applying a stage again writes the same items).
   * Unprocessed items are written again with backoff.
   */
  async assign(assignments: readonly EdgeAssignment[]): Promise<void> {
    const unique = [...new Map(assignments.map((a) => [a.edgeId, a])).values()];
    await inParallel(chunks(unique, BATCH_WRITE_SIZE), IN_FLIGHT, async (chunk) => {
      let requests: Record<string, unknown>[] | undefined = chunk.map((a) => ({ PutRequest: { Item: this.assignmentItem(a) } }));
      for (let attempt = 0; requests && requests.length > 0; attempt++) {
        if (attempt === BATCH_ATTEMPTS)
          throw new Error(`BatchWriteItem left ${requests.length} assignments unwritten after ${attempt} tries`);
        if (attempt > 0) await pause(Math.min(1000, 50 * 2 ** attempt));
        const out: BatchWriteCommandOutput = await this.client.send(
          new BatchWriteCommand({ RequestItems: { [this.tableName]: requests as never } }),
        );
        requests = out.UnprocessedItems?.[this.tableName] as Record<string, unknown>[] | undefined;
      }
    });
  }

  /**
   * Each edge back to its prior state, on condition that no other deployment
   * has set its assignment since (absent, or still this deployment's). A
   * restored assignment keeps `deploymentId` = this deployment, so restoring
   * again passes the same condition and writes the same item.
   *
   * Speed is the point (every edge restored within 5 s of the decision,
   * DESIGN.md §6), so the conditional writes go 100 to a TransactWriteItems,
   * not one request each: a cancelled transaction names the items whose
   * condition failed (another deployment owns them: skipped), and the rest
   * are written again without them. 100 edges are one or two requests.
   */
  async restore(
    deploymentId: string,
    targets: ReadonlyArray<{ edgeId: string } & EdgePriorState>,
    now: string,
  ): Promise<{ restored: string[]; skipped: string[] }> {
    const guard = {
      ConditionExpression: 'attribute_not_exists(pk) OR #data.deploymentId = :id',
      ExpressionAttributeNames: { '#data': 'data' },
      ExpressionAttributeValues: { ':id': deploymentId },
    };
    const write = (target: { edgeId: string } & EdgePriorState): TransactItem => {
      const { edgeId, configurationId, version, weight } = target;
      if (configurationId === undefined) return { Delete: { TableName: this.tableName, Key: keys.edgeAssignment(edgeId), ...guard } };
      if (version === undefined) throw new Error(`The prior state of edge ${edgeId} names configuration ${configurationId} but no version`);
      const assignment: EdgeAssignment = { edgeId, configurationId, version, weight, deploymentId, updatedAt: now };
      return { Put: { TableName: this.tableName, Item: this.assignmentItem(assignment), ...guard } };
    };
    // A transaction may not name an item twice.
    const unique = [...new Map(targets.map((t) => [t.edgeId, t])).values()];
    const skipped = new Set<string>();
    await inParallel(chunks(unique, TRANSACTION_SIZE), IN_FLIGHT, async (chunk) => {
      let pending = chunk;
      for (let conflicts = 0; pending.length > 0;) {
        try {
          await this.client.send(new TransactWriteCommand({ TransactItems: pending.map(write) }));
          return;
        } catch (error) {
          if (!isCancelled(error)) throw error;
          const codes = cancellationCodes(error);
          const owned = pending.filter((_, i) => codes[i] === 'ConditionalCheckFailed');
          if (owned.length > 0) {
            for (const t of owned) skipped.add(t.edgeId);
            pending = pending.filter((_, i) => codes[i] !== 'ConditionalCheckFailed');
          } else if (codes.includes('TransactionConflict') && ++conflicts < BATCH_ATTEMPTS) {
            // Another write to one of these edges at the same moment: try again.
            await pause(Math.random() * 20 * 2 ** conflicts);
          } else {
            throw error;
          }
        }
      }
    });
    return {
      restored: unique.filter((t) => !skipped.has(t.edgeId)).map((t) => t.edgeId),
      skipped: unique.filter((t) => skipped.has(t.edgeId)).map((t) => t.edgeId),
    };
  }

  private assignmentItem(a: EdgeAssignment): Record<string, unknown> {
    return { ...keys.edgeAssignment(a.edgeId), type: 'EdgeAssignment', data: a };
  }

  // ---- heartbeats -------------------------------------------------------------------------

  async heartbeatsOf(edgeIds: readonly string[], from: string, to: string): Promise<HeartbeatRecord[]> {
    const { low, high } = heartbeatRange(from, to);
    const perEdge = await inParallel(edgeIds, IN_FLIGHT, (edgeId) =>
      this.queryAll({
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
        ExpressionAttributeValues: { ':pk': keys.edge(edgeId).pk, ':low': low, ':high': high },
      }),
    );
    return perEdge.flat().map((raw) => raw.data as HeartbeatRecord);
  }

  // ---- reads --------------------------------------------------------------------------------

  /** Every item a Query matches, all pages. */
  private async queryAll(input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.client.send(new QueryCommand({ ...input, TableName: this.tableName, ExclusiveStartKey: startKey }));
      items.push(...(out.Items ?? []));
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return items;
  }

  /**
   * These items (each once: BatchGetItem refuses a key twice), read
   * consistently in batches of 100, unprocessed keys read again with backoff;
   * absent ones are left out.
   */
  private async batchGet(itemKeys: ReadonlyArray<Record<string, string>>): Promise<Record<string, unknown>[]> {
    const unique = [...new Map(itemKeys.map((k) => [`${k.pk}\u0000${k.sk}`, k])).values()];
    const batches = await inParallel(chunks(unique, BATCH_GET_SIZE), IN_FLIGHT, async (chunk) => {
      const found: Record<string, unknown>[] = [];
      let request: Record<string, unknown>[] | undefined = chunk;
      for (let attempt = 0; request && request.length > 0; attempt++) {
        if (attempt === BATCH_ATTEMPTS) throw new Error(`BatchGetItem left ${request.length} keys unprocessed after ${attempt} tries`);
        if (attempt > 0) await pause(Math.min(1000, 50 * 2 ** attempt));
        const out: BatchGetCommandOutput = await this.client.send(
          new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: request, ConsistentRead: true } } }),
        );
        found.push(...(out.Responses?.[this.tableName] ?? []));
        request = out.UnprocessedKeys?.[this.tableName]?.Keys;
      }
      return found;
    });
    return batches.flat();
  }
}
