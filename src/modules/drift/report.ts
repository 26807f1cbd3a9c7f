// A portfolio's drift against its model, without trading (issue 18): pure
// figures from the same optimiser input a rebalance builds (outcome.ts), in
// exact decimals. Whether a security is inside its band is decided exactly;
// weights and drifts are rounded half-up to WEIGHT_PLACES only for display.
import { abs, add, compare, type Dec, formatPlaces, isZero, mul, quotient, sign, sub, ZERO } from '../../domain/decimal.js';
import type { OptimizerInput } from '../../optimizer/types.js';

/** Places of the weights, drifts and total drift shown (the rebalance shows `actual` to 4). */
export const WEIGHT_PLACES = 6;

export interface SecurityDrift {
  readonly securityId: string;
  readonly quantity: Dec;
  readonly price: Dec;
  /** quantity·price */
  readonly marketValue: Dec;
  /** marketValue / MV, rounded (0 when MV is 0). */
  readonly weight: Dec;
  readonly target: Dec;
  readonly lowDrift: Dec;
  readonly highDrift: Dec;
  /** The band of weights [target − low_drift, target + high_drift]. */
  readonly bandLow: Dec;
  readonly bandHigh: Dec;
  /** (marketValue − MV·target) / MV, rounded: signed, positive when overweight. */
  readonly drift: Dec;
  /** MV·(target − low) <= marketValue <= MV·(target + high), exactly. */
  readonly inBand: boolean;
}

export interface PortfolioDriftFigures {
  readonly marketValue: Dec;
  readonly cash: Dec;
  readonly cashWeight: Dec;
  /** Σ|MV·w − u·p| / MV, rounded (0 when MV is 0). */
  readonly totalDrift: Dec;
  readonly inBand: boolean;
  /** Securities outside their band. */
  readonly outOfBand: number;
  /** Sorted by security id (empty when not asked for). */
  readonly securities: readonly SecurityDrift[];
}

const ratio = (value: Dec, mv: Dec) => (isZero(mv) ? ZERO : quotient(value, mv, WEIGHT_PLACES));
const byId = (a: { securityId: string }, b: { securityId: string }) =>
  a.securityId < b.securityId ? -1 : a.securityId > b.securityId ? 1 : 0;

/**
 * The drift figures of one portfolio; a negative market value is the caller's
 * to refuse (`overdrawnReason`). Without `perSecurity` (a model's report: one
 * row per portfolio) the securities are counted, not listed, and no weight is divided out.
 */
export function driftFigures(input: OptimizerInput, perSecurity = true): PortfolioDriftFigures {
  let mv = input.cash;
  const values = input.securities.map((s) => mul(s.quantity, s.price));
  for (const v of values) mv = add(mv, v);
  let deviation = ZERO;
  let outOfBand = 0;
  const securities: SecurityDrift[] = [];
  input.securities.forEach((s, i) => {
    const value = values[i]!;
    const bandLow = sub(s.target, s.lowDrift);
    const bandHigh = add(s.target, s.highDrift);
    const off = sub(value, mul(mv, s.target));
    deviation = add(deviation, abs(off));
    const inBand = compare(value, mul(mv, bandLow)) >= 0 && compare(value, mul(mv, bandHigh)) <= 0;
    if (!inBand) outOfBand += 1;
    if (!perSecurity) return;
    securities.push({
      securityId: s.securityId,
      quantity: s.quantity,
      price: s.price,
      marketValue: value,
      weight: ratio(value, mv),
      target: s.target,
      lowDrift: s.lowDrift,
      highDrift: s.highDrift,
      bandLow,
      bandHigh,
      drift: ratio(off, mv),
      inBand,
    });
  });
  return {
    marketValue: mv,
    cash: input.cash,
    cashWeight: ratio(input.cash, mv),
    totalDrift: ratio(deviation, mv),
    inBand: outOfBand === 0,
    outOfBand,
    securities: securities.sort(byId),
  };
}

/**
 * The rebalance's question only (threshold trigger, metrics): market value,
 * whether every security is inside its band, and the total drift; no per-security
 * weights, so a model rebalance pays one division per portfolio.
 */
export function bandCheck(input: OptimizerInput): { readonly marketValue: Dec; readonly inBand: boolean; readonly totalDrift: Dec } {
  let mv = input.cash;
  const values = input.securities.map((s) => mul(s.quantity, s.price));
  for (const v of values) mv = add(mv, v);
  let deviation = ZERO;
  let inBand = true;
  input.securities.forEach((s, i) => {
    const value = values[i]!;
    deviation = add(deviation, abs(sub(value, mul(mv, s.target))));
    // A restricted security is judged against what its rule lets a rebalance do (as the optimiser relaxes
    // its band): below the band counts only if it may be bought, above only if it may be sold.
    const rule = s.restriction;
    const mayBuy = rule !== 'no_buy' && rule !== 'frozen';
    const maySell = rule !== 'no_sell' && rule !== 'frozen';
    if (
      inBand &&
      ((mayBuy && compare(value, mul(mv, sub(s.target, s.lowDrift))) < 0) ||
        (maySell && compare(value, mul(mv, add(s.target, s.highDrift))) > 0))
    ) {
      inBand = false;
    }
  });
  return { marketValue: mv, inBand, totalDrift: ratio(deviation, mv) };
}

/** Why a valued portfolio has no drift to report: it is overdrawn (the optimiser's words for it). */
export function overdrawnReason(figures: PortfolioDriftFigures): string | null {
  return sign(figures.marketValue) < 0
    ? `the portfolio is overdrawn: its market value is ${formatPlaces(figures.marketValue, 2)}, below zero`
    : null;
}
