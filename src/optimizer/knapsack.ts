// The cash-binding case, solved exactly: which shares to sell down from the
// unconstrained optimum so that the overspend is freed at least cost.
//
// Selling k >= 1 shares of security i frees k·p_i of cash and costs
// k·p_i − 2·o_i of drift, where o_i >= 0 is how far its rounded-up position
// overshoots the target (0 when it was rounded down). That is a covering
// knapsack with a discount on each item's first share (NP-hard, so greedy is
// not exact). It is solved by depth-first branch and bound, in exact integer
// arithmetic, on one objective that orders answers as rebalancing.md does:
//
//   Z = M·drift + trade,  M larger than any difference in trade value,
//
// so Z orders by drift, then by trade value. The search visits securities in
// id order and, for each, larger sales first, so answers come in increasing
// order of their quantities; keeping only strictly better Z makes the first
// optimum found the one with the smallest quantities in id order (the last
// tie-break), at no extra cost.
//
// The bound is the LP relaxation: each security's shares split into segments
// of constant cost per unit of cash freed (the discounted first share, then
// runs of equal trade change), taken cheapest first, fractionally. For a child
// "sell k of this security" the bound is convex in k, so the k worth trying
// form an interval found by binary search: thousands of possible counts of a
// cheap share are never enumerated.
import { ceilDiv, pow10 } from './bigint-math.js';
import { cheapestFirst, compareRatios, Incumbent, lowestBound, lpBounds, type Ratio, type Segment } from './lp-bound.js';
import { driftDelta, piecesOf, tradeDelta } from './pieces.js';

export interface KnapsackItem {
  /** Position of the security in id order. */
  readonly index: number;
  /** Cash freed by one share, in drift units. */
  readonly price: bigint;
  /** Drift discount of the first share sold (>= 0, <= price / 2). */
  readonly overshoot: bigint;
  /** Shares that may be sold (b − L >= 1). */
  readonly maxShares: number;
  /**
   * For the trade value: whole shares after step 2 (b), the current holding's
   * whole part Q / 10^sq (its fraction is kept, so trades are b − k − Q / 10^sq), price P.
   */
  readonly b: bigint;
  readonly Q: bigint;
  readonly P: bigint;
  /**
   * The second objective's change from selling k shares, when it is not the
   * trade value above (the band objective, band.ts: the drift change). Convex
   * in k, and |secondary(k)| <= maxShares·S·P so that M still dominates it.
   */
  readonly secondary?: (k: number) => bigint;
}

export interface KnapsackProblem {
  /** In index order (id order), as step 4 builds them. */
  readonly items: readonly KnapsackItem[];
  /** Overspend to free, in drift units; > 0. */
  readonly need: bigint;
  /** Scale of Q. */
  readonly sq: number;
}

/** Most drift discount per unit of cash first (as given among equals). */
export const byDiscountPerCash = (a: KnapsackItem, b: KnapsackItem) => {
  const lhs = a.overshoot * b.price;
  const rhs = b.overshoot * a.price;
  return lhs === rhs ? 0 : lhs > rhs ? -1 : 1;
};

export class SolverTimeout extends Error {
  override name = 'SolverTimeout';
}

export interface Deadline {
  readonly now: () => number;
  readonly at: number;
}

const CHECK_EVERY = 1024;
/** Up to this many counts of a security are bounded one by one and tried best first. */
const FEW_COUNTS = 16;

/**
 * Searches until done or the deadline (SolverTimeout). Returns, per item (in
 * the order given), how many shares to sell.
 */
