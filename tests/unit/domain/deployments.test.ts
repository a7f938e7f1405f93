import { describe, expect, it } from 'vitest';
import {
  approve,
  awaitApproval,
  bakeDone,
  conflictingDeployment,
  edgesToApply,
  newDeployment,
  pause,
  promote,
  recordVerdict,
  resume,
  rollback,
  rollbackDone,
  rollbackFailed,
  rollbackTargets,
  stageApplied,
  stageAssigned,
  start,
  type Deployment,
  type EdgePriorState,
} from '../../../shared/domain/deployments.js';
import type { EdgeLocation } from '../../../shared/domain/edges.js';
import { ConflictError, RuleViolationError } from '../../../shared/domain/errors.js';
import type { StageEvaluation } from '../../../shared/domain/rollout-evaluation.js';
import { planDeployment, type DeploymentRequest } from '../../../shared/domain/rollout-plan.js';

const T0 = '2026-11-23T12:00:00.000Z';
const at = (s: number) => new Date(Date.parse(T0) + s * 1000).toISOString();

const edges: EdgeLocation[] = ['a', 'b', 'c', 'd'].map((id): EdgeLocation => ({
  id,
  name: id,
  region: id < 'c' ? 'eu-west-1' : 'us-east-1',
  continent: 'EU',
  tags: {},
  health: 'healthy',
  revision: 1,
  createdAt: T0,
  updatedAt: T0,
}));

function deployment(extra: Partial<DeploymentRequest> = {}): Deployment {
  const request: DeploymentRequest = {
    configurationId: 'cfg',
    version: 3,
    strategy: 'regional-canary',
    targets: { regions: ['eu-west-1', 'us-east-1'] },
    steps: [25, 100],
    bakeSeconds: 60,
    thresholds: { maxErrorRate: 0.05 },
    ...extra,
  };
  return newDeployment(request, planDeployment(request, edges), { id: 'dep-1', createdBy: 'op', now: T0 }).deployment;
}

const prior = (ids: string[], version = 2): Record<string, EdgePriorState> =>
  Object.fromEntries(ids.map((id) => [id, { configurationId: 'cfg', version, weight: 100 }]));

const verdict = (v: StageEvaluation['verdict'], reason = v.toLowerCase()): StageEvaluation => ({ verdict: v, reason, metrics: [] });

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RuleViolationError);
    return (error as RuleViolationError).code;
  }
  throw new Error('expected a RuleViolationError');
}

describe('a canary that succeeds', () => {
  it('walks PENDING → IN_PROGRESS → stages → SUCCEEDED with decisions and events', () => {
    let d = deployment();
    expect(d.status).toBe('PENDING');
    expect(d.stages.map((s) => s.edgeIds)).toEqual([['a'], ['a', 'c', 'b', 'd']]);

    const started = start(d, { executionArn: 'arn:exec' }, at(1));
    expect(started.event).toBe('deployment.started');
    d = started.deployment;
    expect(d).toMatchObject({ status: 'IN_PROGRESS', executionArn: 'arn:exec', startedAt: at(1), revision: 2 });

    expect(edgesToApply(d)).toEqual(['a']);
    const applied = stageApplied(d, { stage: 0, prior: prior(['a']) }, at(2));
    expect(applied.event).toBe('deployment.stage_applied');
    d = applied.deployment;
    expect(d.stages[0]).toMatchObject({ status: 'BAKING', appliedAt: at(2), bakeUntil: at(62) });

    d = bakeDone(d, { stage: 0 }, at(62)).deployment;
    expect(d.stages[0]!.status).toBe('EVALUATING');

    const passed = recordVerdict(d, { stage: 0, evaluation: verdict('PASS', 'fine') }, at(63));
    expect(passed.event).toBe('deployment.stage_completed');
    expect(passed.decision).toEqual({ at: at(63), stage: 0, verdict: 'PASS', reason: 'fine', metrics: [] });
    d = passed.deployment;
    expect(d.currentStage).toBe(1);
    expect(d.stages[0]!.status).toBe('PASSED');

    expect(edgesToApply(d)).toEqual(['c', 'b', 'd']);
    d = stageApplied(d, { stage: 1, prior: { ...prior(['c', 'b']), d: { weight: 0 } } }, at(64)).deployment;
    d = bakeDone(d, { stage: 1 }, at(124)).deployment;
    const done = recordVerdict(d, { stage: 1, evaluation: verdict('PASS') }, at(125));
    expect(done.event).toBe('deployment.succeeded');
    expect(done.deployment).toMatchObject({ status: 'SUCCEEDED', finishedAt: at(125), currentStage: 1 });
    expect(done.deployment.decisions).toHaveLength(2);
  });
});

