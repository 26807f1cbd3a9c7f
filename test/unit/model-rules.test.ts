import { Decimal } from 'decimal.js';
import { describe, expect, it } from 'vitest';
import { dec, formatDecimal, fromDecimal128, parseBoundedDecimal as parseDecimal, toDecimal128 } from '../../src/domain/decimal.js';
import { ValidationError } from '../../src/domain/errors.js';
import { type ModelPosition, normalisePositions, samePositionValues } from '../../src/domain/model-rules.js';
import { parseSortBy } from '../../src/domain/sorting.js';

const p = (id: string, target: string, high = '0.02', low = '0.02'): ModelPosition => ({
  securityId: id,
  target: dec(target),
  highDrift: dec(high),
  lowDrift: dec(low),
});

describe('decimals', () => {
  it('takes a JSON number at its shortest decimal spelling', () => {
    expect(formatDecimal(parseDecimal(0.1))).toBe('0.1');
    expect(formatDecimal(parseDecimal(0.1 + 0.2))).toBe('0.30000000000000004');
    expect(formatDecimal(parseDecimal('0.020'))).toBe('0.02');
    expect(formatDecimal(parseDecimal('-0'))).toBe('0');
    expect(formatDecimal(parseDecimal('1e-7'))).toBe('0.0000001');
  });

  it('refuses hex, NaN and Infinity', () => {
    for (const text of ['0x10', 'NaN', 'Infinity', '', '1.2.3']) expect(() => parseDecimal(text)).toThrow();
  });
});

describe('normalisePositions', () => {
  it('drops zero targets after checking them', () => {
    expect(normalisePositions([p('A', '0.1'), p('B', '0'), p('C', '0.000')]).map((x) => x.securityId)).toEqual(['A']);
    expect(() => normalisePositions([p('B', '0', '2')])).toThrow('positions[0].high_drift must be between 0 and 1');
  });

  it('checks the step exactly, not in binary floating point', () => {
    // 0.015 % 0.005 is 0.0049999... in binary floating point.
    expect(normalisePositions([p('A', '0.015')])).toHaveLength(1);
    expect(normalisePositions([p('A', '0.95')])).toHaveLength(1);
    expect(() => normalisePositions([p('A', '0.0150000000000000001')])).toThrow('multiple of 0.005');
  });

  it('collects every problem with its path', () => {
    try {
      normalisePositions([p('A', '0.96'), p('B', '0.1', '-1'), p('A', '0.1')]);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).details.map((d) => d.path)).toEqual([
        'positions.0.target',
        'positions.1.high_drift',
        'positions.2.security_id',
      ]);
      expect((error as ValidationError).message).toBe('positions[0].target must be between 0 and 0.95 (and 2 more problems)');
    }
  });

  it('allows a sum of exactly 0.95 and 100 positions, not more', () => {
    expect(normalisePositions([p('A', '0.5'), p('B', '0.45')])).toHaveLength(2);
    expect(() => normalisePositions([p('A', '0.5'), p('B', '0.455')])).toThrow('sum to 0.955');
    const hundred = Array.from({ length: 100 }, (_, i) => p(`S${i}`, '0.005'));
    expect(normalisePositions(hundred)).toHaveLength(100);
    expect(() => normalisePositions([...hundred, p('X', '0.005')])).toThrow('101 positions');
  });
});

describe('samePositionValues', () => {
  it('compares decimal values, not spellings', () => {
    expect(samePositionValues(p('A', '0.2', '0.02'), p('A', '0.20', '0.020', '2e-2'))).toBe(true);
    expect(samePositionValues(p('A', '0.2'), p('A', '0.2', '0.02', '0.021'))).toBe(false);
  });
});

describe('parseSortBy', () => {
  const fields = ['model_id', 'name', 'last_rebalance_date'] as const;

  it('reads fields, directions, and a space as +', () => {
    expect(parseSortBy('-last_rebalance_date, name,+model_id', fields)).toEqual([
      { field: 'last_rebalance_date', direction: -1 },
      { field: 'name', direction: 1 },
      { field: 'model_id', direction: 1 },
    ]);
  });

  it.each([
    ['', []],
    ['  ', []],
    [',', []],
    [
      ' name , -model_id ',
      [
        { field: 'name', direction: 1 },
        { field: 'model_id', direction: -1 },
      ],
    ],
    ['name,', [{ field: 'name', direction: 1 }]],
    [',,-name,,', [{ field: 'name', direction: -1 }]],
  ])('trims items and skips empty ones: %j', (raw, expected) => {
    expect(parseSortBy(raw, fields)).toEqual(expected);
  });

  it.each(['size', 'name,name', 'name, +name', '--name', '-', '*name'])('rejects %j', (raw) => {
    expect(() => parseSortBy(raw, fields)).toThrow(ValidationError);
  });
});

describe('Decimal128 encoding', () => {
  it('encodes exactly what the driver would, for every kind of decimal', async () => {
    const { Decimal128 } = await import('mongodb');
    const samples = [
      '0',
      '1',
      '-1',
      '0.1',
      '0.020',
      '41.17',
      '-12.5',
      '1234567890.123456789',
      '0.0000001',
      '9999999999999999999999999999999999',
      '-0.005',
      // Either side of 2^53 and 2^64 (where the encoder changes method).
      '9007199254740991',
      '0.9007199254740992',
      '-900719925474099.3',
      '18446744073709551615',
      '1844674407370955161.6',
      // A coefficient of k·2^96 + a small remainder (its middle words zero): the decoder's fast path must not take it.
      '0.79228162514264337593543950341',
      '79228162514264337593543950336',
      '-1267650600228229401496703205377',
    ];
    for (let i = 0; i < 500; i++) samples.push((((i * 7919) % 100003) / 10 ** (i % 12) - (i % 3 === 0 ? 500 : 0)).toString());
    for (const text of samples) {
      // decimal.js is the independent reference here.
      const reference = new Decimal(text);
      const canonical = reference.isZero() ? '0' : reference.toFixed();
      const ours = toDecimal128(dec(text));
      expect(ours.toString(), text).toBe(Decimal128.fromString(canonical).toString());
      expect(new Decimal(ours.toString()).equals(reference), text).toBe(true);
      expect(formatDecimal(fromDecimal128(ours)), text).toBe(canonical);
      expect(formatDecimal(fromDecimal128(Decimal128.fromString(text))), text).toBe(canonical);
    }
  });
});
