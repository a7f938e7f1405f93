/**
 * Rollout plans (DESIGN.md §6, seed 003 epic 2): a deployment request and its
 * target edges become a list of stages, one per strategy rule. Pure and
 * deterministic: the same request and the same edges (in any order) give
 * the same plan, so a restarted execution replays the recorded plan.
 */
import { ValidationError, type FieldError } from './errors.js';
import type { Continent, EdgeLocation } from './edges.js';

export const STRATEGIES = ['direct', 'regional-canary', 'blue-green', 'rolling-regional', 'geographic-wave'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export interface DeploymentTargets {
  /** Every edge of these regions. For rolling-regional and geographic-wave, also the order of the regions. */
  regions?: string[];
  edgeIds?: string[];
}

export interface RollbackThresholds {
  /** A stage whose mean error rate (0–1) is above this fails. */
  maxErrorRate?: number;
  /** A stage whose mean p95 latency is above this fails. */
  maxP95LatencyMs?: number;
}

/** `POST /deployments` (DESIGN.md §6), as the domain takes it. */
export interface DeploymentRequest {
  configurationId: string;
  version: number;
  strategy: string;
  targets: DeploymentTargets;
  /** regional-canary only: cumulative percentages of the target edges, increasing, ending at 100. */
  steps?: number[];
  bakeSeconds: number;
  thresholds: RollbackThresholds;
  /** An approval gate before every stage after the first (before the only stage of direct). Default: true for rolling-regional, false otherwise. */
  requireApproval?: boolean;
}

export interface PlannedStage {
  index: number;
  name: string;
  /** Every edge on the new version once this stage is applied (cumulative: it includes the previous stages' edges). */
  edgeIds: string[];
  /** Percent of each of those edges' traffic on the new version. */
  weight: number;
  /** How long to watch the stage before evaluating it. */
  bakeSeconds: number;
  /** Whether an operator must approve before this stage is applied. */
  requiresApproval: boolean;
  /** Whether the stage is evaluated after its bake (false for blue-green's weight-0 staging: it serves no traffic). */
  evaluate: boolean;
}

export interface RolloutPlan {
  strategy: Strategy;
  /** Every target edge, in plan order. */
  edgeIds: string[];
  stages: PlannedStage[];
}

export const DEFAULT_CANARY_STEPS: readonly number[] = [10, 50, 100];
/** A day: the longest bake a Step Functions Wait is asked for here; an evaluation window longer than that says the steps are too coarse. */
export const MAX_BAKE_SECONDS = 24 * 3600;
export const MAX_STEPS = 10;
/**
 * The most edges one deployment targets. The record (one DynamoDB item, at
 * most 400 KB) holds every target edge in `edgeIds`, in each stage's
 * cumulative `edgeIds` and in `previous`: at 500 edges of 36-character ids,
 * the worst plan (regional-canary with 10 steps from 91 to 100 %, about
 * 4 800 stage entries) with every prior state recorded and a full decision
 * log stays near 300 KB (tests/integration/deployment-store.test.ts stores
 * one). Larger fleets are deployed in several deployments.
 */
export const MAX_TARGET_EDGES = 500;

// ---- targets -----------------------------------------------------------------------

const tooManyEdges = (count: number): FieldError => ({
  path: 'body.targets',
  message: `the targets contain ${count} edge locations; a deployment takes at most ${MAX_TARGET_EDGES} (split it into several)`,
});

/**
 * The edges a request targets: every edge of `regions` and every one of
 * `edgeIds` (each once). Unknown edge ids and regions without edges are 400s
 * naming them, so a typo never quietly shrinks a rollout.
 */
export function resolveTargets(targets: DeploymentTargets, edges: readonly EdgeLocation[]): EdgeLocation[] {
  const errors: FieldError[] = [];
  const byId = new Map(edges.map((e) => [e.id, e]));
  const chosen = new Map<string, EdgeLocation>();
  (targets.regions ?? []).forEach((region, index) => {
    const inRegion = edges.filter((e) => e.region === region);
    if (inRegion.length === 0) errors.push({ path: `body.targets.regions.${index}`, message: `no edge location in region ${region}` });
    for (const edge of inRegion) chosen.set(edge.id, edge);
  });
  (targets.edgeIds ?? []).forEach((id, index) => {
    const edge = byId.get(id);
    if (!edge) errors.push({ path: `body.targets.edgeIds.${index}`, message: `no edge location ${id}` });
    else chosen.set(id, edge);
  });
  if ((targets.regions ?? []).length === 0 && (targets.edgeIds ?? []).length === 0)
    errors.push({ path: 'body.targets', message: 'name at least one region or edge id' });
  if (chosen.size > MAX_TARGET_EDGES) errors.push(tooManyEdges(chosen.size));
  if (errors.length > 0) throw new ValidationError('The deployment targets are not valid', errors);
  return [...chosen.values()];
}

// ---- the request -----------------------------------------------------------------------

function checkRequest(request: DeploymentRequest, edges: readonly EdgeLocation[]): { strategy: Strategy; steps: number[] } {
  const errors: FieldError[] = [];
  const strategy = (STRATEGIES as readonly string[]).includes(request.strategy) ? (request.strategy as Strategy) : undefined;
  if (!strategy) errors.push({ path: 'body.strategy', message: `one of ${STRATEGIES.join(', ')}` });
  if (edges.length === 0) errors.push({ path: 'body.targets', message: 'the targets contain no edge location' });
  if (edges.length > MAX_TARGET_EDGES) errors.push(tooManyEdges(edges.length));
  if (new Set(edges.map((e) => e.id)).size !== edges.length) errors.push({ path: 'body.targets', message: 'an edge is listed twice' });
  if (!Number.isInteger(request.bakeSeconds) || request.bakeSeconds < 0 || request.bakeSeconds > MAX_BAKE_SECONDS)
    errors.push({ path: 'body.bakeSeconds', message: `whole seconds from 0 to ${MAX_BAKE_SECONDS}` });
  const { maxErrorRate, maxP95LatencyMs } = request.thresholds;
  if (maxErrorRate !== undefined && !(maxErrorRate >= 0 && maxErrorRate <= 1))
    errors.push({ path: 'body.thresholds.maxErrorRate', message: 'a fraction from 0 to 1' });
  if (maxP95LatencyMs !== undefined && !(maxP95LatencyMs > 0 && Number.isFinite(maxP95LatencyMs)))
    errors.push({ path: 'body.thresholds.maxP95LatencyMs', message: 'a positive number of milliseconds' });
  const steps = request.steps ?? [...DEFAULT_CANARY_STEPS];
  if (request.steps !== undefined && strategy !== undefined && strategy !== 'regional-canary') {
    errors.push({ path: 'body.steps', message: 'only regional-canary takes steps' });
  } else if (request.steps !== undefined) {
    if (steps.length === 0 || steps.length > MAX_STEPS) errors.push({ path: 'body.steps', message: `1 to ${MAX_STEPS} percentages` });
    steps.forEach((step, index) => {
      if (!Number.isInteger(step) || step < 1 || step > 100)
        errors.push({ path: `body.steps.${index}`, message: 'a whole percentage from 1 to 100' });
      else if (index > 0 && step <= steps[index - 1]!)
        errors.push({ path: `body.steps.${index}`, message: `must be greater than the step before (${steps[index - 1]})` });
    });
    if (steps.length > 0 && steps[steps.length - 1] !== 100)
      errors.push({ path: `body.steps.${steps.length - 1}`, message: 'the last step must be 100' });
  }
  if (errors.length > 0) throw new ValidationError('The deployment request is not valid', errors);
  return { strategy: strategy!, steps };
}

// ---- ordering ---------------------------------------------------------------------------

const byNameThenId = (a: EdgeLocation, b: EdgeLocation): number =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

/**
 * Regions in rollout order: the request's `regions` first, in the order
 * given (the operator's choice), then the others (reached through edgeIds)
 * smallest first, so the first exposure is the smallest; ties by name.
 */
function regionOrder(edges: readonly EdgeLocation[], requested: readonly string[]): string[] {
  const sizes = new Map<string, number>();
  for (const edge of edges) sizes.set(edge.region, (sizes.get(edge.region) ?? 0) + 1);
  const first = [...new Set(requested)].filter((r) => sizes.has(r));
  const rest = [...sizes.keys()]
    .filter((r) => !first.includes(r))
    .sort((a, b) => sizes.get(a)! - sizes.get(b)! || (a < b ? -1 : a > b ? 1 : 0));
  return [...first, ...rest];
}

function groupBy<K>(edges: readonly EdgeLocation[], key: (e: EdgeLocation) => K): Map<K, EdgeLocation[]> {
  const groups = new Map<K, EdgeLocation[]>();
  for (const edge of edges) groups.set(key(edge), [...(groups.get(key(edge)) ?? []), edge]);
  for (const group of groups.values()) group.sort(byNameThenId);
  return groups;
}

/**
 * Canary order: round-robin over the regions (in regionOrder), each region's
 * edges by name, so a 10 % canary spans as many regions as it can and each
 * region keeps edges on the old version for the baseline as long as possible.
 */
function canaryOrder(edges: readonly EdgeLocation[], requestedRegions: readonly string[]): EdgeLocation[] {
  const groups = groupBy(edges, (e) => e.region);
  const queues = regionOrder(edges, requestedRegions).map((r) => [...groups.get(r)!]);
  const order: EdgeLocation[] = [];
  while (order.length < edges.length) {
    for (const queue of queues) {
      const next = queue.shift();
      if (next) order.push(next);
    }
  }
  return order;
}

// ---- planning ----------------------------------------------------------------------------

/**
 * The stages of a deployment over its target edges (resolveTargets), or a
 * ValidationError listing every bad field: no target edges, an unknown
 * strategy, steps that do not increase or do not end at 100 (or steps for
 * another strategy), bakeSeconds outside 0–86400, thresholds out of range.
 *
 * - direct: one stage, every edge at 100 %.
 * - regional-canary: for each step p, the first ceil(p % of n) edges (at
 *   least one) at 100 %; a step that adds no edge (few edges) is merged into
 *   the next, so 1 edge is one stage and 3 edges at 10/50/100 are 1, 2, 3.
 * - blue-green: every edge at weight 0 (staged, not evaluated), then every
 *   edge at 100 (the switch); rollback sets the weights back.
 * - rolling-regional: one region per stage, cumulative; an approval before
 *   each region after the first unless requireApproval is false.
 * - geographic-wave: one continent per stage, cumulative, continents in the
 *   order their first region comes in regionOrder; bake (and evaluate) after each.
 */
export function planDeployment(request: DeploymentRequest, targetEdges: readonly EdgeLocation[]): RolloutPlan {
  const { strategy, steps } = checkRequest(request, targetEdges);
  const bake = request.bakeSeconds;
  const regions = request.targets.regions ?? [];
  const gated = (index: number, byDefault: boolean): boolean => (request.requireApproval ?? byDefault) && index > 0;
  const stage = (index: number, name: string, edges: readonly EdgeLocation[], extra: Partial<PlannedStage> = {}): PlannedStage => ({
    index,
    name,
    edgeIds: edges.map((e) => e.id),
    weight: 100,
    bakeSeconds: bake,
    requiresApproval: false,
    evaluate: true,
    ...extra,
  });

  let ordered: EdgeLocation[];
  let stages: PlannedStage[];
  switch (strategy) {
    case 'direct': {
      ordered = canaryOrder(targetEdges, regions);
      stages = [stage(0, 'all', ordered, { requiresApproval: request.requireApproval ?? false })];
      break;
    }
    case 'regional-canary': {
      ordered = canaryOrder(targetEdges, regions);
      const n = ordered.length;
      const counts = steps.map((p) => Math.max(1, Math.ceil((p * n) / 100)));
      stages = [];
      counts.forEach((count, i) => {
        if (i + 1 < counts.length && counts[i + 1] === count) return; // adds nothing: merged into the next step
        const index = stages.length;
        stages.push(stage(index, `canary-${steps[i]}%`, ordered.slice(0, count), { requiresApproval: gated(index, false) }));
      });
      break;
    }
    case 'blue-green': {
      ordered = canaryOrder(targetEdges, regions);
      stages = [
        stage(0, 'stage-green', ordered, { weight: 0, bakeSeconds: 0, evaluate: false }),
        stage(1, 'switch', ordered, { requiresApproval: gated(1, false) }),
      ];
      break;
    }
    case 'rolling-regional': {
      const groups = groupBy(targetEdges, (e) => e.region);
      ordered = [];
      stages = regionOrder(targetEdges, regions).map((region, index) => {
        ordered.push(...groups.get(region)!);
        return stage(index, `region-${region}`, ordered, { requiresApproval: gated(index, true) });
      });
      break;
    }
    case 'geographic-wave': {
      const regionRank = new Map(regionOrder(targetEdges, regions).map((r, i) => [r, i]));
      const groups = new Map<Continent, EdgeLocation[]>();
      for (const edge of [...targetEdges].sort((a, b) => regionRank.get(a.region)! - regionRank.get(b.region)! || byNameThenId(a, b))) {
        groups.set(edge.continent, [...(groups.get(edge.continent) ?? []), edge]);
      }
      ordered = [];
      stages = [...groups.entries()].map(([continent, edges], index) => {
        ordered.push(...edges);
        return stage(index, `wave-${continent}`, ordered, { requiresApproval: gated(index, false) });
      });
      break;
    }
    default:
      throw new Error(`unplanned strategy ${String(strategy satisfies never)}`);
  }
  return { strategy, edgeIds: ordered.map((e) => e.id), stages };
}

/** The edges a stage adds to the previous one's (the ones it touches first), in plan order. */
export function edgesAddedBy(plan: Pick<RolloutPlan, 'stages'>, index: number): string[] {
  const before = new Set(index > 0 ? (plan.stages[index - 1]?.edgeIds ?? []) : []);
  return (plan.stages[index]?.edgeIds ?? []).filter((id) => !before.has(id));
}
