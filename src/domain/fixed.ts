// Exact decimals as scaled integers (digits / 10^scale) for the hot path of a
// rebalance: per-position figures of thousands of portfolios are computed,
// formatted and stored without creating decimal.js objects.
import { Decimal128 } from 'mongodb';
import { formatDecimal, type Dec } from './decimal.js';
import { pow10 } from '../optimizer/bigint-math.js';

export interface Fixed {
  readonly digits: bigint;
  readonly scale: number;
}

export const FIXED_ZERO: Fixed = { digits: 0n, scale: 0 };

/** Trailing zeros removed: the canonical form. */
export function normalise(f: Fixed): Fixed {
  let { digits, scale } = f;
  if (digits === 0n) return FIXED_ZERO;
  while (scale > 0 && digits % 10n === 0n) {
    digits /= 10n;
    scale -= 1;
  }
  return { digits, scale };
}

export function parseFixed(text: string): Fixed {
  const negative = text.startsWith('-');
  const unsigned = negative || text.startsWith('+') ? text.slice(1) : text;
  const point = unsigned.indexOf('.');
  const whole = point === -1 ? unsigned : unsigned.slice(0, point);
  const fraction = point === -1 ? '' : unsigned.slice(point + 1);
  const digits = BigInt(whole + fraction);
  return normalise({ digits: negative ? -digits : digits, scale: fraction.length });
}

/** The Fixed of a decimal. */
export function fixedOf(value: Dec): Fixed {
  return parseFixed(formatDecimal(value));
}

const shared = new WeakMap<Dec, Fixed>();

/**
 * The same, remembered for decimals that recur in every portfolio of a model
 * (prices, targets, drifts); per-portfolio figures use fixedOf, uncached.
 */
export function sharedFixedOf(value: Dec): Fixed {
  let f = shared.get(value);
  if (f === undefined) {
    f = fixedOf(value);
    shared.set(value, f);
  }
  return f;
}

export const fixedOfInteger = (n: number): Fixed => ({ digits: BigInt(n), scale: 0 });

const at = (f: Fixed, scale: number) => f.digits * pow10(scale - f.scale);


export function sub(a: Fixed, b: Fixed): Fixed {
  const scale = Math.max(a.scale, b.scale);
  return { digits: at(a, scale) - at(b, scale), scale };
}

export function mul(a: Fixed, b: Fixed): Fixed {
  return { digits: a.digits * b.digits, scale: a.scale + b.scale };
}

export function negate(a: Fixed): Fixed {
  return { digits: -a.digits, scale: a.scale };
}

export const isZero = (a: Fixed) => a.digits === 0n;
export const sign = (a: Fixed) => (a.digits > 0n ? 1 : a.digits < 0n ? -1 : 0);
export const abs = (a: Fixed): Fixed => (a.digits < 0n ? negate(a) : a);

/** num / den rounded half away from zero (decimal.js's ROUND_HALF_UP) to `places`; den != 0. */
export function quotient(num: Fixed, den: Fixed, places: number): Fixed {
  // num/den = (num.digits / 10^ns) / (den.digits / 10^ds); scaled by 10^places.
  let n = num.digits * pow10(places + den.scale);
  let d = den.digits * pow10(num.scale);
  if (d < 0n) {
    n = -n;
    d = -d;
  }
  const negative = n < 0n;
  const magnitude = negative ? -n : n;
  const q = (2n * magnitude + d) / (2n * d);
  return normalise({ digits: negative ? -q : q, scale: places });
}

/** Rounded half away from zero to `places`. */
export function round(a: Fixed, places: number): Fixed {
  if (a.scale <= places) return a;
  return quotient(a, { digits: 1n, scale: 0 }, places);
}

/** Plain decimal text, no trailing zeros ("0.02", "-12.5", "100"). */
export function formatFixed(f: Fixed): string {
  const { digits, scale } = normalise(f);
  if (scale === 0) return digits.toString();
  const negative = digits < 0n;
  const text = (negative ? -digits : digits).toString().padStart(scale + 1, '0');
  return `${negative ? '-' : ''}${text.slice(0, -scale)}.${text.slice(-scale)}`;
}

