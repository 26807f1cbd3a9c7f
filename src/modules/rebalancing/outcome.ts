// One portfolio's rebalance, as figures (rebalancing.md, Processing one
// portfolio): what the optimiser is asked, and what its answer means in
// trades, weights and cash. Pure: no I/O. The figures are exact decimals
// (domain/decimal.ts): thousands of portfolios go through here.
import { abs, add, type Dec, digitsAt, equals, isZero, mul, normalise, quotient, sign, sub, ZERO } from '../../domain/decimal.js';
import { sortedById } from '../../domain/ids.js';
import type { ModelPosition } from '../../domain/model-rules.js';
import type { OptimizerInput, OptimizerResult, OptimizerSecurity } from '../../optimizer/index.js';
import type { PortfolioHoldings, Quote } from '../../upstreams/index.js';

export interface Trade {
  readonly type: 'BUY' | 'SELL';
  /** |adjusted − original|: always a whole number of shares. */
  readonly quantity: Dec;
}

export interface PositionOutcome {
  readonly securityId: string;
  /** Null only in a portfolio that could not be valued, for a security without a price. */
  readonly price: Dec | null;
  readonly original: Dec;
  readonly adjusted: Dec;
  readonly target: Dec;
  readonly highDrift: Dec;
  readonly lowDrift: Dec;
  /** adjusted·price / MV, rounded half-up to 4 places (0 when MV is 0); null when the price is. */
  readonly actual: Dec | null;
  /**
   * actual / target − 1, rounded half-up to 4 places (0 when the target is 0);
   * null when the price is. Absent: not worked out yet (a dry run never shows
   * it): `actualDriftOf` works it out where it is stored or shown.
   */
  readonly actualDrift?: Dec | null;
  readonly trade: Trade | null;
  /** The restriction that held this security (issue 19), if any. */
  readonly restriction?: 'no_buy' | 'no_sell' | 'frozen';
}

export interface PortfolioOutcome {
  readonly portfolioId: string;
  readonly portfolioName: string | null;
  /** in_band: not traded under trigger=threshold (issue 18): positions unchanged, no trades. */
  readonly status: 'ok' | 'infeasible' | 'in_band';
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly marketValue: Dec;
  readonly cashBefore: Dec;
  readonly cashAfter: Dec;
  /** The deposit (> 0) or withdrawal (< 0) this rebalance invested or raised (issue 19), if any: in marketValue and cashAfter. */
  readonly cashFlow?: Dec;
  /**
   * Sorted by security id. When infeasible (or not valued): what the portfolio
   * holds, unchanged and without trades, so a reader that ignores the status
   * sees the portfolio as it is (api.md, Stored rebalances).
   */
  readonly positions: readonly PositionOutcome[];
}

/** A model's positions sorted by security id, and their ids: made once per model (every portfolio of a rebalance reads them). */
const sortedModels = new WeakMap<
  readonly ModelPosition[],
  { readonly positions: readonly ModelPosition[]; readonly ids: readonly string[] }
>();
function sortedModel(model: readonly ModelPosition[]) {
  let sorted = sortedModels.get(model);
  if (sorted === undefined) {
    const positions = sortedById(model);
    sorted = { positions, ids: positions.map((p) => p.securityId) };
    sortedModels.set(model, sorted);
  }
  return sorted;
}

/**
 * S = held ∪ model securities in id order: each with its model position
 * (undefined outside the model) and holding (undefined when not held). Both
 * lists are walked once, side by side, in id order.
 */
function eachSecurity(
  holdings: PortfolioHoldings,
  model: readonly ModelPosition[],
  each: (securityId: string, position: ModelPosition | undefined, quantity: Dec | undefined) => void,
): void {
  const { positions } = sortedModel(model);
  const held = sortedById(holdings.holdings);
  let i = 0;
  let j = 0;
  while (i < positions.length || j < held.length) {
    const p = positions[i];
    const h = held[j];
    if (h === undefined || (p !== undefined && p.securityId < h.securityId)) {
      each(p!.securityId, p, undefined);
      i += 1;
    } else if (p === undefined || h.securityId < p.securityId) {
      each(h.securityId, undefined, h.quantity);
      j += 1;
    } else {
      each(p.securityId, p, h.quantity);
      i += 1;
      j += 1;
    }
  }
}

/** S = held ∪ model securities, sorted by id (the optimiser's order, so its answer lines up with its input). */
export function securitiesOf(holdings: PortfolioHoldings, model: readonly ModelPosition[]): readonly string[] {
  const ids: string[] = [];
  eachSecurity(holdings, model, (securityId) => ids.push(securityId));
  // Nothing held outside the model (the usual case once rebalanced): the model's own list.
  const modelIds = sortedModel(model).ids;
  return ids.length === modelIds.length ? modelIds : ids;
}

/** A security of S: its holding, price and the model's figures (all 0 for a held security outside the model). */
type Row<Price> = Omit<OptimizerSecurity, 'price'> & { readonly price: Price };

