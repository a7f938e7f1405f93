import { audited } from '../store/audit-scope.js';
import { identityStore } from '../store/index.js';
import { idempotentPosts } from './idempotency.js';
import { httpApi, httpConfigFromEnv, httpGuardsFromEnv } from './middleware.js';
import type { BoundRoute } from './route.js';

/**
 * A deployed API function: the middleware chain with configuration and guards
 * from its environment, Idempotency-Key replay included. Functions that serve
 * no POST use `readOnlyServiceApi` (./read-only-api.ts) instead, which leaves
 * Powertools idempotency out of their bundle. Every route runs in its
 * request's audit context, so the store commits each change with its audit
 * record (shared/store/audit-scope.ts); no function can forget it.
 */
export function serviceApi(routes: BoundRoute[]) {
  const guards = httpGuardsFromEnv(identityStore);
  return httpApi(audited(routes), httpConfigFromEnv(), {
    ...guards,
    idempotency: idempotentPosts(
      guards.tableName,
      routes.map((r) => r.spec),
    ),
  });
}
