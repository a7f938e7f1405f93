/**
 * Deployments (DESIGN.md §6) over their ports: what the API asks (create,
 * read, promote, pause, resume, rollback), what each task of the `rollout`
 * and `rollback` state machines does (gate, apply, watch, evaluate, restore),
 * and what the reconciler does for a deployment whose execution is gone.
 *
 * The record is the source of truth: every task reads it, decides from it
 * what the execution does next, and writes a Transition (./deployments.ts)
 * at the revision it read. A task therefore behaves the same in a
 * restarted execution as in the first one, and an operator's action that
 * lands between two tasks is seen by the next one. Losing a race with an
 * operator (409) is retried on a fresh read; the operator's action wins.
 */
import {
  ACTIVE_STATUSES,
  approve,
  assertDeployable,
  awaitApproval,
  bakeDone,
  executionRestarted,
  FINAL_STATUSES,
  needsApproval,
  newDeployment,
  pause,
  promote,
  recordVerdict,
  renewApprovalToken,
  resume,
  rollback,
  rollbackDone,
  rollbackFailed,
  rollbackTargets,
  stageApplied,
  stageAssigned,
  start,
  edgesToApply,
  type Deployment,
  type EdgePriorState,
  type Transition,
} from './deployments.js';
import type { EdgeAssignment, EdgeLocation, HeartbeatRecord } from './edges.js';
import type { ConfigurationVersion } from './configurations.js';
import { NotFoundError, VersionConflictError } from './errors.js';
import type { Page } from './model.js';
import type { Clock, IdGenerator } from './ports.js';
import { evaluateStage, samplesOf, type StageEvaluation } from './rollout-evaluation.js';
import { planDeployment, resolveTargets, type DeploymentRequest } from './rollout-plan.js';
import type { AssignmentStore, DeploymentQuery, DeploymentStore, HeartbeatReader, Workflows } from './rollout-ports.js';

/** Reads the rollout needs from other features. */
export interface RolloutReads {
  /** Every edge location (targets are resolved against the whole fleet). */
  allEdges(): Promise<EdgeLocation[]>;
  configurationVersion(configurationId: string, version: number): Promise<ConfigurationVersion | undefined>;
}

export interface RolloutConfig {
  /** The longest a Wait of the execution sleeps before it looks at the record again: how soon promote, pause and resume take effect. */
  pollSeconds: number;
  /** Told when an execution could not be started (the deployment is stored; the reconciler starts it later). */
  onStartFailed?: (deploymentId: string, error: unknown) => void;
}

export const DEFAULT_ROLLOUT_CONFIG: RolloutConfig = { pollSeconds: 5 };

/** A task found the record somewhere other than where the execution thought: the execution goes back to its gate and looks again. */
export class StateChangedError extends Error {
  override readonly name = 'Deployment.StateChanged';
}

/**
 * What each task tells the execution to do next (the Choice states of
 * lib/rollouts.ts read `next`):
 * - `approval`: wait at the gate for an operator (waitForTaskToken);
 * - `hold`: paused; Wait `waitSeconds`, then ask the gate again;
 * - `apply`: set the stage's version and weight on its edges;
 * - `watch`: the stage is applied; watch its bake;
 * - `bake`: Wait `waitSeconds`, then watch again;
 * - `evaluate`: the bake is over; judge the stage;
 * - `done`: this stage passed; the next one (or the end);
 * - `rollback`: the deployment must roll back (and this execution starts it);
 * - `superseded`: someone else drives the deployment now (an operator's
 *   rollback started the rollback machine) or it is finished: stop quietly.
 */
export type NextStep = 'approval' | 'hold' | 'apply' | 'watch' | 'bake' | 'evaluate' | 'done' | 'rollback' | 'superseded';

export interface StageRef {
  deploymentId: string;
  stage: number;
}

export interface StepAnswer extends StageRef {
  next: NextStep;
  /** For `hold` and `bake`. */
  waitSeconds: number;
}

