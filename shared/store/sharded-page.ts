/**
 * Write-sharded lists (DESIGN.md §3, issue 7): the two lists every change
 * appends to (all events, all audit records) spread their index entries over
 * N partitions (`EVENTS#0…EVENTS#7`), because one partition takes about
 * 1 000 writes/s and its back-pressure throttles the base table. A page is
 * then an ordered merge of the shards' newest-first reads.
 *
 * Sort keys are unique across shards (`<instant>#<uuid>`), so a position in
 * the merged list is one sort key: the cursor says "everything at or above
 * this key has been delivered", and the next page reads each shard strictly
 * below it. That keeps paging exact (nothing skipped, nothing repeated)
 * however the shards interleave, and costs one Query per shard per page.
 */

/** One shard's read for a page: its matching items newest first, and how far it got. */
export interface ShardRead<T> {
  items: readonly { sortKey: string; item: T }[];
  /**
   * The read stopped (its read budget ran out) with fewer than `limit`
   * matches and more of the shard left: the sort key of the last item it
   * evaluated. Everything at or above it was evaluated.
   */
  stoppedAt?: string;
  /** Nothing left in this shard below its last item (within the query's range). */
  exhausted: boolean;
}

export interface MergedPage<T> {
  items: T[];
  /** Where the next page starts (exclusive), if there may be more. */
  before?: string;
}

/**
 * Merges the shards' reads into one newest-first page of at most `limit`.
 *
 * A shard that returned `limit` matches knows nothing below its last one, but
 * the page can never need more than `limit` from one shard. A shard that
 * stopped early knows everything down to `stoppedAt`; the page cannot go
 * below the highest such point (the cut), or a match still unread there
 * would be skipped. So the page takes items at or above the cut, and when
 * that leaves it short, the next page starts below the cut.
 */
export function mergeShardReads<T>(reads: readonly ShardRead<T>[], limit: number): MergedPage<T> {
  let cut: string | undefined;
  for (const read of reads) {
    if (read.stoppedAt !== undefined && (cut === undefined || read.stoppedAt > cut)) cut = read.stoppedAt;
  }
  const all = reads.flatMap((read) => read.items).sort((a, b) => (a.sortKey < b.sortKey ? 1 : a.sortKey > b.sortKey ? -1 : 0));
  const taken = [];
  for (const entry of all) {
    if (taken.length === limit || (cut !== undefined && entry.sortKey < cut)) break;
    taken.push(entry);
  }
  const items = taken.map((entry) => entry.item);
  if (taken.length === limit) {
    const more = all.length > taken.length || reads.some((read) => !read.exhausted);
    return more ? { items, before: (taken.at(-1) as { sortKey: string }).sortKey } : { items };
  }
  // Short of a full page: either every shard is exhausted, or the cut holds the rest back.
  return cut === undefined ? { items } : { items, before: cut };
}

/** The sort-key condition of one shard's Query: within [from, to] and strictly below `before`. */
export function sortKeyCondition(
  skName: string,
  bounds: { from?: string; to?: string; before?: string },
): { expression?: string; values: Record<string, string>; dropExactly?: string; empty?: true } {
  const { from, before } = bounds;
  // DynamoDB refuses a BETWEEN whose bounds are reversed; such a range holds nothing.
  if (from !== undefined && ((bounds.to !== undefined && bounds.to < from) || (before !== undefined && before <= from))) {
    return { values: {}, empty: true };
  }
  // An inclusive upper bound above the cursor is replaced by the cursor.
  const to = bounds.to !== undefined && (before === undefined || bounds.to < before) ? bounds.to : undefined;
  const below = to === undefined ? before : undefined;
  if (from !== undefined && to !== undefined) {
    return { expression: `${skName} BETWEEN :from AND :to`, values: { ':from': from, ':to': to } };
  }
  if (from !== undefined && below !== undefined) {
    // A key condition has one range operator; BETWEEN is inclusive, so the item at `before` (already delivered) is dropped after the read.
    return { expression: `${skName} BETWEEN :from AND :before`, values: { ':from': from, ':before': below }, dropExactly: below };
  }
  if (from !== undefined) return { expression: `${skName} >= :from`, values: { ':from': from } };
  if (to !== undefined) return { expression: `${skName} <= :to`, values: { ':to': to } };
  if (below !== undefined) return { expression: `${skName} < :before`, values: { ':before': below } };
  return { values: {} };
}

/** FNV-1a: a stable, even spread of ids over shards, the same on every write of an id. */
export function shardOf(id: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shards;
}
