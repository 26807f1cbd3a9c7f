// Hand-computed cases that pin what the optimiser's answers mean.
import { describe, expect, it } from 'vitest';
import { InvalidOptimizerInput } from '../../src/optimizer/index.js';
import { cashBinds, quantities } from './check.js';
import { corpus } from './corpus.js';
import { evaluate } from './exact.js';
import { Dec, optimize, security } from './oracle.js';

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
    expect(result.securities.map((s) => [s.bandLow.toFixed(), s.bandHigh.toFixed(), s.minShares.toFixed(), s.maxShares.toFixed()])).toEqual(
      [['800', '1200', '1', '0']],
    );
  });

  it('frees cash at least drift cost where greedy does not (the greedy trap)', () => {
    // Rounded up, A, B and C overspend by 100. Selling A's share frees 90 for 9 of drift,
    // B's 90 for 10, C's 100 for 15: greedy sells A and B (19), the optimum sells C (15).
    const input = {
      cash: new Dec(1000),
      securities: [
        security('A', '0', '90', '0.0495', '0.0495', '0.05'),
        security('B', '0', '90', '0.05', '0.05', '0.05'),
        security('C', '0', '100', '0.0575', '0.0575', '0.05'),
        security('D', '0', '820', '0.82', '0', '0'),
      ],
    };
    const result = optimize(input);
    expect(result.status).toBe('optimal');
    if (result.status !== 'optimal') return;
    expect(held(result)).toEqual({ A: '1', B: '1', C: '0', D: '1' });
    expect(cashBinds(input)).toBe(true);
    // |49.5 − 90| + |50 − 90| + |57.5 − 0| + 0
    expect(evaluate(input, quantities(result)).drift.toFixed()).toBe('138');
  });

  it('covers a short with a buy', () => {
    // MV = 10 000 − 10·50 + 5·100 = 10 000; target 10% = 1 000 = 20 shares from −10.
    const input = {
      cash: new Dec(10_000),
      securities: [security('S', '-10', '50', '0.1', '0.01', '0.01'), security('O', '5', '100', '0', '0', '0')],
    };
    const result = optimize(input);
    expect(result.status).toBe('optimal');
    expect(held(result)).toEqual({ S: '20', O: '0' });
    if (result.status === 'optimal') {
      expect(result.marketValue.toFixed()).toBe('10000');
      const before = new Map(input.securities.map((s) => [s.securityId, s.quantity]));
      expect(evaluate(input, before).drift.toFixed()).toBe('2000'); // |1000 + 500| + |0 − 500|
      expect(evaluate(input, quantities(result)).drift.toFixed()).toBe('0');
    }
  });

  it('sells a held security outside the model entirely', () => {
    const result = optimize({
      cash: new Dec('100.5'),
      securities: [security('IN', '10', '10', '0.5', '0.05', '0.05'), security('OUT', '7', '20', '0', '0', '0')],
    });
    // MV = 100.5 + 100 + 140 = 340.5; target 170.25 = 17.025 shares -> 17.
    expect(held(result)).toEqual({ IN: '17', OUT: '0' });
  });

  it('trades whole shares only: a fractional holding keeps its fraction', () => {
    // MV = 500 + 10.5·10 + 2.25·100 = 830. A: 50% = 415 = 41.5 shares: 41.5 = 10.5 + 31, exactly.
    // B: 20% = 166 = 1.66 shares: 1.25 or 2.25 (drift 41 or 59), not 1 or 2.
    const input = {
      cash: new Dec(500),
      securities: [security('A', '10.5', '10', '0.5', '0.05', '0.05'), security('B', '2.25', '100', '0.2', '0.2', '0.2')],
    };
    const result = optimize(input);
    expect(result.status).toBe('optimal');
    expect(held(result)).toEqual({ A: '41.5', B: '1.25' });
    if (result.status === 'optimal') {
      expect(result.positions.map((p) => p.adjusted.minus(p.original).toFixed())).toEqual(['31', '-1']);
      expect(evaluate(input, quantities(result)).drift.toFixed()).toBe('41');
    }
  });

  it('keeps the fraction of a short: -2.5 shares can be covered to 0.5, 1.5, ...', () => {
    // MV = 1 000 − 2.5·40 = 900; target 10% = 90 = 2.25 shares: 2.5 (drift 10) beats 1.5 (drift 30).
    const result = optimize({ cash: new Dec(1000), securities: [security('S', '-2.5', '40', '0.1', '0.05', '0.05')] });
    expect(held(result)).toEqual({ S: '2.5' });
  });

  it('says a fractional holding outside the model is infeasible: no whole-share order can sell its fraction', () => {
    const result = optimize({
      cash: new Dec('100.5'),
      securities: [security('IN', '10', '10', '0.5', '0.05', '0.05'), security('OUT', '7.25', '20', '0', '0', '0')],
    });
    expect(result).toMatchObject({ status: 'infeasible', reason: 'band' });
    if (result.status !== 'infeasible') return;
    expect(result.message).toBe(
      'no feasible solution exists: no whole number of shares meets the drift band of ' +
        `${'OUT'.padEnd(24, '0')} (band 0.00 to 0.00 at price 20 allows 0 to -1 whole shares beside the 0.25 share held, a fraction whole-share orders cannot trade)`,
    );
  });

  it('applies the band to the holding with its fraction', () => {
    // MV 1 000, price 100, band 20% ± 5% = 150..250: 1.5 to 2.5 shares. Held 0.6: 1.6 or 2.6 -> 1.6 (160, drift 40).
    // Held 0.6 with band 20% ± 1% = 190..210: 1.9..2.1 shares, and no 0.6 + k lands there.
    const holding = (band: string) => optimize({ cash: new Dec(940), securities: [security('F', '0.6', '100', '0.2', band, band)] });
    expect(held(holding('0.05'))).toEqual({ F: '1.6' });
    expect(holding('0.01')).toMatchObject({ status: 'infeasible', reason: 'band' });
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
