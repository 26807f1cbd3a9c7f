// The one place where the optimiser's decimals become scaled integers (exact,
// BigInt) and doubles (fast, filtered), and where answers become decimals again.
import { Dec } from '../domain/decimal.js';
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
  /** Doubles nearest to the decimals (each within half an ulp). */
  readonly p: Float64Array;
  readonly q: Float64Array;
  readonly w: Float64Array;
  readonly lo: Float64Array;
  readonly hi: Float64Array;
  /** Nearest double to MV (from the exact value, so within one rounding of it). */
  readonly mv: number;
}

interface Fixed {
  readonly digits: bigint;
  readonly scale: number;
}

function toFixed(value: Dec): Fixed {
  const text = value.toFixed();
  const negative = text.startsWith('-');
  const unsigned = negative ? text.slice(1) : text;
  const point = unsigned.indexOf('.');
  const whole = point === -1 ? unsigned : unsigned.slice(0, point);
  const fraction = point === -1 ? '' : unsigned.slice(point + 1).replace(/0+$/, '');
  const digits = BigInt(whole + fraction);
  return { digits: negative ? -digits : digits, scale: fraction.length };
}

const rescale = (f: Fixed, scale: number) => f.digits * pow10(scale - f.scale);
const maxScale = (values: readonly Fixed[]) => values.reduce((s, v) => Math.max(s, v.scale), 0);

export class InvalidOptimizerInput extends Error {
  override name = 'InvalidOptimizerInput';
}

export function prepare(input: OptimizerInput): ScaledProblem {
  const securities = [...input.securities].sort((a, b) => (a.securityId < b.securityId ? -1 : a.securityId > b.securityId ? 1 : 0));
  for (let i = 0; i < securities.length; i++) {
    const s = securities[i]!;
    if (i > 0 && securities[i - 1]!.securityId === s.securityId) {
      throw new InvalidOptimizerInput(`security ${s.securityId} appears twice`);
    }
    if (!s.price.greaterThan(0)) throw new InvalidOptimizerInput(`security ${s.securityId} has price ${s.price.toString()}, not > 0`);
    for (const [name, value] of [['target', s.target], ['low drift', s.lowDrift], ['high drift', s.highDrift]] as const) {
      if (value.isNegative()) throw new InvalidOptimizerInput(`security ${s.securityId} has a negative ${name}`);
    }
  }
  const prices = securities.map((s) => toFixed(s.price));
  const quantities = securities.map((s) => toFixed(s.quantity));
  const weights = securities.flatMap((s) => [toFixed(s.target), toFixed(s.lowDrift), toFixed(s.highDrift)]);
  const cash = toFixed(input.cash);
  const sp = maxScale(prices);
  const sq = maxScale(quantities);
  const sw = maxScale(weights);
  const sm = Math.max(cash.scale, sq + sp);

  const P = prices.map((f) => rescale(f, sp));
  const Q = quantities.map((f) => rescale(f, sq));
  const W: bigint[] = [];
  const LO: bigint[] = [];
  const HI: bigint[] = [];
  for (let i = 0; i < securities.length; i++) {
    W.push(rescale(weights[3 * i]!, sw));
    LO.push(rescale(weights[3 * i + 1]!, sw));
    HI.push(rescale(weights[3 * i + 2]!, sw));
  }
  let MV = rescale(cash, sm);
  const held = pow10(sm - sq - sp);
  for (let i = 0; i < securities.length; i++) MV += Q[i]! * P[i]! * held;

  const double = (values: readonly Dec[]) => Float64Array.from(values, (v) => Number(v.toString()));
  return {
    n: securities.length,
    ids: securities.map((s) => s.securityId),
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
    p: double(securities.map((s) => s.price)),
    q: double(securities.map((s) => s.quantity)),
    w: double(securities.map((s) => s.target)),
    lo: double(securities.map((s) => s.lowDrift)),
    hi: double(securities.map((s) => s.highDrift)),
    mv: Number(MV) / Number(pow10(sm)),
  };
}

/** value / 10^scale as an exact decimal. */
export function toDec(value: bigint, scale: number): Dec {
  return new Dec(value.toString()).dividedBy(pow10(scale).toString());
}
