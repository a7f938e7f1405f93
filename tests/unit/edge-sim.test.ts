import { describe, expect, it } from 'vitest';
import {
  activeVersionOf,
  heartbeatFor,
  mixMetrics,
  parseSimulate,
  planFleet,
  progressLine,
  REGIONS,
  requestsFor,
  retryAfterMs,
  seededRandom,
  versionMetrics,
  versionsByRegion,
  type EdgeSnapshot,
} from '../../bin/edge-sim.js';
import { validateHeartbeat } from '../../shared/domain/edges.js';

describe('edge-sim: the fleet plan', () => {
  it('spreads edges round-robin over the first N regions, each with its continent', () => {
    const plan = planFleet(7, 3, 'sim');
    expect(plan.map((p) => p.name)).toEqual(['sim-1', 'sim-2', 'sim-3', 'sim-4', 'sim-5', 'sim-6', 'sim-7']);
    expect(plan.map((p) => p.region)).toEqual([
      'us-east-1',
      'eu-west-1',
      'ap-southeast-1',
      'us-east-1',
      'eu-west-1',
      'ap-southeast-1',
      'us-east-1',
    ]);
    expect(plan[2]!.continent).toBe('AS');
    const fifty = planFleet(50, 5, 'sim');
    const perRegion = versionsByRegion(fifty.map((p, i) => ({ ...p, id: String(i), heartbeatsSent: 0, polls: 0, errors: 0 })));
    expect(Object.values(perRegion).map((r) => r['–'])).toEqual([10, 10, 10, 10, 10]);
    expect(new Set(fifty.map((p) => p.continent))).toEqual(new Set(['NA', 'EU', 'AS', 'SA', 'OC']));
  });

  it('refuses impossible sizes', () => {
    expect(() => planFleet(0, 1, 'sim')).toThrow(/edges/);
    expect(() => planFleet(5, REGIONS.length + 1, 'sim')).toThrow(/regions/);
    expect(() => planFleet(5, 0, 'sim')).toThrow(/regions/);
  });
});

describe('edge-sim: the simulate block', () => {
  it('reads errorRate and p95LatencyMs, each optional', () => {
    expect(parseSimulate({ simulate: { errorRate: 0.2, p95LatencyMs: 900 } })).toEqual({ errorRate: 0.2, p95LatencyMs: 900 });
    expect(parseSimulate({ simulate: { p95LatencyMs: 900 } })).toEqual({ p95LatencyMs: 900 });
    expect(parseSimulate({ cache: { ttl: 60 } })).toEqual({});
  });

  it('ignores bad input key by key', () => {
    expect(parseSimulate({ simulate: { errorRate: '0.2', p95LatencyMs: 900 } })).toEqual({ p95LatencyMs: 900 });
    expect(parseSimulate({ simulate: { errorRate: 5, p95LatencyMs: -1 } })).toEqual({});
    expect(parseSimulate({ simulate: { errorRate: Number.NaN } })).toEqual({});
    expect(parseSimulate({ simulate: [0.2] })).toEqual({});
    expect(parseSimulate({ simulate: null })).toEqual({});
    expect(parseSimulate({ simulate: 'broken' })).toEqual({});
    expect(parseSimulate(null)).toEqual({});
    expect(parseSimulate([{ simulate: { errorRate: 0.2 } }])).toEqual({});
  });
});

