/**
 * Deployments (DESIGN.md §6): the record that is the source of truth of a
 * rollout, and the pure transitions the `rollout` and `rollback` state
 * machines and the operator's actions apply to it. Each transition answers
 * the new record (revision + 1), the decision-log entry where it is a
 * decision, and the event to emit; the store writes all three in one
 * transaction, conditional on the revision read. An illegal transition is a
 * RuleViolationError (422) with a code; one that is only early (a promote
 * while the stage is still being applied) a ConflictError (409).
 */
import type { ConfigurationVersion } from './configurations.js';
import { ConflictError, RuleViolationError } from './errors.js';
import type { MetricFigures, StageEvaluation, Verdict } from './rollout-evaluation.js';
import {
  edgesAddedBy,
  type DeploymentRequest,
  type PlannedStage,
  type RollbackThresholds,
  type RolloutPlan,
  type Strategy,
} from './rollout-plan.js';

export const DEPLOYMENT_STATUSES = [
  'PENDING',
  'IN_PROGRESS',
  'WAITING_APPROVAL',
  'PAUSED',
  'SUCCEEDED',
  'ROLLING_BACK',
  'ROLLED_BACK',
  'FAILED',
] as const;
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];

/** A deployment in one of these holds its edges: no other deployment may touch them. */
export const ACTIVE_STATUSES: readonly DeploymentStatus[] = ['PENDING', 'IN_PROGRESS', 'WAITING_APPROVAL', 'PAUSED', 'ROLLING_BACK'];
export const FINAL_STATUSES: readonly DeploymentStatus[] = ['SUCCEEDED', 'ROLLED_BACK', 'FAILED'];

export type StageStatus = 'PENDING' | 'WAITING_APPROVAL' | 'BAKING' | 'EVALUATING' | 'PASSED' | 'FAILED' | 'ROLLED_BACK';

export interface DeploymentStage extends PlannedStage {
  status: StageStatus;
  /** Who passed the stage's approval gate (approve or promote); a restarted execution does not ask again. */
  approvedBy?: string;
  /** The record took the stage (prior states saved, bake started); its edges are given the version right after. */
  appliedAt?: string;
  /**
   * Every edge of the stage was given the version (the assignments written).
   * Between appliedAt and this an execution lost with the runtime leaves the
   * edges unassigned until the reconciler's restarted execution assigns
   * them again, so nothing may pass the stage before it (see promote).
   */
  assignedAt?: string;
  /** BAKING: the bake ends then. */
  bakeUntil?: string;
  /** Bakes added because the evaluation had too little data. */
  bakeExtensions: number;
  completedAt?: string;
  /** The figures of the stage's last evaluation. */
  metrics?: MetricFigures[];
}

/** What an edge ran before this deployment first touched it; rollback restores exactly this. */
export interface EdgePriorState {
  /** Absent: the edge had no configuration assigned. */
  configurationId?: string;
  version?: number;
  weight: number;
}

export type DecisionVerdict = Verdict | 'APPROVED' | 'PROMOTED' | 'ROLLBACK_REQUESTED';

/** One entry of the decision log (DESIGN.md §6): every verdict and every operator decision. */
export interface Decision {
  at: string;
  stage: number;
  verdict: DecisionVerdict;
  reason: string;
  metrics: MetricFigures[];
  /** Who decided, for an operator's decision. */
  by?: string;
}

export interface Deployment {
  id: string;
  configurationId: string;
  version: number;
  strategy: Strategy;
  targets: DeploymentRequest['targets'];
  steps?: number[];
  bakeSeconds: number;
  thresholds: RollbackThresholds;
  requireApproval: boolean;
  status: DeploymentStatus;
  /** The stage being worked on (the last one once SUCCEEDED). */
  currentStage: number;
  stages: DeploymentStage[];
  /** Every target edge, in plan order: what the deployment holds against others. */
  edgeIds: string[];
  decisions: Decision[];
  /** Every edge touched so far, with its state before the first touch. */
  previous: Record<string, EdgePriorState>;
  /** PAUSED: the status to resume to. */
  pausedFrom?: 'IN_PROGRESS' | 'WAITING_APPROVAL';
  /** WAITING_APPROVAL: the token of the execution's waitForTaskToken. */
  taskToken?: string;
  /** The rollout execution driving it; a restarted one (the reconciler) gets the next attempt's name. */
  executionArn?: string;
  /** 1 for the first execution, +1 for each one the reconciler starts after an execution was lost. */
  attempt?: number;
  /** The rollback execution, once rolling back. */
  rollbackExecutionArn?: string;
  /** Like `attempt`, for the rollback execution. */
  rollbackAttempt?: number;
  rollbackReason?: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  finishedAt?: string;
  revision: number;
}

