/** Edge locations (DESIGN.md §4, §6): CRUD, edge keys, heartbeats, desired-config and heartbeat history; rules in shared/domain/edge*.ts. */
import { edgeRoutes } from '../../shared/api/routes.js';
import { generateEdgeKey, hashApiKey } from '../../shared/auth/secrets.js';
import { healthConfigFrom } from '../../shared/domain/edge-health.js';
import { EdgeService } from '../../shared/domain/edge-service.js';
import { ifNoneMatchHits, validateHeartbeat } from '../../shared/domain/edges.js';
import { created, entity, noContent, ok } from '../../shared/http/responses.js';
import { bind } from '../../shared/http/route.js';
import { serviceApi } from '../../shared/http/service-api.js';
import { edgeStore, systemClock, uuidIds } from '../../shared/store/index.js';

// The heartbeat interval the stack set for the edge-health job too (lib/jobs.ts), so GET and the job call the same edge unhealthy.
const health = healthConfigFrom(process.env);
const edges = () =>
  new EdgeService(edgeStore(), edgeStore(), systemClock, uuidIds, { generate: generateEdgeKey, hash: hashApiKey }, health);
const location = (id: string) => `/api/v1/edge-locations/${id}`;

export const handler = serviceApi([
  bind(edgeRoutes.create, async ({ body }) => {
    const edge = await edges().create(body);
    const response = created(edge, location(edge.id));
    // The key is in this response only: no cache may keep it.
    return { ...response, headers: { ...response.headers, 'Cache-Control': 'no-store' } };
  }),
  bind(edgeRoutes.list, async ({ query }) => ok(await edges().list(query))),
  bind(edgeRoutes.get, async ({ params }) => entity(await edges().get(params.id))),
  bind(edgeRoutes.update, async ({ params, body, headers }) => entity(await edges().update(params.id, body, headers['if-match']))),
  bind(edgeRoutes.delete, async ({ params, query, headers }) => {
    await edges().delete(params.id, query.revision, headers['if-match']);
    return noContent();
  }),
  bind(edgeRoutes.desiredConfig, async ({ params, headers }) => {
    const desired = await edges().desiredConfig(params.id);
    // Edges poll: it is always revalidated (no-cache), and unchanged is a 304 without a body.
    const cache = { ETag: desired.etag, 'Cache-Control': 'no-cache' };
    if (ifNoneMatchHits(headers['if-none-match'], desired.etag)) return { status: 304, headers: cache };
    return ok(desired, cache);
  }),
  // The body passed the route's schema; the domain's limits (latency at most an hour) are checked again here.
  bind(edgeRoutes.heartbeat, async ({ params, body }) => ({
    status: 202,
    body: await edges().heartbeat(params.id, validateHeartbeat(body)),
  })),
  bind(edgeRoutes.metrics, async ({ params, query }) => ok(await edges().metrics(params.id, query))),
]);
