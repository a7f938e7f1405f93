/** Deployments (DESIGN.md §4, §6): create (starts the rollout execution), read, and the operator's promote/approve/pause/resume/rollback. */
import { deploymentRoutes } from '../../shared/api/routes.js';
import { principalOf } from '../../shared/auth/principal.js';
import type { DeploymentView } from '../../shared/domain/rollout-service.js';
import { entity, ok } from '../../shared/http/responses.js';
import { bind } from '../../shared/http/route.js';
import { serviceApi } from '../../shared/http/service-api.js';
import { rolloutService } from '../../shared/rollouts/service.js';

const location = (id: string) => `/api/v1/deployments/${id}`;

/** 202: the deployment is recorded and its execution started; the rest happens in the workflow (GET the Location to follow it). */
const accepted = (d: DeploymentView) => ({
  status: 202,
  headers: { Location: location(d.id) },
  body: { id: d.id, status: d.status, ...(d.executionArn ? { executionArn: d.executionArn } : {}) },
});

export const handler = serviceApi([
  bind(deploymentRoutes.create, async ({ body, event }) => accepted(await rolloutService().create(body, principalOf(event).id))),
  bind(deploymentRoutes.deployVersion, async ({ params, body, event }) =>
    accepted(await rolloutService().create({ ...body, configurationId: params.id, version: params.version }, principalOf(event).id)),
  ),
  bind(deploymentRoutes.list, async ({ query }) => ok(await rolloutService().list(query))),
  bind(deploymentRoutes.get, async ({ params }) => entity(await rolloutService().get(params.id))),
  bind(deploymentRoutes.approve, async ({ params, event }) => entity(await rolloutService().approve(params.id, principalOf(event).id))),
  bind(deploymentRoutes.promote, async ({ params, event }) => entity(await rolloutService().promote(params.id, principalOf(event).id))),
  bind(deploymentRoutes.pause, async ({ params, event }) => entity(await rolloutService().pause(params.id, principalOf(event).id))),
  bind(deploymentRoutes.resume, async ({ params, event }) => entity(await rolloutService().resume(params.id, principalOf(event).id))),
  bind(deploymentRoutes.rollback, async ({ params, body, event }) =>
    entity(await rolloutService().rollback(params.id, principalOf(event).id, body.reason)),
  ),
]);
