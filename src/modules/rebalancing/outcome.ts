// One portfolio's rebalance, as figures (rebalancing.md, Processing one
// portfolio): what the optimiser is asked, and what its answer means in
// trades, weights and cash. Pure: no I/O.
import { Dec, ZERO } from '../../domain/decimal.js';
import type { ModelPosition } from '../../domain/model-rules.js';
import type { OptimizerInput, OptimizerResult } from '../../optimizer/index.js';
import type { PortfolioHoldings, Quote } from '../../upstreams/index.js';

export interface Trade {
  readonly type: 'BUY' | 'SELL';
  /** |adjusted − original|: whole unless the holding was fractional. */
  readonly quantity: Dec;
}

export interface PositionOutcome {
  readonly securityId: string;
  readonly price: Dec;
  readonly original: Dec;
  readonly adjusted: Dec;
  readonly target: Dec;
  readonly highDrift: Dec;
  readonly lowDrift: Dec;
  /** adjusted·price / MV, rounded half-up to 4 places (0 when MV is 0). */
  readonly actual: Dec;
  /** actual / target − 1, rounded half-up to 4 places (0 when the target is 0). */
  readonly actualDrift: Dec;
  readonly trade: Trade | null;
}

export interface PortfolioOutcome {
  readonly portfolioId: string;
  readonly portfolioName: string | null;
  readonly status: 'ok' | 'infeasible';
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly marketValue: Dec;
  readonly cashBefore: Dec;
  readonly cashAfter: Dec;
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

const round4 = (value: Dec) => value.toDecimalPlaces(4, Dec.ROUND_HALF_UP);

export function infeasibleOutcome(portfolioId: string, name: string | null, message: string, marketValue: Dec, cash: Dec): PortfolioOutcome {
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

/** What the optimiser's answer means for this portfolio. */
export function outcomeOf(
  portfolioId: string,
  name: string | null,
  input: OptimizerInput,
  result: OptimizerResult,
): PortfolioOutcome {
  if (result.status === 'infeasible') return infeasibleOutcome(portfolioId, name, result.message, result.marketValue, input.cash);
  const mv = result.marketValue;
  const model = new Map(input.securities.map((s) => [s.securityId, s]));
  let cashAfter = input.cash;
  const positions = result.positions.map((p): PositionOutcome => {
    const given = model.get(p.securityId)!;
    const change = p.adjusted.minus(p.original);
    const trade: Trade | null = change.isZero() ? null : { type: change.isPositive() ? 'BUY' : 'SELL', quantity: change.abs() };
    cashAfter = cashAfter.minus(change.times(p.price));
    const actual = mv.isZero() ? ZERO : round4(p.adjusted.times(p.price).dividedBy(mv));
    const actualDrift = given.target.isZero() ? ZERO : round4(actual.dividedBy(given.target).minus(1));
    return {
      securityId: p.securityId,
      price: p.price,
      original: p.original,
      adjusted: p.adjusted,
      target: given.target,
      highDrift: given.highDrift,
      lowDrift: given.lowDrift,
      actual,
      actualDrift,
      trade,
    };
  });
  return { portfolioId, portfolioName: name, status: 'ok', error: null, marketValue: mv, cashBefore: input.cash, cashAfter, positions };
}
