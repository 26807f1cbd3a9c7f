// The two exact methods for the cash-binding case, branch and bound and the
// fill DP, against each other and against exhaustive search.
import { describe, expect, it } from 'vitest';
import { abs } from '../../src/optimizer/bigint-math.js';
import { solveByFill } from '../../src/optimizer/fill-dp.js';
import { type KnapsackItem, type KnapsackProblem, solveKnapsack } from '../../src/optimizer/knapsack.js';
import { random } from './corpus.js';

const noDeadline = { now: () => 0, at: Infinity };

/** A random sell-down problem: a few dear shares and some cheap ones sellable by the dozen. */
function problem(seed: number, maxK: number): KnapsackProblem {
  const rnd = random(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const items: KnapsackItem[] = Array.from({ length: int(1, 5) }, (_, index) => {
    const cheap = rnd() < 0.5;
    const price = BigInt(cheap ? int(2, 40) : int(100, 900)) * 100n; // drift units
    const maxShares = cheap ? int(1, maxK) : int(1, 3);
    // Below half a share: at exactly half, step 2 rounds up only towards the holding (see knapsack.ts).
    const overshoot = rnd() < 0.3 ? 0n : BigInt(int(0, Number(price) / 2 - 1));
    const b = BigInt(maxShares + int(0, 5));
    return { index, price, overshoot, maxShares, b, Q: BigInt(int(-2, Number(b) + 3)) * 10n + BigInt(int(0, 9)), P: price / 100n };
  });
  const capacity = items.reduce((sum, it) => sum + BigInt(it.maxShares) * it.price, 0n);
  const need = 1n + BigInt(Math.floor(rnd() * Number(capacity)));
  return { items, need, sq: 1 };
}

/** Every vector of sales, ranked by (drift, trade, quantities in id order). */
function exhaustive(p: KnapsackProblem): number[] {
  const S = 10n;
  let best: { k: number[]; drift: bigint; trade: bigint } | null = null;
  const k: number[] = [];
  const walk = (i: number, freed: bigint, drift: bigint, trade: bigint) => {
    if (i === p.items.length) {
      if (freed < p.need) return;
      const earlier =
        best !== null &&
        k.findIndex((v, j) => v !== best!.k[j]) >= 0 &&
        k[k.findIndex((v, j) => v !== best!.k[j])]! > best.k[k.findIndex((v, j) => v !== best!.k[j])]!;
      if (best === null || drift < best.drift || (drift === best.drift && (trade < best.trade || (trade === best.trade && earlier)))) {
        best = { k: [...k], drift, trade };
      }
      return;
    }
    const it = p.items[i]!;
    const base = abs(it.b * S - it.Q) * it.P;
    for (let c = 0; c <= it.maxShares; c++) {
      k[i] = c;
      const d = c === 0 ? 0n : BigInt(c) * it.price - 2n * it.overshoot;
      walk(i + 1, freed + BigInt(c) * it.price, drift + d, trade + abs(it.b * S - it.Q - BigInt(c) * S) * it.P - base);
    }
    k.length = i;
  };
  walk(0, 0n, 0n, 0n);
  return (best as { k: number[] } | null)!.k;
}

describe('selling down to free the overspend', () => {
  it('branch and bound, the fill DP and exhaustive search agree on small problems', () => {
    let viaFill = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const p = problem(seed, 40);
      const expected = exhaustive(p);
      const bb = solveKnapsack(p, noDeadline);
      expect(bb, `seed ${seed}: branch and bound`).toEqual(expected);
      const fill = solveByFill(p, () => {});
      if (fill !== null) {
        viaFill += 1;
        expect(fill, `seed ${seed}: fill DP`).toEqual(expected);
      }
    }
    expect(viaFill).toBeGreaterThan(300);
  });

  it('branch and bound and the fill DP agree where cheap shares run to hundreds', () => {
    for (let seed = 1000; seed < 1150; seed++) {
      const p = problem(seed, 400);
      const bb = solveKnapsack(p, noDeadline);
      const fill = solveByFill(p, () => {});
      expect(fill, `seed ${seed}`).not.toBeNull();
      expect(bb, `seed ${seed}`).toEqual(fill);
    }
  });
});
