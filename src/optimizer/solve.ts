// The optimiser's decisions on a scaled problem (rebalancing.md, The optimiser),
// on the whole shares k of each holding u' = f + k (f the fraction of the
// current holding, 0 unless it is fractional; band and target shifted by f·p):
// 1. each security's feasible range of whole shares [L, U];
// 2. its unconstrained best b (nearest to target; ties: nearer the current
//    holding, then fewer shares);
// 3. if Σ b·p <= MV that is optimal;
// 4. otherwise sell down exactly (knapsack.ts).
//
// Every decision is taken in exact integer arithmetic.
import { MAX_SAFE } from '../domain/decimal.js';
import { bandItem } from './band.js';
import { abs, ceilDiv, floorDiv, pow10 } from './bigint-math.js';
import { leastDriftSeed } from './drift-search.js';
import { solveByFill } from './fill-dp.js';
import { solveWithHoles } from './holes.js';
import { type Deadline, type KnapsackItem, type KnapsackProblem, SolverTimeout, solveKnapsack } from './knapsack.js';
import { driftDelta } from './pieces.js';
import type { ScaledProblem } from './scaled.js';

/** Allowed whole shares of one security: disjoint intervals [from, to], ascending. */
export type Allowed = readonly (readonly [number, number])[];

/** Step 4's answer: shares sold of each item (a security with shares to sell, by its index), from the best holdings. */
export type Sale = { readonly items: readonly { readonly index: number }[]; readonly sold: readonly number[] };

export type CoreAnswer =
  | { readonly kind: 'optimal'; readonly quantities: Float64Array }
  /** Steps 1–3 done and the cash constraint binds: step 4 (solveScaled) is next. */
  | {
      readonly kind: 'sell_down';
      readonly best: Float64Array;
      readonly low: Float64Array;
      /** What `best` overspends (overspend), > 0: the cash step 4 frees. */
      readonly need: bigint;
      /** Per security its allowed holdings when a minimum trade value cuts holes in them (issue 19), else absent. */
      readonly allowed?: readonly (Allowed | null)[];
    }
  | { readonly kind: 'nothing_to_do' }
  | { readonly kind: 'overdrawn' }
  | { readonly kind: 'withdrawal' }
  | { readonly kind: 'band' | 'min_trade'; readonly securities: readonly number[]; readonly low: Float64Array; readonly high: Float64Array }
  | { readonly kind: 'cash'; readonly low: Float64Array }
  | { readonly kind: 'too_large'; readonly security: number; readonly shares: bigint }
  | { readonly kind: 'timeout' };

/** Above this many sellable shares of one security, the fill DP is tried before branch and bound. */
const MANY_SHARES = 24;
/** Nodes of the least-drift search that seeds the exact one. */
const SEED_NODES = 20_000;

interface Decision {
  low: number;
  high: number;
  best: number;
  /** Set when a minimum trade value cuts the range (issue 19); empty: nothing allowed. */
  allowed?: Allowed;
}

/**
 * Issue 19: a restriction relaxes the range [low, high] to the whole shares of
 * the band that obey its rule, or when there are none to the current holding
 * k0; a minimum trade of m shares then allows only k0, 0 (closing the
 * position) and trades of at least m shares. The best holding is the nearest
 * to the target among those allowed (ties: nearer k0, then fewer shares).
 */
