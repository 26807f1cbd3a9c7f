// Exact evaluation of a candidate answer, independent of the optimiser's code:
// decimal.js only. Whole-share trades: a holding u' = f + k keeps the fraction
// f of the current holding u (f = u − floor(u)) beside k >= 0 whole shares.

import type { OptimizerInput, OptimizerSecurity } from './oracle.js';
import { Dec } from './oracle.js';

export interface Evaluated {
  readonly feasible: boolean;
  readonly drift: Dec;
  readonly trade: Dec;
}

export function marketValue(input: OptimizerInput): Dec {
  return input.securities.reduce((mv, s) => mv.plus(s.quantity.times(s.price)), input.cash);
}

/** The fraction of a holding that whole-share orders cannot trade, in [0, 1). */
export const fractionOf = (s: OptimizerSecurity): Dec => s.quantity.minus(s.quantity.floor());

/** `amount` less the value of every holding's kept fraction: the money whole shares may take of it. */
export const lessFractions = (input: OptimizerInput, amount: Dec): Dec =>
  input.securities.reduce((left, s) => left.minus(fractionOf(s).times(s.price)), amount);

/** Bands [L, U] of the whole shares k beside the fraction, computed with decimals. */
export function bands(input: OptimizerInput): { low: Dec; high: Dec }[] {
  const mv = marketValue(input);
  return input.securities.map((s) => {
    const f = fractionOf(s);
    const low = Dec.max(0, mv.times(s.target.minus(s.lowDrift)).dividedBy(s.price).minus(f).ceil());
    const high = mv.times(s.target.plus(s.highDrift)).dividedBy(s.price).minus(f).floor();
    return { low, high };
  });
}

/** x holds the holdings after trading, keyed by security id. */
export function evaluate(input: OptimizerInput, x: ReadonlyMap<string, Dec>): Evaluated {
  const mv = marketValue(input);
  let drift = new Dec(0);
  let trade = new Dec(0);
  let spend = new Dec(0);
  let feasible = true;
  for (const s of input.securities) {
    const q = x.get(s.securityId)!;
    const value = q.times(s.price);
    if (!q.minus(s.quantity).isInteger() || q.isNegative()) feasible = false;
    if (value.lessThan(mv.times(s.target.minus(s.lowDrift))) || value.greaterThan(mv.times(s.target.plus(s.highDrift)))) feasible = false;
    drift = drift.plus(mv.times(s.target).minus(value).abs());
    trade = trade.plus(q.minus(s.quantity).abs().times(s.price));
    spend = spend.plus(value);
  }
  if (spend.greaterThan(mv)) feasible = false;
  return { feasible, drift, trade };
}
