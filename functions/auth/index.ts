import { principalOf } from '../../shared/auth/principal.js';
import { sessionConfigFromEnv, signingKeysFromSecret } from '../../shared/auth/config.js';
import { SessionService } from '../../shared/auth/sessions.js';
import { publicJwks } from '../../shared/auth/signing-keys.js';
import { authRoutes } from '../../shared/api/routes.js';
import { serviceApi } from '../../shared/http/service-api.js';
import { noContent, ok } from '../../shared/http/responses.js';
import { bind } from '../../shared/http/route.js';
import { identityStore } from '../../shared/store/index.js';

const signingKeys = signingKeysFromSecret();
const sessions = () => new SessionService(identityStore(), signingKeys, sessionConfigFromEnv());
const NO_STORE = { 'Cache-Control': 'no-store' };

export const handler = serviceApi([
  bind(authRoutes.login, async ({ body }) => ok(await sessions().login(body.username, body.password), NO_STORE)),
  bind(authRoutes.refresh, async ({ body }) => ok(await sessions().refresh(body.refreshToken), NO_STORE)),
  bind(authRoutes.logout, async ({ body, event }) => {
    const principal = principalOf(event);
    if (principal.token)
      await sessions().logout({ jti: principal.token.jti, exp: principal.token.exp, sub: principal.id }, body.refreshToken);
    return noContent();
  }),
  // Verifiers may cache the key set briefly; a rotated-in key is published before it signs anything that matters.
  bind(authRoutes.jwks, async () => ok(publicJwks(await signingKeys(), new Date()), { 'Cache-Control': 'public, max-age=300' })),
]);
