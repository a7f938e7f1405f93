/** Webhook subscriptions and their deliveries (DESIGN.md §4–5); the rules live in shared/domain/webhooks.ts. */
import { deliveryRoutes, subscriptionRoutes } from '../../shared/api/routes.js';
import { EVENT_TYPE_FIELDS } from '../../shared/events/types.js';
import { DeliveryService, SubscriptionService } from '../../shared/domain/webhooks.js';
import { created, entity, noContent, ok } from '../../shared/http/responses.js';
import { bind } from '../../shared/http/route.js';
import { serviceApi } from '../../shared/http/service-api.js';
import { systemClock, uuidIds, webhookStore } from '../../shared/store/index.js';
import { deliveryQueueFromEnv, webhookUrlChecker } from '../../shared/webhooks/adapters.js';
import { generateWebhookSecret } from '../../shared/webhooks/signing.js';

const subscriptions = () =>
  new SubscriptionService(webhookStore(), systemClock, uuidIds, { generate: generateWebhookSecret }, webhookUrlChecker(), {
    knownEventTypes: Object.keys(EVENT_TYPE_FIELDS),
  });
const deliveries = () => new DeliveryService(webhookStore(), webhookStore(), deliveryQueueFromEnv(), systemClock);
const deliveryLocation = (id: string) => `/api/v1/webhooks/deliveries/${id}`;

export const handler = serviceApi([
  bind(subscriptionRoutes.create, async ({ body }) => {
    const subscription = await subscriptions().create(body);
    return created(subscription, `/api/v1/webhooks/subscriptions/${subscription.id}`);
  }),
  bind(subscriptionRoutes.list, async ({ query }) => ok(await subscriptions().list(query))),
  bind(subscriptionRoutes.get, async ({ params }) => entity(await subscriptions().get(params.id))),
  bind(subscriptionRoutes.update, async ({ params, body, headers }) =>
    entity(await subscriptions().update(params.id, body, headers['if-match'])),
  ),
  bind(subscriptionRoutes.delete, async ({ params, query, headers }) => {
    await subscriptions().delete(params.id, query.revision, headers['if-match']);
    return noContent();
  }),
  bind(subscriptionRoutes.enable, async ({ params, body, headers }) =>
    entity(await subscriptions().enable(params.id, body.revision, headers['if-match'])),
  ),
  bind(subscriptionRoutes.disable, async ({ params, body, headers }) =>
    entity(await subscriptions().disable(params.id, body.revision, headers['if-match'])),
  ),
  bind(subscriptionRoutes.rotateSecret, async ({ params, body, headers }) =>
    entity(await subscriptions().rotateSecret(params.id, body, headers['if-match'])),
  ),
  bind(subscriptionRoutes.test, async ({ params }) => {
    const delivery = await deliveries().enqueue(await subscriptions().test(params.id));
    return entity(delivery, 202, deliveryLocation(delivery.id));
  }),
  bind(deliveryRoutes.list, async ({ query }) => ok(await deliveries().list(query))),
  bind(deliveryRoutes.get, async ({ params }) => ok(await deliveries().get(params.id))),
  bind(deliveryRoutes.retry, async ({ params }) => {
    const delivery = await deliveries().retry(params.id);
    return entity(delivery, 202, deliveryLocation(delivery.id));
  }),
]);
