// One portfolio's rebalance, as figures (rebalancing.md, Processing one
// portfolio): what the optimiser is asked, and what its answer means in
// trades, weights and cash. Pure: no I/O. The figures are exact scaled
// integers (domain/fixed.ts): thousands of portfolios go through here.
import { ZERO } from '../../domain/decimal.js';
import {
  FIXED_ZERO,
  abs,
  fixedOf,
  fixedOfInteger,
  isZero,
  mul,
  quotient,
  sharedFixedOf,
  sign,
  sub,
  type Fixed,
} from '../../domain/fixed.js';
import type { ModelPosition } from '../../domain/model-rules.js';
import { pow10 } from '../../optimizer/bigint-math.js';
import type { OptimizerInput, OptimizerResult } from '../../optimizer/index.js';
import type { PortfolioHoldings, Quote } from '../../upstreams/index.js';

export interface Trade {
  readonly type: 'BUY' | 'SELL';
  /** |adjusted − original|: always a whole number of shares. */
  readonly quantity: Fixed;
}

export interface PositionOutcome {
  readonly securityId: string;
  readonly price: Fixed;
  readonly original: Fixed;
  readonly adjusted: Fixed;
  readonly target: Fixed;
  readonly highDrift: Fixed;
  readonly lowDrift: Fixed;
  /** adjusted·price / MV, rounded half-up to 4 places (0 when MV is 0). */
  readonly actual: Fixed;
  /** actual / target − 1, rounded half-up to 4 places (0 when the target is 0). */
  readonly actualDrift: Fixed;
  readonly trade: Trade | null;
}

export interface PortfolioOutcome {
  readonly portfolioId: string;
  readonly portfolioName: string | null;
  readonly status: 'ok' | 'infeasible';
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly marketValue: Fixed;
  readonly cashBefore: Fixed;
  readonly cashAfter: Fixed;
  /** Sorted by security id; empty when infeasible. */
  readonly positions: readonly PositionOutcome[];
}

/** S = held ∪ model securities, in a stable order. */
export function securitiesOf(holdings: PortfolioHoldings, model: readonly ModelPosition[]): string[] {
  return [...new Set([...holdings.holdings.map((h) => h.securityId), ...model.map((p) => p.securityId)])];
}

/** The optimiser's input: held securities outside the model have target and drifts 0 (they are sold). */
export function optimizerInput(holdings: PortfolioHoldings, model: readonly ModelPosition[], quotes: ReadonlyMap<string, Quote>): OptimizerInput {
  const held = new Map(holdings.holdings.map((h) => [h.securityId, h.quantity]));
  const targets = new Map(model.map((p) => [p.securityId, p]));
  return {
    cash: holdings.cash,
    securities: securitiesOf(holdings, model).map((securityId) => {
      const position = targets.get(securityId);
      return {
        securityId,
        quantity: held.get(securityId) ?? ZERO,
        price: quotes.get(securityId)!.price,
        target: position?.target ?? ZERO,
        lowDrift: position?.lowDrift ?? ZERO,
        highDrift: position?.highDrift ?? ZERO,
      };
    }),
  };
}

export function infeasibleOutcome(portfolioId: string, name: string | null, message: string, marketValue: Fixed, cash: Fixed): PortfolioOutcome {
  return {
    portfolioId,
    portfolioName: name,
    status: 'infeasible',
    error: { code: 'INFEASIBLE', message },
    marketValue,
    cashBefore: cash,
    cashAfter: cash,
    positions: [],
  };
}

/** A holding of `whole` shares beside the fraction of `original` (whole-share trades cannot remove it). */
function keepingFraction(original: Fixed, whole: number): Fixed {
  if (original.scale === 0) return fixedOfInteger(whole);
  const unit = pow10(original.scale);
  return { digits: BigInt(whole) * unit + (((original.digits % unit) + unit) % unit), scale: original.scale };
}

/** What the optimiser's answer means for this portfolio. */
export function outcomeOf(portfolioId: string, name: string | null, input: OptimizerInput, result: OptimizerResult): PortfolioOutcome {
  const cash = fixedOf(input.cash);
  const mv = fixedOf(result.marketValue);
  if (result.status === 'infeasible') return infeasibleOutcome(portfolioId, name, result.message, mv, cash);
  const given = new Map(input.securities.map((s) => [s.securityId, s]));
  // Cash after = cash − Σ (adjusted − original)·price = MV − Σ adjusted·price.
  let cashAfter = mv;
  const positions = result.positions.map((p): PositionOutcome => {
    const security = given.get(p.securityId)!;
    const price = sharedFixedOf(p.price);
    const original = fixedOf(p.original);
    const adjusted = keepingFraction(original, p.wholeShares);
    const target = sharedFixedOf(security.target);
    const value = mul(adjusted, price);
    cashAfter = sub(cashAfter, value);
    const change = sub(adjusted, original);
    const actual = isZero(mv) ? FIXED_ZERO : quotient(value, mv, 4);
    return {
      securityId: p.securityId,
      price,
      original,
      adjusted,
      target,
      highDrift: sharedFixedOf(security.highDrift),
      lowDrift: sharedFixedOf(security.lowDrift),
      actual,
      actualDrift: isZero(target) ? FIXED_ZERO : quotient(sub(actual, target), target, 4),
      trade: isZero(change) ? null : { type: sign(change) > 0 ? 'BUY' : 'SELL', quantity: abs(change) },
    };
  });
  return { portfolioId, portfolioName: name, status: 'ok', error: null, marketValue: mv, cashBefore: cash, cashAfter, positions };
}