describe('rollback', () => {
  function baking(): Deployment {
    let d = start(deployment(), {}, at(1)).deployment;
    d = stageApplied(d, { stage: 0, prior: prior(['a']) }, at(2)).deployment;
    return d;
  }

  it('a FAIL verdict rolls back, restoring exactly the prior versions and weights', () => {
    let d = bakeDone(baking(), { stage: 0 }, at(62)).deployment;
    const failed = recordVerdict(d, { stage: 0, evaluation: verdict('FAIL', 'errorRate 0.3 is above the threshold 0.05') }, at(63));
    expect(failed.event).toBe('deployment.rolling_back');
    expect(failed.decision?.verdict).toBe('FAIL');
    d = failed.deployment;
    expect(d).toMatchObject({ status: 'ROLLING_BACK', rollbackReason: 'errorRate 0.3 is above the threshold 0.05' });
    expect(rollbackTargets(d)).toEqual([{ edgeId: 'a', configurationId: 'cfg', version: 2, weight: 100 }]);
    const rolled = rollbackDone(d, at(64));
    expect(rolled.event).toBe('deployment.rolled_back');
    expect(rolled.deployment).toMatchObject({ status: 'ROLLED_BACK', finishedAt: at(64) });
    expect(rolled.deployment.stages.map((s) => s.status)).toEqual(['ROLLED_BACK', 'PENDING']);
  });

  it('keeps the first prior state of an edge touched twice (blue-green: staging at 0, then the switch)', () => {
    let d = deployment({ strategy: 'blue-green', steps: undefined });
    d = start(d, {}, at(1)).deployment;
    d = stageApplied(
      d,
      {
        stage: 0,
        prior: { a: { configurationId: 'cfg', version: 2, weight: 100 }, b: { weight: 0 }, c: prior(['c'])['c']!, d: prior(['d'])['d']! },
      },
      at(2),
    ).deployment;
    const staged = bakeDone(d, { stage: 0 }, at(2));
    expect(staged.decision).toBeUndefined(); // weight 0 serves nothing: passed without an evaluation
    expect(staged.event).toBe('deployment.stage_completed');
    d = staged.deployment;
    expect(d.currentStage).toBe(1);
    expect(edgesToApply(d)).toEqual([]);
    // The switch reports the staged state (version 3 at weight 0) as what it found; the record keeps the first.
    d = stageApplied(d, { stage: 1, prior: { a: { configurationId: 'cfg', version: 3, weight: 0 } } }, at(4)).deployment;
    d = rollback(d, { by: 'ops' }, at(5)).deployment;
    expect(rollbackTargets(d).find((t) => t.edgeId === 'a')).toEqual({ edgeId: 'a', configurationId: 'cfg', version: 2, weight: 100 });
    expect(rollbackTargets(d).find((t) => t.edgeId === 'b')).toEqual({ edgeId: 'b', weight: 0 });
  });

  it('a manual rollback is logged as the operator decision; a finished deployment is not rolled back', () => {
    const r = rollback(baking(), { by: 'alice', reason: 'customer report' }, at(10));
    expect(r.decision).toMatchObject({
      verdict: 'ROLLBACK_REQUESTED',
      by: 'alice',
      reason: 'rollback requested by alice: customer report',
    });
    expect(code(() => rollback(r.deployment, { by: 'alice' }, at(11)))).toBe('ALREADY_ROLLING_BACK');
    const done = rollbackDone(r.deployment, at(12)).deployment;
    expect(code(() => rollback(done, { by: 'alice' }, at(13)))).toBe('DEPLOYMENT_FINISHED');
    expect(code(() => rollbackDone(done, at(13)))).toBe('DEPLOYMENT_FINISHED');
  });

  it('a failed rollback ends FAILED', () => {
    const r = rollback(baking(), { by: 'alice' }, at(10)).deployment;
    const f = rollbackFailed(r, { error: 'edge a unreachable' }, at(11));
    expect(f.event).toBe('deployment.failed');
    expect(f.deployment.status).toBe('FAILED');
    expect(f.deployment.rollbackReason).toContain('rollback failed: edge a unreachable');
  });

  it('refuses to apply a stage without every added edge’s prior state', () => {
    const d = start(deployment(), {}, at(1)).deployment;
    expect(code(() => stageApplied(d, { stage: 0, prior: {} }, at(2)))).toBe('PRIOR_STATE_MISSING');
  });
});

