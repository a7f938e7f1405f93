import { auditRoutes } from '../../shared/api/routes.js';
import { ok } from '../../shared/http/responses.js';
import { bind } from '../../shared/http/route.js';
import { serviceApi } from '../../shared/http/service-api.js';
import { identityStore } from '../../shared/store/index.js';

export const handler = serviceApi([bind(auditRoutes.list, async ({ query }) => ok(await identityStore().listAudit(query)))]);
