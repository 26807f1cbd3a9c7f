// The band objective (issue 18, rebalance_to "band"): among the holdings that
// put every security inside its drift band and spend no more than the market
// value, the one that trades the least value Σ|u' − u|·p; ties by least drift
// Σ|MV·w − u'·p|, then by the smallest quantities in security-id order.
//
// The same structure as the drift objective (solve.ts): per-security ranges of
// whole shares plus the one cash constraint, and the same machinery.
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
import type { Deadline } from './knapsack.js';
import type { ScaledProblem } from './scaled.js';
import { type CoreAnswer, constrain, decideExactly, sellDownFromBest, spendsMoreThanMarketValue, tooLargeOr } from './solve.js';

/**
 * Steps 1–3 of the band objective (cheap). Issue 19's constraints apply as to the
 * drift objective: the cash flow and the minimum cash through MV and CAP, a
 * restriction through the range its rule allows (constrain). A minimum trade
 * value is refused with this objective before it gets here (its holes make the
 * least-trade sell-down a different problem); should one arrive, it is an error.
 */
export function decideBand(problem: ScaledProblem): CoreAnswer {
  return tooLargeOr(() => decideAllBand(problem));
}

function decideAllBand(problem: ScaledProblem): CoreAnswer {
  const { n, MV, Q, F, sq } = problem;
  if (MV < 0n) return problem.FLOW < 0n && MV - problem.FLOW >= 0n ? { kind: 'withdrawal' } : { kind: 'overdrawn' };
  if (MV === 0n && Q.every((q) => q === 0n)) return { kind: 'nothing_to_do' };
  if (problem.HOLE.some((m) => m > 1)) throw new Error('a minimum trade value cannot be combined with rebalance_to "band"');
  const S = 10n ** BigInt(sq);
  const low = new Float64Array(n);
  const high = new Float64Array(n);
  const best = new Float64Array(n);
  const empty: number[] = [];
  for (let i = 0; i < n; i++) {
    let d = decideExactly(problem, i);
    if (problem.R[i] !== null) d = constrain(problem, i, d);
    low[i] = d.low;
    high[i] = d.high;
    if (d.low > d.high) {
      empty.push(i);
      continue;
    }
    // The whole shares held now (u = f + k0): trading nothing keeps k0.
    const held = (Q[i]! - F[i]!) / S;
    best[i] = held < BigInt(d.low) ? d.low : held > BigInt(d.high) ? d.high : Number(held);
  }
  if (empty.length > 0) return { kind: 'band', securities: empty, low, high };
  if (!spendsMoreThanMarketValue(problem, best)) return { kind: 'optimal', quantities: best };
  if (spendsMoreThanMarketValue(problem, low)) return { kind: 'cash', low };
  return { kind: 'sell_down', best, low };
}

export function solveBand(problem: ScaledProblem, deadline: Deadline): CoreAnswer {
  const first = decideBand(problem);
  return first.kind === 'sell_down' ? bandSellDown(problem, first.best, first.low, deadline) : first;
}

/** Step 4: the least trade (then least drift, then ids) that frees the overspend. */
export function bandSellDown(problem: ScaledProblem, best: Float64Array, low: Float64Array, deadline: Deadline): CoreAnswer {
  // Drift of the whole shares now: |b·p − (MV·w − f·p)| = |over|; selling k moves it to |over − k·p|.
  return sellDownFromBest(problem, best, low, deadline, 0, (i, b, price, sellable, over) => ({
    index: i,
    price,
    overshoot: 0n,
    maxShares: sellable,
    b,
    // With S = 1, Q = b and P = price the spans the solvers bound with are Σ maxShares·price >= |drift change|.
    Q: b,
    P: price,
    secondary: (k) => abs(over - BigInt(k) * price) - abs(over),
  }));
}