export type DeploymentEventType =
  | 'deployment.created'
  | 'deployment.started'
  | 'deployment.stage_applied'
  | 'deployment.waiting_approval'
  | 'deployment.approved'
  | 'deployment.stage_completed'
  | 'deployment.promoted'
  | 'deployment.paused'
  | 'deployment.resumed'
  | 'deployment.succeeded'
  | 'deployment.rolling_back'
  | 'deployment.rolled_back'
  | 'deployment.failed';

/** A task token the caller must answer (SendTaskSuccess / SendTaskFailure) once the new record is stored. */
export interface TaskTokenRelease {
  token: string;
  outcome: 'success' | 'failure';
}

export interface Transition {
  deployment: Deployment;
  decision?: Decision;
  event?: DeploymentEventType;
  release?: TaskTokenRelease;
}

/** What to do when the data stays insufficient (see recordVerdict). */
export interface InsufficientDataPolicy {
  /** Bakes added before the policy applies. */
  maxBakeExtensions: number;
  /** After them: pass the stage (thresholds found nothing in the data there was), or fail it. */
  then: 'pass' | 'fail';
}

/**
 * Two more bakes, then pass. Too little data nearly always means little
 * traffic, not a bad version, and what data there was has been held to the
 * thresholds; failing would make a quiet fleet (the demo, a night-time
 * rollout) impossible to deploy to. `then: 'fail'` is the strict choice.
 */
export const DEFAULT_INSUFFICIENT_DATA: InsufficientDataPolicy = { maxBakeExtensions: 2, then: 'pass' };

// ---- creation -----------------------------------------------------------------------

/**
 * A version may be deployed once approved (seed 003's IsApproved): 422
 * VERSION_NOT_APPROVED otherwise. Here rather than in ./configurations.ts,
 * whose JSON Schema validation (ajv) the rollout functions do not need.
 */
export function assertDeployable(version: ConfigurationVersion, path = 'body.version'): void {
  if (version.approvedBy === undefined) {
    throw new RuleViolationError(
      `Version ${version.version} of configuration ${version.configurationId} is not approved`,
      'VERSION_NOT_APPROVED',
      [{ path, message: 'approve the version before deploying it' }],
    );
  }
}

export function newDeployment(
  request: DeploymentRequest,
  plan: RolloutPlan,
  meta: { id: string; createdBy: string; now: string },
): Transition {
  const deployment: Deployment = {
    id: meta.id,
    configurationId: request.configurationId,
    version: request.version,
    strategy: plan.strategy,
    targets: request.targets,
    ...(request.steps ? { steps: request.steps } : {}),
    bakeSeconds: request.bakeSeconds,
    thresholds: request.thresholds,
    requireApproval: request.requireApproval ?? plan.stages.some((s) => s.requiresApproval),
    status: 'PENDING',
    currentStage: 0,
    stages: plan.stages.map((s) => ({ ...s, edgeIds: [...s.edgeIds], status: 'PENDING', bakeExtensions: 0 })),
    edgeIds: [...plan.edgeIds],
    decisions: [],
    previous: {},
    createdBy: meta.createdBy,
    createdAt: meta.now,
    updatedAt: meta.now,
    revision: 1,
  };
  return { deployment, event: 'deployment.created' };
}

// ---- helpers --------------------------------------------------------------------------

