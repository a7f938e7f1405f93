/**
 * RolloutService (shared/domain/rollout-service.ts) over in-memory fakes of
 * its ports, driven the way the `rollout` state machine drives it
 * (lib/rollouts.ts): each task's `next` picks the following state, Waits
 * advance a fake clock, a task's StateChanged (or a 409/422, which the
 * rollout-tasks function renames to it) goes back to the gate, any other
 * error fails the Map into the RollBack task. The e2e test covers the happy
 * paths on a real stack; these are the paths that are hard to reach there:
 * restarts, races with operators, crashes between writes, the reconciler.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { conflictingDeployment, ACTIVE_STATUSES, type Deployment, type Transition } from '../../../shared/domain/deployments.js';
import type { ConfigurationVersion } from '../../../shared/domain/configurations.js';
import type { EdgeAssignment, EdgeLocation, HeartbeatRecord } from '../../../shared/domain/edges.js';
import { ConflictError, NotFoundError, RuleViolationError, VersionConflictError } from '../../../shared/domain/errors.js';
import type { Page } from '../../../shared/domain/model.js';
import type { DeploymentRequest } from '../../../shared/domain/rollout-plan.js';
import type {
  AssignmentStore,
  DeploymentQuery,
  DeploymentStore,
  ExecutionStatus,
  HeartbeatReader,
  Workflows,
} from '../../../shared/domain/rollout-ports.js';
import { RolloutService, StateChangedError, type StageRef } from '../../../shared/domain/rollout-service.js';
import type { EdgePriorState, TaskTokenRelease } from '../../../shared/domain/deployments.js';

const T0 = '2026-11-23T12:00:00.000Z';
const CFG = 'cfg-1';
const POLL = 5;
const BAKE = 60;

const clone = <T>(value: T): T => structuredClone(value);

// ---- fakes ----------------------------------------------------------------------------------

class FakeClock {
  private t = Date.parse(T0);
  now(): string {
    return new Date(this.t).toISOString();
  }
  advance(seconds: number): void {
    this.t += seconds * 1000;
  }
}

/** The deployment record: the revision guard and one active deployment per edge, as the port says. */
class FakeDeploymentStore implements DeploymentStore {
  readonly records = new Map<string, Deployment>();
  readonly saved: Transition[] = [];
  /** Conflicts to answer before honouring the next saves (a lost race with no visible winner). */
  conflictsToInject = 0;
  /** Runs once, before the next save is checked: an operator's action landing between a task's read and its write. */
  beforeNextSave: (() => Promise<void>) | undefined;

  constructor(private readonly calls: string[]) {}

  async createDeployment(t: Transition): Promise<void> {
    const conflict = conflictingDeployment(t.deployment.edgeIds, [...this.records.values()]);
    if (conflict) {
      throw new ConflictError(`edges ${conflict.edgeIds.join(', ')} are in deployment ${conflict.deploymentId}`, 'EDGE_IN_DEPLOYMENT');
    }
    this.calls.push(`create ${t.deployment.id}`);
    this.records.set(t.deployment.id, clone(t.deployment));
  }

  async getDeployment(id: string): Promise<Deployment | undefined> {
    const d = this.records.get(id);
    return d && clone(d);
  }

  async saveTransition(t: Transition): Promise<void> {
    const hook = this.beforeNextSave;
    this.beforeNextSave = undefined;
    if (hook) await hook();
    const expected = t.deployment.revision - 1;
    if (this.conflictsToInject > 0) {
      this.conflictsToInject--;
      throw new VersionConflictError('Deployment', t.deployment.id, expected);
    }
    const stored = this.records.get(t.deployment.id);
    if (!stored) throw new NotFoundError('Deployment', t.deployment.id);
    if (stored.revision !== expected) throw new VersionConflictError('Deployment', t.deployment.id, expected);
    this.calls.push(`save ${t.event ?? 'plain'} ${t.deployment.status}`);
    this.saved.push(clone(t));
    this.records.set(t.deployment.id, clone(t.deployment));
  }

  async listDeployments(query: DeploymentQuery): Promise<Page<Deployment>> {
    const items = [...this.records.values()]
      .filter(
        (d) => (!query.status || d.status === query.status) && (!query.configurationId || d.configurationId === query.configurationId),
      )
      .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0))
      .slice(0, query.limit);
    return { items: items.map(clone) };
  }

  async activeDeployments(): Promise<Deployment[]> {
    return [...this.records.values()].filter((d) => ACTIVE_STATUSES.includes(d.status)).map(clone);
  }

  /** The transitions saved for one deployment, by event (plain updates as `plain`). */
  events(id: string): string[] {
    return this.saved.filter((t) => t.deployment.id === id).map((t) => t.event ?? 'plain');
  }
}

/** The edges' assignments; restore as the port says (an edge another deployment set since is skipped). */
class FakeAssignmentStore implements AssignmentStore {
  readonly items = new Map<string, EdgeAssignment>();
  /** The next assign writes this many items, then throws (a crash midway). */
  crashNextAssignAfter: number | undefined;

  constructor(private readonly calls: string[]) {}

  async assignments(edgeIds: readonly string[]): Promise<Map<string, EdgeAssignment>> {
    this.calls.push(`read ${edgeIds.join(',')}`);
    const found = new Map<string, EdgeAssignment>();
    for (const id of edgeIds) {
      const a = this.items.get(id);
      if (a) found.set(id, clone(a));
    }
    return found;
  }

  async assign(assignments: readonly EdgeAssignment[]): Promise<void> {
    const crashAfter = this.crashNextAssignAfter;
    this.crashNextAssignAfter = undefined;
    this.calls.push(`assign ${assignments.map((a) => `${a.edgeId}@${a.version}/${a.weight}`).join(',')}`);
    for (const [i, a] of assignments.entries()) {
      if (crashAfter !== undefined && i >= crashAfter) throw new Error('the function timed out while writing assignments');
      this.items.set(a.edgeId, clone(a));
    }
  }

  async restore(
    deploymentId: string,
    targets: ReadonlyArray<{ edgeId: string } & EdgePriorState>,
    now: string,
  ): Promise<{ restored: string[]; skipped: string[] }> {
    this.calls.push(`restore ${targets.map((t) => t.edgeId).join(',')}`);
    const restored: string[] = [];
    const skipped: string[] = [];
    for (const t of new Map(targets.map((x) => [x.edgeId, x])).values()) {
      const current = this.items.get(t.edgeId);
      if (current && current.deploymentId !== deploymentId) {
        skipped.push(t.edgeId);
        continue;
      }
      if (t.configurationId === undefined) this.items.delete(t.edgeId);
      else
        this.items.set(t.edgeId, {
          edgeId: t.edgeId,
          configurationId: t.configurationId,
          version: t.version!,
          weight: t.weight,
          deploymentId,
          updatedAt: now,
        });
      restored.push(t.edgeId);
    }
    return { restored, skipped };
  }

