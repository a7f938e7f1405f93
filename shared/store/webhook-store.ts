/**
 * Signed webhooks in the single table (DESIGN.md §5): subscriptions with their
 * secrets sealed, their health counters, deliveries and their attempts, and
 * each endpoint's circuit breaker with its in-flight leases. Subscription
 * changes go through `commit` (audit and event); deliveries, health and
 * circuits are the pipeline's bookkeeping and are written directly.
 */
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
  type QueryCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import { AlreadyExistsError } from '../domain/errors.js';
import type { Page } from '../domain/model.js';
import {
  closedCircuit,
  gateDispatch,
  publicSubscription,
  recordCircuitResult,
  type CircuitConfig,
  type DeliveryAttempt,
  type DeliveryDecision,
  type DeliveryQuery,
  type DeliveryStore,
  type EndpointCircuit,
  type EndpointStore,
  type GateDecision,
  type SubscriptionChange,
  type SubscriptionHealth,
  type SubscriptionHealthStore,
  type SubscriptionQuery,
  type SubscriptionStore,
  type WebhookDelivery,
  type WebhookSecret,
  type WebhookSubscription,
} from '../domain/webhooks.js';
import type { ChangeKind } from '../events/types.js';
import { wrappingKeyRingFromEnv } from '../webhooks/adapters.js';
import { openWebhookSecret, sealWebhookSecret, type WrappingKeyRing } from '../webhooks/signing.js';
import { GSI1, GSI1_KEY, keys } from './keys.js';
import { cancellationCodes, isCancelled, isConditionFailure, TableStore, type StoreOptions, type TransactItem } from './table-store.js';

const SUBSCRIPTION = 'WebhookSubscription';
const DELIVERY = 'WebhookDelivery';

/** How long a delivery and its attempts stay for the deliveries API before TTL removes them. */
const DELIVERY_RETENTION_SECONDS = 30 * 24 * 60 * 60;
/** Conditional writes of one endpoint item that may lose a race in a row before the call gives up. */
const ENDPOINT_WRITE_ATTEMPTS = 10;

/** A secret as stored: sealed for its subscription (../webhooks/signing.ts), never the `whsec_` text. */
interface SealedSecret {
  sealed: string;
  createdAt: string;
  expiresAt?: string;
}

type StoredSubscription = Omit<WebhookSubscription, 'secrets'> & { secrets: SealedSecret[] };

/** An endpoint item read back: its circuit, its leases (delivery id → expiry, epoch ms) and the lock version (absent: no item yet). */
interface EndpointRecord {
  circuit: EndpointCircuit;
  leases: Record<string, number>;
  version?: number;
}

export interface WebhookStoreOptions extends StoreOptions {
  /** The ring that seals and opens subscription secrets; default: WEBHOOK_KEYS_SECRET_ARN, else a per-process random key. */
  keyRing?: () => Promise<WrappingKeyRing>;
}

/** TTL attribute value (epoch seconds, as the table's `expiresAt` and the outbox use) of a delivery created at `createdAt`. */
function deliveryExpiry(createdAt: string): number {
  return Math.floor(Date.parse(createdAt) / 1000) + DELIVERY_RETENTION_SECONDS;
}

/** `subscription.secret_rotated` → `secret_rotated`: the change kind commit records. */
function changeKindOf(change: SubscriptionChange): ChangeKind {
  return change.slice('subscription.'.length) as ChangeKind;
}

/** One attempt's effect on the health record, as one atomic update each (../domain/webhooks.ts healthAfter is the rule). */
const HEALTH_UPDATES: Record<DeliveryDecision['kind'], { expression: string; values: Record<string, unknown> }> = {
  delivered: {
    expression: 'SET consecutiveFailedDeliveries = :zero, lastSuccessAt = :now REMOVE failingSince',
    values: { ':zero': 0 },
  },
  retry: { expression: 'SET failingSince = if_not_exists(failingSince, :now)', values: {} },
  failed: {
    expression: 'SET failingSince = if_not_exists(failingSince, :now) ADD consecutiveFailedDeliveries :one',
    values: { ':one': 1 },
  },
};

/** After a lost race: a short random wait, growing with each loss, so the racing dispatchers spread out. */
const pause = (attempt: number) => new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * 2 ** Math.min(attempt, 5)));

export class DynamoWebhookStore extends TableStore implements SubscriptionStore, DeliveryStore, SubscriptionHealthStore, EndpointStore {
  private readonly keyRing: () => Promise<WrappingKeyRing>;

  constructor(client: DynamoDBDocumentClient, tableName: string, options: WebhookStoreOptions = {}) {
    super(client, tableName, options);
    this.keyRing = options.keyRing ?? wrappingKeyRingFromEnv();
  }