/** A deployment as the API shows it: never the approval gate's task token. */
export type DeploymentView = Omit<Deployment, 'taskToken'>;

export function deploymentView(d: Deployment): DeploymentView {
  const { taskToken: _token, ...view } = d;
  return view;
}

const SYSTEM = 'system:rollout';
const MAX_RACE_RETRIES = 5;

export class RolloutService {
  constructor(
    private readonly deployments: DeploymentStore,
    private readonly assignmentStore: AssignmentStore,
    private readonly heartbeats: HeartbeatReader,
    private readonly workflows: Workflows,
    private readonly reads: RolloutReads,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly config: RolloutConfig = DEFAULT_ROLLOUT_CONFIG,
  ) {}

  // ---- the API ----------------------------------------------------------------------------

  /**
   * `POST /deployments`: plans the deployment against the fleet, stores it
   * (409 when one of its edges is in another active deployment) and starts
   * its execution. The record names the execution before it is started, so
   * a failed start is found and started by the reconciler, not lost.
   */
  async create(request: DeploymentRequest, createdBy: string): Promise<DeploymentView> {
    const version = await this.reads.configurationVersion(request.configurationId, request.version);
    if (!version) throw new NotFoundError(`Configuration ${request.configurationId} version`, String(request.version));
    assertDeployable(version);
    const fleet = await this.reads.allEdges();
    const plan = planDeployment(request, resolveTargets(request.targets, fleet));
    const id = this.ids.next();
    const created = newDeployment(request, plan, { id, createdBy, now: this.clock.now() });
    const deployment: Deployment = { ...created.deployment, attempt: 1, executionArn: this.workflows.rolloutExecutionArn(id, 1) };
    await this.deployments.createDeployment({ ...created, deployment });
    try {
      await this.workflows.startRollout(id, 1);
    } catch (error) {
      // Accepted all the same: the record names the execution, and the reconciler starts it within its next run.
      this.config.onStartFailed?.(id, error);
    }
    return deploymentView(deployment);
  }

  async get(id: string): Promise<DeploymentView> {
    return deploymentView(await this.load(id));
  }

  async list(query: DeploymentQuery): Promise<Page<DeploymentView>> {
    const page = await this.deployments.listDeployments(query);
    return { ...page, items: page.items.map(deploymentView) };
  }

  /** `POST {id}/promote`: approve the gate, or end the bake now on the operator's word. */
  async promote(id: string, by: string): Promise<DeploymentView> {
    return deploymentView(await this.transit(id, (d, now) => promote(d, { by }, now)));
  }

  async approve(id: string, by: string): Promise<DeploymentView> {
    return deploymentView(await this.transit(id, (d, now) => approve(d, { by }, now)));
  }

  async pause(id: string, by: string): Promise<DeploymentView> {
    return deploymentView(await this.transit(id, (d, now) => pause(d, { by }, now)));
  }

  async resume(id: string, by: string): Promise<DeploymentView> {
    return deploymentView(await this.transit(id, (d, now) => resume(d, { by }, now)));
  }

  /** `POST {id}/rollback`: ROLLING_BACK now, and the rollback machine started at once (the rollout execution stops at its next look). */
  async rollback(id: string, by: string, reason?: string): Promise<DeploymentView> {
    const deployment = await this.transit(id, (d, now) =>
      this.withRollbackExecution(rollback(d, { by, ...(reason ? { reason } : {}) }, now)),
    );
    await this.workflows.startRollback(id, deployment.rollbackAttempt ?? 1);
    return deploymentView(deployment);
  }

  // ---- the rollout machine's tasks ----------------------------------------------------------

