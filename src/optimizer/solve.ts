// The optimiser's decisions on a scaled problem (rebalancing.md, The optimiser),
// on the whole shares k of each holding u' = f + k (f the fraction of the
// current holding, 0 unless it is fractional; band and target shifted by f·p):
// 1. each security's feasible range of whole shares [L, U];
// 2. its unconstrained best b (nearest to target; ties: nearer the current
//    holding, then fewer shares);
// 3. if Σ b·p <= MV that is optimal;
// 4. otherwise sell down exactly (knapsack.ts).
//
// Steps 1–3 run in doubles behind an error filter: a decision is taken in
// floating point only when the value is further from the decision boundary
// than a proven bound on its rounding error; otherwise that security is decided
// again in exact integer arithmetic. So every decision is exact.
import { ceilDiv, floorDiv, pow10 } from './bigint-math.js';
import { leastDriftSeed } from './drift-search.js';
import { solveByFill } from './fill-dp.js';
import { driftDelta } from './pieces.js';
import {
  solveKnapsack,
  SolverTimeout,
  type Deadline,
  type KnapsackItem,
  type KnapsackOutcome,
  type KnapsackProblem,
} from './knapsack.js';
import type { ScaledProblem } from './scaled.js';

export type CoreAnswer =
  | { readonly kind: 'optimal'; readonly quantities: Float64Array; readonly cashBinding: boolean }
  /** Steps 1–3 done and the cash constraint binds: step 4 (sellDownAnswer) is next. */
  | { readonly kind: 'sell_down'; readonly best: Float64Array; readonly low: Float64Array }
  | { readonly kind: 'nothing_to_do' }
  | { readonly kind: 'overdrawn' }
  | { readonly kind: 'band'; readonly securities: readonly number[]; readonly low: Float64Array; readonly high: Float64Array }
  | { readonly kind: 'cash'; readonly low: Float64Array }
  | { readonly kind: 'timeout' };

/** Unit roundoff of binary64. */
const U = 2 ** -53;
/** Safety factor over the derived error bounds (each about 10 U). */
const FILTER = 64 * U;
/** Above this many sellable shares of one security, the fill DP is tried before branch and bound. */
const MANY_SHARES = 24;
/** Nodes of the least-drift search that seeds the exact one. */
const SEED_NODES = 20_000;
/** Whole numbers of shares are held in doubles, exactly, below this. */
const SAFE_SHARES = 2 ** 52;

interface Decision {
  low: number;
  high: number;
  best: number;
}

/** Step 1 and 2 for security i in exact integer arithmetic. */
function decideExactly(problem: ScaledProblem, i: number): Decision {
  const { MV, W, LO, HI, P, Q, F, FV, sm, sw, sp, sq } = problem;
  const den = P[i]! * pow10(sm + sw - sp);
  let low = ceilDiv(MV * (W[i]! - LO[i]!) - FV[i]!, den);
  if (low < 0n) low = 0n;
  const high = floorDiv(MV * (W[i]! + HI[i]!) - FV[i]!, den);
  const target = MV * W[i]! - FV[i]!;
  const floor = floorDiv(target, den);
  let best = floor;
  if (floor * den !== target) {
    const side = 2n * target - (2n * floor + 1n) * den;
    if (side > 0n) best = floor + 1n;
    else if (side === 0n) {
      // Exactly half way: the one nearer the current holding (its whole part: u' − u = k − floor(u)), then the smaller.
      const holding = 2n * (Q[i]! - F[i]!) - (2n * floor + 1n) * pow10(sq);
      if (holding > 0n) best = floor + 1n;
    }
  }
  if (best < low) best = low;
  if (best > high) best = high;
  return { low: Number(low), high: Number(high), best: Number(best) };
}

/**
 * The same decision in doubles for a whole holding, or false when a value is
 * too close to a boundary to trust (or the holding is fractional: those are rare).
 */
function decideFast(problem: ScaledProblem, i: number, out: Decision): boolean {
  if (problem.F[i] !== 0n) return false;
  const p = problem.p[i]!;
  const w = problem.w[i]!;
  const l = problem.lo[i]!;
  const h = problem.hi[i]!;
  const shares = problem.mv / p;
  const scale = Math.abs(shares);
  if (w === 0) {
    // Outside the model (or a zero target): the target is exactly 0 shares, so is L.
    out.low = 0;
    out.best = 0;
    if (h === 0) {
      out.high = 0;
      return true;
    }
    const xHigh = shares * h;
    const errHigh = scale * h * FILTER;
    const f = Math.floor(xHigh);
    if (xHigh - f <= errHigh || f + 1 - xHigh <= errHigh) return false;
    out.high = f;
    return true;
  }

  const xLow = shares * (w - l);
  const errLow = scale * (w + l) * FILTER;
  let low: number;
  if (xLow + errLow <= 0) low = 0;
  else {
    const c = Math.ceil(xLow);
    if (c - xLow <= errLow || xLow - (c - 1) <= errLow) return false;
    low = c < 0 ? 0 : c;
  }

  const xHigh = shares * (w + h);
  const errHigh = scale * (w + h) * FILTER;
  const f = Math.floor(xHigh);
  if (xHigh - f <= errHigh || f + 1 - xHigh <= errHigh) return false;
  const high = f;

  const t = shares * w;
  const errT = scale * w * FILTER;
  const floor = Math.floor(t);
  const frac = t - floor;
  if (frac <= errT || 1 - frac <= errT || Math.abs(frac - 0.5) <= errT) return false;
  let best = frac < 0.5 ? floor : floor + 1;
  if (best < low) best = low;
  if (best > high) best = high;
  out.low = low;
  out.high = high;
  out.best = best;
  return true;
}

