import { describe, expect, it } from 'vitest';
import {
  DEFAULT_EVALUATION,
  evaluateStage,
  mannWhitneyGreater,
  normalCdf,
  samplesOf,
  type MetricSamples,
} from '../../../shared/domain/rollout-evaluation.js';

/**
 * Reference values. U is counted by hand below (pairs x > y, ties ½). The
 * p-values are the normal approximation with tie and continuity correction,
 * worked by hand from the formula in mannWhitneyGreater and checked against
 * SciPy 1.17.1: scipy.stats.mannwhitneyu(x, y, alternative='greater',
 * method='asymptotic', use_continuity=True).
 */
const A = {
  x: [5, 7, 9, 11, 13, 15, 17, 19, 21, 23],
  y: [1, 2, 3, 4, 6, 8, 10, 12, 14, 16],
  // Each x beats 4, 5, 6, 7, 8, 9, 10, 10, 10, 10 of the y: U = 79.
  u: 79,
  // No ties: σ² = 10·10·21/12 = 175; z = (79 − 50 − ½)/√175 = 2.15440.
  z: 2.1544,
  p: 0.015604506385870109, // SciPy
};

const B = {
  x: [0, 0, 0.01, 0.02, 0.02, 0.03, 0.05, 0.05, 0.08, 0.1],
  y: [0, 0, 0, 0, 0.01, 0.01, 0.02, 0.02, 0.03, 0.05],
  // 0 ties 0 four times per x=0 (2 × 4 × ½ = 4); 0.01 beats 4, ties 2 (5); 0.02 beats 6, ties 2 (7, twice);
  // 0.03 beats 8, ties 1 (8.5); 0.05 beats 9, ties 1 (9.5, twice); 0.08 and 0.1 beat all (10, twice): U = 70.5.
  u: 70.5,
  // Tie groups 6, 3, 4, 2, 3 (and two singletons): Σ(t³ − t) = 210 + 24 + 60 + 6 + 24 = 324;
  // σ² = 100/12 · (21 − 324/380) = 167.894…; z = 20/12.9574 = 1.54352.
  z: 1.5435,
  p: 0.06135267683668349, // SciPy
};

describe('mannWhitneyGreater', () => {
  it('matches the hand-computed U and the reference p-value without ties', () => {
    const r = mannWhitneyGreater(A.x, A.y);
    expect(r.u).toBe(A.u);
    expect(r.rankSum).toBe(A.u + (10 * 11) / 2);
    expect(r.z).toBeCloseTo(A.z, 4);
    expect(r.pValue).toBeCloseTo(A.p, 6);
  });

  it('applies the tie correction', () => {
    const r = mannWhitneyGreater(B.x, B.y);
    expect(r.u).toBe(B.u);
    expect(r.z).toBeCloseTo(B.z, 4);
    expect(r.pValue).toBeCloseTo(B.p, 6);
  });

  it('is one-sided: the reverse question has a large p-value', () => {
    expect(mannWhitneyGreater(A.y, A.x).u).toBe(100 - A.u);
    expect(mannWhitneyGreater(A.y, A.x).pValue).toBeGreaterThan(0.98);
  });

  it('answers p = 1 when every value is tied (no spread at all)', () => {
    expect(mannWhitneyGreater([0, 0, 0], [0, 0])).toEqual({ u: 3, rankSum: 9, z: 0, pValue: 1 });
  });

  it('has a normal CDF accurate far beyond a printed table', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-3.5)).toBeCloseTo(0.000232629, 6);
  });
});

const samples = (errorRate: number[], p95LatencyMs: number[]): MetricSamples => ({ errorRate, p95LatencyMs });
const flat = (n: number, value: number) => Array.from({ length: n }, () => value);
/** Latencies around 100 ms with some spread. */
const latencies = (n: number, base = 100) => Array.from({ length: n }, (_, i) => base + ((i * 7) % 11));

