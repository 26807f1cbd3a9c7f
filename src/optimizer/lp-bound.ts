// The bound both exact sell-down searches prune with (knapsack.ts, holes.ts):
// the LP relaxation of freeing cash from items j.. of the search, each item's
// shares split into segments of constant cost per unit of cash freed, taken
// cheapest first, fractionally.
import { ceilDiv, gcd } from './bigint-math.js';

/** A run of shares of one item (its place in the search) with the same cost per unit of cash freed. */
export interface Segment {
  readonly item: number;
  readonly freed: bigint;
  readonly cost: bigint;
}

/** A rational num / den with den > 0. */
export interface Ratio {
  num: bigint;
  den: bigint;
}

/** Cheapest per unit of cash freed first; ties by item, then as given (a stable sort). */
export function cheapestFirst(segments: Segment[]): Segment[] {
  return segments.sort((a, b) => {
    const lhs = a.cost * b.freed;
    const rhs = b.cost * a.freed;
    if (lhs !== rhs) return lhs < rhs ? -1 : 1;
    return a.item - b.item;
  });
}

/**
 * The LP bound over the suffixes of `m` items whose share prices are `price(i)`,
 * from their segments in cheapest-first order (each suffix built once, when first asked).
 */
export function lpBounds(segments: readonly Segment[], m: number, price: (i: number) => bigint) {
  const suffixes: ({ freed: bigint[]; cost: bigint[]; segments: Segment[]; gcd: bigint } | undefined)[] = new Array(m + 1);
  const suffix = (j: number) => {
    let bound = suffixes[j];
    if (bound === undefined) {
      const own = segments.filter((s) => s.item >= j);
      const freed = [0n];
      const cost = [0n];
      for (const s of own) {
        freed.push(freed[freed.length - 1]! + s.freed);
        cost.push(cost[cost.length - 1]! + s.cost);
      }
      // Any sale frees a multiple of the prices' gcd.
      let g = 0n;
      for (let i = j; i < m; i++) g = gcd(g, price(i));
      bound = { freed, cost, segments: own, gcd: g };
      suffixes[j] = bound;
    }
    return bound;
  };
  return {
    /** The most items j.. can free. */
    total: (j: number): bigint => {
      if (j >= m) return 0n;
      const { freed } = suffix(j);
      return freed[freed.length - 1]!;
    },
    /**
     * The LP bound of freeing `need` with items j.. (the need rounded up to the
     * prices' gcd when asked, a tighter bound) into `out`; false when they cannot.
     */
    bound(j: number, need: bigint, round: boolean, out: Ratio): boolean {
      if (need <= 0n) {
        out.num = 0n;
        out.den = 1n;
        return true;
      }
      if (j >= m) return false;
      const bound = suffix(j);
      const target = round ? ceilDiv(need, bound.gcd) * bound.gcd : need;
      if (target > bound.freed[bound.freed.length - 1]!) return false;
      let lo = 0;
      let hi = bound.segments.length;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (bound.freed[mid]! <= target) lo = mid;
        else hi = mid - 1;
      }
      const rest = target - bound.freed[lo]!;
      if (rest === 0n) {
        out.num = bound.cost[lo]!;
        out.den = 1n;
      } else {
        const next = bound.segments[lo]!;
        out.num = bound.cost[lo]! * next.freed + rest * next.cost;
        out.den = next.freed;
      }
      return true;
    },
  };
}