  /** What each edge serves, as the tests compare it: `cfg@version/weight`, or none. */
  view(edgeIds: readonly string[]): Record<string, string> {
    return Object.fromEntries(
      edgeIds.map((id) => {
        const a = this.items.get(id);
        return [id, a ? `${a.configurationId}@${a.version}/${a.weight}` : 'none'];
      }),
    );
  }
}

class FakeHeartbeats implements HeartbeatReader {
  readonly records: HeartbeatRecord[] = [];
  async heartbeatsOf(edgeIds: readonly string[], from: string, to: string): Promise<HeartbeatRecord[]> {
    const wanted = new Set(edgeIds);
    return this.records.filter((h) => wanted.has(h.edgeId) && h.at >= from && h.at <= to).map(clone);
  }
}

interface Start {
  kind: 'rollout' | 'rollback';
  arn: string;
  /** The record as it was when the execution was started. */
  record: Deployment | undefined;
}

class FakeWorkflows implements Workflows {
  readonly starts: Start[] = [];
  readonly releases: Array<TaskTokenRelease & { reason: string }> = [];
  readonly statuses = new Map<string, ExecutionStatus>();
  /** The next start throws (Step Functions unreachable). */
  failNextStart = false;
  /** Runs once, inside the next status call: the deployment moves while the reconciler looks. */
  duringNextStatus: (() => Promise<void>) | undefined;

  constructor(private readonly store: FakeDeploymentStore) {}

  rolloutExecutionArn(deploymentId: string, attempt: number): string {
    return `arn:states:execution:rollout:${deploymentId}-${attempt}`;
  }
  rollbackExecutionArn(deploymentId: string, attempt: number): string {
    return `arn:states:execution:rollback:${deploymentId}-rollback-${attempt}`;
  }
  async startRollout(deploymentId: string, attempt: number): Promise<string> {
    return this.start('rollout', deploymentId, this.rolloutExecutionArn(deploymentId, attempt));
  }
  async startRollback(deploymentId: string, attempt: number): Promise<string> {
    return this.start('rollback', deploymentId, this.rollbackExecutionArn(deploymentId, attempt));
  }
  async release(release: TaskTokenRelease, reason: string): Promise<void> {
    this.releases.push({ ...release, reason });
  }
  async status(executionArn: string): Promise<ExecutionStatus> {
    const hook = this.duringNextStatus;
    this.duringNextStatus = undefined;
    if (hook) await hook();
    return this.statuses.get(executionArn) ?? 'MISSING';
  }

  startsOf(kind: Start['kind']): string[] {
    return this.starts.filter((s) => s.kind === kind).map((s) => s.arn);
  }

  private start(kind: Start['kind'], deploymentId: string, arn: string): string {
    if (this.failNextStart) {
      this.failNextStart = false;
      throw new Error('StartExecution: connect ETIMEDOUT');
    }
    const record = this.store.records.get(deploymentId);
    this.starts.push({ kind, arn, record: record && clone(record) });
    this.statuses.set(arn, 'RUNNING');
    return arn;
  }
}

// ---- the world: a fleet of ten edges, the service over the fakes ---------------------------------

const EU = ['eu-1', 'eu-2', 'eu-3', 'eu-4', 'eu-5'];
const US = ['us-1', 'us-2', 'us-3', 'us-4', 'us-5'];
const ALL = [...EU, ...US];

/**
 * What each edge ran before: cfg-1 v1 from an older deployment, but eu-2
 * runs another configuration (set by hand) and us-1 has nothing assigned.
 * Canary order is eu-1, us-1, eu-2, us-2, eu-3, …: stage 0 is eu-1, stage 1
 * adds us-1, eu-2, us-2, eu-3, stage 2 the rest.
 */
function initialAssignments(): EdgeAssignment[] {
  return ALL.filter((id) => id !== 'us-1').map((edgeId) =>
    edgeId === 'eu-2'
      ? { edgeId, configurationId: 'cfg-other', version: 4, weight: 100, updatedAt: T0 }
      : { edgeId, configurationId: CFG, version: 1, weight: 100, deploymentId: 'dep-old', updatedAt: T0 },
  );
}

const STAGE_1_ADDS = ['us-1', 'eu-2', 'us-2', 'eu-3'];

function version(v: number, approved = true): ConfigurationVersion {
  return {
    configurationId: CFG,
    version: v,
    content: { v },
    author: 'alice',
    createdAt: T0,
    ...(approved ? { approvedBy: 'bob', approvedAt: T0 } : {}),
  };
}

function makeWorld() {
  const calls: string[] = [];
  const clock = new FakeClock();
  const store = new FakeDeploymentStore(calls);
  const assignments = new FakeAssignmentStore(calls);
  const heartbeats = new FakeHeartbeats();
  const workflows = new FakeWorkflows(store);
  const fleet: EdgeLocation[] = ALL.map((id) => ({
    id,
    name: id,
    region: id.startsWith('eu') ? 'eu-west-1' : 'us-east-1',
    continent: id.startsWith('eu') ? 'EU' : 'NA',
    tags: {},
    health: 'healthy',
    revision: 1,
    createdAt: T0,
    updatedAt: T0,
  }));
  const initial = initialAssignments();
  for (const a of initial) assignments.items.set(a.edgeId, clone(a));
  const original = new Map(initial.map((a) => [a.edgeId, a]));
  const versions = new Map([1, 2].map((v) => [v, version(v)]));
  versions.set(3, version(3, false));
  let ids = 0;
  const service = new RolloutService(
    store,
    assignments,
    heartbeats,
    workflows,
    {
      allEdges: async () => fleet.map(clone),
      configurationVersion: async (configurationId, v) => (configurationId === CFG ? versions.get(v) : undefined),
    },
    clock,
    { next: () => `dep-${++ids}` },
    { pollSeconds: POLL },
  );
  /** Versions of cfg-1 whose edges report 30 % errors and a 900 ms p95 (the rest: 1 %, 120 ms). */
  const badVersions = new Set<number>();
  /** Requests each edge serves between two heartbeats (0: a quiet fleet, nothing to judge). */
  const traffic = { requests: 100 };

  /** A Wait of the execution: time passes and every edge reports one heartbeat for what it serves. */
  function wait(seconds: number): void {
    clock.advance(seconds);
    for (const edge of fleet) {
      const a = assignments.items.get(edge.id);
      const serving = a && a.weight >= 50 ? a : original.get(edge.id);
      const bad = serving?.configurationId === CFG && badVersions.has(serving.version);
      heartbeats.records.push({
        edgeId: edge.id,
        at: clock.now(),
        ...(serving ? { configurationId: serving.configurationId, activeVersion: serving.version } : {}),
        requests: traffic.requests,
        errorRate: bad ? 0.3 : 0.01,
        p95LatencyMs: bad ? 900 : 120,
        cacheHitRate: 0.9,
      });
    }
  }

  return { calls, clock, store, assignments, heartbeats, workflows, service, badVersions, traffic, wait, initial };
}