describe('approval gates', () => {
  function atGate(): Deployment {
    let d = start(deployment({ requireApproval: true }), {}, at(1)).deployment;
    d = stageApplied(d, { stage: 0, prior: prior(['a']) }, at(2)).deployment;
    d = bakeDone(d, { stage: 0 }, at(62)).deployment;
    d = recordVerdict(d, { stage: 0, evaluation: verdict('PASS') }, at(63)).deployment;
    return d;
  }

  it('keeps the task token while waiting and releases it on approval', () => {
    let d = atGate();
    expect(code(() => stageApplied(d, { stage: 1, prior: prior(['b', 'c', 'd']) }, at(64)))).toBe('APPROVAL_REQUIRED');
    const waiting = awaitApproval(d, { stage: 1, taskToken: 'tok-1' }, at(64));
    expect(waiting.event).toBe('deployment.waiting_approval');
    d = waiting.deployment;
    expect(d).toMatchObject({ status: 'WAITING_APPROVAL', taskToken: 'tok-1' });
    const approved = approve(d, { by: 'bob' }, at(70));
    expect(approved.release).toEqual({ token: 'tok-1', outcome: 'success' });
    expect(approved.decision).toMatchObject({ verdict: 'APPROVED', by: 'bob', stage: 1 });
    expect(approved.deployment.status).toBe('IN_PROGRESS');
    expect(approved.deployment.taskToken).toBeUndefined();
    expect(approved.deployment.stages[1]!.approvedBy).toBe('bob');
    // A restarted execution does not wait again.
    expect(code(() => awaitApproval(approved.deployment, { stage: 1, taskToken: 'tok-2' }, at(71)))).toBe('NO_APPROVAL_GATE');
    expect(stageApplied(approved.deployment, { stage: 1, prior: prior(['c', 'b', 'd']) }, at(72)).deployment.stages[1]!.status).toBe(
      'BAKING',
    );
  });

  it('promote at a gate approves it; a rollback there releases the token with failure', () => {
    const waiting = awaitApproval(atGate(), { stage: 1, taskToken: 'tok-1' }, at(64)).deployment;
    const promoted = promote(waiting, { by: 'bob' }, at(65));
    expect(promoted.event).toBe('deployment.promoted');
    expect(promoted.release).toEqual({ token: 'tok-1', outcome: 'success' });
    expect(promoted.deployment.decisions.at(-1)).toMatchObject({ verdict: 'PROMOTED', by: 'bob' });
    const rolled = rollback(waiting, { by: 'bob' }, at(65));
    expect(rolled.release).toEqual({ token: 'tok-1', outcome: 'failure' });
    expect(rolled.deployment.taskToken).toBeUndefined();
  });

  it('refuses approval when nothing waits for it', () => {
    expect(code(() => approve(atGate(), { by: 'bob' }, at(64)))).toBe('NOT_WAITING_APPROVAL');
  });
});

