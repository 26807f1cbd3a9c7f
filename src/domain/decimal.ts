// The service's one exact number type: money, quantities, prices, weights and
// drifts are `Dec`, a scaled integer digits / 10^scale. This module owns it:
// parsing with bounds (requests, upstream payloads), arithmetic, comparison,
// formatting, and Decimal128 encoding and decoding. Binary floating point never
// sits between an input and a stored or returned figure; the optimiser works on
// the same digits.
import { Decimal128 } from 'mongodb';

/** digits / 10^scale, scale >= 0, canonical: no trailing zero after the point (so equal values are equal fields). */
export interface Dec {
  readonly digits: bigint;
  readonly scale: number;
}

export const ZERO: Dec = { digits: 0n, scale: 0 };

const powers: bigint[] = [1n];
/** 10^exponent; the table grows out of line, so the lookup stays small where the optimising compiler inlines it (every figure of every portfolio). */
export function pow10(exponent: number): bigint {
  return exponent < powers.length ? powers[exponent]! : morePowers(exponent);
}
function morePowers(exponent: number): bigint {
  while (powers.length <= exponent) powers.push(powers[powers.length - 1]! * 10n);
  return powers[exponent]!;
}

/** Trailing zeros after the point removed: the canonical form. */
export function normalise(digits: bigint, scale: number): Dec {
  if (digits === 0n) return ZERO;
  while (scale > 0 && digits % 10n === 0n) {
    digits /= 10n;
    scale -= 1;
  }
  if (scale < 0) return { digits: digits * pow10(-scale), scale: 0 };
  return { digits, scale };
}

/** Decimal128 holds 34 significant digits; more cannot be stored exactly. */
export const MAX_SIGNIFICANT_DIGITS = 34;

/** Every decimal that enters (a request, an upstream payload) lies within 1e-34..1e34 in magnitude, or is 0. */
export const MAX_DECIMAL_EXPONENT = 34;

/** The decimal spellings accepted on the wire, parts captured: whole digits, fraction digits (or only those), exponent sign and digits. No hex, no NaN, no Infinity. */
const DECIMAL_PARTS = /^([+-]?)(?:(\d+)(?:\.(\d*))?|\.(\d+))(?:[eE]([+-]?)(\d+))?$/;

/**
 * Why a decimal spelling's parts are out of bounds, or undefined when they are
 * not. Decides from the text alone in one pass (no arithmetic), so a spelling
 * such as "1e-400000000" costs what its 12 characters cost, never what the
 * value it spells would take to write out. Sign, leading and trailing zeros are free.
 */
function boundsProblem(match: RegExpExecArray): string | undefined {
  const whole = match[2] ?? '';
  const digits = whole + (match[3] ?? match[4] ?? '');
  let first = 0;
  while (first < digits.length && digits.charCodeAt(first) === 48) first += 1;
  if (first === digits.length) return undefined;
  let last = digits.length - 1;
  while (digits.charCodeAt(last) === 48) last -= 1;
  if (last - first + 1 > MAX_SIGNIFICANT_DIGITS) return `must have at most ${MAX_SIGNIFICANT_DIGITS} significant digits`;
  if (match[6] === undefined && whole.length - first <= MAX_DECIMAL_EXPONENT && whole.length - first > -MAX_DECIMAL_EXPONENT)
    return undefined;
  // An exponent of more than 12 digits is out of range whatever the digits are: it is never read as a number.
  const exponentDigits = (match[6] ?? '').replace(/^0+/, '');
  const exponent = exponentDigits.length > 12 ? Number.POSITIVE_INFINITY : Number(exponentDigits);
  // The power of ten of the first significant digit: d.ddd x 10^magnitude.
  const magnitude = (match[5] === '-' ? -exponent : exponent) + whole.length - first - 1;
  const exactlyMax = magnitude === MAX_DECIMAL_EXPONENT && first === last && digits[first] === '1';
  if (magnitude < -MAX_DECIMAL_EXPONENT || (magnitude >= MAX_DECIMAL_EXPONENT && !exactlyMax)) {
    return `must be 0 or between 1e-${MAX_DECIMAL_EXPONENT} and 1e${MAX_DECIMAL_EXPONENT} in magnitude`;
  }
  return undefined;
}

export class DecimalInputError extends Error {
  override name = 'DecimalInputError';
}

/** The exact value of a spelling's parts. */
function valueOfSpelling(match: RegExpExecArray): Dec {
  const fraction = match[3] ?? match[4] ?? '';
  const exponent = match[6] === undefined ? 0 : Number(match[6]) * (match[5] === '-' ? -1 : 1);
  const digits = BigInt((match[2] ?? '') + fraction || '0');
  return normalise(match[1] === '-' ? -digits : digits, fraction.length - exponent);
}

/**
 * A decimal that enters the service (a request, an upstream payload), within
 * the bounds of boundsProblem (checked on the text first, in the same pass). A
 * JSON number is taken at its shortest spelling (String(0.1) is "0.1", so 0.1
 * is exactly 0.1); one JSON could not hold (Infinity) is refused.
 */