function refuse(d: Deployment, action: string, code = 'INVALID_DEPLOYMENT_STATE'): never {
  throw new RuleViolationError(`Cannot ${action} deployment ${d.id}: it is ${d.status}`, code);
}

function requireStatus(d: Deployment, action: string, allowed: readonly DeploymentStatus[], code?: string): void {
  if (!allowed.includes(d.status)) refuse(d, action, code ?? (FINAL_STATUSES.includes(d.status) ? 'DEPLOYMENT_FINISHED' : undefined));
}

function requireStage(d: Deployment, stage: number, action: string, allowed: readonly StageStatus[]): DeploymentStage {
  const current = d.stages[d.currentStage];
  if (stage !== d.currentStage || !current) {
    throw new RuleViolationError(
      `Cannot ${action} stage ${stage} of deployment ${d.id}: the current stage is ${d.currentStage}`,
      'STAGE_NOT_CURRENT',
    );
  }
  if (!allowed.includes(current.status)) {
    throw new RuleViolationError(`Cannot ${action} stage ${stage} of deployment ${d.id}: it is ${current.status}`, 'INVALID_STAGE_STATE');
  }
  return current;
}

function next(d: Deployment, now: string, changes: Partial<Deployment>): Deployment {
  return { ...d, ...changes, revision: d.revision + 1, updatedAt: now };
}

function withStage(d: Deployment, index: number, changes: Partial<DeploymentStage>): DeploymentStage[] {
  return d.stages.map((s) => (s.index === index ? { ...s, ...changes } : s));
}

const plusSeconds = (now: string, seconds: number): string => new Date(Date.parse(now) + seconds * 1000).toISOString();

function withoutToken(d: Deployment): Deployment {
  const { taskToken: _token, pausedFrom: _from, ...rest } = d;
  return rest;
}

/** Whether the execution must wait at the stage's approval gate before applying it: the plan asks for one and nobody has approved yet. */
export function needsApproval(stage: Pick<DeploymentStage, 'requiresApproval' | 'approvedBy'>): boolean {
  return stage.requiresApproval && stage.approvedBy === undefined;
}

// ---- the execution's transitions ------------------------------------------------------------

/** The execution began: PENDING → IN_PROGRESS. */
export function start(d: Deployment, input: { executionArn?: string }, now: string): Transition {
  requireStatus(d, 'start', ['PENDING']);
  return {
    deployment: next(d, now, {
      status: 'IN_PROGRESS',
      startedAt: now,
      ...(input.executionArn ? { executionArn: input.executionArn } : {}),
    }),
    event: 'deployment.started',
  };
}

/**
 * The execution reached a stage's approval gate (waitForTaskToken):
 * IN_PROGRESS → WAITING_APPROVAL, keeping the token for approve/promote (or
 * for rollback to fail it). Only a stage that requires approval has a gate.
 */
export function awaitApproval(d: Deployment, input: { stage: number; taskToken: string }, now: string): Transition {
  requireStatus(d, 'wait for approval on', ['IN_PROGRESS']);
  const stage = requireStage(d, input.stage, 'wait for approval on', ['PENDING']);
  if (!needsApproval(stage)) {
    throw new RuleViolationError(`Stage ${input.stage} of deployment ${d.id} has no approval gate left to wait at`, 'NO_APPROVAL_GATE');
  }
  return {
    deployment: next(d, now, {
      status: 'WAITING_APPROVAL',
      taskToken: input.taskToken,
      stages: withStage(d, input.stage, { status: 'WAITING_APPROVAL' }),
    }),
    event: 'deployment.waiting_approval',
  };
}

/**
 * An operator approved the gate: WAITING_APPROVAL → IN_PROGRESS; `release`
 * is the kept token to answer with success. Approving while PAUSED is
 * refused: resume first.
 */
