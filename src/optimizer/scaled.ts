// The optimiser's decimals at one scale per kind of figure: the digits of the
// service's exact decimals (domain/decimal.ts), rescaled, never reparsed.
import { type Dec, digitsAt, formatDecimal, pow10 } from '../domain/decimal.js';
import { sortedById } from '../domain/ids.js';
import { ceilDiv } from './bigint-math.js';
import type { OptimizerInput, Restriction } from './types.js';

/**
 * A problem in integer form. Each kind of figure has one scale for all
 * securities: price p_i = P[i] / 10^sp, quantity u_i = Q[i] / 10^sq, weights
 * w_i, l_i, h_i = W[i], LO[i], HI[i] / 10^sw, MV = MV / 10^sm.
 */
export interface ScaledProblem {
  readonly n: number;
  /** Sorted ascending, so every answer is in security-id order. */
  readonly ids: readonly string[];
  readonly prices: readonly Dec[];
  readonly quantities: readonly Dec[];
  readonly sp: number;
  readonly sq: number;
  readonly sw: number;
  readonly sm: number;
  readonly P: readonly bigint[];
  readonly Q: readonly bigint[];
  readonly W: readonly bigint[];
  readonly LO: readonly bigint[];
  readonly HI: readonly bigint[];
  readonly MV: bigint;
  /**
   * Whole-share trades keep a fractional holding's fraction (rebalancing.md):
   * u' = f + k with f = u − floor(u) in [0, 1) and k >= 0 whole. F[i] = f_i at
   * scale sq; FV[i] = f_i·p_i at scale sm + sw (the drift scale), by which the
   * band and the target of k are shifted.
   */
  readonly F: readonly bigint[];
  readonly FV: readonly bigint[];
  /**
   * Issue 19 (all neutral when the input has none of them). MV above already
   * includes the cash flow FLOW (scale sm). CAP = MV·(1 − minCash) at scale
   * sm + sw, the most the holdings may be worth; CAPK = CAP − Σ FV, what the
   * whole shares may take. MC = minCash at
   * scale sw. K0[i] = floor(u_i), the whole part of the current holding.
   * R[i] = the restriction (null: none). HOLE[i] = m_i = ceil(minTradeValue / p_i),
   * the fewest shares a trade may have (0: no minimum).
   */
  readonly FLOW: bigint;
  readonly MC: bigint;
  readonly CAP: bigint;
  readonly CAPK: bigint;
  readonly K0: readonly bigint[];
  readonly R: readonly (Restriction | null)[];
  readonly HOLE: readonly number[];
  readonly minTradeValue: Dec | null;
  readonly cashFlow: Dec | null;
  readonly minCash: Dec | null;
  /** Any restriction or minimum trade: the per-security decisions take the slower general path. */
  readonly constrained: boolean;
}

export class InvalidOptimizerInput extends Error {
  override name = 'InvalidOptimizerInput';
}

/**
 * The securities in id order, checked, and the scale of each kind of figure. Apart from prepare: one large
 * function costs the optimising compiler more than two halves (paid on a fresh process's first rebalance).
 */
function scan(input: OptimizerInput) {
  // A rebalance's input comes sorted by id already (only other callers pay for the copy and the sort).
  const securities = sortedById(input.securities);
  const n = securities.length;
  let sp = 0;
  let sq = 0;
  let sw = 0;
  for (let i = 0; i < n; i++) {
    const s = securities[i]!;
    // Ids that came strictly ascending hold none twice: only a sorted copy is looked through.
    if (i > 0 && securities !== input.securities && securities[i - 1]!.securityId === s.securityId)
      throw new InvalidOptimizerInput(`security ${s.securityId} appears twice`);
    if (s.price.digits <= 0n) throw new InvalidOptimizerInput(`security ${s.securityId} has price ${formatDecimal(s.price)}, not > 0`);
    if (s.target.digits < 0n || s.lowDrift.digits < 0n || s.highDrift.digits < 0n) {
      throw new InvalidOptimizerInput(`security ${s.securityId} has a negative target or drift`);
    }
    sp = Math.max(sp, s.price.scale);
    sq = Math.max(sq, s.quantity.scale);
    sw = Math.max(sw, s.target.scale, s.lowDrift.scale, s.highDrift.scale);
  }
  return { securities, n, sp, sq, sw };
}