function constrain(problem: ScaledProblem, i: number, d: Decision): Decision {
  const rule = problem.R[i];
  const k0 = Number(problem.K0[i]!);
  let { low, high } = d;
  if (rule === 'frozen') {
    low = k0;
    high = k0;
  } else if (rule === 'no_buy') {
    high = Math.min(high, k0);
    if (low > high) low = high = k0;
  } else if (rule === 'no_sell') {
    low = Math.max(low, k0);
    if (low > high) low = high = k0;
  }
  if (low > high) return { low, high, best: d.best };
  const m = problem.HOLE[i]!;
  let allowed: [number, number][] = [[low, high]];
  if (m > 1) {
    // In ascending order: sales of m or more, closing (0) when no sale reaches it, k0, purchases of m or more.
    allowed = [];
    const sellTop = Math.min(high, k0 - m);
    const buyBottom = Math.max(low, k0 + m);
    if (low <= sellTop) allowed.push([low, sellTop]);
    if (low <= 0 && 0 <= high && 0 > sellTop && 0 < buyBottom && k0 !== 0) allowed.push([0, 0]);
    if (low <= k0 && k0 <= high) allowed.push([k0, k0]);
    if (buyBottom <= high) allowed.push([buyBottom, high]);
    if (allowed.length === 0) return { low, high, best: d.best, allowed };
    // Unrestricted, and the nearest holding of the whole band is allowed: it is the nearest allowed one.
    const b = d.best;
    if (rule === null && (b === k0 || b === 0 || Math.abs(b - k0) >= m)) {
      return { low: allowed[0]![0], high: allowed[allowed.length - 1]![1], best: b, allowed };
    }
  }
  const { MV, W, P, FV, sm, sw, sp } = problem;
  const den = P[i]! * pow10(sm + sw - sp);
  const target = MV * W[i]! - FV[i]!;
  const floor = Number(floorDiv(target, den));
  let best = Number.NaN;
  let bestDrift = 0n;
  let bestTrade = 0;
  for (const [from, to] of allowed) {
    for (const wanted of [floor, floor + 1]) {
      const k = Math.min(Math.max(wanted, from), to);
      const drift = abs(target - BigInt(k) * den);
      const trade = Math.abs(k - k0);
      if (Number.isNaN(best) || drift < bestDrift || (drift === bestDrift && (trade < bestTrade || (trade === bestTrade && k < best)))) {
        best = k;
        bestDrift = drift;
        bestTrade = trade;
      }
    }
  }
  return { low: allowed[0]![0], high: allowed[allowed.length - 1]![1], best, ...(m > 1 ? { allowed } : {}) };
}

/** A security whose holding or band counts more whole shares than a double holds exactly (MAX_SAFE; a cash flow of 1e21, say): no answer in whole shares. */
class TooManyShares extends Error {
  override name = 'TooManyShares';
  constructor(
    readonly index: number,
    readonly shares: bigint,
  ) {
    super(`security ${index} counts ${shares} whole shares`);
  }
}

