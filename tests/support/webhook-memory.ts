/**
 * The webhook pipeline's ports in memory, for the fan-out and dispatcher
 * tests: subscriptions (recording the change each write emits and the audit
 * context it was made under), deliveries and attempts with the revision
 * checks the table makes (VersionConflictError), health as the store applies
 * it, endpoints through the pure breaker (gateDispatch, recordCircuitResult)
 * with in-flight leases, and a queue that records its messages.
 */
import { AlreadyExistsError, VersionConflictError } from '../../shared/domain/errors.js';
import type { Page } from '../../shared/domain/model.js';
import type { AuditContext } from '../../shared/domain/ports.js';
import {
  closedCircuit,
  freshHealth,
  gateDispatch,
  recordCircuitResult,
  type CircuitConfig,
  type DeliveryAttempt,
  type DeliveryDecision,
  type DeliveryQuery,
  type DeliveryQueue,
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
  type WebhookSubscription,
} from '../../shared/domain/webhooks.js';
import { currentAudit } from '../../shared/store/audit-scope.js';

const copy = <T>(value: T): T => structuredClone(value);

export interface EmittedChange {
  change: SubscriptionChange;
  subscriptionId: string;
  audit: AuditContext | undefined;
}

export class MemoryWebhookStore implements SubscriptionStore, DeliveryStore, SubscriptionHealthStore, EndpointStore {
  readonly subscriptions = new Map<string, WebhookSubscription>();
  readonly healths = new Map<string, SubscriptionHealth>();
  readonly deliveries = new Map<string, WebhookDelivery>();
  readonly attempts = new Map<string, DeliveryAttempt[]>();
  readonly circuits = new Map<string, EndpointCircuit>();
  /** endpoint → deliveryId → lease expiry (ms). */
  readonly leases = new Map<string, Map<string, number>>();
  readonly changes: EmittedChange[] = [];
  /** Calls of listSubscriptions, to check paging. */
  readonly listCalls: SubscriptionQuery[] = [];

  // ---- subscriptions ----

  async createSubscription(subscription: WebhookSubscription, health: SubscriptionHealth, change: 'subscription.created'): Promise<void> {
    if (this.subscriptions.has(subscription.id)) throw new AlreadyExistsError(`WebhookSubscription ${subscription.id} exists`);
    this.subscriptions.set(subscription.id, copy(subscription));
    this.healths.set(subscription.id, copy(health));
    this.changes.push({ change, subscriptionId: subscription.id, audit: currentAudit() });
  }

  async getSubscription(id: string): Promise<WebhookSubscription | undefined> {
    const found = this.subscriptions.get(id);
    return found && copy(found);
  }

  async replaceSubscription(
    subscription: WebhookSubscription,
    expectedRevision: number,
    change: Exclude<SubscriptionChange, 'subscription.created' | 'subscription.deleted'>,
    health?: SubscriptionHealth,
  ): Promise<void> {
    const current = this.subscriptions.get(subscription.id);
    if (!current || current.revision !== expectedRevision)
      throw new VersionConflictError('WebhookSubscription', subscription.id, expectedRevision);
    // The table refuses a change without an audit context (TableStore.commit); so does this.
    const audit = currentAudit();
    if (!audit) throw new Error(`WebhookSubscription ${subscription.id}: a change needs an audit context (withAudit)`);
    this.subscriptions.set(subscription.id, copy(subscription));
    if (health) this.healths.set(subscription.id, copy(health));
    this.changes.push({ change, subscriptionId: subscription.id, audit });
  }

  async deleteSubscription(id: string, expectedRevision: number, change: 'subscription.deleted'): Promise<void> {
    const current = this.subscriptions.get(id);
    if (!current || current.revision !== expectedRevision) throw new VersionConflictError('WebhookSubscription', id, expectedRevision);
    this.subscriptions.delete(id);
    this.healths.delete(id);
    this.changes.push({ change, subscriptionId: id, audit: currentAudit() });
  }

  async listSubscriptions(query: SubscriptionQuery): Promise<Page<WebhookSubscription>> {
    this.listCalls.push(copy(query));
    const all = [...this.subscriptions.values()]
      .filter((s) => query.enabled === undefined || s.enabled === query.enabled)
      .sort((a, b) => a.id.localeCompare(b.id));
    const start = query.cursor ? Number(query.cursor) : 0;
    const items = all.slice(start, start + query.limit).map(copy);
    const next = start + query.limit;
    return next < all.length ? { items, nextCursor: String(next) } : { items };
  }

  async createDelivery(delivery: WebhookDelivery): Promise<void> {
    if (this.deliveries.has(delivery.id)) throw new AlreadyExistsError(`WebhookDelivery ${delivery.id} exists`);
    this.deliveries.set(delivery.id, copy(delivery));
  }

