// Corpus part 4 of 4 (seeds 1561..2080): the optimiser against HiGHS, exactly.
import { expect, it } from 'vitest';
import { checkAgainstHighs } from './check.js';
import { corpus } from './corpus.js';

it('matches the MILP reference on 520 seeded instances', async () => {
  const seen = { feasible: 0, infeasible: 0, cashBinding: 0 };
  for (const instance of corpus(1561, 520)) {
    const outcome = await checkAgainstHighs(instance.input, `seed ${instance.seed} (${instance.family})`);
    seen[outcome.verdict] += 1;
    if (outcome.cashBinding) seen.cashBinding += 1;
  }
  // The corpus exercises every kind of answer.
  expect(seen.feasible).toBeGreaterThan(200);
  expect(seen.infeasible).toBeGreaterThan(20);
  expect(seen.cashBinding).toBeGreaterThan(40);
}, 300_000);
