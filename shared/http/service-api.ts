import { identityStore } from '../store/index.js';
import { httpApi, httpConfigFromEnv, httpGuardsFromEnv } from './middleware.js';
import type { BoundRoute } from './route.js';

/** A deployed API function: the middleware chain with configuration and guards from its environment. */
export function serviceApi(routes: BoundRoute[]) {
  return httpApi(routes, httpConfigFromEnv(), httpGuardsFromEnv(identityStore));
}
