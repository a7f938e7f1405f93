import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Continent, EdgeLocation } from '../../../shared/domain/edges.js';
import { ValidationError } from '../../../shared/domain/errors.js';
import {
  edgesAddedBy,
  MAX_TARGET_EDGES,
  planDeployment,
  resolveTargets,
  STRATEGIES,
  type DeploymentRequest,
  type RolloutPlan,
} from '../../../shared/domain/rollout-plan.js';

const T = '2026-11-23T12:00:00.000Z';

function edge(id: string, region: string, continent: Continent = 'EU', name = id): EdgeLocation {
  return { id, name, region, continent, tags: {}, health: 'healthy', revision: 1, createdAt: T, updatedAt: T };
}

function request(strategy: string, extra: Partial<DeploymentRequest> = {}): DeploymentRequest {
  return { configurationId: 'c1', version: 2, strategy, targets: { regions: ['eu-west-1'] }, bakeSeconds: 60, thresholds: {}, ...extra };
}

const fleet = (n: number, region = 'eu-west-1'): EdgeLocation[] =>
  Array.from({ length: n }, (_, i) => edge(`e${String(i).padStart(2, '0')}`, region));

function fieldErrors(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return ((error as ValidationError).errors ?? []).map((e) => e.path);
  }
  throw new Error('expected a ValidationError');
}

describe('direct', () => {
  it('is one stage with every edge at 100 %', () => {
    const plan = planDeployment(request('direct'), fleet(4));
    expect(plan.stages).toHaveLength(1);
    expect(plan.stages[0]).toMatchObject({ index: 0, name: 'all', weight: 100, bakeSeconds: 60, requiresApproval: false, evaluate: true });
    expect(plan.stages[0]!.edgeIds).toEqual(['e00', 'e01', 'e02', 'e03']);
  });

  it('puts its gate before the only stage when approval is required', () => {
    expect(planDeployment(request('direct', { requireApproval: true }), fleet(2)).stages[0]!.requiresApproval).toBe(true);
  });
});

describe('regional-canary', () => {
  it('defaults to 10 → 50 → 100 % of the target edges, each stage including the previous', () => {
    const plan = planDeployment(request('regional-canary'), fleet(20));
    expect(plan.stages.map((s) => s.name)).toEqual(['canary-10%', 'canary-50%', 'canary-100%']);
    expect(plan.stages.map((s) => s.edgeIds.length)).toEqual([2, 10, 20]);
    expect(plan.stages[1]!.edgeIds.slice(0, 2)).toEqual(plan.stages[0]!.edgeIds);
    expect(plan.stages.every((s) => s.weight === 100)).toBe(true);
    expect(edgesAddedBy(plan, 1)).toHaveLength(8);
  });

  it('gives one edge a single stage (steps that add nothing merge into the next)', () => {
    const plan = planDeployment(request('regional-canary'), fleet(1));
    expect(plan.stages).toHaveLength(1);
    expect(plan.stages[0]).toMatchObject({ index: 0, name: 'canary-100%', edgeIds: ['e00'] });
  });

  it('gives 3 edges at 10/50/100 % one, two, then three edges (never an empty first stage)', () => {
    const plan = planDeployment(request('regional-canary'), fleet(3));
    expect(plan.stages.map((s) => s.edgeIds.length)).toEqual([1, 2, 3]);
    expect(plan.stages.map((s) => s.index)).toEqual([0, 1, 2]);
  });

  it('takes configured steps', () => {
    const plan = planDeployment(request('regional-canary', { steps: [25, 100] }), fleet(8));
    expect(plan.stages.map((s) => s.edgeIds.length)).toEqual([2, 8]);
  });

  it('spreads the first stage over the regions, round-robin, in the requested order', () => {
    const edges = [...fleet(4, 'us-east-1'), edge('x1', 'eu-west-1'), edge('x2', 'eu-west-1'), edge('y1', 'ap-south-1')];
    const plan = planDeployment(
      request('regional-canary', { targets: { regions: ['eu-west-1', 'us-east-1', 'ap-south-1'] }, steps: [40, 100] }),
      edges,
    );
    expect(plan.stages[0]!.edgeIds).toEqual(['x1', 'e00', 'y1']);
  });

  it('gates every stage after the first when approval is required', () => {
    const plan = planDeployment(request('regional-canary', { requireApproval: true }), fleet(10));
    expect(plan.stages.map((s) => s.requiresApproval)).toEqual([false, true, true]);
  });
});

