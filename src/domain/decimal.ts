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

/** Every decimal that enters (a request, an upstream payload) lies within 1e-34..1e34 in magnitude, or is 0. */
export const MAX_DECIMAL_EXPONENT = 34;

/**
 * Why a decimal spelling is not accepted, or undefined when it is. Decides from
 * the text alone in one pass (no decimal.js, no arithmetic), so a spelling such
 * as "1e-400000000" costs what its 12 characters cost, never what the value it
 * spells would take to write out. Sign, leading and trailing zeros are free.
 */
export function decimalProblem(text: string): string | undefined {
  const match = DECIMAL_PARTS.exec(text);
  if (match === null) return 'must be a decimal number such as "0.25"';
  const whole = match[1] ?? '';
  const digits = whole + (match[2] ?? match[3] ?? '');
  const first = digits.search(/[1-9]/);
  if (first === -1) return undefined;
  let last = digits.length - 1;
  while (digits.charCodeAt(last) === 48) last -= 1;
  if (last - first + 1 > MAX_SIGNIFICANT_DIGITS) return `must have at most ${MAX_SIGNIFICANT_DIGITS} significant digits`;
  // An exponent of more than 12 digits is out of range whatever the digits are: it is never read as a number.
  const exponentDigits = (match[5] ?? '').replace(/^0+/, '');
  const exponent = exponentDigits.length > 12 ? Number.POSITIVE_INFINITY : Number(exponentDigits);
  // The power of ten of the first significant digit: d.ddd x 10^magnitude.
  const magnitude = (match[4] === '-' ? -exponent : exponent) + whole.length - first - 1;
  const exactlyMax = magnitude === MAX_DECIMAL_EXPONENT && first === last && digits[first] === '1';
  if (magnitude < -MAX_DECIMAL_EXPONENT || (magnitude >= MAX_DECIMAL_EXPONENT && !exactlyMax)) {
    return `must be 0 or between 1e-${MAX_DECIMAL_EXPONENT} and 1e${MAX_DECIMAL_EXPONENT} in magnitude`;
  }
  return undefined;
}

/** DECIMAL_PATTERN with its parts captured: whole digits, fraction digits (or only those), exponent sign and digits. */
const DECIMAL_PARTS = /^[+-]?(?:(\d+)(?:\.(\d*))?|\.(\d+))(?:[eE]([+-]?)(\d+))?$/;

/**
 * A decimal that enters the service (a request, an upstream payload): checked
 * by decimalProblem before decimal.js sees it. A JSON number is taken at its
 * shortest spelling; one that JSON could not hold (Infinity) is refused.
 */
export function parseBoundedDecimal(value: string | number): Dec {
  const text = typeof value === 'number' ? String(value) : value.trim();
  const problem = Number.isFinite(value) || typeof value === 'string' ? decimalProblem(text) : 'must be a finite number';
  if (problem !== undefined) throw new DecimalInputError(problem);
  return parseDecimal(text);
}

export class DecimalInputError extends Error {
  override name = 'DecimalInputError';
}

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
