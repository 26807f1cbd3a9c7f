// The one place where the optimiser's decimals become scaled integers (exact,
// BigInt) and doubles (fast, filtered), and where answers become decimals again.
import { fromScaled, type Dec } from '../domain/decimal.js';
import { pow10 } from './bigint-math.js';
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
  /** Doubles nearest to the decimals (each within half an ulp). */
  readonly p: Float64Array;
  readonly q: Float64Array;
  readonly w: Float64Array;
  readonly lo: Float64Array;
  readonly hi: Float64Array;
  /** Nearest double to MV (from the exact value, so within one rounding of it). */
  readonly mv: number;
  /** The same for MVK. */
  readonly mvk: number;
}

interface Fixed {
  readonly digits: bigint;
  readonly scale: number;
  /** The nearest double to the value (parsed from its decimal text, so within half an ulp). */
  readonly double: number;
}

/** Prices, targets and drifts recur across the portfolios of a model: their digits are read once. */
const sharedCache = new WeakMap<Dec, Fixed>();

function sharedFixed(value: Dec): Fixed {
  let known = sharedCache.get(value);
  if (known === undefined) {
    known = toFixed(value);
    sharedCache.set(value, known);
  }
  return known;
}

function toFixed(value: Dec): Fixed {
  const text = value.toFixed();
  const negative = text.startsWith('-');
  const unsigned = negative ? text.slice(1) : text;
  const point = unsigned.indexOf('.');
  const whole = point === -1 ? unsigned : unsigned.slice(0, point);
  const fraction = point === -1 ? '' : unsigned.slice(point + 1).replace(/0+$/, '');
  const digits = BigInt(whole + fraction);
  return { digits: negative ? -digits : digits, scale: fraction.length, double: Number(text) };
}

const rescale = (f: Fixed, scale: number) => f.digits * pow10(scale - f.scale);

export class InvalidOptimizerInput extends Error {
  override name = 'InvalidOptimizerInput';
}

export function prepare(input: OptimizerInput): ScaledProblem {
  const securities = [...input.securities].sort((a, b) => (a.securityId < b.securityId ? -1 : a.securityId > b.securityId ? 1 : 0));
  const n = securities.length;
  const prices: Fixed[] = new Array<Fixed>(n);
  const quantities: Fixed[] = new Array<Fixed>(n);
  const targets: Fixed[] = new Array<Fixed>(n);
  const lows: Fixed[] = new Array<Fixed>(n);
  const highs: Fixed[] = new Array<Fixed>(n);
  let sp = 0;
  let sq = 0;
  let sw = 0;
  for (let i = 0; i < n; i++) {
    const s = securities[i]!;
    if (i > 0 && securities[i - 1]!.securityId === s.securityId) {
      throw new InvalidOptimizerInput(`security ${s.securityId} appears twice`);
    }
    const price = (prices[i] = sharedFixed(s.price));
    if (price.digits <= 0n) throw new InvalidOptimizerInput(`security ${s.securityId} has price ${s.price.toString()}, not > 0`);
    const quantity = (quantities[i] = toFixed(s.quantity));
    const target = (targets[i] = sharedFixed(s.target));
    const low = (lows[i] = sharedFixed(s.lowDrift));
    const high = (highs[i] = sharedFixed(s.highDrift));
    if (target.digits < 0n || low.digits < 0n || high.digits < 0n) {
      throw new InvalidOptimizerInput(`security ${s.securityId} has a negative target or drift`);
    }
    sp = Math.max(sp, price.scale);
    sq = Math.max(sq, quantity.scale);
    sw = Math.max(sw, target.scale, low.scale, high.scale);
  }
  const cash = toFixed(input.cash);
  const sm = Math.max(cash.scale, sq + sp);

  const ids: string[] = new Array<string>(n);
  const P: bigint[] = new Array<bigint>(n);
  const Q: bigint[] = new Array<bigint>(n);
  const W: bigint[] = new Array<bigint>(n);
  const LO: bigint[] = new Array<bigint>(n);
  const HI: bigint[] = new Array<bigint>(n);
  const p = new Float64Array(n);
  const q = new Float64Array(n);
  const w = new Float64Array(n);
  const lo = new Float64Array(n);
  const hi = new Float64Array(n);
  let MV = rescale(cash, sm);
  const held = pow10(sm - sq - sp);
  const S = pow10(sq);
  const toDrift = pow10(sm + sw - sq - sp);
  const F: bigint[] = new Array<bigint>(n);
  const FV: bigint[] = new Array<bigint>(n);
  let fractionSpend = 0n;
  for (let i = 0; i < n; i++) {
    ids[i] = securities[i]!.securityId;
    P[i] = rescale(prices[i]!, sp);
    Q[i] = rescale(quantities[i]!, sq);
    W[i] = rescale(targets[i]!, sw);
    LO[i] = rescale(lows[i]!, sw);
    HI[i] = rescale(highs[i]!, sw);
    p[i] = prices[i]!.double;
    q[i] = quantities[i]!.double;
    w[i] = targets[i]!.double;
    lo[i] = lows[i]!.double;
    hi[i] = highs[i]!.double;
    MV += Q[i]! * P[i]! * held;
    // A quantity's digits carry no trailing zeros: it is fractional exactly when it has a scale.
    if (quantities[i]!.scale === 0) {
      F[i] = 0n;
      FV[i] = 0n;
    } else {
      F[i] = ((Q[i]! % S) + S) % S;
      FV[i] = F[i]! * P[i]! * toDrift;
      fractionSpend += F[i]! * P[i]! * held;
    }
  }
  const MVK = MV - fractionSpend;
  const scale = Number(pow10(sm));
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
    MVK,
    p,
    q,
    w,
    lo,
    hi,
    mv: Number(MV) / scale,
    mvk: Number(MVK) / scale,
  };
}

/** value / 10^scale as an exact decimal. */
export const toDec = fromScaled;