type World = ReturnType<typeof makeWorld>;

const canary = (extra: Partial<DeploymentRequest> = {}): DeploymentRequest => ({
  configurationId: CFG,
  version: 2,
  strategy: 'regional-canary',
  targets: { regions: ['eu-west-1', 'us-east-1'] },
  bakeSeconds: BAKE,
  thresholds: { maxErrorRate: 0.05, maxP95LatencyMs: 500 },
  ...extra,
});

// ---- the drivers: the two state machines as lib/rollouts.ts builds them ---------------------------

type Task = 'gate' | 'awaitApproval' | 'token' | 'apply' | 'watch' | 'evaluate';
type Where =
  | { at: 'begin' }
  | { at: 'stage'; stages: StageRef[]; i: number; task: Task; token?: string }
  | { at: 'rollBack'; error: string | undefined }
  | { at: 'end'; how: 'done' | 'superseded' | 'rollback-started' };

let tokens = 0;

/** One rollout execution. `trace` holds `task:stage→next` for every task it ran. */
class Execution {
  readonly trace: string[] = [];
  where: Where = { at: 'begin' };

  constructor(
    private readonly w: World,
    readonly deploymentId: string,
  ) {}

  get ended(): Where | undefined {
    return this.where.at === 'end' ? this.where : undefined;
  }

  /** The token of the approval gate it waits at, if it does. */
  get waitingToken(): string | undefined {
    return this.where.at === 'stage' && this.where.task === 'token' ? this.where.token : undefined;
  }

  /** Runs tasks until the execution ends, waits at a gate nobody answered, or `stop` says so after a task. */
  async run(stop?: (label: string) => boolean, max = 1000): Promise<this> {
    for (let i = 0; i < max; i++) {
      if (this.ended) return this;
      const label = await this.step();
      if (label.endsWith('→waiting') || stop?.(label)) return this;
    }
    throw new Error(`the execution did not settle in ${max} tasks: ${this.trace.slice(-10).join(' ')}`);
  }

  async runToEnd(): Promise<this> {
    await this.run();
    if (!this.ended) throw new Error(`the execution waits: ${this.trace.slice(-5).join(' ')}`);
    return this;
  }

  async step(): Promise<string> {
    const w = this.w;
    const where = this.where;
    const log = (label: string) => (this.trace.push(label), label);
    if (where.at === 'end') return 'ended';
    if (where.at === 'begin') {
      const r = await w.service.begin(this.deploymentId);
      if (r.next === 'run')
        this.where = r.stages.length ? { at: 'stage', stages: r.stages, i: 0, task: 'gate' } : { at: 'end', how: 'done' };
      else if (r.next === 'rollback') this.where = { at: 'rollBack', error: undefined };
      else this.where = { at: 'end', how: 'superseded' };
      return log(`begin→${r.next}`);
    }
    if (where.at === 'rollBack') {
      const r = await w.service.beginRollback({ deploymentId: this.deploymentId, ...(where.error ? { error: where.error } : {}) });
      this.where = { at: 'end', how: 'rollback-started' };
      return log(`beginRollback→${r.next}`);
    }
    const ref = where.stages[where.i]!;
    const go = (task: Task, token?: string) => {
      this.where = { ...where, task, ...(token ? { token } : {}) };
    };
    const settle = () => {
      w.wait(1);
      go('gate');
    };
    /** The Choice after a task: `done`, `rollback`, `superseded` for every one, then its own routes, otherwise Settle. */
    const route = (next: string, routes: Partial<Record<string, () => void>>) => {
      if (next === 'done') {
        this.where = where.i + 1 < where.stages.length ? { ...where, i: where.i + 1, task: 'gate' } : { at: 'end', how: 'done' };
      } else if (next === 'rollback') {
        this.where = { at: 'rollBack', error: 'Deployment.RollbackNeeded: A stage failed its evaluation' };
      } else if (next === 'superseded') {
        this.where = { at: 'end', how: 'superseded' }; // the Map catches Deployment.Superseded: Done
      } else (routes[next] ?? settle)();
    };
    try {
      switch (where.task) {
        case 'gate': {
          const a = await w.service.gate(ref);
          route(a.next, {
            approval: () => go('awaitApproval'),
            hold: () => (w.wait(a.waitSeconds), go('gate')),
            apply: () => go('apply'),
            watch: () => go('watch'),
          });
          return log(`gate:${ref.stage}→${a.next}`);
        }
        case 'awaitApproval': {
          const token = `token-${++tokens}`;
          await w.service.awaitApproval({ ...ref, taskToken: token });
          go('token', token);
          return log(`awaitApproval:${ref.stage}→${token}`);
        }
        case 'token': {
          const answer = w.workflows.releases.find((r) => r.token === where.token);
          if (!answer) return log(`token:${ref.stage}→waiting`);
          if (answer.outcome === 'success') go('gate');
          else this.where = { at: 'end', how: 'superseded' }; // failed with Deployment.Superseded: the Map catches it
          return log(`token:${ref.stage}→${answer.outcome}`);
        }
        case 'apply': {
          const a = await w.service.apply(ref);
          route(a.next, { watch: () => go('watch') });
          return log(`apply:${ref.stage}→${a.next}`);
        }
        case 'watch': {
          const a = await w.service.watch(ref);
          route(a.next, { bake: () => (w.wait(a.waitSeconds), go('watch')), evaluate: () => go('evaluate') });
          return log(`watch:${ref.stage}→${a.next}`);
        }
        case 'evaluate': {
          const a = await w.service.evaluate(ref);
          route(a.next, { watch: () => go('watch'), evaluate: () => go('evaluate') });
          return log(`evaluate:${ref.stage}→${a.next}${a.verdict ? ` (${a.verdict})` : ''}`);
        }
      }
    } catch (error) {
      // The rollout-tasks function answers a 409 or 422 as StateChanged: the task's Catch goes to Settle, then the gate.
      if (error instanceof StateChangedError || error instanceof VersionConflictError || error instanceof RuleViolationError) {
        settle();
        return log(`${where.task}:${ref.stage}→StateChanged`);
      }
      // Any other error fails the Map: its Catch (States.ALL) goes to the RollBack task with the error.
      const e = error as Error;
      this.where = { at: 'rollBack', error: `${e.name}: ${e.message}` };
      return log(`${where.task}:${ref.stage}→failed`);
    }
  }
}

