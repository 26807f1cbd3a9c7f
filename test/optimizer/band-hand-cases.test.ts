// rebalance_to "band" (issue 18) on hand-worked cases: the least traded value
// that puts every security in its band within the cash, ties by least drift,
// then by security id. Trades stop at the band edge and never cross the target.
import { describe, expect, it } from 'vitest';
import { bandBruteForce } from './band-reference.js';
import { quantities } from './check.js';
import { evaluate } from './exact.js';
import { Dec, type OptimizerInput, type OptimizerSecurity, optimize, security } from './oracle.js';

const band = (cash: string, securities: OptimizerSecurity[]): OptimizerInput => ({ cash: new Dec(cash), securities, objective: 'trade' });
const held = (input: OptimizerInput) => {
  const result = optimize(input);
  expect(result.status, JSON.stringify(result)).not.toBe('infeasible');
  return Object.fromEntries([...quantities(result)].map(([id, q]) => [id.replace(/0+$/, ''), q.toFixed()]));
};

describe('the band objective', () => {
  it('buys up to the lower band edge, not to the target', () => {
    // MV 10 000; A at 10, target 50% ±10%: 400..600 shares; 300 held.
    const input = band('7000', [security('A', '300', '10', '0.5', '0.1')]);
    expect(held(input)).toEqual({ A: '400' });
    expect(held({ ...input, objective: 'drift' })).toEqual({ A: '500' }); // the target objective goes to the target
  });

  it('sells down to the upper band edge, not to the target', () => {
    expect(held(band('3000', [security('A', '700', '10', '0.5', '0.1')]))).toEqual({ A: '600' });
  });

  it('leaves a holding inside its band alone, and sells a security outside the model entirely', () => {
    const input = band('1000', [security('A', '250', '10', '0.5', '0.1'), security('OUT', '5', '100', '0', '0')]);
    // MV = 1 000 + 2 500 + 500 = 4 000: A's band 1 600..2 400 = 160..240 shares: 250 sells 10 to 240.
    expect(held(input)).toEqual({ A: '240', OUT: '0' });
    expect(held(band('5500', [security('A', '450', '10', '0.5', '0.1')]))).toEqual({ A: '450' }); // MV 10 000: inside
  });

  it('says a band too large to count in whole shares is infeasible (too_large), for either objective', () => {
    // MV 1e21: A's band 4e19..6e19 shares, beyond exact whole-share counting (2^53 − 1).
    const input = band('1e21', [security('A', '0', '10', '0.5', '0.1')]);
    for (const objective of ['trade', 'drift'] as const) {
      const result = optimize({ ...input, objective });
      expect(result).toMatchObject({ status: 'infeasible', reason: 'too_large' });
      expect(result.status === 'infeasible' && result.message).toContain('would count 60000000000000000000 whole shares');
    }
    // A short holding of 1e20 shares beside as much cash: MV 1 000, but the holding itself is beyond counting.
    const short = band('1000000000000000001000', [security('A', '-100000000000000000000', '10', '0.5', '0.1')]);
    for (const objective of ['trade', 'drift'] as const) {
      const result = optimize({ ...short, objective });
      expect(result).toMatchObject({ status: 'infeasible', reason: 'too_large' });
      expect(result.status === 'infeasible' && result.message).toContain('would count -100000000000000000000 whole shares');
    }
  });

  it('keeps a fractional holding’s fraction and trades whole shares to the edge', () => {
    // MV = 7 000 + 300.5·10 = 10 005: band 4 002..6 003 → 400.2..600.3: 400.5 (f = 0.5 + 400 whole).
    expect(held(band('7000', [security('A', '300.5', '10', '0.5', '0.1')]))).toEqual({ A: '400.5' });
  });

  it('when the cash binds, frees it with the least trade even where more drift results', () => {
    // MV 1 000, no cash. A must reach 2 shares (band 100..200 at 50): 100 to find.
    // Selling one D (100) trades 100; selling two E (120) trades 120 but drifts less (70 against 250): D wins.
    const input = band('0', [
      security('A', '0', '50', '0.15', '0.05'),
      security('D', '4', '100', '0.4', '0.1'),
      security('E', '10', '60', '0.5', '0.1'),
    ]);
    expect(held(input)).toEqual({ A: '2', D: '3', E: '10' });
    const result = evaluate(input, quantities(optimize(input)));
    expect([result.trade.toFixed(), result.drift.toFixed()]).toEqual(['200', '250']);
  });

  it('between equal trades takes the least drift, not the first security', () => {
    // MV 3 000 (cash 100). A (at 100, 50% ±10%: 12..18 shares) must buy 2: 100 more to find, one share of B or C.
    // B holds its target (900); C is 400 over its 600 and inside its band (150..1 050). Selling C lowers the drift,
    // selling B raises it: C is sold although B comes first.
    const input = band('100', [
      security('A', '10', '100', '0.5', '0.1'),
      security('B', '9', '100', '0.3', '0.15'),
      security('C', '10', '100', '0.2', '0.15'),
    ]);
    expect(held(input)).toEqual({ A: '12', B: '9', C: '9' });
    const result = evaluate(input, quantities(optimize(input)));
    expect([result.trade.toFixed(), result.drift.toFixed()]).toEqual(['300', '600']); // |1 500 − 1 200| + 0 + |600 − 900|
    expect(Object.fromEntries([...bandBruteForce(input)!].map(([id, q]) => [id.replace(/0+$/, ''), q.toFixed()]))).toEqual({
      A: '12',
      B: '9',
      C: '9',
    });
  });

  it('between equal trades and drifts takes the smallest quantities in security-id order', () => {
    // As above with B and C alike (each 10 held, 250 over a 750 target): selling one of each or two of either drifts 300.
    const input = band('0', [
      security('A', '10', '100', '0.5', '0.1'),
      security('B', '10', '100', '0.25', '0.1'),
      security('C', '10', '100', '0.25', '0.1'),
    ]);
    expect(held(input)).toEqual({ A: '12', B: '8', C: '10' });
  });

  it('is infeasible when the bands need more than the market value, and when a band holds no whole share', () => {
    // MV 1 000: A needs 500 (50%, no room below) and B at least 600 (60% − 0).
    const over = optimize(band('0', [security('A', '0', '50', '0.5', '0'), security('B', '10', '100', '0.6', '0', '0.4')]));
    expect(over.status === 'infeasible' && over.reason).toBe('cash');
    const trap = optimize(band('100000', [security('X', '0', '1500', '0.01', '0.002')]));
    expect(trap.status === 'infeasible' && trap.reason).toBe('band');
    // With room in B's band (400 to 1 000) the same book is feasible: B sells only what A needs, not down to its 400 target.
    expect(held(band('0', [security('A', '0', '50', '0.5', '0'), security('B', '10', '100', '0.4', '0', '0.6')]))).toEqual({
      A: '10',
      B: '5',
    });
  });

  it("takes issue 19's constraints: a deposit widens the bands, min_cash keeps cash back, a restriction holds its rule", () => {
    // MV 10 000 + a deposit of 2 000 = 12 000: A's band 40%..60% = 4 800..7 200 = 480..720 shares; 300 held buys 180.
    expect(held({ ...band('7000', [security('A', '300', '10', '0.5', '0.1')]), cashFlow: new Dec('2000') })).toEqual({ A: '480' });
    // MV 1 000, no cash, min_cash 10%: holdings worth at most 900. A needs 2 shares (100); B (no_sell) keeps its 4;
    // C sells: 4·100 + 2·50 + c·60 <= 900 → c <= 6.67: 6, the least trade (4 of 10 sold).
    const reserve = {
      ...band('0', [
        security('A', '0', '50', '0.15', '0.05'),
        { ...security('B', '4', '100', '0.2', '0.1'), restriction: 'no_sell' as const },
        security('C', '10', '60', '0.55', '0.5'),
      ]),
      minCash: new Dec('0.1'),
    };
    expect(held(reserve)).toEqual({ A: '2', B: '4', C: '6' });
    // Frozen far outside its band: kept as held, and the others still meet theirs.
    const frozen = band('5000', [
      { ...security('F', '100', '10', '0.1', '0.01'), restriction: 'frozen' as const },
      security('A', '0', '10', '0.3', '0.05'),
    ]);
    // MV 6 000: A's band 25%..35% = 150..210 shares; 0 held buys 150.
    expect(held(frozen)).toEqual({ A: '150', F: '100' });
  });
});
