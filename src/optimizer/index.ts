// The drift optimiser of rebalancing.md: a pure function from holdings, prices
// and a model to whole-share quantities, exact and deterministic. `optimize` is
// the synchronous core; `createOptimizerPool` (pool.ts) runs the expensive
// solves (large, or cash-binding) in worker threads, off the event loop.
import { add, type Dec, dec, formatDecimal, formatPlaces, isZero, mul, negate, normalise, pow10, sub, ZERO } from '../domain/decimal.js';
import { prepare, type ScaledProblem } from './scaled.js';
import { type CoreAnswer, decide, solveScaled } from './solve.js';
import type {
  InfeasibleReason,
  InfeasibleSecurity,
  OptimizedPosition,
  OptimizerInput,
  OptimizerOptions,
  OptimizerResult,
} from './types.js';
import { verify } from './verify.js';

export { InvalidOptimizerInput } from './scaled.js';
export * from './types.js';

const DEFAULT_TIMEOUT_MS = 30_000;

const money = (value: Dec) => formatPlaces(value, 2);

/** Why a portfolio of this (negative) market value cannot be rebalanced; the drift report says the same. */
export const overdrawnMessage = (marketValue: Dec) => `the portfolio is overdrawn: its market value is ${money(marketValue)}, below zero`;

function bandSecurities(
  problem: ScaledProblem,
  answer: Extract<CoreAnswer, { kind: 'band' | 'min_trade' }>,
  mv: Dec,
): InfeasibleSecurity[] {
  return answer.securities.map((i) => {
    const { W, LO, HI, sw } = problem;
    return {
      securityId: problem.ids[i]!,
      price: problem.prices[i]!,
      bandLow: mul(mv, normalise(W[i]! - LO[i]!, sw)),
      bandHigh: mul(mv, normalise(W[i]! + HI[i]!, sw)),
      fraction: normalise(problem.F[i]!, problem.sq),
      minShares: dec(answer.low[i]!),
      maxShares: dec(answer.high[i]!),
    };
  });
}

/** Why there is no answer: the reason, a sentence naming the figures, and the securities at fault (none when absent). */
function infeasible(
  problem: ScaledProblem,
  core: CoreAnswer,
  marketValue: Dec,
  timeoutMs: number,
): { reason: InfeasibleReason; message: string; securities?: InfeasibleSecurity[] } {
  switch (core.kind) {
    case 'overdrawn':
      return {
        reason: 'overdrawn',
        message: overdrawnMessage(marketValue),
      };
    case 'withdrawal': {
      const flow = problem.cashFlow!;
      return {
        reason: 'withdrawal',
        message:
          `the withdrawal of ${money(negate(flow))} is larger than the portfolio: its market value before the withdrawal is ` +
          `${money(sub(marketValue, flow))}`,
      };
    }
    case 'min_trade': {
      const securities = bandSecurities(problem, core, marketValue);
      const described = securities.map((s, j) => {
        const i = core.securities[j]!;
        return (
          `${s.securityId} (the band allows ${formatDecimal(s.minShares)} to ${formatDecimal(s.maxShares)} shares, ` +
          `the holding is ${formatDecimal(problem.quantities[i]!)}, and a trade at price ${formatDecimal(s.price)} ` +
          `needs at least ${problem.HOLE[i]} shares)`
        );
      });
      return {
        reason: 'min_trade',
        message:
          `no feasible solution exists: the minimum trade value of ${money(problem.minTradeValue!)} leaves no allowed holding in the drift band of ` +
          described.join(', '),
        securities,
      };
    }
    case 'band': {
      const securities = bandSecurities(problem, core, marketValue);
      const described = securities.map(
        (s) =>
          `${s.securityId} (band ${money(s.bandLow)} to ${money(s.bandHigh)} at price ${formatDecimal(s.price)} ` +
          (isZero(s.fraction)
            ? `allows ${formatDecimal(s.minShares)} to ${formatDecimal(s.maxShares)} shares)`
            : `allows ${formatDecimal(s.minShares)} to ${formatDecimal(s.maxShares)} whole shares beside the ` +
              `${formatDecimal(s.fraction)} share held, a fraction whole-share orders cannot trade)`),
      );
      return {
        reason: 'band',
        message: `no feasible solution exists: no whole number of shares meets the drift band of ${described.join(', ')}`,
        securities,
      };
    }
    case 'cash': {
      let spend = ZERO;
      for (let i = 0; i < problem.n; i++) {
        spend = add(spend, mul(problem.prices[i]!, normalise(problem.F[i]! + BigInt(core.low[i]!) * pow10(problem.sq), problem.sq)));
      }
      const available =
        problem.minCash === null
          ? `more than the market value of ${money(marketValue)}`
          : `more than the ${money(normalise(problem.CAP, problem.sm + problem.sw))} the minimum cash of ` +
            `${formatDecimal(problem.minCash)} leaves of the market value of ${money(marketValue)}`;
      return {
        reason: 'cash',
        message: `no feasible solution exists: meeting every drift band needs at least ${money(spend)} in positions, ${available}`,
      };
    }
    case 'too_large':
      return {
        reason: 'too_large',
        message:
          `the portfolio is too large to rebalance in whole shares: ${problem.ids[core.security]} would count ${core.shares} ` +
          `whole shares, more than the ${Number.MAX_SAFE_INTEGER} that can be counted exactly`,
      };
    default:
      return {
        reason: 'timeout',
        message: `no feasible solution found: the solver timed out after ${timeoutMs} ms`,
      };
  }
}

/** The answer for a problem and its core decision, verified exactly when it holds quantities. */
function answer(problem: ScaledProblem, core: CoreAnswer, timeoutMs: number): OptimizerResult {
  const marketValue = normalise(problem.MV, problem.sm);
  if (core.kind !== 'optimal' && core.kind !== 'nothing_to_do') {
    const { reason, message, securities = [] } = infeasible(problem, core, marketValue, timeoutMs);
    return { status: 'infeasible', marketValue, reason, message, securities };
  }
  const whole = core.kind === 'optimal' ? core.quantities : new Float64Array(problem.n);
  verify(problem, whole);
  const { ids, prices, quantities, F, sq, R } = problem;
  // Whole shares beside the kept fraction: u' = k + f.
  const positions: OptimizedPosition[] = [];
  for (let i = 0; i < problem.n; i++) {
    const position = {
      securityId: ids[i]!,
      price: prices[i]!,
      original: quantities[i]!,
      adjusted: F[i] === 0n ? normalise(BigInt(whole[i]!), 0) : normalise(BigInt(whole[i]!) * pow10(sq) + F[i]!, sq),
    };
    const restriction = R[i]!;
    positions.push(restriction === null ? position : { ...position, restriction });
  }
  return { status: core.kind, marketValue, positions };
}

export function optimize(input: OptimizerInput, options: OptimizerOptions = {}): OptimizerResult {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // Without a clock there is no deadline: the optimiser reads no clock of its own.
  const now = options.now ?? (() => 0);
  const problem = prepare(input);
  const deadline = { now, at: options.now === undefined ? Infinity : now() + timeoutMs };
  return answer(problem, solveScaled(problem, deadline, input.objective === 'trade'), timeoutMs);
}

/**
 * Steps 1–3 only (cheap): the answer, or null when the cash constraint binds
 * and the exact sell-down (possibly expensive) is still to do.
 */
export function optimizeUnlessBinding(input: OptimizerInput, options: OptimizerOptions = {}): OptimizerResult | null {
  const problem = prepare(input);
  const core = decide(problem, input.objective === 'trade');
  return core.kind === 'sell_down' ? null : answer(problem, core, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
}
