import { eventRoutes } from '../../shared/api/routes.js';
import { EventService } from '../../shared/domain/events.js';
import { serviceApi } from '../../shared/http/service-api.js';
import { created, ok } from '../../shared/http/responses.js';
import { bind } from '../../shared/http/route.js';
import { releaseStore, systemClock, uuidIds } from '../../shared/store/index.js';

const events = () => new EventService(releaseStore(), systemClock, uuidIds);

export const handler = serviceApi([
  bind(eventRoutes.create, async ({ body }) => {
    const event = await events().ingest(body);
    return created(event, `/api/v1/events/${event.id}`);
  }),
  bind(eventRoutes.list, async ({ query }) => ok(await events().list(query))),
  bind(eventRoutes.get, async ({ params }) => ok(await events().get(params.id))),
]);