  /** The execution began: PENDING → IN_PROGRESS (a restarted execution finds it already so); the stages still to run. */
  async begin(
    deploymentId: string,
  ): Promise<{ deploymentId: string; next: 'run' | 'rollback' | 'superseded'; stages: StageRef[]; error: null }> {
    const d = await this.transit(deploymentId, (current, now) => (current.status === 'PENDING' ? start(current, {}, now) : undefined));
    // `error: null`: the RollBack state reads `$.error`, which a failed Map fills in.
    if (d.status === 'ROLLING_BACK')
      return { deploymentId, next: d.rollbackExecutionArn ? 'superseded' : 'rollback', stages: [], error: null };
    if (FINAL_STATUSES.includes(d.status)) return { deploymentId, next: 'superseded', stages: [], error: null };
    const stages = d.stages.filter((s) => s.index >= d.currentStage).map((s) => ({ deploymentId, stage: s.index }));
    return { deploymentId, next: 'run', stages, error: null };
  }

  /** Before a stage: wait for approval, hold while paused, apply it, or (a restarted execution) pick up where the record is. */
  async gate(ref: StageRef): Promise<StepAnswer> {
    const d = await this.load(ref.deploymentId);
    const stop = this.stopStep(d, ref);
    if (stop) return stop;
    const stage = d.stages[ref.stage]!;
    if (stage.status === 'BAKING' || stage.status === 'EVALUATING') return this.answer(ref, 'apply');
    if (d.status === 'PAUSED') return this.answer(ref, 'hold', this.config.pollSeconds);
    if (d.status === 'WAITING_APPROVAL' || needsApproval(stage)) return this.answer(ref, 'approval');
    return this.answer(ref, 'apply');
  }

  /**
   * At the approval gate (waitForTaskToken): keeps the token in the record
   * for approve/promote/rollback to answer. A gate that is no longer there
   * (paused, approved meanwhile) is a StateChangedError: back to the gate.
   */
  async awaitApproval(ref: StageRef & { taskToken: string }): Promise<void> {
    await this.transit(ref.deploymentId, (d, now) => {
      if (d.currentStage !== ref.stage) throw new StateChangedError(`stage ${ref.stage} is not current`);
      const stage = d.stages[ref.stage]!;
      if (stage.status === 'WAITING_APPROVAL') {
        return { deployment: renewApprovalToken(d, { stage: ref.stage, taskToken: ref.taskToken }, now) };
      }
      if (d.status !== 'IN_PROGRESS' || !needsApproval(stage)) throw new StateChangedError(`deployment is ${d.status}`);
      return awaitApproval(d, { stage: ref.stage, taskToken: ref.taskToken }, now);
    });
  }

  /**
   * Sets the stage's version and weight on its edges. The prior state of
   * each edge the stage adds is read from its assignment and committed to
   * the record BEFORE any assignment is written, so a crash in between can
   * never lose what a rollback must restore; a stage already applied (a
   * restarted execution) only writes its assignments again.
   */
  async apply(ref: StageRef): Promise<StepAnswer> {
    let d = await this.load(ref.deploymentId);
    const stop = this.stopStep(d, ref);
    if (stop) return stop;
    if (d.stages[ref.stage]!.status === 'PENDING') {
      d = await this.transit(ref.deploymentId, async (current, now) => {
        if (current.stages[ref.stage]?.status !== 'PENDING') return undefined;
        if (current.status !== 'IN_PROGRESS') throw new StateChangedError(`deployment is ${current.status}`);
        const adding = edgesToApply(current);
        const found = await this.assignmentStore.assignments(adding);
        const prior: Record<string, EdgePriorState> = {};
        for (const edgeId of adding) {
          const a = found.get(edgeId);
          prior[edgeId] = a ? { configurationId: a.configurationId, version: a.version, weight: a.weight } : { weight: 0 };
        }
        return stageApplied(current, { stage: ref.stage, prior }, now);
      });
    }
    const stage = d.stages[ref.stage]!;
    if (stage.status !== 'BAKING' && stage.status !== 'EVALUATING') return this.answer(ref, 'watch');
    const now = this.clock.now();
    const assignments: EdgeAssignment[] = stage.edgeIds.map((edgeId) => ({
      edgeId,
      configurationId: d.configurationId,
      version: d.version,
      weight: stage.weight,
      deploymentId: d.id,
      updatedAt: now,
    }));
    await this.assignmentStore.assign(assignments);
    if (!stage.assignedAt) await this.transit(ref.deploymentId, (current, at) => stageAssigned(current, { stage: ref.stage }, at));
    return this.answer(ref, 'watch');
  }

