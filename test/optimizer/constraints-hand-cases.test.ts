// Issue 19, computed by hand: cash flows, a minimum cash, restrictions and a
// minimum trade value, each on its own, and the exact re-check that guards them.
import { describe, expect, it } from 'vitest';
import { dec } from '../../src/domain/decimal.js';
import { prepare } from '../../src/optimizer/scaled.js';
import { OptimizerBug, verify } from '../../src/optimizer/verify.js';
import { quantities } from './check.js';
import { evaluateConstrained } from './constrained.js';
import { Dec, exactInput, type OptimizerInput, optimize, security } from './oracle.js';

const held = (result: ReturnType<typeof optimize>) =>
  Object.fromEntries([...quantities(result)].map(([id, q]) => [id.replace(/0+$/, ''), q.toFixed()]));
/** The answer meets every constraint, re-checked with decimal.js. */
const meetsEverything = (input: OptimizerInput, result: ReturnType<typeof optimize>) =>
  expect(evaluateConstrained(input, quantities(result)).problems).toEqual([]);

describe('cash flows', () => {
  it('invests a deposit to the targets of MV + deposit', () => {
    // MV 1 000 + deposit 1 000 = 2 000: A 50% = 1 000 = 100 shares (held), B 45% = 900 = 45 shares.
    const input = {
      cash: new Dec(0),
      cashFlow: new Dec(1000),
      securities: [security('A', '100', '10', '0.5', '0.1', '0.1'), security('B', '0', '20', '0.45', '0.1', '0.1')],
    };
    const result = optimize(input);
    expect(result).toMatchObject({ status: 'optimal' });
    expect(result.marketValue.toFixed()).toBe('2000');
    expect(held(result)).toEqual({ A: '100', B: '45' });
    meetsEverything(input, result);
    // Without the deposit the same book halves A instead.
    expect(held(optimize({ cash: input.cash, securities: input.securities }))).toEqual({ A: '50', B: '22' });
  });

  it('raises a withdrawal with the least drift', () => {
    // MV 1 000 − 300 = 700: targets 350 each. A 35 shares; B 17.5 rounds to 18 (nearer the 25 held), which
    // spends 710 > 700: selling B's share (drift 10) beats selling one of A's (drift 20).
    const input = {
      cash: new Dec(0),
      cashFlow: new Dec(-300),
      securities: [security('A', '50', '10', '0.5', '0.5', '0.5'), security('B', '25', '20', '0.5', '0.5', '0.5')],
    };
    const result = optimize(input);
    expect(held(result)).toEqual({ A: '35', B: '17' });
    meetsEverything(input, result);
    expect(evaluateConstrained(input, quantities(result)).drift.toFixed()).toBe('10');
  });

  it('says a withdrawal larger than the portfolio is infeasible', () => {
    const result = optimize({ cash: new Dec(100), cashFlow: new Dec(-300), securities: [security('A', '10', '10', '0.5', '0.5', '0.5')] });
    expect(result).toMatchObject({
      status: 'infeasible',
      reason: 'withdrawal',
      message: 'the withdrawal of 300.00 is larger than the portfolio: its market value before the withdrawal is 200.00',
    });
  });

  it('sells everything for a withdrawal of the whole portfolio', () => {
    const result = optimize({ cash: new Dec(100), cashFlow: new Dec(-200), securities: [security('A', '10', '10', '0.5', '0.5', '0.5')] });
    expect(result.status).toBe('optimal');
    expect(held(result)).toEqual({ A: '0' });
  });
});