export function parseBoundedDecimal(value: string | number): Dec {
  if (typeof value === 'number' && !Number.isFinite(value)) throw new DecimalInputError('must be a finite number');
  const short = shortDecimal(typeof value === 'number' ? String(value) : value);
  if (short !== undefined) return short;
  const match = DECIMAL_PARTS.exec(typeof value === 'number' ? String(value) : value.trim());
  const problem = match === null ? 'must be a decimal number such as "0.25"' : boundsProblem(match);
  if (problem !== undefined) throw new DecimalInputError(problem);
  return valueOfSpelling(match!);
}

/**
 * The common spelling of at most 15 digits ("-1234.5", "100", ".25"): read in
 * one pass without the pattern or BigInt arithmetic, well within every bound.
 * Anything else (a sign +, an exponent, spaces, more digits) is undefined: the
 * general path decides it.
 */
function shortDecimal(text: string): Dec | undefined {
  const n = text.length;
  if (n > 16) return undefined;
  let i = text.charCodeAt(0) === 45 ? 1 : 0;
  const negative = i === 1;
  let value = 0;
  let count = 0;
  let scale = -1;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      count += 1;
      if (scale >= 0) scale += 1;
    } else if (c === 46 && scale < 0) {
      scale = 0;
    } else {
      return undefined;
    }
  }
  if (count === 0 || count > 15) return undefined;
  if (value === 0) return ZERO;
  if (scale < 0) scale = 0;
  while (scale > 0 && value % 10 === 0) {
    value /= 10;
    scale -= 1;
  }
  return { digits: BigInt(negative ? -value : value), scale };
}

/** A decimal from a trusted spelling, a whole number or a bigint (constants, tests). */
export function dec(value: string | number | bigint): Dec {
  if (typeof value === 'bigint') return normalise(value, 0);
  const text = typeof value === 'number' ? String(value) : value.trim();
  const match = DECIMAL_PARTS.exec(text);
  if (match === null) throw new DecimalInputError(`not a decimal number: ${JSON.stringify(text)}`);
  return valueOfSpelling(match);
}

/** a.digits at `scale` (>= a.scale). */
export const digitsAt = (a: Dec, scale: number): bigint => (scale === a.scale ? a.digits : a.digits * pow10(scale - a.scale));

export function add(a: Dec, b: Dec): Dec {
  const scale = Math.max(a.scale, b.scale);
  return normalise(digitsAt(a, scale) + digitsAt(b, scale), scale);
}

export function sub(a: Dec, b: Dec): Dec {
  const scale = Math.max(a.scale, b.scale);
  return normalise(digitsAt(a, scale) - digitsAt(b, scale), scale);
}

export const mul = (a: Dec, b: Dec): Dec => normalise(a.digits * b.digits, a.scale + b.scale);
export const negate = (a: Dec): Dec => (a.digits === 0n ? ZERO : { digits: -a.digits, scale: a.scale });
export const abs = (a: Dec): Dec => (a.digits < 0n ? negate(a) : a);
export const isZero = (a: Dec) => a.digits === 0n;
export const sign = (a: Dec) => (a.digits > 0n ? 1 : a.digits < 0n ? -1 : 0);

/** -1, 0 or 1 as a is below, equal to or above b. */
export function compare(a: Dec, b: Dec): number {
  if (a.scale === b.scale) return a.digits < b.digits ? -1 : a.digits > b.digits ? 1 : 0;
  return sign(sub(a, b));
}

export const equals = (a: Dec, b: Dec) => a.digits === b.digits && a.scale === b.scale;

/** a is a whole multiple of step (> 0). */
export function isMultipleOf(a: Dec, step: Dec): boolean {
  const scale = Math.max(a.scale, step.scale);
  return digitsAt(a, scale) % digitsAt(step, scale) === 0n;
}

/** num / den rounded half away from zero (ROUND_HALF_UP) to `places`; den != 0. */
export function quotient(num: Dec, den: Dec, places: number): Dec {
  let n = num.digits * pow10(places + den.scale);
  let d = den.digits * pow10(num.scale);
  if (d < 0n) {
    n = -n;
    d = -d;
  }
  const negative = n < 0n;
  const q = (2n * (negative ? -n : n) + d) / (2n * d);
  return normalise(negative ? -q : q, places);
}

/** Rounded half away from zero to `places`. */
export const round = (a: Dec, places: number): Dec => (a.scale <= places ? a : quotient(a, { digits: 1n, scale: 0 }, places));

/** The largest whole number a double holds exactly (2^53 − 1), as a bigint. */
export const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Digits with the point placed `places` from the right, padded with zeros. */
function placePoint(digits: bigint, places: number): string {
  const negative = digits < 0n;
  const magnitude = negative ? -digits : digits;
  // Most figures fit a safe integer: spelt as a number (V8 keeps the spellings of recent numbers), not as a bigint.
  const text = magnitude <= MAX_SAFE ? String(Number(magnitude)) : magnitude.toString();
  if (places === 0) return negative ? `-${text}` : text;
  const cut = text.length - places;
  if (cut > 0) return `${negative ? '-' : ''}${text.slice(0, cut)}.${text.slice(cut)}`;
  return `${negative ? '-0.' : '0.'}${'0'.repeat(-cut)}${text}`;
}

