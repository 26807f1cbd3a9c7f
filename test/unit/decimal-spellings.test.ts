// parseBoundedDecimal reads the common short spellings in one pass; whatever
// it reads must be what the general pattern reads, and what it refuses too.
import { describe, expect, it } from 'vitest';
import { dec, formatDecimal, parseBoundedDecimal } from '../../src/domain/decimal.js';

const read = (parse: () => { digits: bigint; scale: number }) => {
  try {
    const value = parse();
    return `${value.digits}e-${value.scale}`;
  } catch {
    return 'refused';
  }
};

describe('short decimal spellings', () => {
  it('read exactly as the general pattern reads them', () => {
    let seed = 15;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const alphabet = '0123456789.-+ x';
    const spellings = ['-0', '0.', '.0', '-.5', '5.', '.', '-', '', '000123.4500', '999999999999999', '9999999999999999', '-1.'];
    for (let i = 0; i < 5000; i++) {
      let text = '';
      const length = 1 + Math.floor(random() * 18);
      for (let j = 0; j < length; j++) text += alphabet[Math.floor(random() * (random() < 0.8 ? 11 : alphabet.length))];
      spellings.push(text);
    }
    for (const text of spellings)
      expect(
        read(() => parseBoundedDecimal(text)),
        text,
      ).toBe(read(() => dec(text)));
    for (const value of [0, -0, 1, -17, 12.5, 0.1, 1e-7, 123456789012345, 2 ** 53, 1e21]) {
      expect(
        read(() => parseBoundedDecimal(value)),
        String(value),
      ).toBe(read(() => dec(value)));
    }
    expect(formatDecimal(parseBoundedDecimal('-000120.500'))).toBe('-120.5');
  });
});