  // ---- subscriptions --------------------------------------------------------

  private async sealed(subscription: WebhookSubscription): Promise<StoredSubscription> {
    const ring = await this.keyRing();
    const secrets = subscription.secrets.map(({ value, ...rest }) => ({
      sealed: sealWebhookSecret(value, subscription.id, ring),
      ...rest,
    }));
    return { ...subscription, secrets };
  }

  private static opened(stored: StoredSubscription, ring: WrappingKeyRing): WebhookSubscription {
    const secrets = stored.secrets.map(({ sealed, ...rest }): WebhookSecret => ({
      value: openWebhookSecret(sealed, stored.id, ring),
      ...rest,
    }));
    return { ...stored, secrets };
  }

  private async subscriptionItem(subscription: WebhookSubscription) {
    return this.revisionedItem(
      SUBSCRIPTION,
      keys.subscription(subscription.id),
      keys.subscriptionsPartition,
      await this.sealed(subscription),
    );
  }

  /** Health counters live at the top level, not under `data`: recordAttempt updates them in place with ADD and if_not_exists. */
  private healthPut(health: SubscriptionHealth): TransactItem {
    return {
      Put: {
        TableName: this.tableName,
        Item: { ...keys.subscriptionHealth(health.subscriptionId), type: 'SubscriptionHealth', ...health },
      },
    };
  }

  async createSubscription(subscription: WebhookSubscription, health: SubscriptionHealth, change: 'subscription.created'): Promise<void> {
    const item = await this.subscriptionItem(subscription);
    try {
      await this.commit(
        [{ Put: { TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } }, this.healthPut(health)],
        {
          audit: {
            entity: SUBSCRIPTION,
            resourceId: subscription.id,
            change: changeKindOf(change),
            data: publicSubscription(subscription),
          },
        },
      );
    } catch (error) {
      if (isCancelled(error) && cancellationCodes(error)[0] === 'ConditionalCheckFailed') {
        throw new AlreadyExistsError(`${SUBSCRIPTION} ${subscription.id} already exists`);
      }
      throw error;
    }
  }

  async getSubscription(id: string): Promise<WebhookSubscription | undefined> {
    const stored = await this.getData<StoredSubscription>(keys.subscription(id));
    return stored && DynamoWebhookStore.opened(stored, await this.keyRing());
  }

  async replaceSubscription(
    subscription: WebhookSubscription,
    expectedRevision: number,
    change: Exclude<SubscriptionChange, 'subscription.created' | 'subscription.deleted'>,
    health?: SubscriptionHealth,
  ): Promise<void> {
    const key = keys.subscription(subscription.id);
    await this.commitAtRevision(
      SUBSCRIPTION,
      subscription.id,
      key,
      expectedRevision,
      [
        this.dataUpdate(key, await this.sealed(subscription), expectedRevision),
        // Enabling starts the failure streaks afresh, atomically with the change that enables.
        ...(health ? [this.healthPut(health)] : []),
      ],
      {
        audit: { entity: SUBSCRIPTION, resourceId: subscription.id, change: changeKindOf(change), data: publicSubscription(subscription) },
      },
    );
  }