/** The canonical wire spelling: plain notation, no trailing zeros ("0.02", "-12.5", "100"). */
export const formatDecimal = (a: Dec): string => placePoint(a.digits, a.scale);

/** Exactly `places` decimals, rounded half-up ("0.2471", "0.3000"). */
export const formatPlaces = (a: Dec, places: number): string => placePoint(digitsAt(round(a, places), places), places);

/** A JSON number (the nearest double to the exact text), rounded half-up to `places` first when given. */
export const toNumber = (a: Dec, places?: number): number => Number(formatDecimal(places === undefined ? a : round(a, places)));

const LOW_MASK = (1n << 64n) - 1n;
const MAX_COEFFICIENT = 10n ** 34n;
const EXPONENT_BIAS = 6176;

/** Rounded half-up (away from zero) to at most `places` significant digits: coefficient and exponent. */
function roundToSignificant(digits: bigint, scale: number, places: number): { digits: bigint; scale: number } {
  const negative = digits < 0n;
  const magnitude = negative ? -digits : digits;
  const excess = magnitude.toString().length - places;
  if (excess <= 0) return { digits, scale };
  const divisor = pow10(excess);
  let kept = magnitude / divisor;
  if ((magnitude % divisor) * 2n >= divisor) kept += 1n;
  scale -= excess;
  while (kept !== 0n && kept % 10n === 0n) {
    kept /= 10n;
    scale -= 1;
  }
  return { digits: negative ? -kept : kept, scale };
}

export const toDecimal128 = (value: Dec): Decimal128 => toDecimal128s([value])[0]!;

/** Decimal128 by direct BID encoding, many at once: their 16-byte encodings share one allocation. */
export function toDecimal128s(values: readonly Dec[]): Decimal128[] {
  const block = Buffer.allocUnsafe(16 * values.length);
  return values.map((value, i) => {
    let { digits, scale } = value;
    // A computed figure of more than 34 digits (a sum of bounded inputs far apart in size) is
    // stored rounded half-up to what Decimal128 holds; readers get JSON numbers anyway.
    if (digits >= MAX_COEFFICIENT || -digits >= MAX_COEFFICIENT) ({ digits, scale } = roundToSignificant(digits, scale, 34));
    const negative = digits < 0n;
    const coefficient = negative ? -digits : digits;
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

/**
 * The same for figures that recur in every portfolio of a rebalance (the
 * model's targets and drifts, the quotes' prices are the same objects
 * throughout): one encoding per figure, shared by every document that holds it.
 */
const encodedOnce = new WeakMap<Dec, Decimal128>();
export function toSharedDecimal128s(values: readonly Dec[]): Decimal128[] {
  const missing = values.filter((value) => !encodedOnce.has(value));
  if (missing.length > 0) {
    const encoded = toDecimal128s(missing);
    for (let i = 0; i < missing.length; i++) encodedOnce.set(missing[i]!, encoded[i]!);
  }
  return values.map((value) => encodedOnce.get(value)!);
}

/**
 * Stored weights, drifts and prices recur across models and portfolios: each
 * distinct encoding of a coefficient below 2^32 (nearly all) is decoded once,
 * looked up by its two non-zero words.
 */
const decoded = new Map<number, Map<number, Dec>>();
let decodedCount = 0;
const DECODED_MAX = 20_000;

const word = (b: Uint8Array, at: number) => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16)) + b[at + 3]! * 2 ** 24;

/** The value of a stored Decimal128 (finite, as this service writes them). */
export function fromDecimal128(value: Decimal128): Dec {
  const b = value.bytes;
  const top = word(b, 12);
  const low = word(b, 0);
  // The fast path holds for a coefficient below 2^32 only: bytes 4-11 and the top word's 17 coefficient bits all zero.
  if (word(b, 4) !== 0 || word(b, 8) !== 0 || (top & 0x1ffff) !== 0 || ((top >>> 29) & 3) === 3) return decode(top, value);
  let byTop = decoded.get(top);
  if (byTop === undefined) {
    byTop = new Map();
    decoded.set(top, byTop);
  }
  let known = byTop.get(low);
  if (known === undefined) {
    if (++decodedCount > DECODED_MAX) {
      decoded.clear();
      decodedCount = 0;
    }
    known = normalise(BigInt(top >>> 31 === 1 ? -low : low), EXPONENT_BIAS - ((top >>> 17) & 0x3fff));
    byTop.set(low, known);
  }
  return known;
}

/** The same from the bits, for a coefficient of 2^32 or more. */
function decode(top: number, value: Decimal128): Dec {
  if (((top >>> 29) & 3) === 3) return dec(value.toString()); // the rare large-coefficient form (or not finite: refused)
  const b = value.bytes;
  const coefficient = (BigInt(top & 0x1ffff) << 96n) | (BigInt(word(b, 8)) << 64n) | (BigInt(word(b, 4)) << 32n) | BigInt(word(b, 0));
  return normalise(top >>> 31 === 1 ? -coefficient : coefficient, EXPONENT_BIAS - ((top >>> 17) & 0x3fff));
}
