import { identityStore } from '../store/index.js';
import { httpApi, httpConfigFromEnv, httpGuardsFromEnv } from './middleware.js';
import type { BoundRoute } from './route.js';

/**
 * `serviceApi` (./service-api.ts) for a function that serves no POST: the
 * same chain without Idempotency-Key replay (which only applies to POSTs), so
 * its bundle carries no Powertools idempotency. Refuses a POST route at
 * start-up rather than silently dropping the replay.
 */
export function readOnlyServiceApi(routes: BoundRoute[]) {
  const post = routes.find((r) => r.spec.method === 'POST');
  if (post) throw new Error(`${post.spec.operationId} is a POST: serve it with serviceApi (Idempotency-Key replay)`);
  return httpApi(routes, httpConfigFromEnv(), httpGuardsFromEnv(identityStore));
}