export function approve(d: Deployment, input: { by: string }, now: string): Transition {
  requireStatus(d, 'approve', ['WAITING_APPROVAL'], d.status === 'PAUSED' ? 'DEPLOYMENT_PAUSED' : 'NOT_WAITING_APPROVAL');
  const token = d.taskToken;
  const decision: Decision = {
    at: now,
    stage: d.currentStage,
    verdict: 'APPROVED',
    reason: `approved by ${input.by}`,
    metrics: [],
    by: input.by,
  };
  return {
    deployment: next(withoutToken(d), now, {
      status: 'IN_PROGRESS',
      stages: withStage(d, d.currentStage, { status: 'PENDING', approvedBy: input.by }),
      decisions: [...d.decisions, decision],
    }),
    decision,
    event: 'deployment.approved',
    ...(token ? { release: { token, outcome: 'success' as const } } : {}),
  };
}

/**
 * The execution set the stage's version and weight on its edges. `prior`
 * gives, for each edge the stage adds, what it ran before; an edge already
 * touched by an earlier stage keeps its first prior state (blue-green's
 * switch touches the staged edges again; rollback must go back to before
 * the staging, not to weight 0). Stage → BAKING until now + bakeSeconds.
 */
export function stageApplied(d: Deployment, input: { stage: number; prior: Record<string, EdgePriorState> }, now: string): Transition {
  requireStatus(d, 'apply a stage of', ['IN_PROGRESS'], d.status === 'PAUSED' ? 'DEPLOYMENT_PAUSED' : undefined);
  const stage = requireStage(d, input.stage, 'apply', ['PENDING']);
  if (needsApproval(stage)) {
    throw new RuleViolationError(`Stage ${input.stage} of deployment ${d.id} needs an approval before it is applied`, 'APPROVAL_REQUIRED');
  }
  const previous = { ...d.previous };
  const missing: string[] = [];
  for (const edgeId of stage.edgeIds) {
    if (previous[edgeId]) continue;
    const prior = input.prior[edgeId];
    if (prior) previous[edgeId] = { ...prior };
    else missing.push(edgeId);
  }
  if (missing.length > 0) {
    throw new RuleViolationError(
      `The prior state of edges ${missing.join(', ')} is missing: rollback could not restore them`,
      'PRIOR_STATE_MISSING',
    );
  }
  return {
    deployment: next(d, now, {
      previous,
      stages: withStage(d, input.stage, { status: 'BAKING', appliedAt: now, bakeUntil: plusSeconds(now, stage.bakeSeconds) }),
    }),
    event: 'deployment.stage_applied',
  };
}

/** The stage's edges were given the version (after stageApplied): recorded once, so promote may pass the stage. */
export function stageAssigned(d: Deployment, input: { stage: number }, now: string): Transition | undefined {
  const stage = d.stages[input.stage];
  if (!stage || stage.assignedAt || (stage.status !== 'BAKING' && stage.status !== 'EVALUATING')) return undefined;
  return { deployment: next(d, now, { stages: withStage(d, input.stage, { assignedAt: now }) }) };
}

/**
 * The bake (Wait) ended: BAKING → EVALUATING, or straight to PASSED for a
 * stage that is not evaluated (blue-green's weight-0 staging: nothing to
 * judge, and no decision either). Also while PAUSED: pausing holds the next
 * stage, not the watch on this one.
 */
export function bakeDone(d: Deployment, input: { stage: number }, now: string): Transition {
  requireStatus(d, 'end the bake of', ['IN_PROGRESS', 'PAUSED']);
  const stage = requireStage(d, input.stage, 'end the bake of', ['BAKING']);
  if (!stage.evaluate) return passStage(d, undefined, now, [], 'deployment.stage_completed');
  return { deployment: next(d, now, { stages: withStage(d, input.stage, { status: 'EVALUATING' }) }) };
}

/** The stage passed: the next stage, or SUCCEEDED after the last. */
function passStage(
  d: Deployment,
  decision: Decision | undefined,
  now: string,
  metrics: MetricFigures[],
  event: DeploymentEventType,
): Transition {
  const stages = withStage(d, d.currentStage, { status: 'PASSED', completedAt: now, metrics });
  const decisions = decision ? [...d.decisions, decision] : d.decisions;
  const logged = decision ? { decision } : {};
  const last = d.currentStage === d.stages.length - 1;
  if (last) {
    return {
      deployment: next(withoutToken(d), now, { status: 'SUCCEEDED', stages, decisions, finishedAt: now }),
      ...logged,
      event: 'deployment.succeeded',
    };
  }
  return { deployment: next(d, now, { stages, decisions, currentStage: d.currentStage + 1 }), ...logged, event };
}