  /** Test helper: a subscription written directly (no event), with fresh health. */
  seedSubscription(subscription: WebhookSubscription): void {
    this.subscriptions.set(subscription.id, copy(subscription));
    this.healths.set(subscription.id, freshHealth(subscription.id));
  }

  // ---- deliveries ----

  async createDeliveryOnce(delivery: WebhookDelivery): Promise<{ created: boolean; delivery: WebhookDelivery }> {
    const existing = this.deliveries.get(delivery.id);
    if (existing) return { created: false, delivery: copy(existing) };
    this.deliveries.set(delivery.id, copy(delivery));
    return { created: true, delivery: copy(delivery) };
  }

  async getDelivery(id: string): Promise<WebhookDelivery | undefined> {
    const found = this.deliveries.get(id);
    return found && copy(found);
  }

  async listDeliveries(query: DeliveryQuery): Promise<Page<WebhookDelivery>> {
    const items = [...this.deliveries.values()]
      .filter((d) => query.subscriptionId === undefined || d.subscriptionId === query.subscriptionId)
      .filter((d) => query.status === undefined || d.status === query.status)
      .filter((d) => query.eventType === undefined || d.eventType === query.eventType)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .slice(0, query.limit)
      .map(copy);
    return { items };
  }

  async listAttempts(deliveryId: string): Promise<DeliveryAttempt[]> {
    return copy(this.attempts.get(deliveryId) ?? []);
  }

  async saveDelivery(next: WebhookDelivery, expectedRevision: number, attempt?: DeliveryAttempt): Promise<void> {
    const current = this.deliveries.get(next.id);
    if (!current || current.revision !== expectedRevision) throw new VersionConflictError('WebhookDelivery', next.id, expectedRevision);
    this.deliveries.set(next.id, copy(next));
    if (attempt) this.attempts.set(next.id, [...(this.attempts.get(next.id) ?? []), copy(attempt)]);
  }

  // ---- health ----

  async recordAttempt(subscriptionId: string, decision: DeliveryDecision['kind'], now: string): Promise<SubscriptionHealth> {
    const health = this.healths.get(subscriptionId) ?? freshHealth(subscriptionId);
    const next: SubscriptionHealth =
      decision === 'delivered'
        ? { subscriptionId, consecutiveFailedDeliveries: 0, lastSuccessAt: now }
        : {
            ...health,
            failingSince: health.failingSince ?? now,
            consecutiveFailedDeliveries: health.consecutiveFailedDeliveries + (decision === 'failed' ? 1 : 0),
          };
    this.healths.set(subscriptionId, next);
    return copy(next);
  }

  // ---- endpoints ----

  private liveLeases(endpoint: string, now: string): Map<string, number> {
    const leases = this.leases.get(endpoint) ?? new Map<string, number>();
    for (const [id, until] of leases) if (until <= Date.parse(now)) leases.delete(id);
    this.leases.set(endpoint, leases);
    return leases;
  }

  async acquire(endpoint: string, deliveryId: string, config: CircuitConfig, now: string, leaseSeconds: number): Promise<GateDecision> {
    const leases = this.liveLeases(endpoint, now);
    const { decision, circuit } = gateDispatch(this.circuits.get(endpoint) ?? closedCircuit(endpoint), leases.size, config, now);
    this.circuits.set(endpoint, circuit);
    if (decision.kind === 'send') leases.set(deliveryId, Date.parse(now) + leaseSeconds * 1000);
    return decision;
  }

  async release(
    endpoint: string,
    deliveryId: string,
    result: 'success' | 'failure',
    config: CircuitConfig,
    now: string,
  ): Promise<EndpointCircuit> {
    this.liveLeases(endpoint, now).delete(deliveryId);
    const circuit = recordCircuitResult(this.circuits.get(endpoint) ?? closedCircuit(endpoint), result, config, now);
    this.circuits.set(endpoint, circuit);
    return copy(circuit);
  }
}

/** A `webhook-delivery` queue that records what was sent. */
export class MemoryDeliveryQueue implements DeliveryQueue {
  readonly messages: Array<{ deliveryId: string; delaySeconds: number }> = [];

  async send(messages: ReadonlyArray<{ deliveryId: string; delaySeconds: number }>): Promise<void> {
    this.messages.push(...messages.map((m) => ({ ...m })));
  }

  /** Takes every message sent so far. */
  drain(): Array<{ deliveryId: string; delaySeconds: number }> {
    return this.messages.splice(0);
  }
}

/** A settable clock (ISO strings), starting now so signatures verify against the receiver's wall clock. */
export function testClock(start = new Date()) {
  let at = start.getTime();
  return {
    now: () => new Date(at).toISOString(),
    advance: (seconds: number) => {
      at += seconds * 1000;
    },
    set: (iso: string) => {
      at = Date.parse(iso);
    },
  };
}