/** The `rollback` machine: RestoreEdges (3 tries) → MarkRolledBack, or MarkFailed. */
async function rollbackExecution(w: World, deploymentId: string) {
  let restore: Awaited<ReturnType<RolloutService['restoreEdges']>> | undefined;
  for (let attempt = 1; !restore; attempt++) {
    try {
      restore = await w.service.restoreEdges(deploymentId);
    } catch (error) {
      if (attempt === 3) return { restore, finish: await w.service.failRollback({ deploymentId, error: String(error) }) };
    }
  }
  return { restore, finish: await w.service.finishRollback(deploymentId) };
}

const priorOf = (a: EdgeAssignment | undefined): EdgePriorState =>
  a ? { configurationId: a.configurationId, version: a.version, weight: a.weight } : { weight: 0 };

// ---- the tests ----------------------------------------------------------------------------------

let w: World;
beforeEach(() => {
  w = makeWorld();
});

async function started(request: DeploymentRequest = canary()): Promise<{ id: string; exec: Execution }> {
  const { id } = await w.service.create(request, 'alice');
  return { id, exec: new Execution(w, id) };
}

const record = (id: string): Deployment => clone(w.store.records.get(id)!);

describe('a rollout that succeeds', () => {
  it('a good 3-stage canary ends SUCCEEDED with every edge on the new version at 100, each prior state recorded once', async () => {
    const { id, exec } = await started();
    expect(record(id).stages.map((s) => s.edgeIds.length)).toEqual([1, 5, 10]);
    await exec.runToEnd();

    expect(exec.ended).toEqual({ at: 'end', how: 'done' });
    const d = record(id);
    expect(d.status).toBe('SUCCEEDED');
    expect(d.stages.map((s) => s.status)).toEqual(['PASSED', 'PASSED', 'PASSED']);
    expect(d.decisions.map((x) => `${x.stage}:${x.verdict}`)).toEqual(['0:PASS', '1:PASS', '2:PASS']);
    expect(Object.values(w.assignments.view(ALL))).toEqual(ALL.map(() => `${CFG}@2/100`));
    expect([...w.assignments.items.values()].every((a) => a.deploymentId === id)).toBe(true);
    // Exactly what each edge ran before, eu-2's other configuration and us-1's nothing included.
    expect(d.previous).toEqual(Object.fromEntries(ALL.map((e) => [e, priorOf(w.initial.find((a) => a.edgeId === e))])));
    expect(d.previous['us-1']).toEqual({ weight: 0 });
    // Once each: every stage's write adds only the edges it touches first.
    const applied = w.store.saved.filter((t) => t.event === 'deployment.stage_applied');
    expect(applied.map((t) => Object.keys(t.deployment.previous).length)).toEqual([1, 5, 10]);
    expect(w.store.events(id)).toEqual([
      'deployment.started',
      // Each stage: applied (record), assigned (its edges have the version, plain), bake done (EVALUATING, plain), completed.
      ...[0, 1, 2].flatMap((stage) => ['deployment.stage_applied', 'plain', 'plain', ...(stage < 2 ? ['deployment.stage_completed'] : [])]),
      'deployment.succeeded',
    ]);
    // The bake is slept in pollSeconds slices: promote and pause are heard within one.
    expect(exec.trace.filter((l) => l === 'watch:0→bake')).toHaveLength(BAKE / POLL);
    expect(w.workflows.startsOf('rollout')).toEqual([w.workflows.rolloutExecutionArn(id, 1)]);
    expect(w.workflows.startsOf('rollback')).toEqual([]);
  });

  it('blue-green stages at weight 0, switches to 100, and keeps the prior state from before the staging', async () => {
    const { id, exec } = await started(canary({ strategy: 'blue-green' }));
    await exec.run((l) => l === 'watch:0→done');
    expect(new Set(Object.values(w.assignments.view(ALL)))).toEqual(new Set([`${CFG}@2/0`]));
    expect(exec.trace.filter((l) => l.startsWith('evaluate:0'))).toEqual([]); // the staging serves nothing: not judged
    await exec.runToEnd();

    const d = record(id);
    expect(d.status).toBe('SUCCEEDED');
    expect(Object.values(w.assignments.view(ALL))).toEqual(ALL.map(() => `${CFG}@2/100`));
    expect(d.previous['eu-1']).toEqual({ configurationId: CFG, version: 1, weight: 100 });
    expect(d.previous['us-1']).toEqual({ weight: 0 });
    expect(w.store.saved.filter((t) => t.event === 'deployment.stage_applied')).toHaveLength(2);
  });

  it('a blue-green switch that fails rolls back to what ran before the staging, not to weight 0', async () => {
    const { id, exec } = await started(canary({ strategy: 'blue-green' }));
    w.badVersions.add(2);
    await exec.runToEnd();
    expect(exec.trace).toContain('evaluate:1→rollback (FAIL)');
    await rollbackExecution(w, id);

    expect(record(id).status).toBe('ROLLED_BACK');
    const before = Object.fromEntries(w.initial.map((a) => [a.edgeId, `${a.configurationId}@${a.version}/${a.weight}`]));
    expect(w.assignments.view(ALL)).toEqual({ ...before, 'us-1': 'none' });
  });
});

