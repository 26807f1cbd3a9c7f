// The drift optimiser of rebalancing.md: a pure function from holdings, prices
// and a model to whole-share quantities, exact and deterministic. `optimize` is
// the synchronous core; `createOptimizerPool` (pool.ts) runs the expensive
// solves (large, or cash-binding) in worker threads, off the event loop.
import { Dec } from '../domain/decimal.js';
import { pow10 } from './bigint-math.js';
import { prepare, toDec, type ScaledProblem } from './scaled.js';
import { decide, solveScaled, type CoreAnswer } from './solve.js';
import type { InfeasibleSecurity, OptimizerInput, OptimizerOptions, OptimizerResult } from './types.js';
import { verify } from './verify.js';

export * from './types.js';
export { InvalidOptimizerInput } from './scaled.js';
export { OptimizerBug } from './verify.js';

export const DEFAULT_TIMEOUT_MS = 30_000;

const money = (value: Dec) => value.toDecimalPlaces(2, Dec.ROUND_HALF_UP).toFixed(2);

function bandSecurities(problem: ScaledProblem, answer: Extract<CoreAnswer, { kind: 'band' }>, mv: Dec): InfeasibleSecurity[] {
  return answer.securities.map((i) => {
    const w = toDec(problem.W[i]!, problem.sw);
    return {
      securityId: problem.ids[i]!,
      price: problem.prices[i]!,
      bandLow: mv.times(w.minus(toDec(problem.LO[i]!, problem.sw))),
      bandHigh: mv.times(w.plus(toDec(problem.HI[i]!, problem.sw))),
      fraction: toDec(problem.F[i]!, problem.sq),
      minShares: new Dec(answer.low[i]!),
      maxShares: new Dec(answer.high[i]!),
    };
  });
}

function infeasible(problem: ScaledProblem, core: CoreAnswer, marketValue: Dec, timeoutMs: number): OptimizerResult {
  const base = { status: 'infeasible', marketValue } as const;
  switch (core.kind) {
    case 'overdrawn':
      return {
        ...base,
        reason: 'overdrawn',
        message: `the portfolio is overdrawn: its market value is ${money(marketValue)}, below zero`,
        securities: [],
      };
    case 'band': {
      const securities = bandSecurities(problem, core, marketValue);
      const described = securities.map(
        (s) =>
          `${s.securityId} (band ${money(s.bandLow)} to ${money(s.bandHigh)} at price ${s.price.toString()} ` +
          (s.fraction.isZero()
            ? `allows ${s.minShares.toString()} to ${s.maxShares.toString()} shares)`
            : `allows ${s.minShares.toString()} to ${s.maxShares.toString()} whole shares beside the ` +
              `${s.fraction.toString()} share held, a fraction whole-share orders cannot trade)`),
      );
      return {
        ...base,
        reason: 'band',
        message: `no feasible solution exists: no whole number of shares meets the drift band of ${described.join(', ')}`,
        securities,
      };
    }
    case 'cash': {
      let spend = new Dec(0);
      for (let i = 0; i < problem.n; i++) {
        spend = spend.plus(problem.prices[i]!.times(toDec(problem.F[i]!, problem.sq).plus(core.low[i]!)));
      }
      return {
        ...base,
        reason: 'cash',
        message:
          `no feasible solution exists: meeting every drift band needs at least ${money(spend)} in positions, ` +
          `more than the market value of ${money(marketValue)}`,
        securities: [],
      };
    }
    default:
      return {
        ...base,
        reason: 'timeout',
        message: `no feasible solution found: the solver timed out after ${timeoutMs} ms`,
        securities: [],
      };
  }
}

/** The answer for a problem and its core decision, verified exactly when it holds quantities. */
export function answer(problem: ScaledProblem, core: CoreAnswer, timeoutMs: number): OptimizerResult {
  const marketValue = toDec(problem.MV, problem.sm);
  if (core.kind !== 'optimal' && core.kind !== 'nothing_to_do') return infeasible(problem, core, marketValue, timeoutMs);
  const whole = core.kind === 'optimal' ? core.quantities : new Float64Array(problem.n);
  const checked = verify(problem, whole);
  const common = {
    marketValue,
    positions: problem.ids.map((securityId, i) => ({
      securityId,
      price: problem.prices[i]!,
      original: problem.quantities[i]!,
      adjusted: problem.F[i] === 0n ? new Dec(whole[i]!) : toDec(BigInt(whole[i]!) * pow10(problem.sq) + problem.F[i]!, problem.sq),
      wholeShares: whole[i]!,
    })),
    driftBefore: toDec(checked.driftBefore, checked.driftScale),
    driftAfter: toDec(checked.driftAfter, checked.driftScale),
  };
  return core.kind === 'optimal'
    ? { status: 'optimal', ...common, cashBinding: core.cashBinding }
    : { status: 'nothing_to_do', ...common, cashBinding: false };
}

export function optimize(input: OptimizerInput, options: OptimizerOptions = {}): OptimizerResult {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // Without a clock there is no deadline: the optimiser reads no clock of its own.
  const now = options.now ?? (() => 0);
  const deadline = { now, at: options.now === undefined ? Infinity : now() + timeoutMs };
  const problem = prepare(input);
  const core = solveScaled(problem, { deadline, exactOnly: options.exactOnly ?? false });
  return answer(problem, core, timeoutMs);
}

/**
 * Steps 1–3 only (cheap): the answer, or null when the cash constraint binds
 * and the exact sell-down (possibly expensive) is still to do.
 */
export function optimizeUnlessBinding(input: OptimizerInput, options: OptimizerOptions = {}): OptimizerResult | null {
  const problem = prepare(input);
  const core = decide(problem, options.exactOnly ?? false);
  return core.kind === 'sell_down' ? null : answer(problem, core, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
}
