/**
 * Stage evaluation (DESIGN.md §6): after a stage's bake, the heartbeats of
 * its edges (the stage) are judged against fixed thresholds and against the
 * heartbeats of the target edges still on the old version over the same
 * window (the baseline), with a one-sided Mann-Whitney U test per metric, as
 * Kayenta's canary judge does. Pure: the caller reads the heartbeats.
 */
import { errorFunction, wilcoxonRankSum } from 'simple-statistics';
import type { Heartbeat } from './edges.js';
import type { RollbackThresholds } from './rollout-plan.js';

// ---- Mann-Whitney U ---------------------------------------------------------------------

export interface MannWhitneyResult {
  /** U of the first sample: the number of (x, y) pairs with x > y, ties counting one half. */
  u: number;
  /** The rank sum of the first sample in the pooled sample (mid-ranks for ties). */
  rankSum: number;
  /** Normal approximation, with tie correction and continuity correction; 0 when every value is equal. */
  z: number;
  /** One-sided: P(U ≥ u) under "same distribution", i.e. evidence that x tends to be larger than y. */
  pValue: number;
}

/** Φ(z), the standard normal CDF. */
export function normalCdf(z: number): number {
  // simple-statistics' errorFunction (Numerical Recipes' erfc fit, |error| < 1.2e-7), not its
  // cumulativeStdNormalProbability: that one reads a printed table, rounding z to 0.01 and
  // saturating at 3.09, too coarse for p-values near the significance level.
  return 0.5 * (1 + errorFunction(z / Math.SQRT2));
}

/**
 * One-sided Mann-Whitney U test "x is stochastically greater than y".
 *
 * The glue around simple-statistics: `wilcoxonRankSum` ranks the pooled
 * samples with mid-ranks for ties and sums x's ranks (R₁); U = R₁ − n₁(n₁+1)/2.
 * The library has no test around the statistic, so the normal approximation
 * is here: mean n₁n₂/2, variance n₁n₂/12 · ((N+1) − Σ(t³−t)/(N(N−1))) over
 * the tie groups t (the tie correction: ties shrink the spread of U), and a
 * continuity correction of ½ toward the mean (as R's wilcox.test and SciPy's
 * mannwhitneyu do by default), p = 1 − Φ(z). The approximation is sound from
 * about 8–10 observations per side; evaluateStage never tests fewer.
 */
export function mannWhitneyGreater(x: readonly number[], y: readonly number[]): MannWhitneyResult {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) throw new Error('Mann-Whitney needs observations on both sides');
  const rankSum = wilcoxonRankSum([...x], [...y]);
  const u = rankSum - (n1 * (n1 + 1)) / 2;
  const n = n1 + n2;
  const counts = new Map<number, number>();
  for (const v of [...x, ...y]) counts.set(v, (counts.get(v) ?? 0) + 1);
  let ties = 0;
  for (const t of counts.values()) ties += t * t * t - t;
  const variance = ((n1 * n2) / 12) * (n + 1 - ties / (n * (n - 1)));
  if (!(variance > 0)) return { u, rankSum, z: 0, pValue: 1 };
  const mean = (n1 * n2) / 2;
  const z = (u - mean - 0.5) / Math.sqrt(variance);
  return { u, rankSum, z, pValue: 1 - normalCdf(z) };
}

// ---- stage evaluation -----------------------------------------------------------------------

/** The metrics judged; for each, larger is worse. */
export const EVALUATED_METRICS = ['errorRate', 'p95LatencyMs'] as const;
export type EvaluatedMetric = (typeof EVALUATED_METRICS)[number];

/** One observation per heartbeat, per metric. */
export type MetricSamples = Record<EvaluatedMetric, number[]>;

