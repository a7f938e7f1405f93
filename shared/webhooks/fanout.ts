/**
 * The webhook fan-out (DESIGN.md §5): one delivery per enabled subscription
 * whose patterns select the event's type, each queued on `webhook-delivery`.
 *
 * Idempotent on the event: a delivery's id is deliveryIdOf(subscription,
 * event) and createDeliveryOnce writes it only once, so an event SQS
 * delivers twice creates no second delivery. A delivery that already existed
 * is queued again only while it is untouched (PENDING, no attempt begun):
 * then the fan-out that created it may have died between the put and the
 * send, and a duplicate message is harmless (the dispatcher drops a delivery
 * that is in flight or finished).
 */
import {
  deliveryIdOf,
  newDelivery,
  subscriptionWants,
  WEBHOOK_TEST_EVENT_TYPE,
  type DeliveryQueue,
  type DeliveryStore,
  type SubscriptionStore,
  type WebhookDelivery,
} from '../domain/webhooks.js';

/** The CloudEvent fields the fan-out reads; the body is the whole event as received. */
export interface FanoutEvent {
  id: string;
  type: string;
  [field: string]: unknown;
}

export interface FanoutDeps {
  subscriptions: Pick<SubscriptionStore, 'listSubscriptions'>;
  deliveries: Pick<DeliveryStore, 'createDeliveryOnce'>;
  queue: DeliveryQueue;
  now: () => string;
}

export interface FanoutResult {
  /** Enabled subscriptions whose patterns select the type. */
  matched: number;
  /** Deliveries this call created. */
  created: number;
  /** Deliveries that existed already (a redelivered event). */
  existing: number;
  /** Messages sent to `webhook-delivery`: the created ones and the untouched existing ones. */
  queued: number;
  /** True for `webhook.test`: test pings are stored by the API for one subscription, never fanned out. */
  ignored: boolean;
}

/** Subscriptions listed per page (the whole list is read, page by page). */
const PAGE_SIZE = 100;

/** A delivery no dispatcher has touched: its message may never have been sent. */
const untouched = (delivery: WebhookDelivery) => delivery.status === 'PENDING' && delivery.totalAttempts === 0;

export async function fanOut(event: FanoutEvent, deps: FanoutDeps): Promise<FanoutResult> {
  const result: FanoutResult = { matched: 0, created: 0, existing: 0, queued: 0, ignored: false };
  if (event.type === WEBHOOK_TEST_EVENT_TYPE) return { ...result, ignored: true };
  const body = JSON.stringify(event);
  const toQueue: Array<{ deliveryId: string; delaySeconds: number }> = [];
  let cursor: string | undefined;
  do {
    const page = await deps.subscriptions.listSubscriptions({ enabled: true, limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) });
    const wanted = page.items.filter((subscription) => subscriptionWants(subscription, event.type));
    result.matched += wanted.length;
    const outcomes = await Promise.all(
      wanted.map((subscription) =>
        deps.deliveries.createDeliveryOnce(
          newDelivery({
            id: deliveryIdOf(subscription.id, event.id),
            subscriptionId: subscription.id,
            event: { id: event.id, type: event.type, body },
            kind: 'event',
            now: deps.now(),
          }),
        ),
      ),
    );
    for (const { created, delivery } of outcomes) {
      if (created) result.created++;
      else result.existing++;
      if (created || untouched(delivery)) toQueue.push({ deliveryId: delivery.id, delaySeconds: 0 });
    }
    cursor = page.nextCursor;
  } while (cursor);
  // One send for the event (the queue batches by 10); if it fails the record fails, SQS redelivers, and the untouched deliveries go again.
  if (toQueue.length > 0) await deps.queue.send(toQueue);
  result.queued = toQueue.length;
  return result;
}