function failStage(d: Deployment, decision: Decision, now: string, metrics: MetricFigures[]): Transition {
  const token = d.status === 'WAITING_APPROVAL' || d.pausedFrom === 'WAITING_APPROVAL' ? d.taskToken : undefined;
  return {
    deployment: next(withoutToken(d), now, {
      status: 'ROLLING_BACK',
      rollbackReason: decision.reason,
      stages: withStage(d, d.currentStage, { status: 'FAILED', completedAt: now, metrics }),
      decisions: [...d.decisions, decision],
    }),
    decision,
    event: 'deployment.rolling_back',
    ...(token ? { release: { token, outcome: 'failure' as const } } : {}),
  };
}

/**
 * The evaluation's verdict on the current stage (EVALUATING), logged as a decision:
 * - PASS: the stage PASSED; the next stage (`deployment.stage_completed`) or SUCCEEDED;
 * - FAIL: ROLLING_BACK (`deployment.rolling_back`), even while PAUSED: a
 *   failing version is rolled back whatever an operator paused;
 * - INSUFFICIENT_DATA: bake again (BAKING, no event) while the policy has
 *   extensions left, then pass or fail as the policy says.
 * While PAUSED a pass is recorded but the next stage waits for resume.
 */
export function recordVerdict(
  d: Deployment,
  input: { stage: number; evaluation: StageEvaluation },
  now: string,
  policy: InsufficientDataPolicy = DEFAULT_INSUFFICIENT_DATA,
): Transition {
  requireStatus(d, 'record a verdict on', ['IN_PROGRESS', 'PAUSED']);
  const stage = requireStage(d, input.stage, 'record a verdict on', ['EVALUATING']);
  const { verdict, metrics } = input.evaluation;
  const entry = (reason: string): Decision => ({ at: now, stage: input.stage, verdict, reason, metrics });
  if (verdict === 'PASS') return passStage(d, entry(input.evaluation.reason), now, metrics, 'deployment.stage_completed');
  if (verdict === 'FAIL') return failStage(d, entry(input.evaluation.reason), now, metrics);
  if (stage.bakeExtensions < policy.maxBakeExtensions) {
    const extensions = stage.bakeExtensions + 1;
    const decision = entry(`${input.evaluation.reason}; baking again (${extensions} of ${policy.maxBakeExtensions})`);
    return {
      deployment: next(d, now, {
        stages: withStage(d, input.stage, {
          status: 'BAKING',
          bakeExtensions: extensions,
          bakeUntil: plusSeconds(now, stage.bakeSeconds),
          metrics,
        }),
        decisions: [...d.decisions, decision],
      }),
      decision,
    };
  }
  const reason = `${input.evaluation.reason}; ${policy.then === 'pass' ? 'passed' : 'failed'} by policy after ${policy.maxBakeExtensions} extra bakes`;
  return policy.then === 'pass'
    ? passStage(d, entry(reason), now, metrics, 'deployment.stage_completed')
    : failStage(d, entry(reason), now, metrics);
}

/**
 * A restarted execution reached the approval gate the record already waits
 * at (the execution that asked first is gone, and its token with it): the
 * new token replaces the old one, no decision, no event.
 */
export function renewApprovalToken(d: Deployment, input: { stage: number; taskToken: string }, now: string): Deployment {
  const paused = d.status === 'PAUSED' && d.pausedFrom === 'WAITING_APPROVAL';
  if (d.status !== 'WAITING_APPROVAL' && !paused) refuse(d, 'renew the approval token of');
  requireStage(d, input.stage, 'renew the approval token of', ['WAITING_APPROVAL']);
  return next(d, now, { taskToken: input.taskToken });
}

/**
 * The reconciler found the driving execution gone and starts another:
 * `attempt` and its arn (rollout) or `rollbackAttempt` and its arn
 * (rollback). No event: the deployment itself did not change state.
 */
