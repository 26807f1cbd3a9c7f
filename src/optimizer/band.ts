// The band objective (issue 18, rebalance_to "band"): among the holdings that
// put every security inside its drift band and spend no more than the market
// value, the one that trades the least value Σ|u' − u|·p; ties by least drift
// Σ|MV·w − u'·p|, then by the smallest quantities in security-id order.
//
// The same structure as the drift objective, run by the same code (solve.ts:
// decide and solveScaled with leastTrade; only step 4's items are built here).
// 1. Each security's range [L, U] (decideExactly, as for the drift objective).
// 2. Its unconstrained best: the current holding clamped to the range; it is
//    the only holding of least trade, so drift and ids never have to decide.
// 3. If that spends no more than MV, it is optimal.
// 4. Otherwise sell down from it, exactly: buying more never helps (it costs
//    cash and trade), a security bought up to L cannot be sold, and every
//    share sold below the step-2 holding adds exactly its price to the trade.
//    That is the covering knapsack of solve.ts with no first-share discount
//    and the drift change as its second objective (`secondary`), solved by
//    the same exact search (seeded branch and bound, or the fill DP).
import { abs } from './bigint-math.js';
import type { KnapsackItem } from './knapsack.js';

/**
 * Step 4's item for security i (solve.ts, sellDownFromBest): the least trade
 * (then least drift, then ids) that frees the overspend. Issue 19's constraints
 * apply as to the drift objective: the cash flow and the minimum cash through
 * MV and CAP, a restriction through the range its rule allows (constrain).
 */
export function bandItem(i: number, b: bigint, price: bigint, sellable: number, over: bigint): KnapsackItem {
  // Drift of the whole shares now: |b·p − (MV·w − f·p)| = |over|; selling k moves it to |over − k·p|.
  return {
    index: i,
    price,
    overshoot: 0n,
    maxShares: sellable,
    b,
    // With S = 1, Q = b and P = price the spans the solvers bound with are Σ maxShares·price >= |drift change|.
    Q: b,
    P: price,
    secondary: (k) => abs(over - BigInt(k) * price) - abs(over),
  };
}
