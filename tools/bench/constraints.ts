// Optimiser benchmark with issue 19's constraints: the same seeded books
// solved as they are and again with a deposit, a 2% minimum cash,
// restrictions on one security in ten and a minimum trade value of 0.1% of
// the market value, for N = 10, 100, 500 (decimals in, verified decimals out).
import { Decimal } from 'decimal.js';
import { optimize } from '../../src/optimizer/index.js';
import { generate } from '../../test/optimizer/corpus.js';
import { exactInput, type OptimizerInput, type OptimizerSecurity } from '../../test/optimizer/oracle.js';
import { type Stats, stats, timeIt } from './optimizer.js';

export interface ConstraintBenchRow {
  readonly n: number;
  readonly unconstrained: Stats;
  readonly constrained: Stats;
  /** The constrained answers' statuses (infeasible ones by reason). */
  readonly outcomes: Record<string, number>;
}

const RULES = ['no_buy', 'no_sell', 'frozen'] as const;
/** The solver's budget here (production: OPTIMIZATION_TIMEOUT_MS, 30 s); a timeout is counted among the answers. */
const TIMEOUT_MS = 2_000;

/** The book with a 5% deposit, min_cash 0.02, every tenth model security restricted and a minimum trade of 0.1% of MV. */
export function constrain(input: OptimizerInput): OptimizerInput {
  const mv = input.securities.reduce((sum, s) => sum.plus(s.quantity.times(s.price)), input.cash);
  // Every tenth security of the model (a held one outside it could be worth most of the book).
  let modelled = 0;
  const securities = input.securities.map((s): OptimizerSecurity => {
    if (s.target.isZero()) return s;
    modelled += 1;
    return modelled % 10 === 3 ? { ...s, restriction: RULES[Math.floor(modelled / 10) % 3]! } : s;
  });
  return {
    ...input,
    securities,
    cashFlow: new Decimal(mv.abs().times(0.05).toFixed(2)),
    minCash: new Decimal('0.02'),
    minTradeValue: new Decimal(mv.abs().times(0.001).toFixed(2)),
  };
}

export function benchConstraints(log: (line: string) => void): ConstraintBenchRow[] {
  const rows: ConstraintBenchRow[] = [];
  for (const n of [10, 100, 500]) {
    const count = n === 500 ? 60 : n === 100 ? 200 : 300;
    const plain: number[] = [];
    const constrained: number[] = [];
    const outcomes: Record<string, number> = {};
    for (let seed = 1; plain.length < count; seed++) {
      const base = generate(seed * 7919 + n, 'book', n).input;
      const exactBase = exactInput(base);
      if (optimize(exactBase).status === 'infeasible') continue;
      const exactConstrained = exactInput(constrain(base));
      const solve = () => optimize(exactConstrained, { timeoutMs: TIMEOUT_MS, now: () => performance.now() });
      const started = performance.now();
      const result = solve();
      const once = performance.now() - started;
      const key = result.status === 'infeasible' ? `infeasible (${result.reason})` : result.status;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
      plain.push(timeIt(() => optimize(exactBase)));
      // A slow solve is timed once (repeating a timeout would only repeat the budget).
      constrained.push(once > 20 ? once : timeIt(solve));
    }
    log(`optimiser with constraints: N=${n}: ${plain.length} instances`);
    rows.push({ n, unconstrained: stats(plain), constrained: stats(constrained), outcomes });
  }
  return rows;
}