/** Exactly `places` decimals ("0.2471", "0.3000"). */
export function formatPlaces(f: Fixed, places: number): string {
  const r = round(f, places);
  const digits = at(r, places);
  const negative = digits < 0n;
  const text = (negative ? -digits : digits).toString().padStart(places + 1, '0');
  return places === 0 ? `${negative ? '-' : ''}${text}` : `${negative ? '-' : ''}${text.slice(0, -places)}.${text.slice(-places)}`;
}

/** A JSON number, rounded half-up to `places` first when given. */
export function toNumber(f: Fixed, places?: number): number {
  return Number(formatFixed(places === undefined ? f : round(f, places)));
}

const LOW_MASK = (1n << 64n) - 1n;
const MAX_COEFFICIENT = 10n ** 34n;
const EXPONENT_BIAS = 6176;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Decimal128 by direct BID encoding (the canonical form: trailing zeros removed). */
export function toDecimal128Fixed(value: Fixed): Decimal128 {
  return toDecimal128s([value])[0]!;
}

/** Rounded half-up (away from zero) to at most `places` significant digits; the scale may turn negative. */
export function roundToSignificant(f: Fixed, places: number): Fixed {
  const negative = f.digits < 0n;
  const magnitude = negative ? -f.digits : f.digits;
  const excess = magnitude.toString().length - places;
  if (excess <= 0) return f;
  const divisor = pow10(excess);
  let kept = magnitude / divisor;
  if ((magnitude % divisor) * 2n >= divisor) kept += 1n;
  let scale = f.scale - excess;
  while (kept !== 0n && kept % 10n === 0n) {
    kept /= 10n;
    scale -= 1;
  }
  return { digits: negative ? -kept : kept, scale };
}

/** Many at once: their 16-byte encodings share one allocation. */
export function toDecimal128s(values: readonly Fixed[]): Decimal128[] {
  const block = Buffer.allocUnsafe(16 * values.length);
  return values.map((value, i) => {
    const { digits, scale } = normalise(value);
    const negative = digits < 0n;
    const coefficient = negative ? -digits : digits;
    // A computed figure of more than 34 digits (a sum of bounded inputs far apart in size) is
    // stored rounded half-up to what Decimal128 holds; readers get JSON numbers anyway.
    if (coefficient >= MAX_COEFFICIENT) return toDecimal128s([roundToSignificant(value, 34)])[0]!;
    if (coefficient <= MAX_SAFE) {
      // The usual case (prices, quantities, weights): 32-bit words, no BigInt shifts.
      const c = Number(coefficient);
      block.writeUInt32LE(c % 2 ** 32, 16 * i);
      block.writeUInt32LE(Math.floor(c / 2 ** 32), 16 * i + 4);
      block.writeUInt32LE(0, 16 * i + 8);
      block.writeUInt32LE(((negative ? 0x80000000 : 0) | ((EXPONENT_BIAS - scale) << 17)) >>> 0, 16 * i + 12);
    } else {
      const high = (negative ? 1n << 63n : 0n) | (BigInt(EXPONENT_BIAS - scale) << 49n) | (coefficient >> 64n);
      block.writeBigUInt64LE(coefficient & LOW_MASK, 16 * i);
      block.writeBigUInt64LE(high, 16 * i + 8);
    }
    return new Decimal128(block.subarray(16 * i, 16 * i + 16));
  });
}

/** The Fixed of a stored Decimal128 (values written by this service: finite, 34 digits at most). */
export function fixedFromDecimal128(value: Decimal128): Fixed {
  const bytes = Buffer.from(value.bytes.buffer, value.bytes.byteOffset, 16);
  const low = bytes.readBigUInt64LE(0);
  const high = bytes.readBigUInt64LE(8);
  const combination = (high >> 61n) & 3n;
  if (combination === 3n) return parseFixed(value.toString()); // the rare large-coefficient form, or not finite
  const exponent = Number((high >> 49n) & 0x3fffn) - EXPONENT_BIAS;
  const coefficient = ((high & ((1n << 49n) - 1n)) << 64n) | low;
  const negative = (high >> 63n) === 1n;
  const digits = negative ? -coefficient : coefficient;
  return normalise(exponent >= 0 ? { digits: digits * pow10(exponent), scale: 0 } : { digits, scale: -exponent });
}