describe('a quiet fleet', () => {
  it('INSUFFICIENT_DATA bakes the stage again twice, then passes it by policy', async () => {
    w.traffic.requests = 0;
    const { id, exec } = await started(canary({ strategy: 'direct' }));
    await exec.runToEnd();
    expect(exec.trace.filter((l) => l.startsWith('evaluate:0'))).toEqual([
      'evaluate:0→watch (INSUFFICIENT_DATA)',
      'evaluate:0→watch (INSUFFICIENT_DATA)',
      'evaluate:0→done (INSUFFICIENT_DATA)',
    ]);
    const d = record(id);
    expect(d).toMatchObject({ status: 'SUCCEEDED' });
    expect(d.stages[0]).toMatchObject({ status: 'PASSED', bakeExtensions: 2 });
    expect(d.decisions.at(-1)!.reason).toMatch(/passed by policy after 2 extra bakes/);
    expect(Date.parse(d.finishedAt!) - Date.parse(d.stages[0]!.appliedAt!)).toBeGreaterThanOrEqual(3 * BAKE * 1000);
  });
});

describe('a failing stage rolls back', () => {
  /** Stage 0 passes; then the version degrades under stage 1's traffic. */
  async function failingAtStage1() {
    const { id, exec } = await started();
    await exec.run((l) => l === 'evaluate:0→done (PASS)');
    w.badVersions.add(2);
    await exec.runToEnd();
    return { id, exec };
  }

  it('FAIL → evaluate answers rollback, beginRollback starts the rollback once, restoreEdges restores exactly the prior states', async () => {
    const { id, exec } = await failingAtStage1();
    expect(exec.trace.slice(-2)).toEqual(['evaluate:1→rollback (FAIL)', 'beginRollback→rollback']);
    expect(exec.ended).toEqual({ at: 'end', how: 'rollback-started' });

    let d = record(id);
    expect(d.status).toBe('ROLLING_BACK');
    expect(d.stages[1]!.status).toBe('FAILED');
    expect(d.decisions.at(-1)).toMatchObject({ stage: 1, verdict: 'FAIL' });
    expect(d.rollbackReason).toMatch(/^errorRate 0\.\d+ is above the threshold 0\.05; /);
    const rollbackArn = w.workflows.rollbackExecutionArn(id, 1);
    expect(w.workflows.startsOf('rollback')).toEqual([rollbackArn]);
    // Named in the record before it was started, so the reconciler can find it.
    expect(w.workflows.starts.find((s) => s.kind === 'rollback')!.record?.rollbackExecutionArn).toBe(rollbackArn);

    // A restarted rollout execution now stops quietly, and starts nothing.
    expect(await w.service.begin(id)).toMatchObject({ next: 'superseded' });
    expect(await w.service.beginRollback({ deploymentId: id })).toEqual({ deploymentId: id, next: 'rollback' });

    const { restore, finish } = await rollbackExecution(w, id);
    expect(restore).toEqual({ deploymentId: id, restored: 5, skipped: [] });
    expect(finish).toEqual({ deploymentId: id, status: 'ROLLED_BACK' });
    const before = Object.fromEntries(w.initial.map((a) => [a.edgeId, `${a.configurationId}@${a.version}/${a.weight}`]));
    expect(w.assignments.view(ALL)).toEqual({ ...before, 'us-1': 'none' }); // us-1 had nothing: it loses the assignment
    expect(w.assignments.items.has('us-1')).toBe(false);
    d = record(id);
    expect(d.status).toBe('ROLLED_BACK');
    expect(d.stages.map((s) => s.status)).toEqual(['ROLLED_BACK', 'ROLLED_BACK', 'PENDING']);
    // Stage 2's edges were never touched: the rollback leaves them alone.
    expect(w.calls.find((c) => c.startsWith('restore'))).toBe('restore eu-1,us-1,eu-2,us-2,eu-3');
    // Restoring again is harmless; finishing again changes nothing.
    expect(await w.service.restoreEdges(id)).toEqual({ deploymentId: id, restored: 0, skipped: [] });
    expect(await w.service.finishRollback(id)).toEqual({ deploymentId: id, status: 'ROLLED_BACK' });
  });

  it('beginRollback, if the rollout started the rollback twice (a retried task), starts the same execution name', async () => {
    const { id } = await failingAtStage1();
    await w.service.beginRollback({ deploymentId: id });
    expect(new Set(w.workflows.startsOf('rollback'))).toEqual(new Set([w.workflows.rollbackExecutionArn(id, 1)]));
    expect(record(id).rollbackAttempt).toBe(1);
  });

  it('a rollback that cannot restore ends FAILED with the reason, for an operator', async () => {
    const { id } = await failingAtStage1();
    w.assignments.restore = async () => {
      throw new Error('AccessDenied');
    };
    const { finish } = await rollbackExecution(w, id);
    expect(finish).toEqual({ deploymentId: id, status: 'FAILED' });
    expect(record(id).rollbackReason).toMatch(/rollback failed: Error: AccessDenied/);
  });
});

describe('a restarted execution', () => {
  it('mid-bake: begin and gate pick up the stage, apply writes the assignments again without a new transition', async () => {
    const { id, exec } = await started();
    await exec.run((l) => l === 'watch:1→bake');
    const revision = record(id).revision;
    const assigns = w.calls.filter((c) => c.startsWith('assign')).length;
    w.assignments.items.delete('eu-3'); // say a write was lost with the old execution

    const again = new Execution(w, id);
    expect(await again.step()).toBe('begin→run');
    expect(again.where).toMatchObject({ stages: [1, 2].map((stage) => ({ deploymentId: id, stage })) });
    expect(await again.step()).toBe('gate:1→apply');
    expect(await again.step()).toBe('apply:1→watch');
    expect(record(id).revision).toBe(revision);
    expect(w.calls.filter((c) => c.startsWith('assign')).length).toBe(assigns + 1);
    expect(w.assignments.view(['eu-3'])).toEqual({ 'eu-3': `${CFG}@2/100` });

    await again.runToEnd();
    expect(record(id).status).toBe('SUCCEEDED');
    expect(w.store.saved.filter((t) => t.event === 'deployment.stage_applied')).toHaveLength(3);
  });

  it('mid-approval: the new execution renews the token; approving releases only the new one', async () => {
    const { id, exec } = await started(canary({ requireApproval: true }));
    await exec.run();
    const oldToken = exec.waitingToken!;
    expect(oldToken).toBeDefined();
    let d = record(id);
    expect(d).toMatchObject({ status: 'WAITING_APPROVAL', currentStage: 1, taskToken: oldToken });
    expect(await w.service.get(id)).not.toHaveProperty('taskToken'); // the API never shows it
    const revision = d.revision;

    const again = new Execution(w, id);
    await again.run();
    expect(again.trace).toEqual(['begin→run', 'gate:1→approval', `awaitApproval:1→${again.waitingToken}`, 'token:1→waiting']);
    d = record(id);
    expect(d).toMatchObject({ status: 'WAITING_APPROVAL', taskToken: again.waitingToken, revision: revision + 1 });
    expect(w.store.saved.at(-1)!.event).toBeUndefined(); // a renewal: no event, no decision
    expect(d.decisions).toHaveLength(1);
    expect(w.workflows.releases).toEqual([]);

    await w.service.approve(id, 'carol');
    expect(w.workflows.releases).toEqual([{ token: again.waitingToken, outcome: 'success', reason: 'approved' }]);
    await again.run();
    expect(again.waitingToken).toBeDefined(); // stage 2's gate
    await w.service.promote(id, 'carol');
    await again.runToEnd();
    expect(record(id).status).toBe('SUCCEEDED');
    expect(w.workflows.releases.map((r) => r.token)).not.toContain(oldToken);
    expect(record(id).decisions.map((x) => x.verdict)).toEqual(['PASS', 'APPROVED', 'PASS', 'PROMOTED', 'PASS']);
  });

  it('begin on a ROLLING_BACK deployment: superseded once the rollback was started, rollback while it was not', async () => {
    const { id, exec } = await started();
    await exec.run((l) => l === 'evaluate:0→done (PASS)');
    w.badVersions.add(2);
    await exec.run((l) => l === 'evaluate:1→rollback (FAIL)');
    // The execution died before its RollBack task: the rollback's execution is not named yet.
    expect(record(id).rollbackExecutionArn).toBeUndefined();
    const again = new Execution(w, id);
    await again.runToEnd();
    expect(again.trace).toEqual(['begin→rollback', 'beginRollback→rollback']);
    expect(w.workflows.startsOf('rollback')).toHaveLength(1);

    const third = new Execution(w, id);
    await third.runToEnd();
    expect(third.trace).toEqual(['begin→superseded']);
    expect(w.workflows.startsOf('rollback')).toHaveLength(1);
  });
});

