// The optimiser's decimals at one scale per kind of figure: the digits of the
// service's exact decimals (domain/decimal.ts), rescaled, never reparsed.
import { type Dec, digitsAt, formatDecimal, pow10 } from '../domain/decimal.js';
import type { OptimizerInput } from './types.js';

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
   * band and the target of k are shifted; MVK = MV − Σ f_i·p_i at scale sm, the
   * money the whole shares may take.
   */
  readonly F: readonly bigint[];
  readonly FV: readonly bigint[];
  readonly MVK: bigint;
}

export class InvalidOptimizerInput extends Error {
  override name = 'InvalidOptimizerInput';
}

export function prepare(input: OptimizerInput): ScaledProblem {
  const securities = [...input.securities].sort((a, b) => (a.securityId < b.securityId ? -1 : a.securityId > b.securityId ? 1 : 0));
  const n = securities.length;
  let sp = 0;
  let sq = 0;
  let sw = 0;
  for (let i = 0; i < n; i++) {
    const s = securities[i]!;
    if (i > 0 && securities[i - 1]!.securityId === s.securityId) throw new InvalidOptimizerInput(`security ${s.securityId} appears twice`);
    if (s.price.digits <= 0n) throw new InvalidOptimizerInput(`security ${s.securityId} has price ${formatDecimal(s.price)}, not > 0`);
    if (s.target.digits < 0n || s.lowDrift.digits < 0n || s.highDrift.digits < 0n) {
      throw new InvalidOptimizerInput(`security ${s.securityId} has a negative target or drift`);
    }
    sp = Math.max(sp, s.price.scale);
    sq = Math.max(sq, s.quantity.scale);
    sw = Math.max(sw, s.target.scale, s.lowDrift.scale, s.highDrift.scale);
  }
  const sm = Math.max(input.cash.scale, sq + sp);
  const ids: string[] = new Array<string>(n);
  const P: bigint[] = new Array<bigint>(n);
  const Q: bigint[] = new Array<bigint>(n);
  const W: bigint[] = new Array<bigint>(n);
  const LO: bigint[] = new Array<bigint>(n);
  const HI: bigint[] = new Array<bigint>(n);
  const F: bigint[] = new Array<bigint>(n);
  const FV: bigint[] = new Array<bigint>(n);
  let MV = digitsAt(input.cash, sm);
  const held = pow10(sm - sq - sp);
  const S = pow10(sq);
  const toDrift = pow10(sm + sw - sq - sp);
  let fractionSpend = 0n;
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
      fractionSpend += F[i]! * P[i]! * held;
    }
  }
  return {
    n,
    ids,
    prices: securities.map((s) => s.price),
    quantities: securities.map((s) => s.quantity),
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
    MVK: MV - fractionSpend,
  };
}