  /** During the bake: sleep again (at most pollSeconds, so operators are heard), evaluate once it is over, or move on when promoted. */
  async watch(ref: StageRef): Promise<StepAnswer> {
    const d = await this.load(ref.deploymentId);
    const stop = this.stopStep(d, ref);
    if (stop) return stop;
    const stage = d.stages[ref.stage]!;
    if (stage.status === 'EVALUATING') return this.answer(ref, 'evaluate');
    if (stage.status !== 'BAKING') throw new StateChangedError(`stage ${ref.stage} is ${stage.status}`);
    const remaining = (Date.parse(stage.bakeUntil ?? this.clock.now()) - Date.parse(this.clock.now())) / 1000;
    if (remaining > 0) return this.answer(ref, 'bake', Math.min(Math.ceil(remaining), this.config.pollSeconds));
    const after = await this.transit(ref.deploymentId, (current, now) =>
      current.stages[ref.stage]?.status === 'BAKING' && current.currentStage === ref.stage
        ? bakeDone(current, { stage: ref.stage }, now)
        : undefined,
    );
    return this.stopStep(after, ref) ?? this.answer(ref, after.stages[ref.stage]!.status === 'EVALUATING' ? 'evaluate' : 'watch');
  }

  /**
   * Judges the stage on the heartbeats received since it was applied: the
   * stage's edges on the new version against the deployment's other edges
   * (the baseline, still on what they ran). Every verdict is in the decision log.
   */
  async evaluate(ref: StageRef): Promise<StepAnswer & { verdict?: StageEvaluation['verdict'] }> {
    let verdict: StageEvaluation['verdict'] | undefined;
    const d = await this.transit(ref.deploymentId, async (current, now) => {
      if (current.currentStage !== ref.stage || current.stages[ref.stage]?.status !== 'EVALUATING') return undefined;
      const evaluation = await this.evaluateStage(current, now);
      verdict = evaluation.verdict;
      return recordVerdict(current, { stage: ref.stage, evaluation }, now);
    });
    const withVerdict = verdict ? { verdict } : {};
    const stop = this.stopStep(d, ref);
    if (stop) return { ...stop, ...withVerdict };
    const status = d.stages[ref.stage]!.status;
    if (status === 'BAKING') return { ...this.answer(ref, 'watch'), ...withVerdict };
    if (status === 'EVALUATING') return { ...this.answer(ref, 'evaluate'), ...withVerdict };
    throw new StateChangedError(`stage ${ref.stage} is ${status}`);
  }

  /**
   * The rollout cannot go on: a stage failed (already ROLLING_BACK), or the
   * execution itself failed (`error`: then the deployment is rolled back by
   * the system, with the error as the reason). Starts the rollback machine.
   */
  async beginRollback(input: { deploymentId: string; error?: string }): Promise<{ deploymentId: string; next: 'rollback' | 'superseded' }> {
    const d = await this.transit(input.deploymentId, (current, now) => {
      if (current.status === 'ROLLING_BACK' || !ACTIVE_STATUSES.includes(current.status)) return undefined;
      const reason = `the rollout workflow failed: ${input.error ?? 'unknown error'}`;
      return this.withRollbackExecution(rollback(current, { by: SYSTEM, reason }, now));
    });
    if (d.status !== 'ROLLING_BACK') return { deploymentId: input.deploymentId, next: 'superseded' };
    // Named in the record before it is started (at the revision after this one), so the reconciler can find it if the start fails.
    const prepared = d.rollbackExecutionArn
      ? d
      : await this.transit(input.deploymentId, (current, now) => {
          if (current.rollbackExecutionArn || current.status !== 'ROLLING_BACK') return undefined;
          const attempt = current.rollbackAttempt ?? 1;
          const executionArn = this.workflows.rollbackExecutionArn(current.id, attempt);
          return { deployment: executionRestarted(current, { kind: 'rollback', attempt, executionArn }, now) };
        });
    await this.workflows.startRollback(input.deploymentId, prepared.rollbackAttempt ?? 1);
    return { deploymentId: input.deploymentId, next: 'rollback' };
  }

