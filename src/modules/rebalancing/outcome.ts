// One portfolio's rebalance, as figures (rebalancing.md, Processing one
// portfolio): what the optimiser is asked, and what its answer means in
// trades, weights and cash. Pure: no I/O. The figures are exact scaled
// integers (domain/fixed.ts): thousands of portfolios go through here.
import { ZERO, type Dec } from '../../domain/decimal.js';
import {
  FIXED_ZERO,
  abs,
  fixedOf,
  fixedOfInteger,
  isZero,
  mul,
  negate,
  quotient,
  sharedFixedOf,
  sign,
  sub,
  type Fixed,
} from '../../domain/fixed.js';
import type { ModelPosition } from '../../domain/model-rules.js';
import { pow10 } from '../../optimizer/bigint-math.js';
import type { OptimizerInput, OptimizerResult, OptimizerSecurity } from '../../optimizer/index.js';
import type { PortfolioHoldings, Quote } from '../../upstreams/index.js';

export interface Trade {
  readonly type: 'BUY' | 'SELL';
  /** |adjusted − original|: always a whole number of shares. */
  readonly quantity: Fixed;
}

export interface PositionOutcome {
  readonly securityId: string;
  /** Null only in a portfolio that could not be valued, for a security without a price. */
  readonly price: Fixed | null;
  readonly original: Fixed;
  readonly adjusted: Fixed;
  readonly target: Fixed;
  readonly highDrift: Fixed;
  readonly lowDrift: Fixed;
  /** adjusted·price / MV, rounded half-up to 4 places (0 when MV is 0); null when the price is. */
  readonly actual: Fixed | null;
  /** actual / target − 1, rounded half-up to 4 places (0 when the target is 0); null when the price is. */
  readonly actualDrift: Fixed | null;
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
  /**
   * Sorted by security id. When infeasible (or not valued): what the portfolio
   * holds, unchanged and without trades, so a reader that ignores the status
   * sees the portfolio as it is (api.md, Stored rebalances).
   */
  readonly positions: readonly PositionOutcome[];
}

/** S = held ∪ model securities, in a stable order. */
export function securitiesOf(holdings: PortfolioHoldings, model: readonly ModelPosition[]): string[] {
  return [...new Set([...holdings.holdings.map((h) => h.securityId), ...model.map((p) => p.securityId)])];
}

/** A security of S: its holding, price and the model's figures (all 0 for a held security outside the model). */
type Row<Price> = Omit<OptimizerSecurity, 'price'> & { readonly price: Price };

function rowsOf<Price>(holdings: PortfolioHoldings, model: readonly ModelPosition[], priceOf: (securityId: string) => Price): Row<Price>[] {
  const held = new Map(holdings.holdings.map((h) => [h.securityId, h.quantity]));
  const targets = new Map(model.map((p) => [p.securityId, p]));
  return securitiesOf(holdings, model).map((securityId) => {
    const position = targets.get(securityId);
    return {
      securityId,
      quantity: held.get(securityId) ?? ZERO,
      price: priceOf(securityId),
      target: position?.target ?? ZERO,
      lowDrift: position?.lowDrift ?? ZERO,
      highDrift: position?.highDrift ?? ZERO,
    };
  });
}

/** The optimiser's input: held securities outside the model have target and drifts 0 (they are sold). */
export function optimizerInput(holdings: PortfolioHoldings, model: readonly ModelPosition[], quotes: ReadonlyMap<string, Quote>): OptimizerInput {
  return { cash: holdings.cash, securities: rowsOf(holdings, model, (securityId) => quotes.get(securityId)!.price) };
}

const weightOf = (value: Fixed, mv: Fixed) => (isZero(mv) ? FIXED_ZERO : quotient(value, mv, 4));
const driftOf = (actual: Fixed, target: Fixed) => (isZero(target) ? FIXED_ZERO : quotient(sub(actual, target), target, 4));
const byId = (a: { securityId: string }, b: { securityId: string }) => (a.securityId < b.securityId ? -1 : a.securityId > b.securityId ? 1 : 0);

/** A portfolio left as it is: every position unchanged, no trades, cash after = cash before. */
function unchangedOutcome(
  portfolioId: string,
  name: string | null,
  message: string,
  marketValue: Fixed,
  cash: Fixed,
  rows: readonly Row<Dec | null>[],
): PortfolioOutcome {
  const positions = [...rows].sort(byId).map((row): PositionOutcome => {
    const price = row.price === null ? null : sharedFixedOf(row.price);
    const original = fixedOf(row.quantity);
    const target = sharedFixedOf(row.target);
    const actual = price === null ? null : weightOf(mul(original, price), marketValue);
    return {
      securityId: row.securityId,
      price,
      original,
      adjusted: original,
      target,
      highDrift: sharedFixedOf(row.highDrift),
      lowDrift: sharedFixedOf(row.lowDrift),
      actual,
      actualDrift: actual === null ? null : driftOf(actual, target),
      trade: null,
    };
  });
  return {
    portfolioId,
    portfolioName: name,
    status: 'infeasible',
    error: { code: 'INFEASIBLE', message },
    marketValue,
    cashBefore: cash,
    cashAfter: cash,
    positions,
  };
}

/**
 * A portfolio that could not be valued (a security without a price): its
 * holdings unchanged, priced where a price is known, and its market value the
 * cash plus what those prices value.
 */
export function unvaluedOutcome(
  portfolioId: string,
  name: string | null,
  message: string,
  holdings: PortfolioHoldings,
  model: readonly ModelPosition[],
  quotes: ReadonlyMap<string, Quote>,
): PortfolioOutcome {
  const rows = rowsOf(holdings, model, (securityId) => quotes.get(securityId)?.price ?? null);
  const cash = fixedOf(holdings.cash);
  let marketValue = cash;
  for (const row of rows) {
    if (row.price !== null) marketValue = sub(marketValue, negate(mul(fixedOf(row.quantity), sharedFixedOf(row.price))));
  }
  return unchangedOutcome(portfolioId, name, message, marketValue, cash, rows);
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
  if (result.status === 'infeasible') return unchangedOutcome(portfolioId, name, result.message, mv, cash, input.securities);
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
    const actual = weightOf(value, mv);
    return {
      securityId: p.securityId,
      price,
      original,
      adjusted,
      target,
      highDrift: sharedFixedOf(security.highDrift),
      lowDrift: sharedFixedOf(security.lowDrift),
      actual,
      actualDrift: driftOf(actual, target),
      trade: isZero(change) ? null : { type: sign(change) > 0 ? 'BUY' : 'SELL', quantity: abs(change) },
    };
  });
  return { portfolioId, portfolioName: name, status: 'ok', error: null, marketValue: mv, cashBefore: cash, cashAfter, positions };
}