export function prepare(input: OptimizerInput): ScaledProblem {
  const { securities, n, sp, sq, sw: weightScale } = scan(input);
  const flow = input.cashFlow ?? null;
  const minCash = input.minCash !== undefined && input.minCash.digits !== 0n ? input.minCash : null;
  const minTrade = input.minTradeValue !== undefined && input.minTradeValue.digits !== 0n ? input.minTradeValue : null;
  if (minCash !== null && (minCash.digits < 0n || minCash.digits > pow10(minCash.scale))) {
    throw new InvalidOptimizerInput(`minimum cash ${formatDecimal(minCash)} is not a weight between 0 and 1`);
  }
  if (minTrade !== null && minTrade.digits < 0n)
    throw new InvalidOptimizerInput(`minimum trade value ${formatDecimal(minTrade)} is negative`);
  const sw = minCash === null ? weightScale : Math.max(weightScale, minCash.scale);
  const sm = Math.max(input.cash.scale, flow?.scale ?? 0, sq + sp);
  const ids: string[] = new Array<string>(n);
  const P: bigint[] = new Array<bigint>(n);
  const Q: bigint[] = new Array<bigint>(n);
  const W: bigint[] = new Array<bigint>(n);
  const LO: bigint[] = new Array<bigint>(n);
  const HI: bigint[] = new Array<bigint>(n);
  const F: bigint[] = new Array<bigint>(n);
  const FV: bigint[] = new Array<bigint>(n);
  const FLOW = flow === null ? 0n : digitsAt(flow, sm);
  let MV = digitsAt(input.cash, sm) + FLOW;
  const K0: bigint[] = new Array<bigint>(n);
  const R: (Restriction | null)[] = new Array<Restriction | null>(n);
  const HOLE: number[] = new Array<number>(n);
  const prices: Dec[] = new Array<Dec>(n);
  const quantities: Dec[] = new Array<Dec>(n);
  let constrained = false;
  const st = minTrade === null ? 0 : Math.max(minTrade.scale, sp);
  const minTradeDigits = minTrade === null ? 0n : digitsAt(minTrade, st);
  const priceToTrade = pow10(st - sp);
  const held = pow10(sm - sq - sp);
  const S = pow10(sq);
  const toDrift = pow10(sm + sw - sq - sp);
  let fractionValue = 0n;
  for (let i = 0; i < n; i++) {
    const s = securities[i]!;
    ids[i] = s.securityId;
    P[i] = digitsAt(s.price, sp);
    Q[i] = digitsAt(s.quantity, sq);
    W[i] = digitsAt(s.target, sw);
    LO[i] = digitsAt(s.lowDrift, sw);
    HI[i] = digitsAt(s.highDrift, sw);
    MV += Q[i]! * P[i]! * held;
    // A canonical quantity carries no trailing zeros: it is fractional exactly when it has a scale.
    if (s.quantity.scale === 0) {
      F[i] = 0n;
      FV[i] = 0n;
    } else {
      F[i] = ((Q[i]! % S) + S) % S;
      FV[i] = F[i]! * P[i]! * toDrift;
      fractionValue += FV[i]!;
    }
    K0[i] = (Q[i]! - F[i]!) / S;
    prices[i] = s.price;
    quantities[i] = s.quantity;
    R[i] = s.restriction ?? null;
    if (R[i] !== null) constrained = true;
    // |k − k0|·p >= T  <=>  |k − k0| >= ceil(T / p).
    HOLE[i] = minTrade === null ? 0 : Number(ceilDiv(minTradeDigits, P[i]! * priceToTrade));
    if (HOLE[i]! > 1) constrained = true;
  }
  const MC = minCash === null ? 0n : digitsAt(minCash, sw);
  const CAP = MV * (pow10(sw) - MC);
  return {
    n,
    ids,
    prices,
    quantities,
    sp,
    sq,
    sw,
    sm,
    P,
    Q,
    W,
    LO,
    HI,
    MV,
    F,
    FV,
    FLOW,
    MC,
    CAP,
    CAPK: CAP - fractionValue,
    K0,
    R,
    HOLE,
    minTradeValue: minTrade,
    cashFlow: flow,
    minCash,
    constrained,
  };
}
