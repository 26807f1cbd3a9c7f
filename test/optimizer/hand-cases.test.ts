// Hand-computed cases that pin what the optimiser's answers mean.
import { describe, expect, it } from 'vitest';
import { Dec } from '../../src/domain/decimal.js';
import { InvalidOptimizerInput, optimize, type OptimizerSecurity } from '../../src/optimizer/index.js';
import { quantities } from './check.js';
import { corpus } from './corpus.js';

const security = (id: string, quantity: string, price: string, target: string, low: string, high: string): OptimizerSecurity => ({
  securityId: id.padEnd(24, '0'),
  quantity: new Dec(quantity),
  price: new Dec(price),
  target: new Dec(target),
  lowDrift: new Dec(low),
  highDrift: new Dec(high),
});
const held = (result: ReturnType<typeof optimize>) =>
  Object.fromEntries([...quantities(result)].map(([id, q]) => [id.replace(/0+$/, ''), q.toFixed()]));

describe('the optimiser', () => {
  it('reports the rounding trap as infeasible instead of buying one share', () => {
    // MV 100 000, target 1% = 1 000, band ±0.2% = 800..1 200; one share at 1 500 is 1.5%.
    const result = optimize({ cash: new Dec(100_000), securities: [security('X', '0', '1500', '0.01', '0.002', '0.002')] });
    expect(result.status).toBe('infeasible');
    if (result.status !== 'infeasible') return;
    expect(result.reason).toBe('band');
    expect(result.message).toBe(
      'no feasible solution exists: no whole number of shares meets the drift band of ' +
        'X00000000000000000000000 (band 800.00 to 1200.00 at price 1500 allows 1 to 0 shares)',
    );
    expect(result.securities.map((s) => [s.bandLow.toFixed(), s.bandHigh.toFixed(), s.minShares.toFixed(), s.maxShares.toFixed()])).toEqual([
      ['800', '1200', '1', '0'],
    ]);
  });

  it('frees cash at least drift cost where greedy does not (the greedy trap)', () => {
    // Rounded up, A, B and C overspend by 100. Selling A's share frees 90 for 9 of drift,
    // B's 90 for 10, C's 100 for 15: greedy sells A and B (19), the optimum sells C (15).
    const result = optimize({
      cash: new Dec(1000),
      securities: [
        security('A', '0', '90', '0.0495', '0.0495', '0.05'),
        security('B', '0', '90', '0.05', '0.05', '0.05'),
        security('C', '0', '100', '0.0575', '0.0575', '0.05'),
        security('D', '0', '820', '0.82', '0', '0'),
      ],
    });
    expect(result.status).toBe('optimal');
    if (result.status !== 'optimal') return;
    expect(held(result)).toEqual({ A: '1', B: '1', C: '0', D: '1' });
    expect(result.cashBinding).toBe(true);
    // |49.5 − 90| + |50 − 90| + |57.5 − 0| + 0
    expect(result.driftAfter.toFixed()).toBe('138');
  });

  it('covers a short with a buy', () => {
    // MV = 10 000 − 10·50 + 5·100 = 10 000; target 10% = 1 000 = 20 shares from −10.
    const result = optimize({
      cash: new Dec(10_000),
      securities: [security('S', '-10', '50', '0.1', '0.01', '0.01'), security('O', '5', '100', '0', '0', '0')],
    });
    expect(result.status).toBe('optimal');
    expect(held(result)).toEqual({ S: '20', O: '0' });
    if (result.status === 'optimal') {
      expect(result.marketValue.toFixed()).toBe('10000');
      expect(result.driftBefore.toFixed()).toBe('2000'); // |1000 + 500| + |0 − 500|
      expect(result.driftAfter.toFixed()).toBe('0');
    }
  });

  it('sells a held security outside the model entirely', () => {
    const result = optimize({
      cash: new Dec('100.5'),
      securities: [security('IN', '10', '10', '0.5', '0.05', '0.05'), security('OUT', '7.25', '20', '0', '0', '0')],
    });
    // MV = 100.5 + 100 + 145 = 345.5; target 172.75 = 17.275 shares -> 17.
    expect(held(result)).toEqual({ IN: '17', OUT: '0' });
  });

  it('has nothing to do for a new, empty portfolio (MV 0)', () => {
    const result = optimize({ cash: new Dec(0), securities: [security('M', '0', '10', '0.5', '0.01', '0.01')] });
    expect(result.status).toBe('nothing_to_do');
    expect(held(result)).toEqual({ M: '0' });
  });

  it('says an overdrawn portfolio (MV < 0) is infeasible', () => {
    const result = optimize({ cash: new Dec(-1000), securities: [security('M', '10', '10', '0.5', '0.01', '0.01')] });
    expect(result).toMatchObject({
      status: 'infeasible',
      reason: 'overdrawn',
      message: 'the portfolio is overdrawn: its market value is -900.00, below zero',
    });
  });

  it('says when the bands cannot all be met within the cash', () => {
    // Each band forces exactly one share of 60: 120 of positions against an MV of 100.
    const result = optimize({
      cash: new Dec(100),
      securities: [security('A', '0', '60', '0.6', '0', '0'), security('B', '0', '60', '0.6', '0', '0')],
    });
    expect(result).toMatchObject({ status: 'infeasible', reason: 'cash' });
    if (result.status === 'infeasible') {
      expect(result.message).toBe(
        'no feasible solution exists: meeting every drift band needs at least 120.00 in positions, more than the market value of 100.00',
      );
    }
  });

  it('gives the same answer whatever order the securities come in', () => {
    for (const instance of corpus(1, 60)) {
      const forward = optimize(instance.input);
      const backward = optimize({ ...instance.input, securities: [...instance.input.securities].reverse() });
      expect(backward).toEqual(forward);
    }
  });

  it('takes the same decisions on the fast path as in exact arithmetic alone', () => {
    for (const instance of corpus(3000, 400)) {
      expect(optimize(instance.input), `seed ${instance.seed}`).toEqual(optimize(instance.input, { exactOnly: true }));
    }
  });

  it('decides exactly where a double would round: a target of exactly a whole number of shares', () => {
    // 0.1 + 0.2 style: MV·w/p = 3 exactly in decimals, 2.9999999999999996 in doubles.
    const result = optimize({ cash: new Dec('0.3'), securities: [security('E', '0', '0.1', '1', '0', '0')] });
    expect(held(result)).toEqual({ E: '3' });
  });

  it('answers "timed out" when the cash-binding search passes its budget', () => {
    // The greedy trap again, with a clock that jumps a second at every look.
    let clock = 0;
    const result = optimize(
      {
        cash: new Dec(1000),
        securities: [
          security('A', '0', '90', '0.0495', '0.0495', '0.05'),
          security('B', '0', '90', '0.05', '0.05', '0.05'),
          security('C', '0', '100', '0.0575', '0.0575', '0.05'),
          security('D', '0', '820', '0.82', '0', '0'),
        ],
      },
      { timeoutMs: 5, now: () => (clock += 1000) },
    );
    expect(result).toMatchObject({ status: 'infeasible', reason: 'timeout' });
    if (result.status === 'infeasible') expect(result.message).toBe('no feasible solution found: the solver timed out after 5 ms');
  });

  it('refuses malformed input', () => {
    expect(() => optimize({ cash: new Dec(1), securities: [security('A', '0', '0', '0.1', '0', '0')] })).toThrow(InvalidOptimizerInput);
    expect(() =>
      optimize({ cash: new Dec(1), securities: [security('A', '0', '1', '0.1', '0', '0'), security('A', '0', '1', '0.1', '0', '0')] }),
    ).toThrow('appears twice');
  });
});
