/**
 * The fan-out's and the dispatcher's ports from one store (all four webhook
 * ports over the table) and the `webhook-delivery` queue. The clock is read
 * on every call, never cached: the local runtime shims Date in function
 * environments to its scaled clock.
 */
import type { DeliveryQueue, DeliveryStore, EndpointStore, SubscriptionHealthStore, SubscriptionStore } from '../domain/webhooks.js';
import { systemClock } from '../store/index.js';
import type { DispatchDeps, DispatchLogger } from './dispatch.js';
import type { FanoutDeps } from './fanout.js';

export type WebhookPipelineStore = SubscriptionStore & DeliveryStore & SubscriptionHealthStore & EndpointStore;

export function fanoutDeps(store: WebhookPipelineStore, queue: DeliveryQueue): FanoutDeps {
  return { subscriptions: store, deliveries: store, queue, now: systemClock.now };
}

export function dispatchDeps(
  store: WebhookPipelineStore,
  queue: DeliveryQueue,
  options: { logger?: DispatchLogger; requestId?: string } = {},
): DispatchDeps {
  return { subscriptions: store, deliveries: store, health: store, endpoints: store, queue, now: systemClock.now, ...options };
}
