// Figures written as bytes spell exactly what formatDecimal and formatPlaces spell, whatever their size and sign.
import { describe, expect, it } from 'vitest';
import { type Dec, dec, formatDecimal, formatPlaces, normalise } from '../../src/domain/decimal.js';
import { JsonBytes } from '../../src/http/json-bytes.js';

const figures: Dec[] = [
  ...['0', '1', '-1', '0.5', '-0.05', '0.0001', '0.00005', '-0.00004', '9', '10', '100.25', '123456789.123456789'].map((t) => dec(t)),
  ...['9007199254740991', '9007199254740992', '-9007199254740993', '1e30', '-1.5e-30', '12345678901234567890.0123456789'].map((t) =>
    dec(t),
  ),
];
// A spread of magnitudes and scales around the safe-integer edge.
for (let scale = 0; scale <= 20; scale += 3) {
  for (const digits of [7n, -31n, 2n ** 53n - 1n, 2n ** 53n, -(2n ** 53n) - 1n, 10n ** 25n + 3n]) figures.push(normalise(digits, scale));
}

describe('JsonBytes', () => {
  it('spells a decimal as formatDecimal does, and to four places as formatPlaces does', () => {
    const out = new JsonBytes();
    for (const figure of figures) {
      expect(out.reset().decimal(figure).bytes.toString()).toBe(formatDecimal(figure));
      expect(out.reset().places(figure, 4).bytes.toString()).toBe(formatPlaces(figure, 4));
      expect(out.reset().places(figure, 0).bytes.toString()).toBe(formatPlaces(figure, 0));
    }
  });

  it('grows past its first buffer and keeps what it holds, strings escaped as JSON.stringify escapes them', () => {
    const out = new JsonBytes();
    const texts = ['plain', 'a"b\\c', '\u0001', 'caf\u00e9', '\ud800', '\u{1f4c8}', null];
    let expected = '';
    for (let i = 0; i < 20_000; i++) {
      const text = texts[i % texts.length]!;
      out.string(text).raw(',');
      expected += `${JSON.stringify(text)},`;
    }
    expect(out.bytes.length).toBeGreaterThan(1 << 16);
    expect(out.bytes.toString('utf8')).toBe(expected);
  });
});