/** The samples in a set of heartbeats (one per heartbeat; a heartbeat that served no request says nothing about errors or latency and is left out). */
export function samplesOf(heartbeats: ReadonlyArray<Pick<Heartbeat, 'requests' | 'errorRate' | 'p95LatencyMs'>>): MetricSamples {
  const serving = heartbeats.filter((h) => h.requests > 0);
  return { errorRate: serving.map((h) => h.errorRate), p95LatencyMs: serving.map((h) => h.p95LatencyMs) };
}

export interface EvaluationConfig {
  /** Fewer samples than this on either side: no significance test for that metric (Kayenta's minimum). */
  minSamplesPerSide: number;
  /** One-sided significance level. */
  alpha: number;
  /**
   * The smallest degradation worth a rollback: a significant difference
   * counts only when the stage's median is worse than the baseline's by
   * more than max(absolute, relative × baseline median). Kayenta's judge
   * has the same guard (its tolerance, a quarter of the control's level):
   * a tiny difference can be significant with enough samples, and nobody
   * would notice it.
   */
  minEffect?: Partial<Record<EvaluatedMetric, { absolute: number; relative: number }>>;
}

/** Half a percentage point of errors, or a quarter more; 10 ms of p95, or a quarter more (Kayenta's tolerance 0.25). */
export const DEFAULT_MIN_EFFECT: Record<EvaluatedMetric, { absolute: number; relative: number }> = {
  errorRate: { absolute: 0.005, relative: 0.25 },
  p95LatencyMs: { absolute: 10, relative: 0.25 },
};

/**
 * 10 per side: below that the normal approximation of U is poor, and with
 * heartbeats every 10 s one edge gives 10 samples in a 100 s bake. α 0.01
 * one-sided per metric, Kayenta's judge's 98 % two-sided confidence: every
 * stage of every deployment is judged, so a false FAIL (a good version
 * rolled back) must be rare. Measured on the simulator's healthy noise
 * (bench/false-rollbacks.ts): α 0.05 with a 10 % p95 effect rolled back
 * about 3 % of good stages, these defaults 0.3–0.6 %; a p95 a third worse
 * is still caught three times in four at 10 samples a side, two thirds
 * worse every time.
 */
export const DEFAULT_EVALUATION: EvaluationConfig = { minSamplesPerSide: 10, alpha: 0.01 };

export type Verdict = 'PASS' | 'FAIL' | 'INSUFFICIENT_DATA';

export interface MetricFigures {
  metric: EvaluatedMetric;
  stageCount: number;
  baselineCount: number;
  /** Means (undefined for an empty side). */
  stageMean?: number;
  baselineMean?: number;
  stageMedian?: number;
  baselineMedian?: number;
  /** The threshold that applied, and whether the stage's mean is above it. */
  threshold?: number;
  thresholdBreached: boolean;
  /** The test, when both sides had minSamplesPerSide. */
  u?: number;
  z?: number;
  pValue?: number;
  /** pValue < alpha, and the medians differ by more than the minimum effect. */
  significantlyWorse: boolean;
  /** The difference of medians a significant result had to exceed. */
  minEffect?: number;
  /** Why there was no test, when there was none. */
  skipped?: 'too-few-stage-samples' | 'too-few-baseline-samples';
}

export interface StageEvaluation {
  verdict: Verdict;
  reason: string;
  metrics: MetricFigures[];
}

const mean = (values: readonly number[]): number | undefined =>
  values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0) / values.length;

function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const THRESHOLD_OF: Record<EvaluatedMetric, keyof RollbackThresholds> = { errorRate: 'maxErrorRate', p95LatencyMs: 'maxP95LatencyMs' };