export function executionRestarted(
  d: Deployment,
  input: { kind: 'rollout' | 'rollback'; attempt: number; executionArn: string },
  now: string,
): Deployment {
  if (FINAL_STATUSES.includes(d.status)) refuse(d, 'restart the execution of', 'DEPLOYMENT_FINISHED');
  return input.kind === 'rollout'
    ? next(d, now, { attempt: input.attempt, executionArn: input.executionArn })
    : next(d, now, { rollbackAttempt: input.attempt, rollbackExecutionArn: input.executionArn });
}

// ---- the operator's actions ------------------------------------------------------------------

/**
 * `POST {id}/promote`: at an approval gate it approves (the token is
 * released with success); during a bake it skips the rest of the bake and
 * the evaluation, passing the stage on the operator's word (logged as
 * PROMOTED). Anything else: 422 NOTHING_TO_PROMOTE.
 */
export function promote(d: Deployment, input: { by: string }, now: string): Transition {
  if (d.status === 'WAITING_APPROVAL') {
    const approved = approve(d, input, now);
    const decision: Decision = { ...approved.decision!, verdict: 'PROMOTED', reason: `promoted by ${input.by} at the approval gate` };
    return {
      ...approved,
      deployment: { ...approved.deployment, decisions: [...d.decisions, decision] },
      decision,
      event: 'deployment.promoted',
    };
  }
  requireStatus(d, 'promote', ['IN_PROGRESS'], d.status === 'PAUSED' ? 'DEPLOYMENT_PAUSED' : 'NOTHING_TO_PROMOTE');
  const stage = d.stages[d.currentStage]!;
  if (stage.status !== 'BAKING' && stage.status !== 'EVALUATING') {
    throw new RuleViolationError(
      `Stage ${d.currentStage} of deployment ${d.id} is ${stage.status}: nothing to promote`,
      'NOTHING_TO_PROMOTE',
    );
  }
  // Passing a stage whose edges were never given the version (its execution lost in between) would end the
  // deployment SUCCEEDED with no edge serving it: the execution, or the one the reconciler restarts, assigns first.
  if (!stage.assignedAt) {
    throw new ConflictError(
      `Stage ${d.currentStage} of deployment ${d.id} is still being applied to its edges; promote it once they have the version`,
      'STAGE_BEING_APPLIED',
    );
  }
  const decision: Decision = {
    at: now,
    stage: d.currentStage,
    verdict: 'PROMOTED',
    reason: `promoted by ${input.by}: bake skipped`,
    metrics: stage.metrics ?? [],
    by: input.by,
  };
  return passStage(d, decision, now, stage.metrics ?? [], 'deployment.promoted');
}

/** `POST {id}/pause`: IN_PROGRESS or WAITING_APPROVAL → PAUSED; no further stage is applied or approved until resume. */
export function pause(d: Deployment, input: { by: string }, now: string): Transition {
  requireStatus(d, 'pause', ['IN_PROGRESS', 'WAITING_APPROVAL'], d.status === 'PAUSED' ? 'DEPLOYMENT_ALREADY_PAUSED' : undefined);
  return {
    deployment: next(d, now, { status: 'PAUSED', pausedFrom: d.status as 'IN_PROGRESS' | 'WAITING_APPROVAL' }),
    event: 'deployment.paused',
  };
}

/** `POST {id}/resume`: PAUSED → the status it was paused from; 422 DEPLOYMENT_NOT_PAUSED otherwise. */
export function resume(d: Deployment, input: { by: string }, now: string): Transition {
  requireStatus(d, 'resume', ['PAUSED'], 'DEPLOYMENT_NOT_PAUSED');
  const { pausedFrom: _from, ...rest } = d;
  return { deployment: next(rest, now, { status: d.pausedFrom ?? 'IN_PROGRESS' }), event: 'deployment.resumed' };
}