describe('minimum cash', () => {
  it('binds: sells down to keep MV·min_cash in cash', () => {
    // MV 1 000, targets 47.5% at price 30: 15.83 shares -> 16 each (960). With 5% in cash at most 950 may be
    // held: one share goes (drift +20 either way; equal trades; the smaller quantity first in id order).
    const securities = [security('A', '0', '30', '0.475', '0.1', '0.1'), security('B', '0', '30', '0.475', '0.1', '0.1')];
    expect(held(optimize({ cash: new Dec(1000), securities }))).toEqual({ A: '16', B: '16' });
    const input = { cash: new Dec(1000), minCash: new Dec('0.05'), securities };
    const result = optimize(input);
    expect(held(result)).toEqual({ A: '15', B: '16' });
    meetsEverything(input, result);
  });

  it('names the minimum cash when the bands cannot all be met within it', () => {
    const result = optimize({
      cash: new Dec(1000),
      minCash: new Dec('0.1'),
      securities: [security('A', '0', '10', '0.95', '0.01', '0.01')],
    });
    expect(result).toMatchObject({
      status: 'infeasible',
      reason: 'cash',
      message:
        'no feasible solution exists: meeting every drift band needs at least 940.00 in positions, ' +
        'more than the 900.00 the minimum cash of 0.1 leaves of the market value of 1000.00',
    });
  });
});

describe('restrictions', () => {
  it('no_buy: a security far below its band is held, not bought, and says so', () => {
    // MV 1 000: A's band 45..55 shares; 10 held and no buying: the band gives way to the holding.
    const input = {
      cash: new Dec(900),
      securities: [security('A', '10', '10', '0.5', '0.05', '0.05', 'no_buy'), security('B', '0', '10', '0.4', '0.05', '0.05')],
    };
    const result = optimize(input);
    expect(held(result)).toEqual({ A: '10', B: '40' });
    if (result.status === 'infeasible') return;
    expect(result.positions.map((p) => p.restriction ?? null)).toEqual(['no_buy', null]);
    meetsEverything(input, result);
  });

  it('no_buy: selling down into the band is still allowed', () => {
    // MV 1 000: A 90 held, band 15..25 shares: sold to the target 20.
    const input = { cash: new Dec(100), securities: [security('A', '90', '10', '0.2', '0.05', '0.05', 'no_buy')] };
    const result = optimize(input);
    expect(held(result)).toEqual({ A: '20' });
    expect(result).toMatchObject({ positions: [{ restriction: 'no_buy' }] });
  });

  it('no_sell: a security far above its band is kept; a held security outside the model stays', () => {
    const input = {
      cash: new Dec(50),
      securities: [security('A', '90', '10', '0.2', '0.05', '0.05', 'no_sell'), security('OUT', '5', '10', '0', '0', '0', 'no_sell')],
    };
    const result = optimize(input);
    expect(held(result)).toEqual({ A: '90', OUT: '5' });
    meetsEverything(input, result);
  });

  it('no_sell: buying up to the target is still allowed', () => {
    const input = { cash: new Dec(900), securities: [security('A', '10', '10', '0.5', '0.05', '0.05', 'no_sell')] };
    const result = optimize(input);
    expect(held(result)).toEqual({ A: '50' });
    expect(result).toMatchObject({ positions: [{ restriction: 'no_sell' }] });
  });

  it('frozen: no trade either way, even inside the band', () => {
    const input = {
      cash: new Dec(900),
      securities: [security('A', '48', '10', '0.5', '0.05', '0.05', 'frozen'), security('B', '3', '10', '0', '0', '0', 'frozen')],
    };
    const result = optimize(input);
    expect(held(result)).toEqual({ A: '48', B: '3' });
    if (result.status !== 'infeasible') expect(result.positions.map((p) => p.restriction)).toEqual(['frozen', 'frozen']);
  });

  it('never makes a portfolio infeasible: a restricted band with no whole share keeps the holding', () => {
    // Unrestricted this is the rounding trap (infeasible 'band'); frozen it is held.
    const trap = security('X', '0', '1500', '0.01', '0.002', '0.002');
    expect(optimize({ cash: new Dec(100_000), securities: [trap] })).toMatchObject({ status: 'infeasible', reason: 'band' });
    expect(held(optimize({ cash: new Dec(100_000), securities: [{ ...trap, restriction: 'no_buy' }] }))).toEqual({ X: '0' });
  });
});