describe("an operator's action between two tasks", () => {
  it('pause holds the next stage at its gate; resume applies it', async () => {
    const { id, exec } = await started();
    await exec.run((l) => l === 'evaluate:0→done (PASS)');
    await w.service.pause(id, 'carol');
    await exec.run((l) => l === 'gate:1→hold');
    const at = w.clock.now();
    await exec.step();
    expect(exec.trace.slice(-2)).toEqual(['gate:1→hold', 'gate:1→hold']);
    expect(Date.parse(w.clock.now()) - Date.parse(at)).toBe(POLL * 1000);
    expect(record(id).stages[1]!.status).toBe('PENDING');
    expect(w.assignments.view(['us-1'])).toEqual({ 'us-1': 'none' });

    await w.service.resume(id, 'carol');
    expect(await exec.step()).toBe('gate:1→apply');
    await exec.runToEnd();
    expect(record(id).status).toBe('SUCCEEDED');
  });

  it('a pause that lands between the gate and its approval task sends the execution back to the gate, which holds', async () => {
    const { id, exec } = await started(canary({ requireApproval: true }));
    await exec.run((l) => l === 'gate:1→approval');
    await w.service.pause(id, 'carol');
    expect(await exec.step()).toBe('awaitApproval:1→StateChanged');
    expect(await exec.step()).toBe('gate:1→hold');
    expect(record(id)).toMatchObject({ status: 'PAUSED', pausedFrom: 'IN_PROGRESS' });
    expect(record(id).taskToken).toBeUndefined();
    await w.service.resume(id, 'carol');
    await exec.run();
    expect(exec.trace.slice(-3)).toEqual(['gate:1→approval', `awaitApproval:1→${exec.waitingToken}`, 'token:1→waiting']);
    expect(record(id)).toMatchObject({ status: 'WAITING_APPROVAL', taskToken: exec.waitingToken });
  });

  it('a pause during a bake does not stop the watch: the stage is judged, the next one waits', async () => {
    const { id, exec } = await started();
    await exec.run((l) => l === 'watch:0→bake');
    await w.service.pause(id, 'carol');
    await exec.run((l) => l === 'gate:1→hold');
    expect(exec.trace).toContain('evaluate:0→done (PASS)');
    expect(record(id)).toMatchObject({ status: 'PAUSED', currentStage: 1 });
  });

  it('promote during BAKING passes the stage: watch answers done, and the next stage runs', async () => {
    const { id, exec } = await started();
    await exec.run((l) => l === 'watch:0→bake');
    await w.service.promote(id, 'carol');
    expect(await exec.step()).toBe('watch:0→done');
    const d = record(id);
    expect(d.stages[0]).toMatchObject({ status: 'PASSED' });
    expect(d.decisions.map((x) => x.verdict)).toEqual(['PROMOTED']);
    expect(d.currentStage).toBe(1);
    expect(await exec.step()).toBe('gate:1→apply');
  });

  it('rollback while WAITING_APPROVAL fails the kept token and starts the rollback; the rollout stops quietly', async () => {
    const { id, exec } = await started(canary({ requireApproval: true }));
    await exec.run();
    const token = exec.waitingToken!;
    await w.service.rollback(id, 'carol', 'customers complain');

    expect(w.workflows.releases).toEqual([{ token, outcome: 'failure', reason: 'rollback requested by carol: customers complain' }]);
    const rollbackArn = w.workflows.rollbackExecutionArn(id, 1);
    expect(w.workflows.startsOf('rollback')).toEqual([rollbackArn]);
    expect(w.workflows.starts.at(-1)!.record).toMatchObject({ status: 'ROLLING_BACK', rollbackExecutionArn: rollbackArn });
    expect(record(id).taskToken).toBeUndefined();

    await exec.runToEnd();
    expect(exec.ended).toEqual({ at: 'end', how: 'superseded' });
    expect(w.workflows.startsOf('rollback')).toHaveLength(1);
    await rollbackExecution(w, id);
    expect(record(id).status).toBe('ROLLED_BACK');
    expect(w.assignments.view(['eu-1'])).toEqual({ 'eu-1': `${CFG}@1/100` });
  });

  it("an operator's rollback during a bake supersedes the rollout at its next task", async () => {
    const { id, exec } = await started();
    await exec.run((l) => l === 'watch:1→bake');
    await w.service.rollback(id, 'carol');
    await exec.runToEnd();
    expect(exec.trace.at(-1)).toBe('watch:1→superseded');
    expect(w.workflows.startsOf('rollback')).toHaveLength(1);
  });

  it('a task losing a race to a conflict it cannot see retries on a fresh read and writes once', async () => {
    const { id, exec } = await started();
    await exec.run((l) => l === 'gate:0→apply');
    w.store.conflictsToInject = 1;
    expect(await exec.step()).toBe('apply:0→watch');
    expect(w.store.events(id).filter((e) => e === 'deployment.stage_applied')).toHaveLength(1);
    expect(w.calls.filter((c) => c.startsWith('read '))).toHaveLength(2); // the prior state is read again on the retry
  });

  it("a task losing a race to an operator's promote: the operator wins, the stage is not evaluated", async () => {
    const { id, exec } = await started();
    await exec.run((l) => l === 'watch:0→bake' && Date.parse(w.clock.now()) >= Date.parse(record(id).stages[0]!.bakeUntil!));
    w.store.beforeNextSave = async () => {
      await w.service.promote(id, 'carol');
    };
    expect(await exec.step()).toBe('watch:0→done');
    const d = record(id);
    expect(d.decisions.map((x) => x.verdict)).toEqual(['PROMOTED']);
    expect(d.stages[0]!.status).toBe('PASSED');
    // The task's bake-done save lost: the stage was never EVALUATING.
    expect(w.store.saved.filter((t) => t.deployment.id === id && t.deployment.stages[0]!.status === 'EVALUATING')).toEqual([]);
  });

  it('gives up after five lost races with the conflict (the machine then looks again from the gate)', async () => {
    const { exec } = await started();
    await exec.run((l) => l === 'gate:0→apply');
    w.store.conflictsToInject = 5;
    expect(await exec.step()).toBe('apply:0→StateChanged');
    expect(await exec.step()).toBe('gate:0→apply');
    expect(await exec.step()).toBe('apply:0→watch');
  });
});

