import { auditRoutes } from '../../shared/api/routes.js';
import { normalizeInstant } from '../../shared/domain/instants.js';
import { ok } from '../../shared/http/responses.js';
import { bind } from '../../shared/http/route.js';
import { readOnlyServiceApi } from '../../shared/http/read-only-api.js';
import { identityStore } from '../../shared/store/index.js';

export const handler = readOnlyServiceApi([
  bind(auditRoutes.list, async ({ query }) =>
    ok(
      await identityStore().listAudit({
        ...query,
        // Stored instants are UTC ISO strings; compare like with like.
        ...(query.from ? { from: normalizeInstant(query.from) } : {}),
        ...(query.to ? { to: normalizeInstant(query.to) } : {}),
      }),
    ),
  ),
]);
