// Exact decimal arithmetic for money, quantities and weights, and the one place
// where decimals are converted to and from their stored (Decimal128) and wire
// (string) forms. Binary floating point never sits between an input and an answer.
import { Decimal } from 'decimal.js';
import { Decimal128 } from 'mongodb';

/**
 * decimal.js rounds every operation to `precision` significant digits, so it is
 * set far above what products of two Decimal128 values (34 digits each) need:
 * sums and products of stored figures are exact.
 */
export const Dec = Decimal.clone({
  precision: 120,
  rounding: Decimal.ROUND_HALF_UP,
  toExpNeg: -9e15,
  toExpPos: 9e15,
});
export type Dec = Decimal;

/** The decimal spellings accepted on the wire: no hex, no NaN, no Infinity. */
export const DECIMAL_PATTERN = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** Decimal128 holds 34 significant digits; more cannot be stored exactly. */
export const MAX_SIGNIFICANT_DIGITS = 34;

export const ZERO = new Dec(0);

/**
 * A decimal from a JSON string or number. A JSON number is taken at its
 * shortest decimal spelling (0.1 is exactly 0.1), which is what String() gives.
 */
export function parseDecimal(value: string | number): Dec {
  const text = typeof value === 'number' ? String(value) : value.trim();
  if (!DECIMAL_PATTERN.test(text)) throw new Error(`not a decimal number: ${JSON.stringify(value)}`);
  const parsed = new Dec(text);
  return parsed.isZero() ? ZERO : parsed;
}

/** Spellings of the decoded stored values (a bounded set: see fromDecimal128). */
const spelled = new WeakMap<Dec, string>();

/** The canonical wire spelling: plain notation, no trailing zeros ("0.020" -> "0.02"). */
export function formatDecimal(value: Dec): string {
  return spelled.get(value) ?? (value.isZero() ? '0' : value.toFixed());
}

/** value / 10^scale, exactly (no division: the decimal point is placed). */
export function fromScaled(value: bigint, scale: number): Dec {
  if (scale === 0) return new Dec(value.toString());
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(scale + 1, '0');
  return new Dec(`${negative ? '-' : ''}${digits.slice(0, -scale)}.${digits.slice(-scale)}`);
}

export function toDecimal128(value: Dec): Decimal128 {
  return Decimal128.fromString(formatDecimal(value));
}

/**
 * Stored weights, drifts and prices repeat across models and portfolios, and
 * Decimal128 text conversion is slow: each distinct value is decoded once.
 * Decimals are immutable, so sharing one instance is safe (and lets the
 * optimiser's per-instance caches hit).
 */
const decoded = new Map<string, Dec>();
const DECODED_MAX = 20_000;

export function fromDecimal128(value: Decimal128): Dec {
  const key = Buffer.from(value.bytes.buffer, value.bytes.byteOffset, 16).toString('latin1');
  let dec = decoded.get(key);
  if (dec === undefined) {
    dec = parseDecimal(value.toString());
    if (decoded.size >= DECODED_MAX) decoded.clear();
    decoded.set(key, dec);
    spelled.set(dec, dec.isZero() ? '0' : dec.toFixed());
  }
  return dec;
}