describe('apply', () => {
  it('writes the prior state to the record before any assignment', async () => {
    const { exec } = await started();
    await exec.run((l) => l === 'evaluate:0→done (PASS)');
    w.calls.length = 0;
    await exec.run((l) => l.startsWith('apply:1'));
    expect(w.calls).toEqual([
      `read ${STAGE_1_ADDS.join(',')}`,
      'save deployment.stage_applied IN_PROGRESS',
      `assign ${['eu-1', ...STAGE_1_ADDS].map((e) => `${e}@2/100`).join(',')}`,
      'save plain IN_PROGRESS', // assignedAt: only now may promote pass the stage
    ]);
  });

  it('a crash between the record and the assignments leaves a record from which the rollback restores the true prior state', async () => {
    const { id, exec } = await started();
    await exec.run((l) => l === 'evaluate:0→done (PASS)');
    w.assignments.crashNextAssignAfter = 2; // eu-1 and us-1 written, then the function dies
    await exec.runToEnd();
    expect(exec.trace.slice(-2)).toEqual(['apply:1→failed', 'beginRollback→rollback']);
    const d = record(id);
    expect(d.status).toBe('ROLLING_BACK');
    expect(d.rollbackReason).toMatch(/the rollout workflow failed: Error: the function timed out/);
    expect(Object.keys(d.previous)).toEqual(['eu-1', ...STAGE_1_ADDS]);
    expect(w.assignments.view(['us-1', 'eu-2'])).toEqual({ 'us-1': `${CFG}@2/100`, 'eu-2': 'cfg-other@4/100' });

    const { restore } = await rollbackExecution(w, id);
    // Edges never written still hold their prior assignment, someone else's: left alone, and already right.
    expect(restore).toEqual({ deploymentId: id, restored: 2, skipped: ['eu-2', 'us-2', 'eu-3'] });
    const before = Object.fromEntries(w.initial.map((a) => [a.edgeId, `${a.configurationId}@${a.version}/${a.weight}`]));
    expect(w.assignments.view(ALL)).toEqual({ ...before, 'us-1': 'none' });
    expect(record(id).status).toBe('ROLLED_BACK');
  });
});

describe('reconcile', () => {
  it('leaves a deployment whose execution runs alone', async () => {
    const { id } = await started();
    expect(await w.service.reconcile()).toEqual([{ deploymentId: id, status: 'PENDING', execution: 'RUNNING', action: 'none' }]);
    expect(w.workflows.starts).toHaveLength(1);
  });

  it('MISSING (a lost local runtime): starts the same attempt, the record unchanged', async () => {
    const { id, exec } = await started();
    await exec.run((l) => l === 'watch:1→bake');
    const revision = record(id).revision;
    w.workflows.statuses.clear();
    expect(await w.service.reconcile()).toEqual([{ deploymentId: id, status: 'IN_PROGRESS', execution: 'MISSING', action: 'restarted' }]);
    expect(w.workflows.startsOf('rollout')).toEqual([1, 1].map((n) => w.workflows.rolloutExecutionArn(id, n)));
    expect(record(id).revision).toBe(revision);
    await new Execution(w, id).runToEnd();
    expect(record(id).status).toBe('SUCCEEDED');
  });

  it.each(['FAILED', 'ABORTED', 'TIMED_OUT'] as const)('%s: the next attempt, named in the record before it is started', async (status) => {
    const { id } = await started();
    w.workflows.statuses.set(w.workflows.rolloutExecutionArn(id, 1), status);
    expect(await w.service.reconcile()).toEqual([{ deploymentId: id, status: 'PENDING', execution: status, action: 'restarted' }]);
    const arn = w.workflows.rolloutExecutionArn(id, 2);
    expect(w.workflows.startsOf('rollout').at(-1)).toBe(arn);
    expect(w.workflows.starts.at(-1)!.record).toMatchObject({ attempt: 2, executionArn: arn });
    expect(record(id)).toMatchObject({ attempt: 2, executionArn: arn, status: 'PENDING' });
    expect(await w.service.reconcile()).toEqual([{ deploymentId: id, status: 'PENDING', execution: 'RUNNING', action: 'none' }]);
  });

  it('ROLLING_BACK whose rollback execution failed: starts rollback attempt n+1', async () => {
    const { id, exec } = await started();
    await exec.run((l) => l === 'watch:0→bake');
    await w.service.rollback(id, 'carol');
    w.workflows.statuses.set(w.workflows.rollbackExecutionArn(id, 1), 'FAILED');
    expect(await w.service.reconcile()).toEqual([{ deploymentId: id, status: 'ROLLING_BACK', execution: 'FAILED', action: 'restarted' }]);
    const arn = w.workflows.rollbackExecutionArn(id, 2);
    expect(w.workflows.startsOf('rollback')).toEqual([w.workflows.rollbackExecutionArn(id, 1), arn]);
    expect(w.workflows.starts.at(-1)!.record).toMatchObject({ rollbackAttempt: 2, rollbackExecutionArn: arn });
    await rollbackExecution(w, id);
    expect(record(id).status).toBe('ROLLED_BACK');
  });

  it('ROLLING_BACK whose rollout died before naming the rollback: names rollback attempt 1 and starts it', async () => {
    const { id, exec } = await started();
    w.badVersions.add(2);
    await exec.run((l) => l === 'evaluate:0→rollback (FAIL)');
    expect(await w.service.reconcile()).toEqual([{ deploymentId: id, status: 'ROLLING_BACK', execution: 'MISSING', action: 'restarted' }]);
    const arn = w.workflows.rollbackExecutionArn(id, 1);
    expect(w.workflows.startsOf('rollback')).toEqual([arn]);
    expect(w.workflows.starts.at(-1)!.record).toMatchObject({ rollbackAttempt: 1, rollbackExecutionArn: arn });
  });

  it('skips a deployment that moved while it was looked at', async () => {
    const { id, exec } = await started();
    await exec.run((l) => l === 'watch:0→bake');
    w.workflows.statuses.set(w.workflows.rolloutExecutionArn(id, 1), 'FAILED');
    w.workflows.duringNextStatus = async () => {
      await w.service.pause(id, 'carol');
    };
    expect(await w.service.reconcile()).toEqual([]);
    expect(w.workflows.starts).toHaveLength(1);
    expect(record(id)).toMatchObject({ status: 'PAUSED', attempt: 1 });
  });

  it('a finished deployment is not looked at', async () => {
    const { id, exec } = await started();
    await exec.runToEnd();
    w.workflows.statuses.clear();
    expect(await w.service.reconcile()).toEqual([]);
    expect(record(id).status).toBe('SUCCEEDED');
  });
});

