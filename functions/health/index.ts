import { healthRoutes } from '../../shared/api/routes.js';
import { readOnlyServiceApi } from '../../shared/http/read-only-api.js';
import { bind, type HttpResult } from '../../shared/http/route.js';
import { releaseStore } from '../../shared/store/index.js';

const service = process.env.POWERTOOLS_SERVICE_NAME ?? 'switchyard';
const version = process.env.SWITCHYARD_VERSION ?? 'dev';
// Health is polled by load balancers: answer from memory, never cache a negative readiness.
const ok = { status: 'ok' as const, service, version };

export const handler = readOnlyServiceApi([
  bind(healthRoutes.health, async () => ({ status: 200, body: ok, headers: { 'Cache-Control': 'no-store' } })),
  bind(healthRoutes.live, async () => ({ status: 200, body: ok, headers: { 'Cache-Control': 'no-store' } })),
  bind(healthRoutes.ready, async (): Promise<HttpResult> => {
    const started = performance.now();
    try {
      await releaseStore().ping();
      const checks = { dynamodb: { status: 'ok' as const, responseTimeMs: Math.round(performance.now() - started) } };
      return { status: 200, body: { ...ok, checks }, headers: { 'Cache-Control': 'no-store' } };
    } catch (error) {
      const checks = {
        dynamodb: {
          status: 'unavailable' as const,
          responseTimeMs: Math.round(performance.now() - started),
          message: (error as Error).name,
        },
      };
      return { status: 503, body: { ...ok, status: 'unavailable', checks }, headers: { 'Cache-Control': 'no-store', 'Retry-After': '5' } };
    }
  }),
]);