describe('evaluateStage', () => {
  it('fails on a threshold breach, whatever the sample size', () => {
    const e = evaluateStage(samples([0.4], [120]), samples([], []), { maxErrorRate: 0.05 });
    expect(e.verdict).toBe('FAIL');
    expect(e.reason).toContain('errorRate 0.4 is above the threshold 0.05');
    expect(e.metrics[0]).toMatchObject({ metric: 'errorRate', thresholdBreached: true, stageMean: 0.4, threshold: 0.05 });
  });

  it('fails on a p95 threshold breach', () => {
    const e = evaluateStage(samples(flat(12, 0), latencies(12, 900)), samples(flat(12, 0), latencies(12)), { maxP95LatencyMs: 500 });
    expect(e.verdict).toBe('FAIL');
    expect(e.metrics[1]).toMatchObject({ metric: 'p95LatencyMs', thresholdBreached: true, significantlyWorse: true });
  });

  it('fails on a significant degradation against the baseline within thresholds', () => {
    // Every stage sample above every baseline one: U = 100, p ≈ 0.0001.
    const e = evaluateStage(samples(flat(10, 0.02), latencies(10)), samples(flat(10, 0.01), latencies(10)), { maxErrorRate: 0.5 });
    expect(e.verdict).toBe('FAIL');
    expect(e.metrics[0]).toMatchObject({ u: 100, significantlyWorse: true, thresholdBreached: false });
    expect(e.metrics[0]!.pValue).toBeLessThan(0.001);
    expect(e.reason).toMatch(/errorRate is significantly worse than the baseline \(median 0\.02 vs 0\.01, U=100, p=.* < 0\.01\)/);
  });

  it('uses α 0.01 by default (Kayenta judges at 98 % confidence): p = 0.0156 passes, and fails at α 0.05', () => {
    const stage = samples(
      A.x.map((v) => v / 1000),
      latencies(10),
    );
    const baseline = samples(
      A.y.map((v) => v / 1000),
      latencies(10),
    );
    expect(DEFAULT_EVALUATION.alpha).toBe(0.01);
    expect(evaluateStage(stage, baseline, { maxErrorRate: 0.5 }).verdict).toBe('PASS');
    const e = evaluateStage(stage, baseline, { maxErrorRate: 0.5 }, { ...DEFAULT_EVALUATION, alpha: 0.05 });
    expect(e.verdict).toBe('FAIL');
    expect(e.metrics[0]).toMatchObject({ u: 79, significantlyWorse: true, thresholdBreached: false });
    expect(e.metrics[0]!.pValue).toBeCloseTo(A.p, 6);
    expect(e.metrics[1]!.significantlyWorse).toBe(false);
    expect(e.reason).toMatch(/errorRate is significantly worse than the baseline .*U=79, p=0\.0156/);
  });

  it('passes a significant difference smaller than the minimum effect (noise nobody would notice)', () => {
    // The same ranks as above (p = 0.0156, significant at α 0.05), but error rates of 0.05–0.23 %: medians 0.14 % vs 0.07 %.
    const e = evaluateStage(
      samples(
        A.x.map((v) => v / 10_000),
        latencies(10),
      ),
      samples(
        A.y.map((v) => v / 10_000),
        latencies(10),
      ),
      {},
      { ...DEFAULT_EVALUATION, alpha: 0.05 },
    );
    expect(e.metrics[0]).toMatchObject({ u: 79, significantlyWorse: false, minEffect: 0.005 });
    expect(e.metrics[0]!.pValue).toBeCloseTo(A.p, 6);
    expect(e.verdict).toBe('PASS');
    // A configured smaller effect makes it count.
    const strict = evaluateStage(
      samples(
        A.x.map((v) => v / 10_000),
        latencies(10),
      ),
      samples(
        A.y.map((v) => v / 10_000),
        latencies(10),
      ),
      {},
      {
        ...DEFAULT_EVALUATION,
        alpha: 0.05,
        minEffect: { errorRate: { absolute: 0.0001, relative: 0.1 } },
      },
    );
    expect(strict.verdict).toBe('FAIL');
  });

  it('passes a difference that is not significant (ties included)', () => {
    const e = evaluateStage(samples(B.x, latencies(10)), samples(B.y, latencies(10)), {});
    expect(e.metrics[0]!.pValue).toBeCloseTo(B.p, 6);
    expect(e.verdict).toBe('PASS');
    expect(e.reason).toBe('within thresholds and not significantly worse than the baseline');
  });

  it('passes a stage better than its baseline (one-sided)', () => {
    expect(evaluateStage(samples(A.y, latencies(10)), samples(A.x, latencies(10)), {}).verdict).toBe('PASS');
  });

  it('answers INSUFFICIENT_DATA with too few stage samples and no breach', () => {
    const e = evaluateStage(samples(flat(9, 0), latencies(9)), samples(flat(30, 0), latencies(30)), { maxErrorRate: 0.05 });
    expect(e.verdict).toBe('INSUFFICIENT_DATA');
    expect(e.metrics.every((m) => m.skipped === 'too-few-stage-samples' && m.pValue === undefined)).toBe(true);
    expect(e.reason).toContain('at least 10 needed');
  });

  it('leaves it to the thresholds when the baseline is too small (the last canary step)', () => {
    const e = evaluateStage(samples(flat(20, 0.001), latencies(20)), samples([0.001, 0.002], [100, 101]), { maxErrorRate: 0.05 });
    expect(e.verdict).toBe('PASS');
    expect(e.metrics.every((m) => m.skipped === 'too-few-baseline-samples')).toBe(true);
    expect(e.reason).toContain('no comparison for errorRate, p95LatencyMs');
  });

  it('honours a configured minimum and significance level', () => {
    const config = { minSamplesPerSide: 3, alpha: 0.01 };
    const e = evaluateStage(samples(A.x, latencies(10)), samples(A.y, latencies(10)), {}, config);
    expect(e.verdict).toBe('PASS'); // p = 0.0156 is not below 0.01
    expect(
      evaluateStage(samples([1, 1, 1], [1, 1, 1]), samples([0, 0, 0], [1, 1, 1]), {}, { minSamplesPerSide: 3, alpha: 0.05 }).verdict,
    ).toBe('FAIL');
  });

  it('takes samples from heartbeats that served traffic', () => {
    const hb = (requests: number, errorRate: number, p95LatencyMs: number) => ({ requests, errorRate, p95LatencyMs });
    expect(samplesOf([hb(10, 0.1, 50), hb(0, 0, 0), hb(5, 0, 70)])).toEqual({ errorRate: [0.1, 0], p95LatencyMs: [50, 70] });
  });
});
