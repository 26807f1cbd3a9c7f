// Exact evaluation of a candidate answer, independent of the optimiser's code:
// decimal.js only.
import { Dec } from '../../src/domain/decimal.js';
import type { OptimizerInput } from '../../src/optimizer/index.js';

export interface Evaluated {
  readonly feasible: boolean;
  readonly drift: Dec;
  readonly trade: Dec;
}

export function marketValue(input: OptimizerInput): Dec {
  return input.securities.reduce((mv, s) => mv.plus(s.quantity.times(s.price)), input.cash);
}

/** Bands [L, U] in whole shares, computed with decimals. */
export function bands(input: OptimizerInput): { low: Dec; high: Dec }[] {
  const mv = marketValue(input);
  return input.securities.map((s) => {
    const low = Dec.max(0, mv.times(s.target.minus(s.lowDrift)).dividedBy(s.price).ceil());
    const high = mv.times(s.target.plus(s.highDrift)).dividedBy(s.price).floor();
    return { low, high };
  });
}

/** x is keyed by security id. */
export function evaluate(input: OptimizerInput, x: ReadonlyMap<string, Dec>): Evaluated {
  const mv = marketValue(input);
  let drift = new Dec(0);
  let trade = new Dec(0);
  let spend = new Dec(0);
  let feasible = true;
  for (const s of input.securities) {
    const q = x.get(s.securityId)!;
    const value = q.times(s.price);
    if (!q.isInteger() || q.isNegative()) feasible = false;
    if (value.lessThan(mv.times(s.target.minus(s.lowDrift))) || value.greaterThan(mv.times(s.target.plus(s.highDrift)))) feasible = false;
    drift = drift.plus(mv.times(s.target).minus(value).abs());
    trade = trade.plus(q.minus(s.quantity).abs().times(s.price));
    spend = spend.plus(value);
  }
  if (spend.greaterThan(mv)) feasible = false;
  return { feasible, drift, trade };
}