export interface SolveOptions {
  readonly deadline: Deadline;
  readonly exactOnly: boolean;
}

/** Steps 1–3: cheap (linear in the securities). */
export function decide(problem: ScaledProblem, exactOnlyAsked: boolean): CoreAnswer {
  const { n, MV } = problem;
  if (MV < 0n) return { kind: 'overdrawn' };
  if (MV === 0n && problem.Q.every((q) => q === 0n)) return { kind: 'nothing_to_do' };

  let minPrice = Infinity;
  for (let i = 0; i < n; i++) minPrice = Math.min(minPrice, problem.p[i]!);
  // Past this the share counts themselves do not fit a double exactly.
  const exactOnly = exactOnlyAsked || problem.mv / minPrice >= SAFE_SHARES / 2;

  const low = new Float64Array(n);
  const high = new Float64Array(n);
  const best = new Float64Array(n);
  const decision: Decision = { low: 0, high: 0, best: 0 };
  const empty: number[] = [];
  for (let i = 0; i < n; i++) {
    const d = !exactOnly && decideFast(problem, i, decision) ? decision : decideExactly(problem, i);
    low[i] = d.low;
    high[i] = d.high;
    best[i] = d.best;
    if (d.low > d.high) empty.push(i);
  }
  if (empty.length > 0) return { kind: 'band', securities: empty, low, high };

  if (!spendsMoreThanMarketValue(problem, best, exactOnly)) {
    return { kind: 'optimal', quantities: best, cashBinding: false };
  }
  if (spendsMoreThanMarketValue(problem, low, true)) return { kind: 'cash', low };
  return { kind: 'sell_down', best, low };
}

export function solveScaled(problem: ScaledProblem, options: SolveOptions): CoreAnswer {
  const first = decide(problem, options.exactOnly);
  return first.kind === 'sell_down' ? sellDownAnswer(problem, first.best, first.low, options.deadline) : first;
}

/** Step 4: the exact sell-down when the cash constraint binds. */
export function sellDownAnswer(problem: ScaledProblem, best: Float64Array, low: Float64Array, deadline: Deadline): CoreAnswer {
  const { n, MV, sm, sw, sp, P, W, FV } = problem;
  const toDrift = pow10(sm + sw - sp);
  // The fractions are held whatever the sale: they spend their value from the start.
  let spend = FV.reduce((sum, v) => sum + v, 0n);
  const items: KnapsackItem[] = [];
  for (let i = 0; i < n; i++) {
    const price = P[i]! * toDrift;
    const b = BigInt(best[i]!);
    spend += b * price;
    const sellable = best[i]! - low[i]!;
    if (sellable >= 1) {
      const over = b * price - (MV * W[i]! - FV[i]!);
      items.push({
        index: i,
        price,
        overshoot: over > 0n ? over : 0n,
        maxShares: sellable,
        b,
        // Trades are measured on the whole part: u' − u = k − floor(u).
        Q: problem.Q[i]! - problem.F[i]!,
        P: P[i]!,
      });
    }
  }
  const need = spend - MV * pow10(sw);
  let sold: number[];
  const knapsack = { items, need, sq: problem.sq };
  const tick = () => {
    if (deadline.now() > deadline.at) throw new SolverTimeout();
  };
  try {
    sold = sellDown(knapsack, deadline, tick);
  } catch (error) {
    if (error instanceof SolverTimeout) return { kind: 'timeout' };
    throw error;
  }
  const quantities = Float64Array.from(best);
  items.forEach((item, j) => {
    quantities[item.index] = best[item.index]! - sold[j]!;
  });
  return { kind: 'optimal', quantities, cashBinding: true };
}

/**
 * Exact answer of the sell-down knapsack. A fast least-drift search gives a
 * good first answer; with it, the exact lexicographic branch and bound only
 * looks at answers at least as good. When cheap shares are sellable by the
 * dozen (the tie-break on trade value becomes a subset-sum question), the fill
 * DP answers instead if its table, bounded with that first answer, is small enough.
 */
function sellDown(knapsack: KnapsackProblem, deadline: Deadline, tick: () => void): number[] {
  const seed = leastDriftSeed(knapsack, deadline, SEED_NODES);
  if (knapsack.items.some((item) => item.maxShares > MANY_SHARES)) {
    const seedDrift = seed === null ? null : seed.reduce((sum, count, i) => sum + driftDelta(knapsack.items[i]!, count), 0n);
    const filled = solveByFill(knapsack, tick, seedDrift);
    if (filled !== null) return filled;
  }
  return finish(solveKnapsack(knapsack, deadline, Infinity, seed));
}

function finish(outcome: KnapsackOutcome): number[] {
  if (!outcome.done) throw new Error('an unbounded search stopped early');
  return outcome.sold;
}

/** Σ (f_i + x_i)·p_i > MV, that is Σ x_i·p_i > MVK, decided in doubles when clear and exactly otherwise. */
function spendsMoreThanMarketValue(problem: ScaledProblem, x: Float64Array, exact: boolean): boolean {
  if (!exact) {
    let spend = 0;
    for (let i = 0; i < problem.n; i++) spend += x[i]! * problem.p[i]!;
    const err = (spend + Math.abs(problem.mvk)) * (problem.n + 8) * 4 * U;
    if (spend < problem.mvk - err) return false;
    if (spend > problem.mvk + err) return true;
  }
  let spend = 0n;
  for (let i = 0; i < problem.n; i++) spend += BigInt(x[i]!) * problem.P[i]!;
  return spend * pow10(problem.sm - problem.sp) > problem.MVK;
}