  async deleteSubscription(id: string, expectedRevision: number, change: 'subscription.deleted'): Promise<void> {
    const key = keys.subscription(id);
    await this.commitAtRevision(
      SUBSCRIPTION,
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
        { Delete: { TableName: this.tableName, Key: keys.subscriptionHealth(id) } },
      ],
      { audit: { entity: SUBSCRIPTION, resourceId: id, change: changeKindOf(change) } },
    );
  }

  async listSubscriptions(query: SubscriptionQuery): Promise<Page<WebhookSubscription>> {
    const ring = await this.keyRing();
    return this.listPartition(
      keys.subscriptionsPartition,
      query,
      (raw) => DynamoWebhookStore.opened(TableStore.revisioned<StoredSubscription>(raw), ring),
      query.enabled === undefined ? undefined : { field: 'enabled', value: query.enabled },
    );
  }

  // ---- deliveries -------------------------------------------------------------

  private deliveryItem(delivery: WebhookDelivery) {
    const { revision, ...data } = delivery;
    const sortKey = `${delivery.createdAt}#${delivery.id}`;
    return {
      ...keys.delivery(delivery.id),
      type: DELIVERY,
      version: revision,
      gsi1pk: keys.deliveriesOfSubscription(delivery.subscriptionId),
      gsi1sk: sortKey,
      gsi2pk: keys.deliveriesShard(delivery.id, this.listShards),
      gsi2sk: sortKey,
      expiresAt: deliveryExpiry(delivery.createdAt),
      data,
    };
  }

  async createDelivery(delivery: WebhookDelivery): Promise<void> {
    try {
      await this.client.send(
        new PutCommand({ TableName: this.tableName, Item: this.deliveryItem(delivery), ConditionExpression: 'attribute_not_exists(pk)' }),
      );
    } catch (error) {
      if (isConditionFailure(error)) throw new AlreadyExistsError(`${DELIVERY} ${delivery.id} already exists`);
      throw error;
    }
  }

  async createDeliveryOnce(delivery: WebhookDelivery): Promise<{ created: boolean; delivery: WebhookDelivery }> {
    try {
      await this.createDelivery(delivery);
      return { created: true, delivery };
    } catch (error) {
      if (!(error instanceof AlreadyExistsError)) throw error;
      // A redelivered event: its delivery exists (same deterministic id), and may have moved on since.
      const existing = await this.getDelivery(delivery.id);
      if (!existing) {
        throw new Error(`${DELIVERY} ${delivery.id} existed a moment ago and is gone (deleted or expired meanwhile)`, { cause: error });
      }
      return { created: false, delivery: existing };
    }
  }

  getDelivery(id: string): Promise<WebhookDelivery | undefined> {
    return this.getData<WebhookDelivery>(keys.delivery(id));
  }

  listDeliveries(query: DeliveryQuery): Promise<Page<WebhookDelivery>> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const filters: string[] = [];
    const filterOn = (field: 'status' | 'eventType', value: string | undefined) => {
      if (value === undefined) return;
      names['#data'] = 'data';
      names[`#${field}`] = field;
      values[`:${field}`] = value;
      filters.push(`#data.#${field} = :${field}`);
    };
    filterOn('status', query.status);
    filterOn('eventType', query.eventType);
    const fingerprint = ['deliveries', query.subscriptionId, query.status, query.eventType];
    const toDelivery = (raw: Record<string, unknown>) => TableStore.revisioned<WebhookDelivery>(raw);
    if (query.subscriptionId === undefined) {
      return this.queryShards(
        {
          partitions: keys.deliveriesShards(this.listShards),
          ...(filters.length ? { filter: { expression: filters.join(' AND '), names, values } } : {}),
          page: query,
          fingerprint,
        },
        toDelivery,
      );
    }
    // One subscription's deliveries: its own partition, so no merge of shards.
    return this.queryPage(
      {
        input: {
          IndexName: GSI1,
          KeyConditionExpression: '#pk = :pk',
          ...(filters.length ? { FilterExpression: filters.join(' AND ') } : {}),
          ExpressionAttributeNames: { '#pk': 'gsi1pk', ...names },
          ExpressionAttributeValues: { ':pk': keys.deliveriesOfSubscription(query.subscriptionId), ...values },
          ScanIndexForward: false,
        },
        keyAttributes: GSI1_KEY,
        page: query,
        fingerprint,
      },
      toDelivery,
    );
  }

  async listAttempts(deliveryId: string): Promise<DeliveryAttempt[]> {
    const attempts: DeliveryAttempt[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out: QueryCommandOutput = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': keys.delivery(deliveryId).pk, ':prefix': keys.attemptPrefix },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      attempts.push(...(out.Items ?? []).map((raw) => raw.data as DeliveryAttempt));
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return attempts;
  }

  async saveDelivery(next: WebhookDelivery, expectedRevision: number, attempt?: DeliveryAttempt): Promise<void> {
    const { revision, ...data } = next;
    const key = keys.delivery(next.id);
    const update = {
      TableName: this.tableName,
      Key: key,
      UpdateExpression: 'SET #data = :data, version = :next',
      ConditionExpression: 'version = :expected',
      ExpressionAttributeNames: { '#data': 'data' },
      ExpressionAttributeValues: { ':data': data, ':next': revision, ':expected': expectedRevision },
    };
    try {
      if (!attempt) {
        // A state change alone (taken, deferred, abandoned): one conditional update, half a transaction's cost.
        await this.client.send(new UpdateCommand(update));
        return;
      }
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            { Update: update },
            {
              Put: {
                TableName: this.tableName,
                Item: {
                  ...keys.deliveryAttempt(attempt.deliveryId, attempt.number),
                  type: 'DeliveryAttempt',
                  version: 1,
                  // Expires with its delivery.
                  expiresAt: deliveryExpiry(next.createdAt),
                  data: attempt,
                },
                // An attempt record is never overwritten: a second writer of the same number lost the delivery.
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      );
    } catch (error) {
      if (isConditionFailure(error) || (isCancelled(error) && cancellationCodes(error).includes('ConditionalCheckFailed'))) {
        throw await this.lostRace(DELIVERY, next.id, expectedRevision, key);
      }
      throw error;
    }
  }

  // ---- subscription health ----------------------------------------------------

  async recordAttempt(subscriptionId: string, decision: DeliveryDecision['kind'], now: string): Promise<SubscriptionHealth> {
    const { expression, values } = HEALTH_UPDATES[decision];
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.subscriptionHealth(subscriptionId),
          UpdateExpression: expression,
          // A deleted subscription's health is not brought back: it would stay forever with nothing to delete it.
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':now': now, ...values },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const item = out.Attributes ?? {};
      return {
        subscriptionId,
        consecutiveFailedDeliveries: (item.consecutiveFailedDeliveries as number | undefined) ?? 0,
        ...(item.failingSince !== undefined ? { failingSince: item.failingSince as string } : {}),
        ...(item.lastSuccessAt !== undefined ? { lastSuccessAt: item.lastSuccessAt as string } : {}),
      };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      // Gone with its subscription: the streak this one attempt makes, for a caller that then finds the subscription gone.
      if (decision === 'delivered') return { subscriptionId, consecutiveFailedDeliveries: 0, lastSuccessAt: now };
      return { subscriptionId, consecutiveFailedDeliveries: decision === 'failed' ? 1 : 0, failingSince: now };
    }
  }

  // ---- endpoints ----------------------------------------------------------------

  private async readEndpoint(endpoint: string): Promise<EndpointRecord> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: keys.endpoint(endpoint), ConsistentRead: true }),
    );
    if (!Item) return { circuit: closedCircuit(endpoint), leases: {} };
    return {
      circuit: Item.data as EndpointCircuit,
      leases: (Item.leases as Record<string, number> | undefined) ?? {},
      version: Item.version as number,
    };
  }

  /** Writes the endpoint item if nobody wrote it since `read`; false when someone did. */
  private async writeEndpoint(
    endpoint: string,
    read: EndpointRecord,
    circuit: EndpointCircuit,
    leases: Record<string, number>,
  ): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.endpoint(endpoint), type: 'EndpointCircuit', version: (read.version ?? 0) + 1, data: circuit, leases },
          ...(read.version === undefined
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : { ConditionExpression: 'version = :expected', ExpressionAttributeValues: { ':expected': read.version } }),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /**
   * Read, decide, write back conditionally; a lost race reads again. `decide`
   * gets the record with expired leases dropped and answers what to store
   * (nothing, when the decision changes nothing) and what to return.
   */
  private async updateEndpoint<T>(
    endpoint: string,
    now: string,
    decide: (record: EndpointRecord) => { result: T; write?: { circuit: EndpointCircuit; leases: Record<string, number> } },
  ): Promise<T> {
    const at = Date.parse(now);
    for (let attempt = 0; attempt < ENDPOINT_WRITE_ATTEMPTS; attempt++) {
      if (attempt > 0) await pause(attempt);
      const read = await this.readEndpoint(endpoint);
      // A lease whose holder died (no release) ends at its expiry.
      const live = Object.fromEntries(Object.entries(read.leases).filter(([, expires]) => expires > at));
      const { result, write } = decide({ ...read, leases: live });
      if (!write || (await this.writeEndpoint(endpoint, read, write.circuit, write.leases))) return result;
    }
    throw new Error(`Endpoint ${endpoint}: ${ENDPOINT_WRITE_ATTEMPTS} writes of its circuit in a row lost a race to other dispatchers`);
  }

  acquire(endpoint: string, deliveryId: string, config: CircuitConfig, now: string, leaseSeconds: number): Promise<GateDecision> {
    const expires = Date.parse(now) + leaseSeconds * 1000;
    return this.updateEndpoint<GateDecision>(endpoint, now, ({ circuit, leases }) => {
      // The delivery's own earlier lease (its dispatcher died, the message came back) does not keep it out.
      const { [deliveryId]: _own, ...others } = leases;
      const gate = gateDispatch(circuit, Object.keys(others).length, config, now);
      // A deferral leaves the circuit as it was: nothing to write (expired leases go with the next write).
      if (gate.decision.kind !== 'send') return { result: gate.decision };
      return { result: gate.decision, write: { circuit: gate.circuit, leases: { ...others, [deliveryId]: expires } } };
    });
  }

  release(
    endpoint: string,
    deliveryId: string,
    result: 'success' | 'failure',
    config: CircuitConfig,
    now: string,
  ): Promise<EndpointCircuit> {
    return this.updateEndpoint(endpoint, now, ({ circuit, leases }) => {
      const { [deliveryId]: _ended, ...others } = leases;
      const next = recordCircuitResult(circuit, result, config, now);
      return { result: next, write: { circuit: next, leases: others } };
    });
  }
}