describe('blue-green', () => {
  it('stages every edge at weight 0 (not evaluated), then switches them all to 100', () => {
    const plan = planDeployment(request('blue-green'), fleet(3));
    expect(plan.stages).toHaveLength(2);
    expect(plan.stages[0]).toMatchObject({ name: 'stage-green', weight: 0, bakeSeconds: 0, evaluate: false });
    expect(plan.stages[1]).toMatchObject({ name: 'switch', weight: 100, bakeSeconds: 60, evaluate: true });
    expect(plan.stages[0]!.edgeIds).toEqual(plan.stages[1]!.edgeIds);
  });
});

describe('rolling-regional', () => {
  const edges = [...fleet(3, 'us-east-1'), edge('a', 'eu-west-1'), edge('b', 'ap-south-1'), edge('c', 'ap-south-1')];

  it('deploys one region per stage with a gate between regions by default; regions of uneven sizes', () => {
    const plan = planDeployment(request('rolling-regional', { targets: { edgeIds: edges.map((e) => e.id) } }), edges);
    // No requested order: smallest region first, ties by name.
    expect(plan.stages.map((s) => s.name)).toEqual(['region-eu-west-1', 'region-ap-south-1', 'region-us-east-1']);
    expect(plan.stages.map((s) => s.edgeIds)).toEqual([['a'], ['a', 'b', 'c'], ['a', 'b', 'c', 'e00', 'e01', 'e02']]);
    expect(plan.stages.map((s) => s.requiresApproval)).toEqual([false, true, true]);
  });

  it('follows the requested region order and is automatic when requireApproval is false', () => {
    const plan = planDeployment(
      request('rolling-regional', { targets: { regions: ['us-east-1', 'ap-south-1', 'eu-west-1'] }, requireApproval: false }),
      edges,
    );
    expect(plan.stages.map((s) => s.name)).toEqual(['region-us-east-1', 'region-ap-south-1', 'region-eu-west-1']);
    expect(plan.stages.every((s) => !s.requiresApproval)).toBe(true);
  });
});

describe('geographic-wave', () => {
  it('makes one wave per continent, in the order of their first region', () => {
    const edges = [
      edge('n1', 'us-east-1', 'NA'),
      edge('n2', 'us-west-2', 'NA'),
      edge('e1', 'eu-west-1', 'EU'),
      edge('a1', 'ap-south-1', 'AS'),
      edge('a2', 'ap-south-1', 'AS'),
    ];
    const plan = planDeployment(
      request('geographic-wave', { targets: { regions: ['eu-west-1', 'us-east-1', 'us-west-2', 'ap-south-1'] } }),
      edges,
    );
    expect(plan.stages.map((s) => s.name)).toEqual(['wave-EU', 'wave-NA', 'wave-AS']);
    expect(plan.stages.map((s) => s.edgeIds.length)).toEqual([1, 3, 5]);
    expect(plan.stages.every((s) => s.bakeSeconds === 60 && s.evaluate)).toBe(true);
  });
});

describe('bad requests', () => {
  it('refuses no target edges, an unknown strategy and out-of-range bakeSeconds with field errors', () => {
    expect(fieldErrors(() => planDeployment(request('yolo', { bakeSeconds: -1 }), []))).toEqual([
      'body.strategy',
      'body.targets',
      'body.bakeSeconds',
    ]);
    expect(fieldErrors(() => planDeployment(request('direct', { bakeSeconds: 86_401 }), fleet(1)))).toEqual(['body.bakeSeconds']);
    expect(fieldErrors(() => planDeployment(request('direct', { bakeSeconds: 1.5 }), fleet(1)))).toEqual(['body.bakeSeconds']);
  });

  it('refuses steps that do not increase, do not end at 100, or come with another strategy', () => {
    expect(fieldErrors(() => planDeployment(request('regional-canary', { steps: [10, 10, 100] }), fleet(5)))).toEqual(['body.steps.1']);
    expect(fieldErrors(() => planDeployment(request('regional-canary', { steps: [50, 20, 100] }), fleet(5)))).toEqual(['body.steps.1']);
    expect(fieldErrors(() => planDeployment(request('regional-canary', { steps: [10, 50] }), fleet(5)))).toEqual(['body.steps.1']);
    expect(fieldErrors(() => planDeployment(request('regional-canary', { steps: [] }), fleet(5)))).toEqual(['body.steps']);
    expect(fieldErrors(() => planDeployment(request('regional-canary', { steps: [0, 100] }), fleet(5)))).toEqual(['body.steps.0']);
    expect(fieldErrors(() => planDeployment(request('direct', { steps: [100] }), fleet(5)))).toEqual(['body.steps']);
  });

  it('refuses thresholds out of range', () => {
    expect(fieldErrors(() => planDeployment(request('direct', { thresholds: { maxErrorRate: 2, maxP95LatencyMs: 0 } }), fleet(1)))).toEqual(
      ['body.thresholds.maxErrorRate', 'body.thresholds.maxP95LatencyMs'],
    );
  });

  it(`refuses more than ${MAX_TARGET_EDGES} target edges (the record is one item), and takes exactly that many`, () => {
    const many = Array.from({ length: MAX_TARGET_EDGES + 1 }, (_, i) => edge(`e${String(i).padStart(3, '0')}`, 'eu-west-1'));
    const all = { regions: ['eu-west-1'] };
    expect(fieldErrors(() => resolveTargets(all, many))).toEqual(['body.targets']);
    expect(fieldErrors(() => planDeployment(request('direct'), many))).toEqual(['body.targets']);
    const most = many.slice(0, MAX_TARGET_EDGES);
    expect(resolveTargets(all, most)).toHaveLength(MAX_TARGET_EDGES);
    expect(planDeployment(request('direct'), most).edgeIds).toHaveLength(MAX_TARGET_EDGES);
  });

  it('resolves targets, naming unknown edges and empty regions', () => {
    const edges = [edge('a', 'eu-west-1'), edge('b', 'us-east-1')];
    expect(resolveTargets({ regions: ['eu-west-1'], edgeIds: ['a', 'b'] }, edges).map((e) => e.id)).toEqual(['a', 'b']);
    expect(fieldErrors(() => resolveTargets({ regions: ['mars-1'], edgeIds: ['zz'] }, edges))).toEqual([
      'body.targets.regions.0',
      'body.targets.edgeIds.0',
    ]);
    expect(fieldErrors(() => resolveTargets({}, edges))).toEqual(['body.targets']);
  });
});

