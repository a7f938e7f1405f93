import { groupRoutes } from '../../shared/api/routes.js';
import { GroupService } from '../../shared/domain/groups.js';
import { serviceApi } from '../../shared/http/service-api.js';
import { created, entity, noContent, ok } from '../../shared/http/responses.js';
import { bind } from '../../shared/http/route.js';
import { releaseStore, systemClock, uuidIds } from '../../shared/store/index.js';

const groups = () => new GroupService(releaseStore(), systemClock, uuidIds);

export const handler = serviceApi([
  bind(groupRoutes.create, async ({ body }) => {
    const group = await groups().create(body);
    return created(group, `/api/v1/groups/${group.id}`);
  }),
  bind(groupRoutes.list, async ({ query }) => ok(await groups().list(query))),
  bind(groupRoutes.get, async ({ params }) => entity(await groups().get(params.id))),
  bind(groupRoutes.update, async ({ params, body, headers }) => entity(await groups().update(params.id, body, headers['if-match']))),
  bind(groupRoutes.delete, async ({ params, query, headers }) => {
    await groups().delete(params.id, query.revision, headers['if-match']);
    return noContent();
  }),
  bind(groupRoutes.members, async ({ params, query }) => ok(await groups().members(params.id, query))),
  bind(groupRoutes.addMember, async ({ params }) => {
    const added = await groups().addMember(params.id, params.receiverId);
    return entity(await groups().get(params.id), added ? 201 : 200);
  }),
  bind(groupRoutes.removeMember, async ({ params }) => {
    await groups().removeMember(params.id, params.receiverId);
    return noContent();
  }),
]);