  // ---- the rollback machine's tasks ----------------------------------------------------------

  /** Every touched edge back to what it ran before this deployment; idempotent. */
  async restoreEdges(deploymentId: string): Promise<{ deploymentId: string; restored: number; skipped: string[] }> {
    const d = await this.load(deploymentId);
    if (d.status !== 'ROLLING_BACK') return { deploymentId, restored: 0, skipped: [] };
    const result = await this.assignmentStore.restore(d.id, rollbackTargets(d), this.clock.now());
    return { deploymentId, restored: result.restored.length, skipped: result.skipped };
  }

  /** ROLLING_BACK → ROLLED_BACK (the edges are restored). */
  async finishRollback(deploymentId: string): Promise<{ deploymentId: string; status: string }> {
    const d = await this.transit(deploymentId, (current, now) =>
      current.status === 'ROLLING_BACK' ? rollbackDone(current, now) : undefined,
    );
    return { deploymentId, status: d.status };
  }

  /** The rollback could not restore the edges: FAILED, for an operator. */
  async failRollback(input: { deploymentId: string; error?: string }): Promise<{ deploymentId: string; status: string }> {
    const d = await this.transit(input.deploymentId, (current, now) =>
      current.status === 'ROLLING_BACK' ? rollbackFailed(current, { error: input.error ?? 'unknown error' }, now) : undefined,
    );
    return { deploymentId: input.deploymentId, status: d.status };
  }

  // ---- the reconciler ------------------------------------------------------------------------------

  /**
   * Every active deployment whose driving execution is gone gets a new one
   * from its recorded stage: MISSING (never started, or a lost local
   * runtime) starts the same attempt; FAILED, ABORTED, TIMED_OUT or a
   * SUCCEEDED execution that left the record active start the next attempt.
   */
  async reconcile(): Promise<Array<{ deploymentId: string; status: string; execution: string; action: 'none' | 'restarted' }>> {
    const report: Array<{ deploymentId: string; status: string; execution: string; action: 'none' | 'restarted' }> = [];
    for (const d of await this.deployments.activeDeployments()) {
      const kind = d.status === 'ROLLING_BACK' ? 'rollback' : 'rollout';
      const arn = kind === 'rollback' ? d.rollbackExecutionArn : d.executionArn;
      const attempt = (kind === 'rollback' ? d.rollbackAttempt : d.attempt) ?? 1;
      const status = arn ? await this.workflows.status(arn) : 'MISSING';
      if (status === 'RUNNING') {
        report.push({ deploymentId: d.id, status: d.status, execution: status, action: 'none' });
        continue;
      }
      const nextAttempt = status === 'MISSING' ? attempt : attempt + 1;
      const nextArn =
        kind === 'rollback'
          ? this.workflows.rollbackExecutionArn(d.id, nextAttempt)
          : this.workflows.rolloutExecutionArn(d.id, nextAttempt);
      try {
        await this.transit(d.id, (current, now) => {
          if (current.revision !== d.revision) throw new StateChangedError('changed while reconciling');
          return nextArn === arn
            ? undefined
            : { deployment: executionRestarted(current, { kind, attempt: nextAttempt, executionArn: nextArn }, now) };
        });
      } catch (error) {
        if (error instanceof StateChangedError) continue; // it moved: it is being driven; look again next run
        throw error;
      }
      if (kind === 'rollback') await this.workflows.startRollback(d.id, nextAttempt);
      else await this.workflows.startRollout(d.id, nextAttempt);
      report.push({ deploymentId: d.id, status: d.status, execution: status, action: 'restarted' });
    }
    return report;
  }