// ---- invariants ------------------------------------------------------------------------

const continents: Continent[] = ['EU', 'NA', 'AS', 'SA'];
const arbEdges = fc
  .uniqueArray(
    fc.record({
      id: fc.uuid(),
      name: fc.string({ minLength: 1, maxLength: 6 }),
      region: fc.constantFrom('eu-west-1', 'eu-central-1', 'us-east-1', 'sa-east-1', 'ap-south-1'),
    }),
    { minLength: 1, maxLength: 40, selector: (e) => e.id },
  )
  .map((list) => list.map((e) => edge(e.id, e.region, continents[e.region.charCodeAt(0) % continents.length]!, e.name)));
const arbSteps = fc.uniqueArray(fc.integer({ min: 1, max: 99 }), { maxLength: 5 }).map((s) => [...s.sort((a, b) => a - b), 100]);
const arbRequest = fc.record({
  strategy: fc.constantFrom(...STRATEGIES),
  steps: arbSteps,
  requireApproval: fc.option(fc.boolean(), { nil: undefined }),
});

function planFor(edges: EdgeLocation[], r: { strategy: string; steps: number[]; requireApproval: boolean | undefined }): RolloutPlan {
  return planDeployment(
    request(r.strategy, {
      targets: { edgeIds: edges.map((e) => e.id) },
      ...(r.strategy === 'regional-canary' ? { steps: r.steps } : {}),
      ...(r.requireApproval !== undefined ? { requireApproval: r.requireApproval } : {}),
    }),
    edges,
  );
}

describe('plan invariants (fast-check)', () => {
  it('the last stage holds every target edge exactly once at 100 %; stages only grow; indexes are 0..n-1', () => {
    fc.assert(
      fc.property(arbEdges, arbRequest, (edges, r) => {
        const plan = planFor(edges, r);
        const last = plan.stages[plan.stages.length - 1]!;
        expect(last.weight).toBe(100);
        expect(new Set(last.edgeIds).size).toBe(last.edgeIds.length);
        expect([...last.edgeIds].sort()).toEqual(edges.map((e) => e.id).sort());
        expect(plan.stages.map((s) => s.index)).toEqual(plan.stages.map((_, i) => i));
        expect(plan.stages[0]!.edgeIds.length).toBeGreaterThanOrEqual(1);
        plan.stages.forEach((stage, i) => {
          if (i === 0) return;
          const before = plan.stages[i - 1]!;
          expect(stage.edgeIds.slice(0, before.edgeIds.length)).toEqual(before.edgeIds);
          expect(stage.edgeIds.length).toBeGreaterThanOrEqual(before.edgeIds.length);
        });
      }),
    );
  });

  it('is deterministic: the same edges in any order give the same plan', () => {
    fc.assert(
      fc.property(
        arbEdges.chain((edges) =>
          fc.tuple(fc.constant(edges), fc.shuffledSubarray(edges, { minLength: edges.length, maxLength: edges.length })),
        ),
        arbRequest,
        ([edges, shuffled], r) => {
          expect(planFor(shuffled, r)).toEqual(planFor(edges, r));
        },
      ),
    );
  });
});
