// The cash-binding case when a minimum trade value cuts holes in the holdings
// a security may end with (issue 19): only the current holding k0, a trade of
// at least m shares, or closing the position. The sell-down from the
// per-security best b (rebalancing.md, step 4) is then a knapsack whose items
// have a non-convex cost over the shares sold; this module solves it exactly
// by depth-first branch and bound, in exact integer arithmetic, on the same
// objective as knapsack.ts:
//
//   Z = M·drift + trade,  M larger than any difference in trade value,
//
// and among equal Z the smallest quantities in id order (more sold first).
//
// The bound is the LP relaxation of a convex minorant of each item's cost
// c(d) = Z(b − d) − Z(b) of selling d shares: the lower convex hull of c at
// the allowed counts (c >= 0 there, b being the best allowed holding).
// Within one allowed interval of counts the child bound is convex in the
// count, so the search dives at its minimum (binary search) and walks
// outwards until the bound passes the incumbent.
import { abs, ceilDiv, floorDiv, pow10 } from './bigint-math.js';
import { type Deadline, SolverTimeout } from './knapsack.js';
import { cheapestFirst, compareRatios, Incumbent, lowestBound, lpBounds, type Ratio, type Segment } from './lp-bound.js';
import type { ScaledProblem } from './scaled.js';
import type { Allowed, Sale } from './solve.js';

interface Item {
  readonly index: number;
  /** Cash freed by one share, in drift units. */
  readonly price: bigint;
  /** Allowed counts of shares sold, disjoint intervals ascending. */
  readonly counts: readonly (readonly [number, number])[];
  /** The most shares that may be sold. */
  readonly most: number;
  /** Z(b − d) − Z(b). */
  readonly cost: (d: number) => bigint;
}

const CHECK_EVERY = 256;

