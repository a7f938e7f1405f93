import { receiverRoutes } from '../../shared/api/routes.js';
import { ReceiverService } from '../../shared/domain/receivers.js';
import { serviceApi } from '../../shared/http/service-api.js';
import { created, entity, noContent, ok } from '../../shared/http/responses.js';
import { bind } from '../../shared/http/route.js';
import { releaseStore, systemClock, uuidIds } from '../../shared/store/index.js';

const receivers = () => new ReceiverService(releaseStore(), systemClock, uuidIds);

export const handler = serviceApi([
  bind(receiverRoutes.create, async ({ body }) => {
    const receiver = await receivers().create(body);
    return created(receiver, `/api/v1/receivers/${receiver.id}`);
  }),
  bind(receiverRoutes.list, async ({ query }) => ok(await receivers().list(query))),
  bind(receiverRoutes.get, async ({ params }) => entity(await receivers().get(params.id))),
  bind(receiverRoutes.update, async ({ params, body, headers }) => entity(await receivers().update(params.id, body, headers['if-match']))),
  bind(receiverRoutes.delete, async ({ params, query, headers }) => {
    await receivers().delete(params.id, query.revision, headers['if-match']);
    return noContent();
  }),
  bind(receiverRoutes.groups, async ({ params, query }) => {
    await receivers().get(params.id);
    return ok(await releaseStore().listGroupsOfReceiver(params.id, query));
  }),
]);
