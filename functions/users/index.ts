import { userRoutes } from '../../shared/api/routes.js';
import { UserService } from '../../shared/domain/users.js';
import { created, entity, noContent, ok } from '../../shared/http/responses.js';
import { bind } from '../../shared/http/route.js';
import { serviceApi } from '../../shared/http/service-api.js';
import { identityStore, systemClock, uuidIds } from '../../shared/store/index.js';

const users = () => new UserService(identityStore(), systemClock, uuidIds);

export const handler = serviceApi([
  bind(userRoutes.create, async ({ body }) => {
    const user = await users().create(body);
    return created(user, `/api/v1/users/${user.id}`);
  }),
  bind(userRoutes.list, async ({ query }) => ok(await users().list(query))),
  bind(userRoutes.get, async ({ params }) => entity(await users().get(params.id))),
  bind(userRoutes.update, async ({ params, body, headers }) => entity(await users().update(params.id, body, headers['if-match']))),
  bind(userRoutes.delete, async ({ params, query, headers }) => {
    await users().delete(params.id, query.revision, headers['if-match']);
    return noContent();
  }),
]);
