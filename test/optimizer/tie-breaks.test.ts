// Ties are broken as rebalancing.md says: least drift, then least trade value,
// then smallest quantities in security-id order. Checked exhaustively on small
// instances built to tie (few distinct prices, round targets, half shares).
import { describe, expect, it } from 'vitest';
import { bruteForce, searchSize } from './brute-force.js';
import { cashBinds, quantities } from './check.js';
import { random } from './corpus.js';
import { Dec, type OptimizerInput, type OptimizerSecurity, optimize } from './oracle.js';

function tieHeavy(seed: number): OptimizerInput {
  const rnd = random(seed);
  const pick = <T>(values: readonly T[]) => values[Math.floor(rnd() * values.length)]!;
  const n = 1 + Math.floor(rnd() * 5);
  // Targets in steps of 0.05 adding up to 0.9 .. 1.1: often more than the cash allows once rounded.
  const steps = Array.from({ length: n }, () => 1);
  for (let extra = 18 + Math.floor(rnd() * 5) - n; extra > 0; extra--) steps[Math.floor(rnd() * n)]! += 1;
  const price = pick(['10', '20', '25', '40', '50', '12.5']);
  const securities: OptimizerSecurity[] = Array.from({ length: n }, (_, i) => ({
    securityId: `TIE${String(i).padStart(21, '0')}`,
    quantity: new Dec(pick(['0', '1', '2', '2.5', '3', '-1', '5'])),
    price: new Dec(rnd() < 0.7 ? price : pick(['10', '20', '25', '50'])),
    target: new Dec((steps[i]! * 0.05).toFixed(2)),
    lowDrift: new Dec(pick(['0', '0.01', '0.05', '0.1', '0.2'])),
    highDrift: new Dec(pick(['0', '0.01', '0.05', '0.1'])),
  }));
  const held = securities.reduce((sum, s) => sum.plus(s.quantity.times(s.price)), new Dec(0));
  const mv = new Dec(pick(['100', '150', '200', '250', '300', '500']));
  return { securities, cash: mv.minus(held) };
}

describe('tie-breaks against exhaustive search', () => {
  it('agrees on 600 tie-heavy instances, cash-binding ones included', () => {
    let compared = 0;
    let binding = 0;
    let ties = 0;
    for (let seed = 1; compared < 600; seed++) {
      const input = tieHeavy(seed);
      if (searchSize(input) > 5000) continue;
      const expected = bruteForce(input);
      const result = optimize(input);
      if (expected === null) expect(result.status, `seed ${seed}`).toBe('infeasible');
      else {
        expect(result.status, `seed ${seed}`).not.toBe('infeasible');
        const got = quantities(result);
        for (const [id, q] of expected) expect(got.get(id)!.toFixed(), `seed ${seed} ${id}`).toBe(q.toFixed());
        if (cashBinds(input)) binding += 1;
      }
      // An instance ties when another security shares the first one's price.
      const [first, ...others] = input.securities;
      if (expected !== null && others.some((s) => s.price.equals(first!.price))) ties += 1;
      compared += 1;
    }
    expect(binding).toBeGreaterThan(30);
    // 151 of the 281 feasible instances tie with these seeds.
    expect(ties).toBeGreaterThan(140);
  });

  it('breaks an exact half-share tie towards the holding, and keeps the fraction of a fractional holding', () => {
    const security = (id: string, quantity: string): OptimizerSecurity => ({
      securityId: id,
      quantity: new Dec(quantity),
      price: new Dec(40),
      // MV 1000 · 0.06 = 60 = exactly 1.5 shares of 40.
      target: new Dec('0.06'),
      lowDrift: new Dec('0.05'),
      highDrift: new Dec('0.05'),
    });
    const input = (q: string) => {
      const securities = [security('A00000000000000000000000', q)];
      return { securities, cash: new Dec(1000).minus(new Dec(q).times(40)) };
    };
    expect(
      quantities(optimize(input('0')))
        .get('A00000000000000000000000')!
        .toFixed(),
    ).toBe('1');
    expect(
      quantities(optimize(input('2')))
        .get('A00000000000000000000000')!
        .toFixed(),
    ).toBe('2');
    // Held fractionally, the target of 1.5 shares is reached exactly, or as near as whole trades allow.
    expect(
      quantities(optimize(input('1.5')))
        .get('A00000000000000000000000')!
        .toFixed(),
    ).toBe('1.5');
    expect(
      quantities(optimize(input('0.5')))
        .get('A00000000000000000000000')!
        .toFixed(),
    ).toBe('1.5');
    expect(
      quantities(optimize(input('2.25')))
        .get('A00000000000000000000000')!
        .toFixed(),
    ).toBe('1.25');
  });
});
