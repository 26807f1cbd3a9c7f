// Issue 19 at the rebalance's door: a request's cash flows and minimum-trade
// override, the model's min_cash, min_trade_value and restrictions, and the
// firm-wide restricted list, turned into the optimiser's optional inputs.
// Pure, except that the firm-wide list is read once per rebalance.
import { z } from 'zod';
import { type Dec, sign } from '../../domain/decimal.js';
import { ValidationError } from '../../domain/errors.js';
import { DecimalInput, PortfolioId } from '../../domain/schemas.js';
import type { OptimizerInput } from '../../optimizer/index.js';
import type { RestrictionRule, SecurityRestriction } from '../models/constraints.js';
import type { Model } from '../models/repository.js';
import type { PortfolioOutcome } from './outcome.js';

/** What one rebalance request may add (all optional: no body is the rebalance as before). */
export type RequestConstraints = Readonly<ReturnType<typeof modelRequest>>;

/** The constraints of one rebalance run: the request's, and the firm-wide list read when it started. */
export interface RunConstraints {
  readonly request: RequestConstraints;
  readonly firm: readonly SecurityRestriction[];
}

/** Two rules on one security: frozen wins, and no_buy with no_sell is frozen. */
function combine(a: RestrictionRule | undefined, b: RestrictionRule): RestrictionRule {
  if (a === undefined || a === b) return b;
  return 'frozen';
}

/** The items, each with the rule of its security, if any. */
function restricted<T extends { readonly securityId: string }>(
  items: readonly T[],
  rules: ReadonlyMap<string, RestrictionRule>,
): readonly T[] {
  if (rules.size === 0) return items;
  return items.map((item) => {
    const rule = rules.get(item.securityId);
    return rule === undefined ? item : { ...item, restriction: rule };
  });
}

/** Cash flows may name only the model's portfolios. */
export function assertFlowsBelong(model: Model, request: RequestConstraints): void {
  if (request.cashFlows === undefined) return;
  const listed = new Set(model.portfolios);
  const strangers = [...request.cashFlows.keys()].filter((id) => !listed.has(id));
  if (strangers.length > 0) {
    const message = `cash_flows names portfolios that model ${model.id} does not list: ${strangers.join(', ')}`;
    throw new ValidationError(message, [{ path: 'cash_flows', message }]);
  }
}

/** The optimiser's input with the constraints that apply to this portfolio. */
export function constrainInput(input: OptimizerInput, model: Model, portfolioId: string, run: RunConstraints): OptimizerInput {
  const c = model.constraints;
  const rules = new Map<string, RestrictionRule>();
  for (const r of c?.restrictions ?? []) rules.set(r.securityId, combine(rules.get(r.securityId), r.rule));
  for (const r of run.firm) rules.set(r.securityId, combine(rules.get(r.securityId), r.rule));
  const flow = run.request.cashFlows?.get(portfolioId);
  const minTrade = run.request.minTradeValue ?? c?.minTradeValue ?? null;
  const minCash = c?.minCash ?? null;
  if (rules.size === 0 && flow === undefined && minTrade === null && minCash === null) return input;
  return {
    ...input,
    securities: restricted(input.securities, rules),
    ...(flow === undefined ? {} : { cashFlow: flow }),
    ...(minCash === null ? {} : { minCash }),
    ...(minTrade === null ? {} : { minTradeValue: minTrade }),
  };
}

/** The outcome with the flow it was given and the restriction of each restricted position. */
export function withConstraintFigures(outcome: PortfolioOutcome, input: OptimizerInput): PortfolioOutcome {
  const rules = new Map(input.securities.filter((s) => s.restriction !== undefined).map((s) => [s.securityId, s.restriction!]));
  if (rules.size === 0 && input.cashFlow === undefined) return outcome;
  return {
    ...outcome,
    ...(input.cashFlow === undefined ? {} : { cashFlow: input.cashFlow }),
    positions: restricted(outcome.positions, rules),
  };
}

// ---- request bodies (optional: no body is the rebalance as before) ----

const MinTradeOverride = DecimalInput.optional().meta({
  description: "Replaces the model's min_trade_value for this request (money; 0: no minimum)",
  example: '250',
});

export const PortfolioRebalanceBody = z
  .strictObject({
    cash_flow: DecimalInput.optional().meta({
      description: 'A deposit to invest (> 0) or cash to raise for a withdrawal (< 0): MV′ = MV + cash_flow',
      example: '50000',
    }),
    min_trade_value: MinTradeOverride,
  })
  .nullish()
  .meta({ id: 'PortfolioRebalanceBody', example: { cash_flow: '50000' } });

export const ModelRebalanceBody = z
  .strictObject({
    cash_flows: z
      .record(PortfolioId, DecimalInput)
      .optional()
      .meta({
        description: 'Per portfolio of the model: a deposit (> 0) or withdrawal (< 0)',
        example: { '683b6d88a29ee10e8b499643': '-20000' },
      }),
    min_trade_value: MinTradeOverride,
  })
  .nullish()
  .meta({ id: 'ModelRebalanceBody', example: { cash_flows: { '683b6d88a29ee10e8b499643': '-20000' } } });

/** The one portfolio's body read as a model's whose cash flows name only it. */
export function portfolioRequest(portfolioId: string, body: z.output<typeof PortfolioRebalanceBody>): RequestConstraints {
  const flow = body?.cash_flow;
  return modelRequest({ min_trade_value: body?.min_trade_value, cash_flows: flow === undefined ? undefined : { [portfolioId]: flow } });
}

export function modelRequest(body: z.output<typeof ModelRebalanceBody>) {
  const minTradeValue = body?.min_trade_value;
  if (minTradeValue !== undefined && sign(minTradeValue) < 0) {
    throw new ValidationError('min_trade_value must be 0 or more', [{ path: 'min_trade_value', message: 'must be 0 or more' }]);
  }
  return {
    // Deposit (> 0) or withdrawal (< 0) per portfolio id.
    ...(body?.cash_flows === undefined ? {} : { cashFlows: new Map(Object.entries(body.cash_flows)) as ReadonlyMap<string, Dec> }),
    // Replaces the model's min_trade_value for this request (0: no minimum).
    ...(minTradeValue === undefined ? {} : { minTradeValue }),
  };
}
