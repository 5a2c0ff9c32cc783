/**
 * The parent's to-do list over the inventory snapshot, as offset ranges: constant size however large the
 * fleet, so it can ride through continue-as-new. Pure; sandbox-safe.
 */
import type { InventoryRange } from './types';

export function rangesSize(ranges: readonly InventoryRange[]): number {
  return ranges.reduce((sum, range) => sum + (range.to - range.from), 0);
}

/** The next page to read: from the first range, at most `limit` offsets. */
export function nextPage(
  ranges: readonly InventoryRange[],
  limit: number,
): { offset: number; limit: number; rest: InventoryRange[] } | undefined {
  const [first, ...others] = ranges;
  if (!first) return undefined;
  const count = Math.min(limit, first.to - first.from);
  const rest =
    first.from + count < first.to ? [{ from: first.from + count, to: first.to }, ...others] : others;
  return { offset: first.from, limit: count, rest };
}

/** Sorted offsets folded into ranges: [3,4,5,9] → [{3,6},{9,10}]. Order of first appearance is kept. */
export function offsetsToRanges(offsets: readonly number[]): InventoryRange[] {
  const ranges: InventoryRange[] = [];
  for (const offset of offsets) {
    const last = ranges[ranges.length - 1];
    if (last && last.to === offset) last.to = offset + 1;
    else ranges.push({ from: offset, to: offset + 1 });
  }
  return ranges;
}

/** Offsets of [0, total) that no range in `pending` covers: what has been taken already. */
export function complementRanges(pending: readonly InventoryRange[], total: number): InventoryRange[] {
  const sorted = [...pending].filter((r) => r.to > r.from).sort((a, b) => a.from - b.from);
  const result: InventoryRange[] = [];
  let cursor = 0;
  for (const range of sorted) {
    if (range.from > cursor) result.push({ from: cursor, to: Math.min(range.from, total) });
    cursor = Math.max(cursor, range.to);
    if (cursor >= total) break;
  }
  if (cursor < total) result.push({ from: cursor, to: total });
  return result.filter((r) => r.to > r.from);
}
