import { principalOf } from '../../shared/auth/principal.js';
import { apiKeyRoutes } from '../../shared/api/routes.js';
import { ApiKeyService } from '../../shared/domain/api-keys.js';
import { created, noContent, ok } from '../../shared/http/responses.js';
import { bind } from '../../shared/http/route.js';
import { serviceApi } from '../../shared/http/service-api.js';
import { identityStore, systemClock, uuidIds } from '../../shared/store/index.js';

const apiKeys = () => new ApiKeyService(identityStore(), systemClock, uuidIds);

export const handler = serviceApi([
  bind(apiKeyRoutes.create, async ({ body, event }) => {
    const key = await apiKeys().create(body, principalOf(event).id);
    return {
      ...created(key, `/api/v1/api-keys/${key.id}`),
      headers: { Location: `/api/v1/api-keys/${key.id}`, 'Cache-Control': 'no-store' },
    };
  }),
  bind(apiKeyRoutes.list, async ({ query }) => ok(await apiKeys().list(query))),
  bind(apiKeyRoutes.get, async ({ params }) => ok(await apiKeys().get(params.id))),
  bind(apiKeyRoutes.revoke, async ({ params }) => {
    await apiKeys().revoke(params.id);
    return noContent();
  }),
]);
