// JSON written straight into bytes (UTF-8), for answers made of thousands of
// small figures: a model rebalance's drifts. The fixed parts are encoded once
// and copied; a figure goes from its digits to its bytes without a string.
import { type Dec, digitsAt, formatDecimal, round } from '../domain/decimal.js';

/** 10^k as numbers (exact). */
const TENS = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/** True when the text needs no escaping in a JSON string. */
function plain(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return false;
  }
  return true;
}

/** The JSON string of a text: quoted, escaped as JSON.stringify escapes. */
export const quoted = (text: string) => (plain(text) ? `"${text}"` : JSON.stringify(text));

/** Encodings of texts that recur from piece to piece (by security id): at most 100 000 are kept. */
export class EncodedOnce {
  private readonly known = new Map<string, Buffer>();

  constructor(private readonly encode: (key: string) => string) {}

  get(key: string): Buffer {
    let bytes = this.known.get(key);
    if (bytes === undefined) {
      if (this.known.size >= 100_000) this.known.clear();
      bytes = Buffer.from(this.encode(key));
      this.known.set(key, bytes);
    }
    return bytes;
  }
}

/** One growing buffer, reused piece after piece (`reset`); `bytes` is valid until the next write. */
export class JsonBytes {
  private buffer = Buffer.allocUnsafeSlow(1 << 16);
  private used = 0;

  reset(): this {
    this.used = 0;
    return this;
  }

  get bytes(): Buffer {
    return this.buffer.subarray(0, this.used);
  }

  private room(n: number): void {
    if (this.used + n <= this.buffer.length) return;
    const larger = Buffer.allocUnsafeSlow(Math.max(this.buffer.length * 2, this.used + n));
    this.buffer.copy(larger, 0, 0, this.used);
    this.buffer = larger;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.used;
  }

  /** Replaces the byte at `at` (< length): a separator written ahead of time. */
  patch(at: number, byte: number): this {
    this.buffer[at] = byte;
    return this;
  }

  /** Bytes already encoded (fixed parts, made once with Buffer.from). */
  copy(bytes: Uint8Array): this {
    this.room(bytes.length);
    this.buffer.set(bytes, this.used);
    this.used += bytes.length;
    return this;
  }

  /** JSON text as it is (punctuation, text already escaped). */
  raw(text: string): this {
    this.room(text.length * 3);
    this.used += this.buffer.write(text, this.used, 'utf8');
    return this;
  }

  /** A JSON string (quoted, escaped where needed), or null. */
  string(text: string | null): this {
    return this.raw(text === null ? 'null' : quoted(text));
  }

  /** The canonical spelling of a decimal (as formatDecimal), unquoted. */
  decimal(value: Dec): this {
    return this.point(value.digits, value.scale);
  }

  /** Exactly `places` decimals, rounded half-up (as formatPlaces), unquoted. */
  places(value: Dec, places: number): this {
    return this.point(digitsAt(round(value, places), places), places);
  }

  /** digits with the point `places` from the right, zeros padded: placePoint of decimal.ts, as bytes. */
  private point(digits: bigint, places: number): this {
    // A safe integer's digits are spelt from the number; larger ones (rare) go through the text.
    let n = Number(digits);
    if (!Number.isSafeInteger(n)) return this.raw(formatDecimal({ digits, scale: places }));
    const negative = n < 0;
    if (negative) n = -n;
    let length = 1;
    while (length < 16 && n >= TENS[length]!) length += 1;
    const count = places > 0 ? Math.max(length, places + 1) : length;
    const width = (negative ? 1 : 0) + count + (places > 0 ? 1 : 0);
    this.room(width);
    const { buffer } = this;
    if (negative) buffer[this.used] = 0x2d;
    let at = this.used + width - 1;
    for (let k = 0; k < count; k++) {
      if (k === places && k > 0) buffer[at--] = 0x2e;
      const digit = n % 10;
      n = (n - digit) / 10;
      buffer[at--] = 0x30 + digit;
    }
    this.used += width;
    return this;
  }
}
