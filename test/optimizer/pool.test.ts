// The optimiser off the event loop: worker threads give the same answers.
import { afterAll, describe, expect, it } from 'vitest';
import { optimize } from '../../src/optimizer/index.js';
import { createOptimizerPool } from '../../src/optimizer/pool.js';
import { corpus, generate, generateFractional } from './corpus.js';
import { exactInput } from './oracle.js';

const pool = createOptimizerPool({ timeoutMs: 30_000, size: 2 });
afterAll(async () => {
  await pool.close();
});

describe('the optimiser pool', () => {
  it('answers exactly as the synchronous optimiser, solving cash-binding and large problems in workers', async () => {
    const fractional = Array.from({ length: 20 }, (_, i) => generateFractional(i + 1));
    const instances = [...corpus(1, 80), ...fractional, generate(11, 'large'), generate(3056, 'book')];
    const results = await Promise.all(instances.map((instance) => pool.optimize(exactInput(instance.input))));
    results.forEach((result, i) => {
      expect(result, `seed ${instances[i]!.seed}`).toEqual(optimize(exactInput(instances[i]!.input)));
    });
    const { inline, offloaded } = pool.stats();
    expect(inline).toBeGreaterThan(40);
    expect(offloaded).toBeGreaterThan(5);
  });

  it('times out in the worker with the budget given', async () => {
    const tiny = createOptimizerPool({ timeoutMs: 1, size: 1 });
    try {
      // A sell-down that takes a few hundred milliseconds.
      const result = await tiny.optimize(exactInput(generate(3056, 'book').input));
      expect(result).toMatchObject({ status: 'infeasible', reason: 'timeout' });
    } finally {
      await tiny.close();
    }
  });

  it('refuses work once closed', async () => {
    const closing = createOptimizerPool({ timeoutMs: 1000, size: 1 });
    await closing.close();
    await expect(closing.optimize(exactInput(generate(1, 'book').input))).rejects.toThrow('closed');
  });
});
