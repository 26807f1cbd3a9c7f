// What a rebalance does with drift (issue 18): under `trigger=threshold` a
// portfolio with every security inside its band is not traded: its element
// says "in_band", with its drifts (the current weights) and no transactions.
// A model with `rebalance_to: "band"` asks the optimiser for the least trade
// into the bands instead of the nearest holding to the targets.
import type { Dec } from '../../domain/decimal.js';
import type { OptimizerInput, OptimizerResult } from '../../optimizer/types.js';
import type { Model } from '../models/repository.js';
import { outcomeOf, type PortfolioOutcome } from '../rebalancing/outcome.js';

/** calendar: every portfolio trades (the default, as before); threshold: only those out of band. */
export type RebalanceTrigger = 'calendar' | 'threshold';

/**
 * The portfolio as it is, worth `marketValue` (what the band check found): every position unchanged, no trades,
 * status in_band. The input is in security-id order (securitiesOf), as an optimiser's answer is.
 */
export function inBandOutcome(portfolioId: string, name: string | null, input: OptimizerInput, marketValue: Dec): PortfolioOutcome {
  const unchanged: OptimizerResult = {
    status: 'nothing_to_do',
    marketValue,
    positions: input.securities.map((s) => ({ securityId: s.securityId, price: s.price, original: s.quantity, adjusted: s.quantity })),
  };
  return { ...outcomeOf(portfolioId, name, input, unchanged), status: 'in_band' };
}

/** The optimiser's objective for this model (rebalance_to). */
export const withObjective = (input: OptimizerInput, model: Model): OptimizerInput =>
  model.rebalanceTo === 'band' ? { ...input, objective: 'trade' } : input;
