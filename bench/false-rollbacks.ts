/**
 * How often the stage judge (shared/domain/rollout-evaluation.ts) rolls back
 * a good version on noise, and how often it catches a worse one, on the
 * fleet simulator's metrics (bin/edge-sim.ts versionMetrics): many stages
 * judged in-process, seeded, so a run prints the same figures every time.
 *
 * Why it exists: every stage of every deployment is judged, so the
 * judge's false-FAIL rate is what an operator meets as "a good release was
 * rolled back for nothing". It chose the defaults (α, minimum effect).
 *
 *   npx tsx bench/false-rollbacks.ts [--stages 5000]
 */
import { parseArgs } from 'node:util';
import { seededRandom, versionMetrics, type SimulateBlock } from '../bin/edge-sim.js';
import {
  DEFAULT_EVALUATION,
  DEFAULT_MIN_EFFECT,
  evaluateStage,
  type EvaluationConfig,
  type MetricSamples,
} from '../shared/domain/rollout-evaluation.js';

const { values } = parseArgs({ options: { stages: { type: 'string', default: '5000' } } });
const STAGES = Number(values.stages);
const THRESHOLDS = { maxErrorRate: 0.05, maxP95LatencyMs: 500 };

const random = seededRandom(20261123);
function heartbeats(n: number, simulate: SimulateBlock): MetricSamples {
  const out: MetricSamples = { errorRate: [], p95LatencyMs: [] };
  for (let i = 0; i < n; i++) {
    const m = versionMetrics(simulate, random);
    out.errorRate.push(m.errorRate);
    out.p95LatencyMs.push(m.p95LatencyMs);
  }
  return out;
}

/** Share of stages judged FAIL, in %. */
function failRate(stageSize: number, baselineSize: number, simulate: SimulateBlock, config: EvaluationConfig): number {
  let fails = 0;
  for (let i = 0; i < STAGES; i++) {
    if (evaluateStage(heartbeats(stageSize, simulate), heartbeats(baselineSize, {}), THRESHOLDS, config).verdict === 'FAIL') fails++;
  }
  return (100 * fails) / STAGES;
}

const configs: Array<[string, EvaluationConfig]> = [
  ['defaults (α 0.01, p95 effect 25 %)', DEFAULT_EVALUATION],
  [
    'before (α 0.05, p95 effect 10 %)',
    { ...DEFAULT_EVALUATION, alpha: 0.05, minEffect: { ...DEFAULT_MIN_EFFECT, p95LatencyMs: { absolute: 10, relative: 0.1 } } },
  ],
];
// Samples per side: a canary's first step (10 against 48), equal sides, and a larger stage against a small baseline.
const SIDES: Array<[number, number]> = [
  [10, 48],
  [10, 10],
  [25, 25],
  [40, 10],
];
// A good version (the simulator's healthy figures) and versions a third and two thirds slower at p95, within the 500 ms threshold.
const VERSIONS: Array<[string, SimulateBlock]> = [
  ['good', {}],
  ['p95 +33 % (80 ms)', { p95LatencyMs: 80 }],
  ['p95 +67 % (100 ms)', { p95LatencyMs: 100 }],
];

console.log(`Stage verdicts on the simulator's metrics, ${STAGES} stages per cell; % judged FAIL (for "good": false rollbacks)\n`);
const rows: Array<Record<string, string>> = [];
for (const [label, config] of configs) {
  for (const [stageSize, baselineSize] of SIDES) {
    const row: Record<string, string> = { judge: label, 'stage/baseline samples': `${stageSize}/${baselineSize}` };
    for (const [name, simulate] of VERSIONS) row[name] = `${failRate(stageSize, baselineSize, simulate, config).toFixed(2)} %`;
    rows.push(row);
  }
}
console.table(rows);
