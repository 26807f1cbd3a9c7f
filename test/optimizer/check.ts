// Shared assertions of the corpus tests: the optimiser against the references.
import { expect, it } from 'vitest';
import { corpus, generateFractional } from './corpus.js';
import { bands, evaluate, fractionOf, marketValue } from './exact.js';
import { solveWithHighs } from './highs-reference.js';
import { Dec, type OptimizerInput, type OptimizerResult, optimize } from './oracle.js';

export function quantities(result: OptimizerResult): Map<string, Dec> {
  if (result.status === 'infeasible') throw new Error('no quantities in an infeasible answer');
  return new Map(result.positions.map((p) => [p.securityId, p.adjusted]));
}

/**
 * Without the cash constraint each security is on its own: the nearest holding
 * f + k (k whole, f the kept fraction) in its band; ties to the one nearer the
 * holding, then the smaller.
 */
export function independentBest(input: OptimizerInput): Map<string, Dec> {
  const mv = marketValue(input);
  const band = bands(input);
  const best = new Map<string, Dec>();
  input.securities.forEach((s, i) => {
    const target = mv.times(s.target);
    const f = fractionOf(s);
    const t = target.dividedBy(s.price).minus(f);
    const candidates = [t.floor(), t.ceil()].map((k) => Dec.min(Dec.max(k, band[i]!.low), band[i]!.high).plus(f));
    candidates.sort((a, b) => {
      const da = target
        .minus(a.times(s.price))
        .abs()
        .comparedTo(target.minus(b.times(s.price)).abs());
      if (da !== 0) return da;
      const ta = a.minus(s.quantity).abs().comparedTo(b.minus(s.quantity).abs());
      return ta !== 0 ? ta : a.comparedTo(b);
    });
    best.set(s.securityId, candidates[0]!);
  });
  return best;
}

/** Does the cash constraint bind: would each security's own best spend more than the market value? */
export function cashBinds(input: OptimizerInput): boolean {
  const price = new Map(input.securities.map((s) => [s.securityId, s.price]));
  let spend = new Dec(0);
  for (const [id, q] of independentBest(input)) spend = spend.plus(q.times(price.get(id)!));
  return spend.greaterThan(marketValue(input));
}

export interface Outcome {
  readonly verdict: 'feasible' | 'infeasible';
  readonly cashBinding: boolean;
}

/** Asserts one instance against HiGHS (and the independent rule when cash does not bind). */
export async function checkAgainstHighs(input: OptimizerInput, label: string): Promise<Outcome> {
  const ours = optimize(input);
  const reference = await solveWithHighs(input);
  const oursFeasible = ours.status !== 'infeasible';
  if (ours.status === 'infeasible') expect(ours.reason, `${label}: ${ours.message}`).not.toBe('timeout');
  expect(oursFeasible, `${label}: feasibility verdict`).toBe(reference.feasible);
  if (ours.status === 'infeasible' || !reference.feasible) return { verdict: 'infeasible', cashBinding: false };

  const mine = evaluate(input, quantities(ours));
  const theirs = evaluate(input, reference.x);
  expect(mine.feasible, `${label}: our answer is feasible`).toBe(true);
  expect(theirs.feasible, `${label}: the reference answer is feasible`).toBe(true);
  expect(mine.drift.toFixed(), `${label}: drift equals the reference optimum`).toBe(theirs.drift.toFixed());
  // Tie-break: among optimal answers ours trades least.
  expect(mine.trade.lessThanOrEqualTo(theirs.trade), `${label}: trades no more than the reference`).toBe(true);
  const binding = cashBinds(input);
  if (!binding) {
    const expected = independentBest(input);
    for (const [id, q] of quantities(ours)) expect(q.toFixed(), `${label}: ${id}`).toBe(expected.get(id)!.toFixed());
  }
  return { verdict: 'feasible', cashBinding: binding };
}

/** One part of the 2 080-instance corpus (4 files, so two test workers share it). */
export function corpusPart(part: number): void {
  const size = 520;
  const first = (part - 1) * size + 1;
  it(`matches the MILP reference on seeds ${first}..${first + size - 1}`, async () => {
    const seen = { feasible: 0, infeasible: 0, cashBinding: 0 };
    for (const instance of corpus(first, size)) {
      const outcome = await checkAgainstHighs(instance.input, `seed ${instance.seed} (${instance.family})`);
      seen[outcome.verdict] += 1;
      if (outcome.cashBinding) seen.cashBinding += 1;
    }
    // The corpus exercises every kind of answer.
    expect(seen.feasible).toBeGreaterThan(200);
    expect(seen.infeasible).toBeGreaterThan(20);
    expect(seen.cashBinding).toBeGreaterThan(40);
  }, 300_000);
}

/**
 * One part of the 320-instance fractional corpus (2 files): whole-share trades
 * keep a holding's fraction, checked against HiGHS on the whole shares.
 */
export function fractionalCorpusPart(part: number): void {
  const size = 160;
  const first = (part - 1) * size + 1;
  it(`matches the MILP reference with fractional holdings on seeds ${first}..${first + size - 1}`, async () => {
    const seen = { feasible: 0, infeasible: 0, cashBinding: 0, fractionKept: 0 };
    for (let seed = first; seed < first + size; seed++) {
      const instance = generateFractional(seed);
      const label = `fractional seed ${seed} (${instance.family})`;
      const outcome = await checkAgainstHighs(instance.input, label);
      seen[outcome.verdict] += 1;
      if (outcome.cashBinding) seen.cashBinding += 1;
      const result = optimize(instance.input);
      if (result.status === 'infeasible') continue;
      for (const p of result.positions) {
        expect(p.adjusted.minus(p.original).isInteger(), `${label}: ${p.securityId} trades whole shares`).toBe(true);
        if (!p.adjusted.isInteger()) seen.fractionKept += 1;
      }
    }
    // Every kind of answer, with fractions kept in most positions.
    expect(seen.feasible).toBeGreaterThan(100);
    expect(seen.infeasible).toBeGreaterThan(10);
    expect(seen.cashBinding).toBeGreaterThan(40);
    expect(seen.fractionKept).toBeGreaterThan(1000);
  }, 300_000);
}
