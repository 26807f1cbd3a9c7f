// Shared assertions of the corpus tests: the optimiser against the references.
import { expect, it } from 'vitest';
import { Dec } from '../../src/domain/decimal.js';
import { optimize, type OptimizerInput, type OptimizerResult } from '../../src/optimizer/index.js';
import { corpus } from './corpus.js';
import { bands, evaluate, marketValue } from './exact.js';
import { solveWithHighs } from './highs-reference.js';

export function quantities(result: OptimizerResult): Map<string, Dec> {
  if (result.status === 'infeasible') throw new Error('no quantities in an infeasible answer');
  return new Map(result.positions.map((p) => [p.securityId, p.adjusted]));
}

/**
 * Without the cash constraint each security is on its own: the nearest whole
 * number of shares in its band; ties to the one nearer the holding, then the smaller.
 */
export function independentBest(input: OptimizerInput): Map<string, Dec> {
  const mv = marketValue(input);
  const band = bands(input);
  const best = new Map<string, Dec>();
  input.securities.forEach((s, i) => {
    const target = mv.times(s.target);
    const t = target.dividedBy(s.price);
    const candidates = [t.floor(), t.ceil()].map((x) => Dec.min(Dec.max(x, band[i]!.low), band[i]!.high));
    candidates.sort((a, b) => {
      const da = target.minus(a.times(s.price)).abs().comparedTo(target.minus(b.times(s.price)).abs());
      if (da !== 0) return da;
      const ta = a.minus(s.quantity).abs().comparedTo(b.minus(s.quantity).abs());
      return ta !== 0 ? ta : a.comparedTo(b);
    });
    best.set(s.securityId, candidates[0]!);
  });
  return best;
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
  expect(ours.driftAfter.toFixed(), `${label}: reported drift`).toBe(mine.drift.toFixed());
  // Tie-break: among optimal answers ours trades least.
  expect(mine.trade.lessThanOrEqualTo(theirs.trade), `${label}: trades no more than the reference`).toBe(true);
  if (!ours.cashBinding) {
    const expected = independentBest(input);
    for (const [id, q] of quantities(ours)) expect(q.toFixed(), `${label}: ${id}`).toBe(expected.get(id)!.toFixed());
  }
  return { verdict: 'feasible', cashBinding: ours.cashBinding };
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