/**
 * `POST {id}/rollback`: any active deployment but one already rolling back
 * → ROLLING_BACK, logged as the operator's decision; a kept approval token is
 * released with failure so the waiting execution ends. A finished
 * deployment is not rolled back (422 DEPLOYMENT_FINISHED): its edges may
 * since belong to another deployment; deploy the old version instead.
 */
export function rollback(d: Deployment, input: { by: string; reason?: string }, now: string): Transition {
  requireStatus(
    d,
    'roll back',
    ['PENDING', 'IN_PROGRESS', 'WAITING_APPROVAL', 'PAUSED'],
    d.status === 'ROLLING_BACK' ? 'ALREADY_ROLLING_BACK' : undefined,
  );
  const reason = `rollback requested by ${input.by}${input.reason ? `: ${input.reason}` : ''}`;
  const decision: Decision = { at: now, stage: d.currentStage, verdict: 'ROLLBACK_REQUESTED', reason, metrics: [], by: input.by };
  const token = d.status === 'WAITING_APPROVAL' || d.pausedFrom === 'WAITING_APPROVAL' ? d.taskToken : undefined;
  return {
    deployment: next(withoutToken(d), now, { status: 'ROLLING_BACK', rollbackReason: reason, decisions: [...d.decisions, decision] }),
    decision,
    event: 'deployment.rolling_back',
    ...(token ? { release: { token, outcome: 'failure' as const } } : {}),
  };
}

/** What the rollback must restore: every touched edge, exactly as it was before this deployment. */
export function rollbackTargets(d: Deployment): Array<{ edgeId: string } & EdgePriorState> {
  return Object.entries(d.previous)
    .sort(([a], [b]) => d.edgeIds.indexOf(a) - d.edgeIds.indexOf(b))
    .map(([edgeId, prior]) => ({ edgeId, ...prior }));
}

/** The rollback machine restored every touched edge: ROLLING_BACK → ROLLED_BACK; applied stages are ROLLED_BACK. */
export function rollbackDone(d: Deployment, now: string): Transition {
  requireStatus(d, 'finish the rollback of', ['ROLLING_BACK']);
  const stages = d.stages.map((s) => (s.appliedAt !== undefined ? { ...s, status: 'ROLLED_BACK' as const } : s));
  return { deployment: next(d, now, { status: 'ROLLED_BACK', stages, finishedAt: now }), event: 'deployment.rolled_back' };
}

/** The rollback itself failed (an edge could not be restored): FAILED, for an operator to look at. */
export function rollbackFailed(d: Deployment, input: { error: string }, now: string): Transition {
  requireStatus(d, 'fail the rollback of', ['ROLLING_BACK']);
  return {
    deployment: next(d, now, {
      status: 'FAILED',
      finishedAt: now,
      rollbackReason: `${d.rollbackReason ?? 'rollback'}; rollback failed: ${input.error}`,
    }),
    event: 'deployment.failed',
  };
}

// ---- one deployment per edge ----------------------------------------------------------------

export interface DeploymentConflict {
  deploymentId: string;
  status: DeploymentStatus;
  /** The edges both want. */
  edgeIds: string[];
}

/**
 * The active deployment that already holds one of `edgeIds`, if any (→ 409):
 * an edge is in at most one active deployment at a time, so two rollouts
 * never fight over its desired config and each rollback restores what its
 * own deployment found. The first conflicting deployment by creation time.
 */
export function conflictingDeployment(
  edgeIds: readonly string[],
  deployments: ReadonlyArray<Pick<Deployment, 'id' | 'status' | 'edgeIds' | 'createdAt'>>,
): DeploymentConflict | undefined {
  const wanted = new Set(edgeIds);
  const active = deployments
    .filter((d) => ACTIVE_STATUSES.includes(d.status))
    .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1));
  for (const d of active) {
    const overlap = d.edgeIds.filter((id) => wanted.has(id));
    if (overlap.length > 0) return { deploymentId: d.id, status: d.status, edgeIds: overlap };
  }
  return undefined;
}

/** The edges the current stage adds (the ones whose prior state stageApplied needs). */
export function edgesToApply(d: Deployment): string[] {
  return edgesAddedBy(d, d.currentStage).filter((id) => !d.previous[id]);
}
