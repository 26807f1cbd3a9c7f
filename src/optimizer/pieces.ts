// A security's shares to sell, grouped into pieces of equal cost per share:
// the first share (with its drift discount), then runs over which the change
// in trade value per share stays the same. Costs per share never decrease
// from one piece to the next (the trade value is convex in the shares sold),
// which both exact methods for the cash-binding case rely on.
import { abs } from './bigint-math.js';
import type { KnapsackItem } from './knapsack.js';

export interface Piece<N extends bigint | number = bigint> {
  /** Shares in the piece. */
  readonly count: number;
  /** Drift and trade-value change of each of its shares. */
  readonly drift: N;
  readonly trade: N;
}

/** Change in trade value from selling k shares: (|(b − k)·S − Q| − |b·S − Q|)·P, S = 10^sq. */
export function tradeDelta(item: KnapsackItem, scale: bigint, k: number): bigint {
  if (item.secondary !== undefined) return item.secondary(k);
  const offset = item.b * scale - item.Q;
  return (abs(offset - BigInt(k) * scale) - abs(offset)) * item.P;
}

/** Drift change from selling k shares: k·p − 2·o for k >= 1. */
export function driftDelta(item: KnapsackItem, k: number): bigint {
  return k === 0 ? 0n : BigInt(k) * item.price - 2n * item.overshoot;
}

export function piecesOf(item: KnapsackItem, scale: bigint): Piece[] {
  const pieces: Piece[] = [{ count: 1, drift: driftDelta(item, 1), trade: tradeDelta(item, scale, 1) }];
  let share = 2;
  while (share <= item.maxShares) {
    const before = tradeDelta(item, scale, share - 1);
    const marginal = tradeDelta(item, scale, share) - before;
    // The last share of this run: the trade change stays linear up to it.
    let lo = share;
    let hi = item.maxShares;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (tradeDelta(item, scale, mid) - before === marginal * BigInt(mid - share + 1)) lo = mid;
      else hi = mid - 1;
    }
    pieces.push({ count: lo - share + 1, drift: item.price, trade: marginal });
    share = lo + 1;
  }
  return pieces;
}
