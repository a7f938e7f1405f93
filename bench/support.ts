/** What the benchmarks share: a concurrency-limited load loop, order statistics, and the stack's own table definition. */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { DataTable } from '../lib/data.js';
import { standaloneTableInputs } from '../local/providers/dynamodb-table.js';
import type { CfnTemplate } from '../local/types.js';

/** The audit context of a bench's own writes: stores refuse a change without one. */
export const BENCH_AUDIT = {
  actor: { id: 'bench', kind: 'system', name: 'bench' },
  action: 'bench',
  method: 'BENCH',
  path: '/bench',
  requestId: 'bench',
  sourceIp: '127.0.0.1',
};

/** Runs `count` calls of `task`, `concurrency` at a time; answers calls per second. */
export async function throughput(count: number, concurrency: number, task: (n: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await task(next++);
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

export const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
/** The q-quantile of an ascending list. */
export const quantile = (sorted: readonly number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] as number;

/** The CreateTable input of the stack's DataTable construct (not a copy of its key schema), and its TTL attribute. */
export function dataTableInput() {
  const stack = new Stack(new App(), 'Bench');
  new DataTable(stack, 'Data');
  const [table] = standaloneTableInputs(Template.fromStack(stack).toJSON() as CfnTemplate, {
    stackName: 'Bench',
    region: 'us-east-1',
    accountId: '000000000000',
  });
  if (!table) throw new Error('DataTable synthesized no table');
  return table;
}
