import { eventRoutes } from '../../shared/api/routes.js';
import { isCloudEventBody } from '../../shared/api/schemas.js';
import { releaseEventFromCloudEvent } from '../../shared/domain/cloudevents.js';
import { EventService } from '../../shared/domain/events.js';
import { serviceApi } from '../../shared/http/service-api.js';
import { created, ok } from '../../shared/http/responses.js';
import { bind } from '../../shared/http/route.js';
import { releaseStore, systemClock, uuidIds } from '../../shared/store/index.js';

const events = () => new EventService(releaseStore(), systemClock, uuidIds);

export const handler = serviceApi([
  bind(eventRoutes.create, async ({ body }) => {
    if (isCloudEventBody(body)) {
      // A structured CloudEvent (application/cloudevents+json): recorded once per source + id.
      const { eventId, input, paths } = releaseEventFromCloudEvent(body);
      const { event, replayed } = await events().ingestOnce(input, eventId, paths);
      const location = `/api/v1/events/${event.id}`;
      return replayed ? ok(event, { Location: location, 'Idempotent-Replayed': 'true' }) : created(event, location);
    }
    const event = await events().ingest(body);
    return created(event, `/api/v1/events/${event.id}`);
  }),
  bind(eventRoutes.list, async ({ query }) => ok(await events().list(query))),
  bind(eventRoutes.get, async ({ params }) => ok(await events().get(params.id))),
]);