describe('edge-sim: metrics', () => {
  it('are healthy by default and the simulated figures (± 5 %) when asked', () => {
    const random = seededRandom(1);
    for (let i = 0; i < 200; i++) {
      const healthy = versionMetrics({}, random);
      expect(healthy.errorRate).toBeGreaterThanOrEqual(0.005);
      expect(healthy.errorRate).toBeLessThanOrEqual(0.01);
      expect(healthy.p95LatencyMs).toBeGreaterThanOrEqual(40);
      expect(healthy.p95LatencyMs).toBeLessThanOrEqual(80);
      expect(Math.abs(healthy.cacheHitRate - 0.9)).toBeLessThanOrEqual(0.03);
      const bad = versionMetrics({ errorRate: 0.2, p95LatencyMs: 900 }, random);
      expect(Math.abs(bad.errorRate - 0.2)).toBeLessThanOrEqual(0.01 + 1e-12);
      expect(Math.abs(bad.p95LatencyMs - 900)).toBeLessThanOrEqual(45 + 1e-9);
      const onlySlow = versionMetrics({ p95LatencyMs: 900 }, random);
      expect(onlySlow.errorRate).toBeLessThanOrEqual(0.01);
    }
  });

  it('mix the new and the previous version by weight', () => {
    const next = { errorRate: 0.2, p95LatencyMs: 900, cacheHitRate: 0.5 };
    const old = { errorRate: 0, p95LatencyMs: 50, cacheHitRate: 0.9 };
    const canary = mixMetrics(next, old, 10);
    expect(canary.errorRate).toBeCloseTo(0.02, 12);
    expect(canary.p95LatencyMs).toBe(135);
    expect(canary.cacheHitRate).toBeCloseTo(0.86, 12);
    expect(mixMetrics(next, old, 100)).toEqual(next);
    expect(mixMetrics(next, old, 0)).toEqual(old);
    expect(mixMetrics(next, old, 50).p95LatencyMs).toBe(475);
  });

  it('report as active the version serving most of the traffic', () => {
    const previous = { configurationId: 'c', version: 2 };
    expect(activeVersionOf({ configurationId: 'c', version: 3, weight: 50 }, previous)).toEqual({ configurationId: 'c', version: 3 });
    expect(activeVersionOf({ configurationId: 'c', version: 3, weight: 49 }, previous)).toEqual(previous);
    expect(activeVersionOf({ configurationId: 'c', version: 3, weight: 10 }, undefined)).toBeUndefined();
    expect(activeVersionOf(undefined, previous)).toBeUndefined();
  });

  it('make heartbeats the API accepts: without a configuration while nothing is assigned, both fields otherwise', () => {
    const random = seededRandom(3);
    const unassigned = validateHeartbeat(heartbeatFor(undefined, undefined, 2000, random));
    expect(unassigned.configurationId).toBeUndefined();
    expect(unassigned.activeVersion).toBeUndefined();
    const canary = heartbeatFor(
      { configurationId: 'c', version: 3, weight: 10, simulate: { errorRate: 0.2 } },
      { configurationId: 'c', version: 2, simulate: {} },
      2000,
      random,
    );
    expect(validateHeartbeat(canary)).toMatchObject({ configurationId: 'c', activeVersion: 2 });
    // 10 % at 0.2, 90 % at 0.5–1 %: about 2.5 %.
    expect(canary.errorRate).toBeGreaterThan(0.02);
    expect(canary.errorRate).toBeLessThan(0.031);
    const full = heartbeatFor({ configurationId: 'c', version: 3, weight: 100, simulate: { p95LatencyMs: 900 } }, undefined, 2000, random);
    expect(validateHeartbeat(full)).toMatchObject({ configurationId: 'c', activeVersion: 3 });
    expect(full.p95LatencyMs).toBeGreaterThan(800);
  });

  it('count a few hundred requests per 2 s, in proportion to the interval', () => {
    const random = seededRandom(9);
    for (let i = 0; i < 100; i++) {
      const n = requestsFor(2000, random);
      expect(n).toBeGreaterThanOrEqual(200);
      expect(n).toBeLessThanOrEqual(400);
    }
    expect(requestsFor(300, () => 0)).toBe(30);
  });

  it('are deterministic with a seed', () => {
    const run = (seed: number) => {
      const random = seededRandom(seed);
      return Array.from({ length: 5 }, () =>
        heartbeatFor(
          { configurationId: 'c', version: 2, weight: 30, simulate: {} },
          { configurationId: 'c', version: 1, simulate: {} },
          2000,
          random,
        ),
      );
    };
    expect(run(42)).toEqual(run(42));
    expect(run(42)).not.toEqual(run(43));
  });
});

describe('edge-sim: output and retries', () => {
  it('draws per region the versions newest first, then the unassigned', () => {
    const edge = (region: string, version?: number): EdgeSnapshot => ({
      id: 'x',
      name: 'x',
      region,
      continent: 'EU',
      heartbeatsSent: 0,
      polls: 0,
      errors: 0,
      ...(version ? { active: { configurationId: 'c', version } } : {}),
    });
    const byRegion = versionsByRegion([edge('eu-west-1', 3), edge('eu-west-1', 2), edge('eu-west-1', 3), edge('us-east-1')]);
    expect(progressLine(byRegion, 12.345, 2)).toBe('eu-west-1 v3×2 v2×1 –×0 | us-east-1 –×1 | 12.3 hb/s, 2 errors');
  });

  it('reads Retry-After as seconds or a date', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
  });
});