describe('create', () => {
  async function rejection(promise: Promise<unknown>): Promise<unknown> {
    try {
      await promise;
    } catch (error) {
      return error;
    }
    throw new Error('expected a rejection');
  }

  it('404 for a version that does not exist', async () => {
    const error = await rejection(w.service.create(canary({ version: 9 }), 'alice'));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(w.store.records.size).toBe(0);
  });

  it('422 VERSION_NOT_APPROVED for a version nobody approved', async () => {
    const error = await rejection(w.service.create(canary({ version: 3 }), 'alice'));
    expect(error).toBeInstanceOf(RuleViolationError);
    expect((error as RuleViolationError).code).toBe('VERSION_NOT_APPROVED');
    expect(w.workflows.starts).toEqual([]);
  });

  it('409 EDGE_IN_DEPLOYMENT while an edge is held by an active deployment; free again once it finished', async () => {
    const { exec } = await started(canary({ targets: { edgeIds: ['eu-1', 'eu-2'] } }));
    const error = await rejection(w.service.create(canary({ targets: { regions: ['eu-west-1'] } }), 'bob'));
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as ConflictError).code).toBe('EDGE_IN_DEPLOYMENT');
    expect(w.store.records.size).toBe(1);
    expect(w.workflows.starts).toHaveLength(1);

    const other = await w.service.create(canary({ targets: { regions: ['us-east-1'] } }), 'bob');
    expect(other.status).toBe('PENDING');
    await exec.runToEnd();
    expect((await w.service.create(canary({ targets: { regions: ['eu-west-1'] } }), 'bob')).status).toBe('PENDING');
  });

  it('names the execution in the record before starting it', async () => {
    const view = await w.service.create(canary(), 'alice');
    const arn = w.workflows.rolloutExecutionArn(view.id, 1);
    expect(view).toMatchObject({ status: 'PENDING', executionArn: arn, attempt: 1, revision: 1 });
    expect(w.workflows.starts).toEqual([{ kind: 'rollout', arn, record: expect.objectContaining({ executionArn: arn, attempt: 1 }) }]);
    expect((await w.service.list({ limit: 10 })).items.map((d) => d.id)).toEqual([view.id]);
  });

  it('a failing start is still accepted: the record names the execution, and the reconciler starts it', async () => {
    w.workflows.failNextStart = true;
    const accepted = await w.service.create(canary(), 'alice');
    expect(accepted).toMatchObject({ status: 'PENDING' });
    const [d] = [...w.store.records.values()];
    expect(d).toMatchObject({ status: 'PENDING', attempt: 1, executionArn: w.workflows.rolloutExecutionArn(d!.id, 1) });

    expect(await w.service.reconcile()).toEqual([{ deploymentId: d!.id, status: 'PENDING', execution: 'MISSING', action: 'restarted' }]);
    expect(w.workflows.startsOf('rollout')).toEqual([w.workflows.rolloutExecutionArn(d!.id, 1)]);
    await new Execution(w, d!.id).runToEnd();
    expect(record(d!.id).status).toBe('SUCCEEDED');
  });
});

describe('a promote while the stage is being applied', () => {
  /*
   * The last stage's record says BAKING (prior states recorded) but its
   * execution was lost before the assignments were written. Had promote
   * passed the stage, the deployment would be SUCCEEDED (a final status the
   * reconciler does not look at) with no edge serving the version. It is
   * refused until the stage's edges have the version (assignedAt).
   */
  it('is refused (409) until the edges have the version, so a lost execution still ends with every edge on it', async () => {
    const { id, exec } = await started(canary({ strategy: 'direct' }));
    await exec.run((l) => l === 'gate:0→apply');
    w.assignments.crashNextAssignAfter = 0;
    await expect(w.service.apply({ deploymentId: id, stage: 0 })).rejects.toThrow(/timed out/); // and the runtime dies with it
    await expect(w.service.promote(id, 'carol')).rejects.toMatchObject({ code: 'STAGE_BEING_APPLIED' });
    expect(record(id)).toMatchObject({ status: 'IN_PROGRESS', decisions: [] });
    w.workflows.statuses.clear();
    await w.service.reconcile();
    // The restarted execution assigns the stage again; then the operator's promote passes it.
    const restarted = new Execution(w, id);
    await restarted.run((l) => l === 'apply:0→watch');
    expect(record(id).stages[0]!.assignedAt).toBeDefined();
    await w.service.promote(id, 'carol');
    await restarted.runToEnd();
    expect(record(id)).toMatchObject({ status: 'SUCCEEDED', decisions: [expect.objectContaining({ verdict: 'PROMOTED', by: 'carol' })] });
    expect(Object.values(w.assignments.view(ALL))).toEqual(ALL.map(() => `${CFG}@2/100`));
  });
});