  // ---- internals -------------------------------------------------------------------------------------

  private async load(id: string): Promise<Deployment> {
    const d = await this.deployments.getDeployment(id);
    if (!d) throw new NotFoundError('Deployment', id);
    return d;
  }

  private answer(ref: StageRef, next: NextStep, waitSeconds = 0): StepAnswer {
    return { deploymentId: ref.deploymentId, stage: ref.stage, next, waitSeconds };
  }

  /**
   * What every stage task answers first: the deployment rolls back (this
   * execution starts the rollback unless someone already named its
   * execution: an operator's rollback starts it itself), is over, or the
   * stage is already behind it.
   */
  private stopStep(d: Deployment, ref: StageRef): StepAnswer | undefined {
    if (d.status === 'ROLLING_BACK') return this.answer(ref, d.rollbackExecutionArn ? 'superseded' : 'rollback');
    if (FINAL_STATUSES.includes(d.status)) return this.answer(ref, d.status === 'SUCCEEDED' ? 'done' : 'superseded');
    if (ref.stage < d.currentStage) return this.answer(ref, 'done');
    if (ref.stage > d.currentStage) throw new StateChangedError(`stage ${ref.stage} is not reached yet (current ${d.currentStage})`);
    return undefined;
  }

  /** The rollback's execution named in the record before it is started (like the rollout's). */
  private rollbackExecutionOf(d: Deployment, now: string): Deployment {
    const attempt = d.rollbackAttempt ?? 1;
    return { ...d, rollbackAttempt: attempt, rollbackExecutionArn: this.workflows.rollbackExecutionArn(d.id, attempt), updatedAt: now };
  }

  private withRollbackExecution(t: Transition): Transition {
    return { ...t, deployment: this.rollbackExecutionOf(t.deployment, t.deployment.updatedAt) };
  }

  /**
   * Reads, applies `change` and saves at the revision read; a lost race is
   * retried on a fresh read. `change` answering undefined writes nothing.
   * Answers a task token the transition hands back (approve, promote,
   * rollback at a gate) first, then stores the record.
   */
  private async transit(
    id: string,
    change: (d: Deployment, now: string) => Transition | undefined | Promise<Transition | undefined>,
  ): Promise<Deployment> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.load(id);
      const transition = await change(current, this.clock.now());
      if (!transition) return current;
      // The gate's token is answered before the record is saved: if the save then fails, the execution's gate reads
      // the record, finds it still waiting and asks again with a new token. Saved first, a failed answer would leave
      // the execution waiting on a token the record no longer holds, with nothing to wake it.
      if (transition.release) {
        await this.workflows.release(
          transition.release,
          transition.release.outcome === 'success' ? 'approved' : (transition.deployment.rollbackReason ?? 'rolled back'),
        );
      }
      try {
        await this.deployments.saveTransition(transition);
      } catch (error) {
        if (error instanceof VersionConflictError && attempt < MAX_RACE_RETRIES) continue;
        throw error;
      }
      return transition.deployment;
    }
  }

  private async evaluateStage(d: Deployment, now: string): Promise<StageEvaluation> {
    const stage = d.stages[d.currentStage]!;
    const from = stage.appliedAt ?? d.startedAt ?? d.createdAt;
    const inStage = new Set(stage.edgeIds);
    const baselineEdges = d.edgeIds.filter((id) => !inStage.has(id));
    const beats = await this.heartbeats.heartbeatsOf([...stage.edgeIds, ...baselineEdges], from, now);
    const onNew = (h: HeartbeatRecord) => h.configurationId === d.configurationId && h.activeVersion === d.version;
    const stageBeats = beats.filter((h) => inStage.has(h.edgeId) && onNew(h));
    const baselineBeats = beats.filter((h) => !inStage.has(h.edgeId) && !onNew(h));
    return evaluateStage(samplesOf(stageBeats), samplesOf(baselineBeats), d.thresholds);
  }
}