/** Steps 1 and 2 for security i; TooManyShares when its holding or band is beyond whole-share counting. */
function decideExactly(problem: ScaledProblem, i: number): Decision {
  const { MV, W, LO, HI, P, Q, F, FV, K0, sm, sw, sp, sq } = problem;
  if (K0[i]! > MAX_SAFE || K0[i]! < -MAX_SAFE) throw new TooManyShares(i, K0[i]!);
  // Held outside the model (target and band 0, no fraction kept): its band is 0 shares, all sold.
  if (W[i] === 0n && LO[i] === 0n && HI[i] === 0n && FV[i] === 0n) return { low: 0, high: 0, best: 0 };
  const den = P[i]! * pow10(sm + sw - sp);
  let low = ceilDiv(MV * (W[i]! - LO[i]!) - FV[i]!, den);
  if (low < 0n) low = 0n;
  const high = floorDiv(MV * (W[i]! + HI[i]!) - FV[i]!, den);
  if (high > MAX_SAFE) throw new TooManyShares(i, high);
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
 * Steps 1–3: cheap (linear in the securities). `leastTrade`: for the band
 * objective (band.ts), whose best is the current holding clamped to the range.
 */
export function decide(problem: ScaledProblem, leastTrade = false): CoreAnswer {
  const { n, MV } = problem;
  if (MV < 0n) return problem.FLOW < 0n && MV - problem.FLOW >= 0n ? { kind: 'withdrawal' } : { kind: 'overdrawn' };
  if (MV === 0n && problem.Q.every((q) => q === 0n)) return { kind: 'nothing_to_do' };
  // A minimum trade value is refused with the band objective before it gets here (its holes make the
  // least-trade sell-down a different problem); should one arrive, it is an error.
  if (leastTrade && problem.HOLE.some((m) => m > 1)) throw new Error('a minimum trade value cannot be combined with rebalance_to "band"');

  const low = new Float64Array(n);
  const high = new Float64Array(n);
  const best = new Float64Array(n);
  const empty: number[] = [];
  const holed: number[] = [];
  let allowed: (Allowed | null)[] | undefined;
  let holes = false;
  try {
    for (let i = 0; i < n; i++) {
      let d = decideExactly(problem, i);
      if (problem.constrained && (problem.R[i] !== null || problem.HOLE[i]! > 1)) {
        d = constrain(problem, i, d);
        if (d.allowed !== undefined) {
          allowed ??= new Array<Allowed | null>(n).fill(null);
          allowed[i] = d.allowed;
          if (d.allowed.length === 0) holed.push(i);
          // More than one piece at or below the best holding: the sell-down is not convex.
          else if (d.allowed.length > 1 && d.allowed[1]![0] <= d.best) holes = true;
        }
      }
      low[i] = d.low;
      high[i] = d.high;
      // The band objective: the whole shares held now (u = f + k0), trading nothing, within the range.
      best[i] = leastTrade ? Math.min(Math.max(Number(problem.K0[i]!), d.low), d.high) : d.best;
      if (d.low > d.high) empty.push(i);
    }
  } catch (error) {
    // too_large when a security's shares cannot be counted exactly.
    if (error instanceof TooManyShares) return { kind: 'too_large', security: error.index, shares: error.shares };
    throw error;
  }
  if (empty.length > 0) return { kind: 'band', securities: empty, low, high };
  if (holed.length > 0) return { kind: 'min_trade', securities: holed, low, high };

  const need = overspend(problem, best);
  if (need <= 0n) return { kind: 'optimal', quantities: best };
  if (overspend(problem, low) > 0n) return { kind: 'cash', low };
  return holes && allowed !== undefined ? { kind: 'sell_down', best, low, need, allowed } : { kind: 'sell_down', best, low, need };
}

/** Steps 1–4, for either objective (`leastTrade`: the band objective). */
export function solveScaled(problem: ScaledProblem, deadline: Deadline, leastTrade = false): CoreAnswer {
  const first = decide(problem, leastTrade);
  if (first.kind !== 'sell_down') return first;
  try {
    const { items, sold } =
      first.allowed !== undefined
        ? solveWithHoles(problem, first.best, first.low, first.need, first.allowed, deadline)
        : sellDownFromBest(problem, first.best, first.low, first.need, deadline, leastTrade);
    const quantities = Float64Array.from(first.best);
    items.forEach((item, j) => {
      quantities[item.index] = first.best[item.index]! - sold[j]!;
    });
    return { kind: 'optimal', quantities };
  } catch (error) {
    if (error instanceof SolverTimeout) return { kind: 'timeout' };
    throw error;
  }
}

/**
 * Step 4, the exact sell-down when the cash constraint binds, from `best`, for
 * either objective: each security with shares to sell above `low` is an item
 * (for the band objective, bandItem makes it from the whole shares b, the
 * price in drift units, the shares sellable and how far b·p is over the
 * target); the cash to free is what `best` overspends. The fractions
 * are held whatever the sale: they spend their value from the start. Each item
 * sells from its security's best holding; SolverTimeout past the deadline.
 */
function sellDownFromBest(
  problem: ScaledProblem,
  best: Float64Array,
  low: Float64Array,
  need: bigint,
  deadline: Deadline,
  leastTrade: boolean,
): Sale {
  const { n, MV, sm, sw, sp, P, W, FV } = problem;
  const toDrift = pow10(sm + sw - sp);
  const items: KnapsackItem[] = [];
  for (let i = 0; i < n; i++) {
    const price = P[i]! * toDrift;
    const b = BigInt(best[i]!);
    const sellable = best[i]! - low[i]!;
    if (sellable < 1) continue;
    const over = b * price - (MV * W[i]! - FV[i]!);
    items.push(
      leastTrade
        ? bandItem(i, b, price, sellable, over)
        : {
            index: i,
            price,
            overshoot: over > 0n ? over : 0n,
            maxShares: sellable,
            b,
            // Trades are measured on the whole part: u' − u = k − floor(u).
            Q: problem.Q[i]! - problem.F[i]!,
            P: P[i]!,
          },
    );
  }
  const tick = () => {
    if (deadline.now() > deadline.at) throw new SolverTimeout();
  };
  // The items' Q: at the quantities' scale, or for the band objective at scale 0.
  return { items, sold: sellDown({ items, need, sq: leastTrade ? 0 : problem.sq }, deadline, tick) };
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
  return solveKnapsack(knapsack, deadline, seed);
}

/** Σ (f_i + x_i)·p_i − MV·(1 − minCash), that is Σ x_i·p_i − CAPK: what whole shares x spend past the cap, in drift units. */
function overspend(problem: ScaledProblem, x: Float64Array): bigint {
  let spend = 0n;
  for (let i = 0; i < problem.n; i++) spend += BigInt(x[i]!) * problem.P[i]!;
  return spend * pow10(problem.sm + problem.sw - problem.sp) - problem.CAPK;
}