/** The exact sell-down: the items (securities with shares to sell) and the shares sold of each. */
export function solveWithHoles(
  problem: ScaledProblem,
  best: Float64Array,
  low: Float64Array,
  need: bigint,
  allowed: readonly (Allowed | null)[],
  deadline: Deadline,
): Sale {
  const { n, MV, W, P, FV, K0, sm, sw, sp } = problem;
  const toDrift = pow10(sm + sw - sp);

  // M: above any difference in trade value (at most Σ most·P).
  let span = 0n;
  for (let i = 0; i < n; i++) span += BigInt(best[i]! - low[i]!) * P[i]!;
  const M = 2n * span + 1n;

  const items: Item[] = [];
  for (let i = 0; i < n; i++) {
    const b = best[i]!;
    const most = b - low[i]!;
    if (most < 1) continue;
    const pieces: Allowed = allowed[i] ?? [[low[i]!, b]];
    const counts: [number, number][] = [];
    for (const [from, to] of pieces) {
      if (from > b) continue;
      counts.push([b - Math.min(to, b), b - from]);
    }
    counts.sort((x, y) => x[0] - y[0]);
    const price = P[i]! * toDrift;
    const target = MV * W[i]! - FV[i]!;
    const k0 = K0[i]!;
    const z = (k: bigint) => M * abs(target - k * price) + abs(k - k0) * P[i]!;
    const zb = z(BigInt(b));
    items.push({ index: i, price, counts, most, cost: (d: number) => z(BigInt(b - d)) - zb });
  }
  const m = items.length;

  // Each item's bound: the lower convex hull of its cost at the allowed counts.
  // On one allowed interval the cost is linear between its ends and the counts
  // next to its kinks (the target, the current holding), so the hull of those
  // points lies below every allowed count; it starts at (0, 0) and every
  // allowed cost is >= 0, so it never decreases.
  const segments: Segment[] = [];
  items.forEach((it, j) => {
    const b = best[it.index]!;
    const target = MV * W[it.index]! - FV[it.index]!;
    const kink = Number(floorDiv(target, it.price)); // drift kink between k = kink and kink + 1
    const k0 = Number(K0[it.index]!);
    const points: number[] = [];
    for (const [from, to] of it.counts) {
      points.push(from, to);
      for (const d of [b - kink - 1, b - kink, b - kink + 1, b - k0 - 1, b - k0, b - k0 + 1]) if (d > from && d < to) points.push(d);
    }
    const xs = [...new Set(points)].sort((x, y) => x - y);
    const hull: { d: number; c: bigint }[] = [];
    for (const d of xs) {
      const c = it.cost(d);
      // Pop while the last point is not below the chord from the one before it to (d, c).
      while (hull.length >= 2) {
        const p1 = hull[hull.length - 2]!;
        const p2 = hull[hull.length - 1]!;
        if ((p2.c - p1.c) * BigInt(d - p1.d) >= (c - p1.c) * BigInt(p2.d - p1.d)) hull.pop();
        else break;
      }
      hull.push({ d, c });
    }
    for (let s = 1; s < hull.length; s++) {
      const from = hull[s - 1]!;
      const to = hull[s]!;
      segments.push({ item: j, freed: BigInt(to.d - from.d) * it.price, cost: to.c - from.c });
    }
  });
  // Cheapest first; an item's own segments keep their order (the hull's slopes rise).
  const lp = lpBounds(cheapestFirst(segments), m, (i) => items[i]!.price);
  const capacity: bigint[] = new Array<bigint>(m + 1).fill(0n);
  for (let j = m - 1; j >= 0; j--) capacity[j] = capacity[j + 1]! + BigInt(items[j]!.most) * items[j]!.price;

  const incumbent = new Incumbent(m, (i) => items[i]!.most);
  const { k } = incumbent;
  let nodes = 0;

  /**
   * The child bound of selling d of item j: prefix + c(d) + the LP bound of freeing the rest with items j + 1..,
   * as num / den; null if they cannot cover it.
   */
  const childBound = (j: number, left: bigint, prefix: bigint, d: number, round = false): Ratio | null => {
    const rest = left - BigInt(d) * items[j]!.price;
    const out: Ratio = { num: 0n, den: 1n };
    if (rest > capacity[j + 1]! || !lp.bound(j + 1, rest, round, out)) return null;
    out.num = (prefix + items[j]!.cost(d)) * out.den + out.num;
    return out;
  };
  const child = (j: number, left: bigint, prefix: bigint, d: number) => {
    k[j] = d;
    const next = left - BigInt(d) * items[j]!.price;
    const z = prefix + items[j]!.cost(d);
    if (next <= 0n) incumbent.record(j + 1, z);
    else if (j + 1 < m) search(j + 1, next, z);
    k[j] = 0;
  };

  /**
   * Tries count d: false when its (convex, unrounded) bound is past the
   * incumbent, which ends the walk in this direction; the child is searched
   * only if its bound rounded to the prices' gcd (tighter) does not pass it.
   */
  const visit = (j: number, left: bigint, prefix: bigint, d: number): boolean => {
    if (++nodes % CHECK_EVERY === 1 && deadline.now() > deadline.at) throw new SolverTimeout();
    if (incumbent.versus(childBound(j, left, prefix, d)) > 0) return false;
    if (incumbent.worthIt(childBound(j, left, prefix, d, true), j, d)) child(j, left, prefix, d);
    return true;
  };

  const search = (j: number, left: bigint, prefix: bigint): void => {
    if (++nodes % CHECK_EVERY === 1 && deadline.now() > deadline.at) throw new SolverTimeout();
    const it = items[j]!;
    // Counts past the first allowed one that covers `left` alone only cost more.
    const cover = Number(ceilDiv(left, it.price));
    let top = it.most;
    for (const [from, to] of it.counts) {
      if (to >= cover) {
        top = Math.max(from, cover);
        break;
      }
    }
    const excess = left - capacity[j + 1]!;
    const fewest = excess > 0n ? Number(ceilDiv(excess, it.price)) : 0;
    const ranges: { from: number; to: number; at: number; bound: Ratio }[] = [];
    for (const [a, e] of it.counts) {
      const from = Math.max(a, fewest);
      const to = Math.min(e, top);
      if (from > to) continue;
      // The minimum of the convex child bound over [from, to].
      const at = lowestBound(from, to, (d) => childBound(j, left, prefix, d));
      const bound = childBound(j, left, prefix, at);
      if (bound !== null) ranges.push({ from, to, at, bound });
    }
    ranges.sort((x, y) => compareRatios(x.bound, y.bound) || y.at - x.at);
    for (const { from, to, at } of ranges) {
      // Larger counts first (they come earlier among equal answers), then smaller.
      for (let d = at; d <= to; d++) if (!visit(j, left, prefix, d)) break;
      for (let d = at - 1; d >= from; d--) if (!visit(j, left, prefix, d)) break;
    }
  };

  search(0, need, 0n);
  const sold = incumbent.best as number[] | null;
  if (sold === null) throw new Error('no way to free the overspend; the caller checks the cash bound first');
  return { items, sold };
}
