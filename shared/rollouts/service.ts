/**
 * The rollout service over the one table and the two state machines, one
 * per execution environment: what the deployments API, the rollout tasks
 * and the reconciler share.
 */
import type { EdgeLocation } from '../domain/edges.js';
import { DEFAULT_ROLLOUT_CONFIG, RolloutService, type RolloutReads } from '../domain/rollout-service.js';
import { configurationStore, deploymentStore, edgeStore, systemClock, uuidIds } from '../store/index.js';
import { logger } from '../telemetry.js';
import { StepFunctionsWorkflows } from './workflows.js';

/** Every edge location, all pages (targets are resolved against the whole fleet; a deployment holds at most MAX_TARGET_EDGES of them). */
async function allEdges(): Promise<EdgeLocation[]> {
  const edges: EdgeLocation[] = [];
  let cursor: string | undefined;
  do {
    const page = await edgeStore().listEdges({ limit: 100, ...(cursor ? { cursor } : {}) });
    // Planning needs placement only (id, name, region, continent); health is not a target rule.
    edges.push(...page.items.map(({ edge }) => ({ ...edge, health: 'unknown' as const })));
    cursor = page.nextCursor;
  } while (cursor);
  return edges;
}

const reads: RolloutReads = {
  allEdges,
  configurationVersion: (configurationId, version) => configurationStore().getVersion(configurationId, version),
};

let service: RolloutService | undefined;

export function rolloutService(): RolloutService {
  const pollSeconds = Number(process.env.ROLLOUT_POLL_SECONDS ?? DEFAULT_ROLLOUT_CONFIG.pollSeconds);
  service ??= new RolloutService(
    deploymentStore(),
    deploymentStore(),
    deploymentStore(),
    new StepFunctionsWorkflows(),
    reads,
    systemClock,
    uuidIds,
    {
      pollSeconds,
      onStartFailed: (deploymentId, error) =>
        logger.error('the rollout execution did not start; the reconciler will start it', { deploymentId, error: error as Error }),
    },
  );
  return service;
}