describe('promote, pause and resume', () => {
  it('promote skips the current bake and passes the stage, once its edges have the version', () => {
    let d = start(deployment(), {}, at(1)).deployment;
    d = stageApplied(d, { stage: 0, prior: prior(['a']) }, at(2)).deployment;
    // Recorded but not yet assigned: passing it now could end a deployment with no edge on the version.
    expect(() => promote(d, { by: 'carol' }, at(2))).toThrow(expect.objectContaining({ code: 'STAGE_BEING_APPLIED' }));
    expect(() => promote(d, { by: 'carol' }, at(2))).toThrow(ConflictError); // 409: try again shortly, not a bad request
    d = stageAssigned(d, { stage: 0 }, at(2))!.deployment;
    expect(d.stages[0]!.assignedAt).toBe(at(2));
    expect(stageAssigned(d, { stage: 0 }, at(3))).toBeUndefined(); // recorded once
    const p = promote(d, { by: 'carol' }, at(3));
    expect(p.event).toBe('deployment.promoted');
    expect(p.decision).toMatchObject({ verdict: 'PROMOTED', reason: 'promoted by carol: bake skipped', stage: 0 });
    expect(p.deployment.currentStage).toBe(1);
    expect(code(() => promote(p.deployment, { by: 'carol' }, at(4)))).toBe('NOTHING_TO_PROMOTE');
  });

  it('pause holds the next stage; a pass while paused is recorded; resume goes back', () => {
    let d = start(deployment(), {}, at(1)).deployment;
    d = stageApplied(d, { stage: 0, prior: prior(['a']) }, at(2)).deployment;
    const paused = pause(d, { by: 'dan' }, at(3));
    expect(paused.event).toBe('deployment.paused');
    d = paused.deployment;
    expect(d).toMatchObject({ status: 'PAUSED', pausedFrom: 'IN_PROGRESS' });
    expect(code(() => pause(d, { by: 'dan' }, at(4)))).toBe('DEPLOYMENT_ALREADY_PAUSED');
    d = bakeDone(d, { stage: 0 }, at(62)).deployment;
    d = recordVerdict(d, { stage: 0, evaluation: verdict('PASS') }, at(63)).deployment;
    expect(d).toMatchObject({ status: 'PAUSED', currentStage: 1 });
    expect(code(() => stageApplied(d, { stage: 1, prior: prior(['b', 'c', 'd']) }, at(64)))).toBe('DEPLOYMENT_PAUSED');
    const resumed = resume(d, { by: 'dan' }, at(65));
    expect(resumed.event).toBe('deployment.resumed');
    expect(resumed.deployment.status).toBe('IN_PROGRESS');
    expect(resumed.deployment.pausedFrom).toBeUndefined();
  });

  it('a FAIL while paused still rolls back', () => {
    let d = start(deployment(), {}, at(1)).deployment;
    d = stageApplied(d, { stage: 0, prior: prior(['a']) }, at(2)).deployment;
    d = pause(d, { by: 'dan' }, at(3)).deployment;
    d = bakeDone(d, { stage: 0 }, at(62)).deployment;
    expect(recordVerdict(d, { stage: 0, evaluation: verdict('FAIL') }, at(63)).deployment.status).toBe('ROLLING_BACK');
  });

  it('resume when not paused is a 422 with a code', () => {
    const d = start(deployment(), {}, at(1)).deployment;
    expect(code(() => resume(d, { by: 'dan' }, at(2)))).toBe('DEPLOYMENT_NOT_PAUSED');
    expect(code(() => resume(deployment(), { by: 'dan' }, at(2)))).toBe('DEPLOYMENT_NOT_PAUSED');
  });
});

