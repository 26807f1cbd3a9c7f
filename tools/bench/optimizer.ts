// Optimiser benchmark (issue 3): solve time of this optimiser, of HiGHS and of
// javascript-lp-solver on the same seeded instances, and each one's gap to the
// exact optimum, for N = 10, 100, 500 with and without a binding cash constraint.

import { optimize as exactOptimize } from '../../src/optimizer/index.js';
import { prepare } from '../../src/optimizer/scaled.js';
import { solveScaled } from '../../src/optimizer/solve.js';
import { cashBinds, quantities } from '../../test/optimizer/check.js';
import { type Family, generate } from '../../test/optimizer/corpus.js';
import { bands, evaluate, marketValue } from '../../test/optimizer/exact.js';
import { solveWithHighs } from '../../test/optimizer/highs-reference.js';
import { type Dec, exactInput, type OptimizerInput, optimize } from '../../test/optimizer/oracle.js';
import { solveWithLpSolver } from './lp-solver.js';

export interface Stats {
  readonly samples: number;
  readonly medianMs: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface MethodRow extends Stats {
  readonly method: string;
  /** Instances where the method's answer matched the exact optimum (drift equal, answer feasible). */
  readonly exact: number;
  /** Largest relative drift gap to the optimum, and answers that were infeasible or not whole shares. */
  readonly worstGap: number;
  readonly wrong: number;
  readonly unsolved: number;
}

export interface OptimizerBenchRow {
  readonly n: number;
  readonly binding: boolean;
  readonly methods: MethodRow[];
}

export function stats(times: number[]): Stats {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { samples: sorted.length, medianMs: at(0.5), p99Ms: at(0.99), maxMs: sorted[sorted.length - 1] ?? NaN };
}

/** Instances of exactly n securities that do (or do not) make the cash constraint bind, and are feasible. */
function instances(n: number, binding: boolean, count: number): OptimizerInput[] {
  const out: OptimizerInput[] = [];
  const family: Family = binding ? 'tight' : 'book';
  for (let seed = 1; out.length < count && seed < 200_000; seed++) {
    const { input } = generate(seed * 7919 + n, family, n);
    const result = optimize(input);
    if (result.status === 'optimal' && cashBinds(input) === binding) out.push(input);
  }
  return out;
}

/**
 * Time of one solve in ms: the median of 7 timed batches, each repeated until
 * it adds up to a measurable span, so that a garbage collection or a timer
 * tick does not decide an instance's figure.
 */
export function timeIt(run: () => void): number {
  run();
  let reps = 1;
  for (;;) {
    const start = process.hrtime.bigint();
    for (let r = 0; r < reps; r++) run();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (ms >= 0.5 || reps >= 1024) break;
    reps *= 4;
  }
  const batches: number[] = [];
  for (let b = 0; b < 7; b++) {
    const start = process.hrtime.bigint();
    for (let r = 0; r < reps; r++) run();
    batches.push(Number(process.hrtime.bigint() - start) / 1e6 / reps);
  }
  return batches.sort((a, b) => a - b)[3]!;
}

interface Checked {
  exact: number;
  worstGap: number;
  wrong: number;
  unsolved: number;
}

function compare(input: OptimizerInput, optimum: Dec, x: Map<string, Dec> | null, tally: Checked): void {
  if (x === null) {
    tally.unsolved += 1;
    return;
  }
  const evaluated = evaluate(input, x);
  if (!evaluated.feasible) {
    tally.wrong += 1;
    return;
  }
  const gap = optimum.isZero() ? evaluated.drift.toNumber() : evaluated.drift.minus(optimum).dividedBy(optimum).toNumber();
  if (gap === 0) tally.exact += 1;
  tally.worstGap = Math.max(tally.worstGap, gap);
}

export async function benchOptimizer(log: (line: string) => void): Promise<OptimizerBenchRow[]> {
  const rows: OptimizerBenchRow[] = [];
  for (const n of [10, 100, 500]) {
    for (const binding of [false, true]) {
      const count = n === 500 ? (binding ? 60 : 200) : 300;
      const set = instances(n, binding, count);
      log(`optimiser: N=${n} ${binding ? 'cash binds' : 'cash free'}: ${set.length} instances`);

      const core: number[] = [];
      const full: number[] = [];
      for (const input of set) {
        const exact = exactInput(input);
        const problem = prepare(exact);
        core.push(timeIt(() => solveScaled(problem, { now: () => 0, at: Infinity })));
        full.push(timeIt(() => exactOptimize(exact)));
      }
      const ours: Checked = { exact: set.length, worstGap: 0, wrong: 0, unsolved: 0 };
      const methods: MethodRow[] = [
        { method: 'this optimiser (solve)', ...stats(core), ...ours },
        { method: 'this optimiser (decimals in, verified decimals out)', ...stats(full), ...ours },
      ];

      const highsSet = set.slice(0, n === 500 ? 12 : n === 100 ? (binding ? 30 : 60) : 120);
      const highsTimes: number[] = [];
      const highsTally: Checked = { exact: 0, worstGap: 0, wrong: 0, unsolved: 0 };
      for (const input of highsSet) {
        const optimum = evaluate(input, quantities(optimize(input))).drift;
        const start = performance.now();
        const answer = await solveWithHighs(input);
        highsTimes.push(performance.now() - start);
        compare(input, optimum, answer.feasible ? answer.x : null, highsTally);
      }
      methods.push({ method: 'HiGHS (wasm, gap 0)', ...stats(highsTimes), ...highsTally });

      if (n <= 20) {
        const lpTimes: number[] = [];
        const lpTally: Checked = { exact: 0, worstGap: 0, wrong: 0, unsolved: 0 };
        for (const input of set.slice(0, 60)) {
          const optimum = evaluate(input, quantities(optimize(input))).drift;
          const start = performance.now();
          const x = solveWithLpSolver(input, marketValue(input), bands(input));
          lpTimes.push(performance.now() - start);
          compare(input, optimum, x, lpTally);
        }
        methods.push({ method: 'javascript-lp-solver', ...stats(lpTimes), ...lpTally });
      }
      rows.push({ n, binding, methods });
    }
  }
  return rows;
}
