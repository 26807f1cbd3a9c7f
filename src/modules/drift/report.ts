// A portfolio's drift against its model, without trading (issue 18): pure
// figures from the same optimiser input a rebalance builds (outcome.ts), in
// exact decimals. Whether a security is inside its band is decided exactly;
// weights and drifts are rounded half-up to WEIGHT_PLACES only for display.
import { abs, add, compare, type Dec, digitsAt, isZero, mul, normalise, pow10, quotient, sub, ZERO } from '../../domain/decimal.js';
import { sortedById } from '../../domain/ids.js';
import type { OptimizerInput } from '../../optimizer/types.js';

/** Places of the weights, drifts and total drift shown (the rebalance shows `actual` to 4). */
export const WEIGHT_PLACES = 6;

const ratio = (value: Dec, mv: Dec) => (isZero(mv) ? ZERO : quotient(value, mv, WEIGHT_PLACES));

/**
 * The drift figures of one portfolio; a negative market value is the caller's
 * to refuse (drift/service.ts). Without `perSecurity` (a model's report: one
 * row per portfolio) the securities are counted, not listed, and no weight is divided out.
 */
export function driftFigures(input: OptimizerInput, perSecurity: boolean) {
  let mv = input.cash;
  const values = input.securities.map((s) => mul(s.quantity, s.price));
  for (const v of values) mv = add(mv, v);
  let deviation = ZERO;
  let outOfBand = 0;
  const securities = [];
  for (let i = 0; i < values.length; i++) {
    const s = input.securities[i]!;
    const value = values[i]!;
    // The band of weights [target − low_drift, target + high_drift].
    const bandLow = sub(s.target, s.lowDrift);
    const bandHigh = add(s.target, s.highDrift);
    const off = sub(value, mul(mv, s.target));
    deviation = add(deviation, abs(off));
    // MV·(target − low) <= marketValue <= MV·(target + high), exactly.
    const inBand = compare(value, mul(mv, bandLow)) >= 0 && compare(value, mul(mv, bandHigh)) <= 0;
    if (!inBand) outOfBand += 1;
    if (!perSecurity) continue;
    securities.push({
      securityId: s.securityId,
      quantity: s.quantity,
      price: s.price,
      /** quantity·price */
      marketValue: value,
      /** marketValue / MV, rounded (0 when MV is 0). */
      weight: ratio(value, mv),
      target: s.target,
      lowDrift: s.lowDrift,
      highDrift: s.highDrift,
      bandLow,
      bandHigh,
      /** (marketValue − MV·target) / MV, rounded: signed, positive when overweight. */
      drift: ratio(off, mv),
      inBand,
    });
  }
  return {
    marketValue: mv,
    cash: input.cash,
    cashWeight: ratio(input.cash, mv),
    /** Σ|MV·w − u·p| / MV, rounded (0 when MV is 0). */
    totalDrift: ratio(deviation, mv),
    inBand: outOfBand === 0,
    /** Securities outside their band. */
    outOfBand,
    /** Sorted by security id (empty when not asked for). */
    securities: sortedById(securities),
  };
}

export type PortfolioDriftFigures = ReturnType<typeof driftFigures>;

/**
 * The rebalance's question only (threshold trigger, metrics): market value,
 * whether every security is inside its band, and the total drift; no per-security
 * weights, so a model rebalance pays one division per portfolio. Every
 * portfolio of a rebalance comes through here, so the sums are kept as whole
 * numbers at one scale per kind of figure (values at sm, weights at sw) rather
 * than as decimals: the same figures as driftFigures, exactly, without a
 * decimal object per step.
 */
export function bandCheck(input: OptimizerInput) {
  // Index loops, no closures: every portfolio comes through here, and the compiler's cost of this function is paid on a
  // fresh process's first rebalance (a mapped array or a closure made it recompile).
  const { securities } = input;
  const n = securities.length;
  let sm = input.cash.scale;
  let sw = 0;
  for (let i = 0; i < n; i++) {
    const s = securities[i]!;
    sm = Math.max(sm, s.quantity.scale + s.price.scale);
    sw = Math.max(sw, s.target.scale, s.lowDrift.scale, s.highDrift.scale);
  }
  const values = new Array<bigint>(n);
  let mv = digitsAt(input.cash, sm);
  for (let i = 0; i < n; i++) {
    const s = securities[i]!;
    values[i] = s.quantity.digits * s.price.digits * pow10(sm - s.quantity.scale - s.price.scale);
    mv += values[i]!;
  }
  const one = pow10(sw);
  let deviation = 0n;
  let inBand = true;
  for (let i = 0; i < n; i++) {
    const s = securities[i]!;
    // value/MV against weights, both sides at scale sm + sw.
    const value = values[i]! * one;
    const target = mv * digitsAt(s.target, sw);
    deviation += value < target ? target - value : value - target;
    // A restricted security is judged against what its rule lets a rebalance do (as the optimiser relaxes
    // its band): below the band counts only if it may be bought, above only if it may be sold.
    const rule = s.restriction;
    const mayBuy = rule !== 'no_buy' && rule !== 'frozen';
    const maySell = rule !== 'no_sell' && rule !== 'frozen';
    if (
      inBand &&
      ((mayBuy && value < target - mv * digitsAt(s.lowDrift, sw)) || (maySell && value > target + mv * digitsAt(s.highDrift, sw)))
    ) {
      inBand = false;
    }
  }
  const marketValue = normalise(mv, sm);
  return {
    marketValue,
    inBand,
    totalDrift: mv === 0n ? ZERO : quotient({ digits: deviation, scale: sm + sw }, { digits: mv, scale: sm }, WEIGHT_PLACES),
  };
}