export function solveKnapsack(
  problem: KnapsackProblem,
  deadline: Deadline,
  /** A known feasible answer (shares per item, in the order given) to start from. */
  seed: readonly number[] | null = null,
): number[] {
  const { items } = problem;
  const m = items.length;
  const S = pow10(problem.sq);

  let span = 0n;
  for (let i = 0; i < m; i++) span += BigInt(items[i]!.maxShares) * S * items[i]!.P;
  const M = 2n * span + 1n;

  /** Z-cost of selling k shares of item i. */
  const costOf = (i: number, k: number): bigint => M * driftDelta(items[i]!, k) + tradeDelta(items[i]!, S, k);

  const segments: Segment[] = [];
  for (let i = 0; i < m; i++) {
    for (const piece of piecesOf(items[i]!, S)) {
      const count = BigInt(piece.count);
      segments.push({ item: i, freed: count * items[i]!.price, cost: count * (M * piece.drift + piece.trade) });
    }
  }
  // The bound takes segments only as far as cash is needed, which is right only
  // if none has a negative cost. It holds: a first share with no drift cost
  // (o = p/2) was rounded up because the holding is nearer, so selling it adds trade.
  if (segments.some((s) => s.cost < 0n)) throw new Error('a share whose sale lowers the objective; step 2 should have sold it');
  const lp = lpBounds(cheapestFirst(segments), m, (i) => items[i]!.price);
  const lpBound = lp.bound;

  const incumbent = new Incumbent(m, (i) => items[i]!.maxShares);
  const { k } = incumbent;
  let nodes = 0;
  const scratch: Ratio = { num: 0n, den: 1n };

  /**
   * The child bound of selling `count` of item j (gcd-rounded when asked):
   * prefix + its cost + the LP bound of the rest, as num / den in `out`; null when the rest cannot cover.
   */
  const childBound = (j: number, need: bigint, prefix: bigint, count: number, round: boolean, out: Ratio = scratch): Ratio | null => {
    if (!lpBound(j + 1, need - BigInt(count) * items[j]!.price, round, out)) return null;
    out.num = (prefix + costOf(j, count)) * out.den + out.num;
    return out;
  };

  /** Is the child "sell `count` of item j" worth searching? Same bound as the incumbent: only if it could tie it and come earlier. */
  const promising = (j: number, need: bigint, prefix: bigint, count: number): boolean =>
    incumbent.worthIt(childBound(j, need, prefix, count, true), j, count);

  const child = (j: number, need: bigint, prefix: bigint, count: number) => {
    k[j] = count;
    const nextNeed = need - BigInt(count) * items[j]!.price;
    const z = prefix + costOf(j, count);
    if (nextNeed <= 0n) incumbent.record(j + 1, z);
    else if (j + 1 < m) search(j + 1, nextNeed, z);
    k[j] = 0;
  };

  /** Few counts to choose from: bound each once, then try them best bound first. */
  const searchFew = (j: number, need: bigint, prefix: bigint, from: number, to: number) => {
    const candidates: { count: number; bound: Ratio }[] = [];
    for (let count = to; count >= from; count--) {
      if (count === 0 && j + 1 >= m) continue;
      const bound = childBound(j, need, prefix, count, true, { num: 0n, den: 1n });
      if (bound !== null) candidates.push({ count, bound });
    }
    // Stable sort: equal bounds keep larger counts (earlier in id order) first.
    candidates.sort((a, b) => compareRatios(a.bound, b.bound));
    for (const { count, bound } of candidates) if (incumbent.worthIt(bound, j, count)) child(j, need, prefix, count);
  };

  const search = (j: number, need: bigint, prefix: bigint): void => {
    if ((++nodes & (CHECK_EVERY - 1)) === 1 && deadline.now() > deadline.at) throw new SolverTimeout();
    const it = items[j]!;
    const cover = ceilDiv(need, it.price);
    const most = cover < BigInt(it.maxShares) ? Number(cover) : it.maxShares;
    // The child bound is convex in the count (1..most). Dive first where it is
    // lowest, then try the other counts largest first: above the minimum the
    // bound only grows, so counts that cannot match the incumbent are skipped
    // by binary search; below it the bound only grows as the count falls, so
    // the first count past the incumbent ends the loop.
    // Counts below `fewest` leave more to free than the later securities can.
    const excess = need - lp.total(j + 1);
    const fewest = excess > 0n ? Number(ceilDiv(excess, it.price)) : 0;
    if (fewest > most) return;
    if (most - fewest < FEW_COUNTS) {
      searchFew(j, need, prefix, Math.max(0, fewest), most);
      return;
    }
    let argmin = Math.max(1, fewest);
    if (most >= 1) {
      argmin = lowestBound(Math.max(1, fewest), most, (count) => childBound(j, need, prefix, count, false, { num: 0n, den: 1n }));
      if (promising(j, need, prefix, argmin)) child(j, need, prefix, argmin);
    }
    for (let count = most; count >= Math.max(1, fewest); count--) {
      if (count === argmin) continue;
      if (incumbent.best !== null && incumbent.versus(childBound(j, need, prefix, count, false)) > 0) {
        if (count < argmin) break;
        // Largest count in (argmin, count) whose bound does not exceed the incumbent.
        let lo = argmin + 1;
        let hi = count - 1;
        if (lo > hi || incumbent.versus(childBound(j, need, prefix, lo, false)) > 0) {
          count = argmin;
          continue;
        }
        while (lo < hi) {
          const mid = Math.ceil((lo + hi) / 2);
          if (incumbent.versus(childBound(j, need, prefix, mid, false)) <= 0) lo = mid;
          else hi = mid - 1;
        }
        count = lo;
      }
      if (promising(j, need, prefix, count)) child(j, need, prefix, count);
    }
    // Count 0: leave this security where step 2 put it.
    if (fewest <= 0 && j + 1 < m && promising(j, need, prefix, 0)) child(j, need, prefix, 0);
  };

  if (seed !== null) {
    incumbent.best = [...seed];
    incumbent.z = seed.reduce((z, count, i) => z + costOf(i, count), 0n);
  }
  search(0, problem.need, 0n);
  const chosen = incumbent.best as number[] | null;
  if (chosen === null) throw new Error('no way to free the overspend; the caller checks the cash bound first');
  return chosen;
}