function figuresOf(
  metric: EvaluatedMetric,
  stage: readonly number[],
  baseline: readonly number[],
  thresholds: RollbackThresholds,
  config: EvaluationConfig,
): MetricFigures {
  const threshold = thresholds[THRESHOLD_OF[metric]];
  const stageMean = mean(stage);
  const figures: MetricFigures = {
    metric,
    stageCount: stage.length,
    baselineCount: baseline.length,
    ...(stageMean !== undefined && { stageMean, stageMedian: median(stage)! }),
    ...(baseline.length > 0 && { baselineMean: mean(baseline)!, baselineMedian: median(baseline)! }),
    ...(threshold !== undefined && { threshold }),
    thresholdBreached: threshold !== undefined && stageMean !== undefined && stageMean > threshold,
    significantlyWorse: false,
  };
  if (stage.length < config.minSamplesPerSide) return { ...figures, skipped: 'too-few-stage-samples' };
  if (baseline.length < config.minSamplesPerSide) return { ...figures, skipped: 'too-few-baseline-samples' };
  const test = mannWhitneyGreater(stage, baseline);
  const effect = config.minEffect?.[metric] ?? DEFAULT_MIN_EFFECT[metric];
  const minEffect = Math.max(effect.absolute, effect.relative * Math.abs(figures.baselineMedian!));
  const worseBy = figures.stageMedian! - figures.baselineMedian!;
  return {
    ...figures,
    u: test.u,
    z: test.z,
    pValue: test.pValue,
    minEffect,
    significantlyWorse: test.pValue < config.alpha && worseBy > minEffect,
  };
}

const fmt = (n: number | undefined): string => (n === undefined ? '-' : Number(n.toPrecision(4)).toString());

/**
 * The verdict on a stage after its bake:
 * - FAIL when any metric's stage mean is above its threshold (a breach is a
 *   breach, whatever the sample size: one heartbeat at 40 % errors is enough),
 *   or any metric is significantly worse than the baseline (one-sided
 *   Mann-Whitney, p < alpha);
 * - INSUFFICIENT_DATA, when neither, if the stage side has fewer than
 *   minSamplesPerSide samples: too little to say it is good. What happens
 *   then is the deployment's policy (deployments.ts: bake again, then pass);
 * - PASS otherwise. A baseline below the minimum (no edge left on the old
 *   version: the last canary step, a blue-green switch, direct) skips the
 *   comparison and leaves the thresholds to decide; the figures say so.
 */
export function evaluateStage(
  stageSamples: MetricSamples,
  baselineSamples: MetricSamples,
  thresholds: RollbackThresholds,
  config: EvaluationConfig = DEFAULT_EVALUATION,
): StageEvaluation {
  const metrics = EVALUATED_METRICS.map((m) => figuresOf(m, stageSamples[m], baselineSamples[m], thresholds, config));
  const breached = metrics.filter((f) => f.thresholdBreached);
  const worse = metrics.filter((f) => f.significantlyWorse);
  if (breached.length > 0 || worse.length > 0) {
    const parts = [
      ...breached.map((f) => `${f.metric} ${fmt(f.stageMean)} is above the threshold ${fmt(f.threshold)}`),
      ...worse.map(
        (f) =>
          `${f.metric} is significantly worse than the baseline (median ${fmt(f.stageMedian)} vs ${fmt(f.baselineMedian)}, U=${fmt(f.u)}, p=${fmt(f.pValue)} < ${config.alpha})`,
      ),
    ];
    return { verdict: 'FAIL', reason: parts.join('; '), metrics };
  }
  const thin = metrics.filter((f) => f.skipped === 'too-few-stage-samples');
  if (thin.length > 0) {
    return {
      verdict: 'INSUFFICIENT_DATA',
      reason: `too few samples from the stage's edges (${thin.map((f) => `${f.metric}: ${f.stageCount}`).join(', ')}; at least ${config.minSamplesPerSide} needed)`,
      metrics,
    };
  }
  const noBaseline = metrics.filter((f) => f.skipped === 'too-few-baseline-samples');
  return {
    verdict: 'PASS',
    reason:
      noBaseline.length > 0
        ? `within thresholds; no comparison for ${noBaseline.map((f) => f.metric).join(', ')} (baseline has fewer than ${config.minSamplesPerSide} samples)`
        : 'within thresholds and not significantly worse than the baseline',
    metrics,
  };
}
