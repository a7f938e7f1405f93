/**
 * Paging a write-sharded list must be exact: whatever the shards hold, the
 * filter, the page size and how early each shard's read stops, the pages
 * joined are the whole matching list, newest first, each item once.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergeShardReads, shardOf, sortKeyCondition, type ShardRead } from '../../../shared/store/sharded-page.js';

interface Item {
  sortKey: string;
  shard: number;
  matches: boolean;
}

/**
 * One shard read as DynamoDB answers the store's Query (TableStore.readShard):
 * newest first within the range and below the cursor, evaluating at most
 * `budget` items, stopping at its share of the page (about twice limit/shards).
 */
function readShard(
  items: readonly Item[],
  shards: number,
  shard: number,
  q: { from?: string; to?: string; before?: string },
  limit: number,
  budget: number,
): ShardRead<Item> {
  const candidates = items
    .filter((i) => i.shard === shard)
    .filter(
      (i) =>
        (q.from === undefined || i.sortKey >= q.from) &&
        (q.to === undefined || i.sortKey <= q.to) &&
        (q.before === undefined || i.sortKey < q.before),
    )
    .sort((a, b) => (a.sortKey < b.sortKey ? 1 : -1));
  const share = Math.min(limit, Math.ceil((2 * limit) / shards) + 2);
  const found: { sortKey: string; item: Item }[] = [];
  for (let evaluated = 0; evaluated < candidates.length; evaluated++) {
    if (evaluated === budget) return { items: found, exhausted: false, stoppedAt: (candidates[evaluated - 1] as Item).sortKey };
    const item = candidates[evaluated] as Item;
    if (!item.matches) continue;
    if (found.length === share)
      return share < limit
        ? { items: found, exhausted: false, stoppedAt: (found.at(-1) as { sortKey: string }).sortKey }
        : { items: found, exhausted: false };
    found.push({ sortKey: item.sortKey, item });
  }
  return { items: found, exhausted: true };
}

const scenario = fc.record({
  keys: fc.uniqueArray(fc.integer({ min: 0, max: 999 }), { maxLength: 80 }),
  shards: fc.integer({ min: 1, max: 8 }),
  seed: fc.integer(),
  matchEvery: fc.integer({ min: 1, max: 4 }),
  limit: fc.integer({ min: 1, max: 30 }),
  budget: fc.integer({ min: 1, max: 30 }),
  from: fc.option(fc.integer({ min: 0, max: 999 }), { nil: undefined }),
  to: fc.option(fc.integer({ min: 0, max: 999 }), { nil: undefined }),
});

const key = (n: number) => `2026-11-23T00:00:00.${String(n).padStart(3, '0')}Z#${n}`;

describe('a write-sharded list', () => {
  it('pages exactly: every match once, newest first, whatever the shards and read budgets', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const items: Item[] = s.keys.map((n, i) => ({
          sortKey: key(n),
          shard: shardOf(`${s.seed}-${n}`, s.shards),
          matches: i % s.matchEvery === 0,
        }));
        const from = s.from === undefined ? undefined : key(s.from);
        const to = s.to === undefined ? undefined : key(s.to);
        const expected = items
          .filter((i) => i.matches && (from === undefined || i.sortKey >= from) && (to === undefined || i.sortKey <= to))
          .map((i) => i.sortKey)
          .sort()
          .reverse();

        const seen: string[] = [];
        let before: string | undefined;
        for (let pages = 0; ; pages++) {
          expect(pages).toBeLessThan(1000); // every page makes progress
          if (sortKeyCondition('#sk', { from, to, before }).empty) break;
          const reads = Array.from({ length: s.shards }, (_, shard) =>
            readShard(items, s.shards, shard, { from, to, before }, s.limit, s.budget),
          );
          const page = mergeShardReads(reads, s.limit);
          expect(page.items.length).toBeLessThanOrEqual(s.limit);
          seen.push(...page.items.map((i) => i.sortKey));
          if (page.before === undefined) break;
          before = page.before;
        }
        expect(seen).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('fills a page from every shard when no read stops early', () => {
    const reads: ShardRead<string>[] = [
      {
        items: [
          { sortKey: 'c', item: 'c' },
          { sortKey: 'a', item: 'a' },
        ],
        exhausted: true,
      },
      {
        items: [
          { sortKey: 'd', item: 'd' },
          { sortKey: 'b', item: 'b' },
        ],
        exhausted: false,
      },
    ];
    expect(mergeShardReads(reads, 3)).toEqual({ items: ['d', 'c', 'b'], before: 'b' });
    expect(mergeShardReads(reads, 4)).toEqual({ items: ['d', 'c', 'b', 'a'], before: 'a' });
  });

  it('ends a page at the highest point a stopped shard reached, and resumes below it', () => {
    const reads: ShardRead<string>[] = [
      {
        items: [
          { sortKey: 'x', item: 'x' },
          { sortKey: 'b', item: 'b' },
        ],
        exhausted: true,
      },
      { items: [], exhausted: false, stoppedAt: 'm' },
    ];
    expect(mergeShardReads(reads, 5)).toEqual({ items: ['x'], before: 'm' });
  });

  it('spreads ids evenly over the shards', () => {
    const counts = new Array(8).fill(0) as number[];
    for (let i = 0; i < 8000; i++) {
      const shard = shardOf(crypto.randomUUID(), 8);
      counts[shard] = (counts[shard] as number) + 1;
    }
    for (const count of counts) expect(count).toBeGreaterThan(800);
  });

  it('reads nothing for a range that holds nothing (DynamoDB refuses a reversed BETWEEN)', () => {
    expect(sortKeyCondition('#sk', { from: 'b', to: 'a' }).empty).toBe(true);
    expect(sortKeyCondition('#sk', { from: 'b', before: 'b' }).empty).toBe(true);
    expect(sortKeyCondition('#sk', { from: 'a', before: 'c' })).toEqual({
      expression: '#sk BETWEEN :from AND :before',
      values: { ':from': 'a', ':before': 'c' },
      dropExactly: 'c',
    });
    expect(sortKeyCondition('#sk', { to: 'z', before: 'c' }).expression).toBe('#sk < :before');
  });
});