describe('illegal transitions', () => {
  it('refuses out-of-order execution steps with codes', () => {
    const pending = deployment();
    expect(code(() => stageApplied(pending, { stage: 0, prior: prior(['a']) }, at(1)))).toBe('INVALID_DEPLOYMENT_STATE');
    const running = start(pending, {}, at(1)).deployment;
    expect(code(() => start(running, {}, at(2)))).toBe('INVALID_DEPLOYMENT_STATE');
    expect(code(() => bakeDone(running, { stage: 0 }, at(2)))).toBe('INVALID_STAGE_STATE');
    expect(code(() => stageApplied(running, { stage: 1, prior: prior(['a', 'b', 'c', 'd']) }, at(2)))).toBe('STAGE_NOT_CURRENT');
    expect(code(() => recordVerdict(running, { stage: 0, evaluation: verdict('PASS') }, at(2)))).toBe('INVALID_STAGE_STATE');
    expect(code(() => pause(pending, { by: 'x' }, at(2)))).toBe('INVALID_DEPLOYMENT_STATE');
  });
});

describe('insufficient data', () => {
  function evaluating(): Deployment {
    let d = start(deployment(), {}, at(1)).deployment;
    d = stageApplied(d, { stage: 0, prior: prior(['a']) }, at(2)).deployment;
    return bakeDone(d, { stage: 0 }, at(62)).deployment;
  }

  it('bakes again up to the policy, then passes by default', () => {
    let d = evaluating();
    const first = recordVerdict(d, { stage: 0, evaluation: verdict('INSUFFICIENT_DATA', 'too few samples') }, at(63));
    expect(first.event).toBeUndefined();
    expect(first.decision).toMatchObject({ verdict: 'INSUFFICIENT_DATA', reason: 'too few samples; baking again (1 of 2)' });
    d = first.deployment;
    expect(d.stages[0]).toMatchObject({ status: 'BAKING', bakeExtensions: 1, bakeUntil: at(123) });
    d = bakeDone(d, { stage: 0 }, at(123)).deployment;
    d = recordVerdict(d, { stage: 0, evaluation: verdict('INSUFFICIENT_DATA', 'too few samples') }, at(124)).deployment;
    d = bakeDone(d, { stage: 0 }, at(184)).deployment;
    const last = recordVerdict(d, { stage: 0, evaluation: verdict('INSUFFICIENT_DATA', 'too few samples') }, at(185));
    expect(last.event).toBe('deployment.stage_completed');
    expect(last.decision?.reason).toBe('too few samples; passed by policy after 2 extra bakes');
    expect(last.deployment.decisions).toHaveLength(3);
  });

  it('fails instead under the strict policy', () => {
    const r = recordVerdict(evaluating(), { stage: 0, evaluation: verdict('INSUFFICIENT_DATA') }, at(63), {
      maxBakeExtensions: 0,
      then: 'fail',
    });
    expect(r.deployment.status).toBe('ROLLING_BACK');
  });
});

describe('one deployment per edge', () => {
  const other = (id: string, status: Deployment['status'], edgeIds: string[], createdAt = T0) => ({ id, status, edgeIds, createdAt });

  it('answers the active deployment holding an edge, and the edges both want', () => {
    const conflict = conflictingDeployment(
      ['a', 'b'],
      [other('old', 'SUCCEEDED', ['a']), other('later', 'PAUSED', ['b'], at(10)), other('running', 'IN_PROGRESS', ['b', 'c', 'a'], at(5))],
    );
    expect(conflict).toEqual({ deploymentId: 'running', status: 'IN_PROGRESS', edgeIds: ['b', 'a'] });
  });

  it('answers nothing when the holders are finished or the edges differ', () => {
    expect(conflictingDeployment(['a'], [other('x', 'ROLLED_BACK', ['a']), other('y', 'ROLLING_BACK', ['z'])])).toBeUndefined();
    expect(conflictingDeployment(['z'], [other('y', 'ROLLING_BACK', ['z'])])?.deploymentId).toBe('y');
  });
});
