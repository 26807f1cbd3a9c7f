// What both exact sell-down searches (knapsack.ts, holes.ts) share: the bound
// they prune with, the LP relaxation of freeing cash from items j.. of the
// search (each item's shares split into segments of constant cost per unit of
// cash freed, taken cheapest first, fractionally), and the incumbent with the
// last tie-break.
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

/** -1, 0 or 1 as a is below, equal to or above b. */
export function compareRatios(a: Ratio, b: Ratio): number {
  const lhs = a.num * b.den;
  const rhs = b.num * a.den;
  return lhs < rhs ? -1 : lhs > rhs ? 1 : 0;
}

/**
 * The least count in [from, to] where a child bound convex in the count is
 * lowest (binary search; a bound of null, no solution, is above any other).
 */
export function lowestBound(from: number, to: number, bound: (count: number) => Ratio | null): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const next = bound(mid + 1);
    const here = bound(mid);
    if (next !== null && (here === null || compareRatios(next, here) < 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
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

/**
 * The best answer found so far of a depth-first search over items in id order
 * (shares sold per item), and the search's current vector `k`. Among answers of
 * equal objective the one that sells more earlier comes first (the smallest
 * quantities in id order).
 */
export class Incumbent {
  /** The search's current shares sold per item (k[j..] are 0 below the node being searched). */
  readonly k: number[];
  best: number[] | null = null;
  z = 0n;

  constructor(
    private readonly m: number,
    /** The most shares item i may sell. */
    private readonly most: (i: number) => number,
  ) {
    this.k = new Array<number>(m).fill(0);
  }

  /** Where k[0..j) stands against the incumbent in the last tie-break: -1 earlier, 0 same, 1 later. */
  prefixOrder(j: number): number {
    const { k, best } = this;
    for (let i = 0; i < j; i++) if (k[i] !== best![i]) return k[i]! > best![i]! ? -1 : 1;
    return 0;
  }

  /** Where a child's bound stands against the incumbent: -1 below, 0 equal, 1 above (or null: the child has no solution). */
  versus(bound: Ratio | null): number {
    if (bound === null) return 1;
    if (this.best === null) return -1;
    const rhs = this.z * bound.den;
    return bound.num < rhs ? -1 : bound.num > rhs ? 1 : 0;
  }

  /** Is the child "sell `count` of item j" of this bound worth searching: below the incumbent, or equal and able to come earlier? */
  worthIt(bound: Ratio | null, j: number, count: number): boolean {
    const order = this.versus(bound);
    if (order !== 0) return order < 0;
    // A bound equal to the incumbent's: could selling `count` of item j still tie it and come earlier?
    const before = this.prefixOrder(j);
    if (before !== 0) return before < 0;
    const best = this.best!;
    if (count !== best[j]) return count > best[j]!;
    for (let i = j + 1; i < this.m; i++) if (best[i]! < this.most(i)) return true;
    return false;
  }

  /** k[0..j), the rest selling nothing, is an answer of objective z: kept if better, or equal and earlier. */
  record(j: number, z: bigint): void {
    const { k } = this;
    for (let r = j; r < this.m; r++) k[r] = 0;
    if (this.best === null || z < this.z || (z === this.z && this.prefixOrder(this.m) < 0)) {
      this.best = [...k];
      this.z = z;
    }
  }
}