describe('minimum trade value', () => {
  it('suppresses a tiny trade', () => {
    // MV 10 000: A's target 10.1% = 1 010 = 101 shares; buying one share (10) is below the minimum of 100.
    const securities = [security('A', '100', '10', '0.101', '0.05', '0.05')];
    expect(held(optimize({ cash: new Dec(9000), securities }))).toEqual({ A: '101' });
    const input = { cash: new Dec(9000), minTradeValue: new Dec(100), securities };
    const result = optimize(input);
    expect(held(result)).toEqual({ A: '100' });
    meetsEverything(input, result);
  });

  it('still allows selling the whole holding, however small', () => {
    // OUT is outside the model: 3 shares worth 30, below the minimum of 100, and sold all the same; A's
    // target 101 shares is one share (10) away: that trade is suppressed.
    const input = {
      cash: new Dec(9000),
      minTradeValue: new Dec(100),
      securities: [security('A', '100', '10', '0.101', '0.05', '0.05'), security('OUT', '3', '10', '0', '0', '0')],
    };
    const result = optimize(input);
    expect(held(result)).toEqual({ A: '100', OUT: '0' });
    meetsEverything(input, result);
  });

  it('names the minimum trade when it leaves a security no allowed holding', () => {
    // MV 10 000: A's band 1..2 shares from 0 held, trades must be >= 10 shares at price 10 (100): nothing fits.
    const result = optimize({
      cash: new Dec(10_000),
      minTradeValue: new Dec(100),
      securities: [security('A', '0', '10', '0.0015', '0.0005', '0.0005')],
    });
    expect(result).toMatchObject({ status: 'infeasible', reason: 'min_trade' });
    if (result.status !== 'infeasible') return;
    expect(result.message).toBe(
      'no feasible solution exists: the minimum trade value of 100.00 leaves no allowed holding in the drift band of ' +
        `${'A'.padEnd(24, '0')} (the band allows 1 to 2 shares, the holding is 0, and a trade at price 10 needs at least 10 shares)`,
    );
  });
});

describe('the exact re-check (verify)', () => {
  // MV = 120 + 480 + 400 = 1 000: B's band 30..50 shares, at most 950 held, trades of at least 10 shares.
  const input = exactInput({
    cash: new Dec(120),
    minCash: new Dec('0.05'),
    minTradeValue: new Dec(100),
    securities: [security('A', '48', '10', '0.5', '0.1', '0.1', 'frozen'), security('B', '40', '10', '0.4', '0.1', '0.1')],
  });
  const problem = prepare(input);
  it('accepts an answer that meets every constraint, and knows the constraints it checks', () => {
    expect(() => verify(problem, Float64Array.from([48, 40]))).not.toThrow();
    expect(problem.CAP).toBeGreaterThan(0n); // MV·(1 − min_cash), at the drift scale
    expect(problem.R).toEqual(['frozen', null]);
  });
  it.each([
    ['a frozen security traded', [50, 40], 'frozen, yet traded'],
    ['a trade below the minimum', [48, 45], 'less than the minimum trade value'],
    ['less cash than the minimum', [48, 50], 'less cash than the minimum cash'],
  ])('rejects %s', (_, whole, message) => {
    expect(() => verify(problem, Float64Array.from(whole))).toThrow(OptimizerBug);
    expect(() => verify(problem, Float64Array.from(whole))).toThrow(message);
  });
  it('rejects a no_buy security bought and a no_sell one sold', () => {
    const rules = prepare({
      cash: dec(1000),
      securities: [
        { ...input.securities[1]!, securityId: 'C', quantity: dec(10), restriction: 'no_buy' },
        { ...input.securities[1]!, securityId: 'D', quantity: dec(50), restriction: 'no_sell' },
      ],
    });
    expect(() => verify(rules, Float64Array.from([40, 50]))).toThrow('restricted no_buy, yet bought');
    expect(() => verify(rules, Float64Array.from([10, 45]))).toThrow('restricted no_sell, yet sold');
  });
});