function rowsOf<Price>(holdings: PortfolioHoldings, model: readonly ModelPosition[], priceOf: (securityId: string) => Price): Row<Price>[] {
  const rows: Row<Price>[] = [];
  eachSecurity(holdings, model, (securityId, position, quantity) => {
    rows.push({
      securityId,
      quantity: quantity ?? ZERO,
      price: priceOf(securityId),
      target: position?.target ?? ZERO,
      lowDrift: position?.lowDrift ?? ZERO,
      highDrift: position?.highDrift ?? ZERO,
    });
  });
  return rows;
}

/** The optimiser's input: held securities outside the model have target and drifts 0 (they are sold). */
export function optimizerInput(
  holdings: PortfolioHoldings,
  model: readonly ModelPosition[],
  quotes: ReadonlyMap<string, Quote>,
): OptimizerInput {
  return { cash: holdings.cash, securities: rowsOf(holdings, model, (securityId) => quotes.get(securityId)!.price) };
}

const weightOf = (value: Dec, mv: Dec) => (isZero(mv) || isZero(value) ? ZERO : quotient(value, mv, 4));
/** (actual − target) / target; the difference is not reduced first (quotient takes any scale). */
function driftOf(actual: Dec, target: Dec): Dec {
  if (isZero(target)) return ZERO;
  const scale = Math.max(actual.scale, target.scale);
  return quotient({ digits: digitsAt(actual, scale) - digitsAt(target, scale), scale }, target, 4);
}
/** A portfolio left as it is: every position unchanged, no trades, cash after = cash before. */
function unchangedOutcome(
  portfolioId: string,
  name: string | null,
  message: string,
  marketValue: Dec,
  cash: Dec,
  rows: readonly Row<Dec | null>[],
): PortfolioOutcome {
  const positions = sortedById(rows).map((row): PositionOutcome => {
    const { price, quantity: original, target } = row;
    const actual = price === null ? null : weightOf(mul(original, price), marketValue);
    return {
      securityId: row.securityId,
      price,
      original,
      adjusted: original,
      target,
      highDrift: row.highDrift,
      lowDrift: row.lowDrift,
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
  let marketValue = holdings.cash;
  for (const row of rows) if (row.price !== null) marketValue = add(marketValue, mul(row.quantity, row.price));
  return unchangedOutcome(portfolioId, name, message, marketValue, holdings.cash, rows);
}

/** What the optimiser's answer means for this portfolio. */
export function outcomeOf(portfolioId: string, name: string | null, input: OptimizerInput, result: OptimizerResult): PortfolioOutcome {
  const { cash } = input;
  const mv = result.marketValue;
  if (result.status === 'infeasible') return unchangedOutcome(portfolioId, name, result.message, mv, cash, input.securities);
  // The answer is in security-id order, as the input built here is (securitiesOf): by place, else by id.
  // Index loops, no closures: the compiler's cost of this function is paid on a fresh process's first rebalance.
  const { securities } = input;
  const answered = result.positions;
  let given: Map<string, OptimizerSecurity> | null = null;
  // Cash after = cash − Σ (adjusted − original)·price = MV − Σ adjusted·price, summed as whole numbers at one scale.
  let scale = mv.scale;
  for (let i = 0; i < answered.length; i++) scale = Math.max(scale, answered[i]!.adjusted.scale + answered[i]!.price.scale);
  let spent = 0n;
  const positions: PositionOutcome[] = [];
  for (let i = 0; i < answered.length; i++) {
    const p = answered[i]!;
    let security = securities[i];
    if (security?.securityId !== p.securityId) {
      given ??= new Map(securities.map((s) => [s.securityId, s]));
      security = given.get(p.securityId)!;
    }
    const { price, original, adjusted } = p;
    const { target } = security;
    // adjusted·price, not reduced: it is only summed and divided.
    const value: Dec = { digits: adjusted.digits * price.digits, scale: adjusted.scale + price.scale };
    spent += digitsAt(value, scale);
    const actual = weightOf(value, mv);
    const change = equals(adjusted, original) ? ZERO : sub(adjusted, original);
    positions.push({
      securityId: p.securityId,
      price,
      original,
      adjusted,
      target,
      highDrift: security.highDrift,
      lowDrift: security.lowDrift,
      actual,
      trade: isZero(change) ? null : tradeOf(change),
    });
  }
  const cashAfter = normalise(digitsAt(mv, scale) - spent, scale);
  return { portfolioId, portfolioName: name, status: 'ok', error: null, marketValue: mv, cashBefore: cash, cashAfter, positions };
}

/** A position's actual drift: as read back from storage, else worked out from its actual weight and target. */
export const actualDriftOf = (p: PositionOutcome): Dec | null =>
  p.actualDrift !== undefined ? p.actualDrift : p.actual === null ? null : driftOf(p.actual, p.target);

const tradeOf = (change: Dec): Trade => ({ type: sign(change) > 0 ? 'BUY' : 'SELL', quantity: abs(change) });
