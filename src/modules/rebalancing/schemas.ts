// Request schemas and the wire forms of rebalances (api.md, Rebalancing and
// Stored rebalances): decimal strings in RebalanceDTO, JSON numbers, rounded
// at the edge only, in the stored-rebalance documents existing readers expect.
import { z } from 'zod';
import { type Dec, formatDecimal, MAX_SAFE, mul, toNumber } from '../../domain/decimal.js';
import { ErrorResponse, ObjectIdString, PageQuery, PortfolioId, SortBy, VersionQuery } from '../../domain/schemas.js';
import { EncodedOnce, type JsonBytes, quoted } from '../../http/json-bytes.js';
import { actualDriftOf, type PortfolioOutcome, type PositionOutcome } from './outcome.js';
import { REBALANCE_SORT_FIELDS, type RebalanceHeader } from './repository.js';

const QueryBoolean = z
  .enum(['true', 'false'], { error: 'must be true or false' })
  .optional()
  .transform((v) => v === 'true');

const Trigger = z
  .enum(['calendar', 'threshold'], { error: 'must be calendar or threshold' })
  .optional()
  .meta({
    description:
      'threshold: trade only the portfolios with a security outside its band; the others answer status "in_band", ' +
      'with their drifts and no transactions (default calendar: every portfolio)',
  });

export const RebalanceQuery = z
  .object({
    dry_run: QueryBoolean.meta({ description: 'Compute and return everything, store nothing, leave the model untouched' }),
    submit: QueryBoolean.meta({
      description:
        'With ORDER_SUBMISSION=on: submit the stored orders to the Order service before answering (as POST /rebalance/{id}/submit); ' +
        'the outcome is in the x-order-submission header',
    }),
    trigger: Trigger,
  })
  .refine((q) => !(q.dry_run && q.submit), { error: 'a dry run stores nothing, so it has no orders to submit', path: ['submit'] });

/** POST /model/{id}/rebalance: the same (its refinement kept), and `async=true` (as `Prefer: respond-async`). */
export const ModelRebalanceQuery = RebalanceQuery.safeExtend({
  async: QueryBoolean.meta({
    description:
      'Answer 202 at once with the rebalance id and a Location to follow (same as the header Prefer: respond-async); ' +
      'see docs/async-rebalances.md',
  }),
});

/** GET /rebalance/{id}/portfolios: the paging rules of GET /models (neither given: all), positions when asked. */
export const RebalancePortfoliosQuery = PageQuery.extend({
  positions: QueryBoolean.meta({ description: "Include each portfolio's positions (as GET /rebalance/{id} does)" }),
});

/** An asynchronous rebalance that is not (or not yet) a stored one. */
export const RebalanceJobDto = z
  .object({
    rebalance_id: z.string(),
    model_id: z.string(),
    model_name: z.string(),
    status: z.enum(['running', 'failed', 'cancelled', 'abandoned']),
    dry_run: z.boolean(),
    progress: z.object({ done: z.int(), total: z.int(), infeasible: z.int() }),
    started_at: z.string(),
    ended_at: z.string().nullable(),
    error: ErrorResponse.optional().meta({ description: 'Why it failed, was cancelled or abandoned, in the one error shape' }),
  })
  .meta({ id: 'RebalanceJobDTO' });
export type RebalanceJobDto = z.infer<typeof RebalanceJobDto>;

export const PortfolioParams = z.object({ portfolio_id: PortfolioId });
export const RebalanceParams = z.object({ rebalance_id: ObjectIdString });
export const RebalancePortfolioParams = z.object({ rebalance_id: ObjectIdString, portfolio_id: PortfolioId });

/** GET /rebalances and POST /rebalances/portfolios: a page, in `sort_by` order (default -rebalance_date). */
export const RebalanceListQuery = PageQuery.extend({ sort_by: SortBy(REBALANCE_SORT_FIELDS, '-rebalance_date') });

export const DeleteRebalanceQuery = z.object({
  version: VersionQuery.optional().meta({
    description: 'The version you last read; required to delete a stored rebalance, not to cancel a running one',
  }),
});
export const PortfoliosBody = z.strictObject({ portfolios: z.array(PortfolioId) }).meta({ id: 'RebalancePortfoliosBody' });

const TransactionDto = z.object({
  transaction_type: z.enum(['BUY', 'SELL']),
  security_id: z.string(),
  quantity: z.number(),
  trade_date: z.string(),
});
const DriftDto = z.object({
  security_id: z.string(),
  original_quantity: z.string(),
  adjusted_quantity: z.string(),
  target: z.string(),
  high_drift: z.string(),
  low_drift: z.string(),
  actual: z.string(),
  restricted: z.literal(true).optional().meta({ description: 'Issue 19: present on a restricted position' }),
  restriction: z.enum(['no_buy', 'no_sell', 'frozen']).optional().meta({ description: 'The rule that held it' }),
});
export const RebalanceDto = z
  .object({
    portfolio_id: z.string(),
    portfolio_name: z.string().nullable(),
    rebalance_id: z.string().nullable(),
    status: z.enum(['ok', 'infeasible', 'in_band']).meta({
      description: 'in_band: left untraded by trigger=threshold (every security inside its band); its drifts are the current weights',
    }),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
    cash_flow: z.string().optional().meta({ description: 'Issue 19: the deposit (> 0) or withdrawal (< 0) invested or raised' }),
    transactions: z.array(TransactionDto),
    drifts: z.array(DriftDto),
  })
  .meta({ id: 'RebalanceDTO' });
export type RebalanceDto = z.infer<typeof RebalanceDto>;

const unpriced = 'null only in a portfolio that could not be valued, for a security without a price';
const StoredPosition = z.object({
  security_id: z.string(),
  price: z.number().nullable().meta({ description: unpriced }),
  original_quantity: z.number(),
  adjusted_quantity: z.number(),
  original_position_market_value: z.number().nullable().meta({ description: unpriced }),
  adjusted_position_market_value: z.number().nullable().meta({ description: unpriced }),
  target: z.number(),
  high_drift: z.number(),
  low_drift: z.number(),
  actual: z.number().nullable().meta({ description: unpriced }),
  actual_drift: z.number().nullable().meta({ description: unpriced }),
  transaction_type: z.enum(['BUY', 'SELL']).nullable(),
  trade_quantity: z.number().nullable(),
  trade_date: z.string().nullable(),
  restricted: z.literal(true).optional().meta({ description: 'Issue 19: present on a restricted position' }),
  restriction: z.enum(['no_buy', 'no_sell', 'frozen']).optional().meta({ description: 'The rule that held it' }),
});
const StoredPortfolio = z.object({
  portfolio_id: z.string(),
  portfolio_name: z.string().nullable(),
  status: z.enum(['ok', 'infeasible', 'in_band']),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  market_value: z.number(),
  cash_before_rebalance: z.number(),
  cash_after_rebalance: z.number(),
  cash_flow: z.number().optional().meta({ description: 'Issue 19: the deposit (> 0) or withdrawal (< 0), when there was one' }),
  positions: z.array(StoredPosition).optional(),
});
export const RebalanceResultDto = z
  .object({
    rebalance_id: z.string(),
    model_id: z.string(),
    model_name: z.string(),
    rebalance_date: z.string(),
    number_of_portfolios: z.int(),
    portfolios: z.array(StoredPortfolio),
    version: z.int(),
    created_at: z.string(),
    orders: z
      .object({ accepted: z.int(), rejected: z.int(), failed: z.int(), unknown: z.int(), last_submitted_at: z.string() })
      .nullable()
      .meta({ description: 'What the Order service made of the orders, once submitted' }),
  })
  .meta({ id: 'RebalanceResultDTO' });
/** GET /rebalance/{id} of a stored rebalance (or of a complete asynchronous dry run). */
export const RebalanceDetailDto = RebalanceResultDto.extend({
  status: z.literal('complete'),
  dry_run: z.boolean().optional().meta({ description: 'true only for an asynchronous dry run (kept until expires_at)' }),
  expires_at: z.string().optional(),
  error: ErrorResponse.optional().meta({
    description: 'An asynchronous rebalance stored whose orders could not be submitted: why, and how to submit them again',
  }),
}).meta({ id: 'RebalanceDetailDTO' });
export const StoredPortfolioDto = StoredPortfolio.meta({ id: 'RebalancePortfolioDTO' });
export const StoredPositionDto = StoredPosition.meta({ id: 'RebalancePositionDTO' });
export const errorResponses = { 400: ErrorResponse, 404: ErrorResponse } as const;

/**
 * A model's targets and drifts are the same objects in every portfolio of a
 * rebalance (and a held security outside the model has ZERO for all three):
 * the three fields are encoded once per target object and drift pair.
 */
const spelt = new WeakMap<Dec, { readonly high: Dec; readonly low: Dec; readonly bytes: Buffer }>();
function bandFields(p: PositionOutcome): Buffer {
  const known = spelt.get(p.target);
  if (known !== undefined && known.high === p.highDrift && known.low === p.lowDrift) return known.bytes;
  const bytes = Buffer.from(
    `","target":"${formatDecimal(p.target)}","high_drift":"${formatDecimal(p.highDrift)}","low_drift":"${formatDecimal(p.lowDrift)}","actual":"`,
  );
  spelt.set(p.target, { high: p.highDrift, low: p.lowDrift, bytes });
  return bytes;
}

/** The fixed parts of a drift and a transaction, encoded once; a drift's and a transaction's start, once per security. */
const part = {
  adjusted: Buffer.from('","adjusted_quantity":"'),
  end: Buffer.from('"}'),
  quantity: Buffer.from(',"quantity":'),
};
const driftStart = new EncodedOnce((id) => `,{"security_id":${quoted(id)},"original_quantity":"`);
const buyStart = new EncodedOnce((id) => `,{"transaction_type":"BUY","security_id":${quoted(id)}`);
const sellStart = new EncodedOnce((id) => `,{"transaction_type":"SELL","security_id":${quoted(id)}`);

/**
 * The same RebalanceDTO as JSON, written directly as bytes into `out` (after
 * what it holds): a model rebalance answers thousands of them (100 drifts
 * each), and building the objects, or even the text, only to encode it was
 * most of its cost. Every element of a list is written after a comma; the
 * first comma becomes the list's `[`.
 */
export function rebalanceJson(out: JsonBytes, outcome: PortfolioOutcome, rebalanceId: string | null, tradeDate: string): JsonBytes {
  // An infeasible portfolio is answered with empty lists (api.md). Index loops over its own list only: an
  // empty literal in its place, or the iterator protocol, would see arrays of other kinds and deoptimise.
  const { positions } = outcome;
  const count = outcome.status === 'infeasible' ? 0 : positions.length;
  out.raw('{"portfolio_id":').string(outcome.portfolioId).raw(',"portfolio_name":').string(outcome.portfolioName);
  out.raw(',"rebalance_id":').string(rebalanceId).raw(`,"status":"${outcome.status}"`);
  if (outcome.error !== null) out.raw(`,"error":${JSON.stringify({ code: outcome.error.code, message: outcome.error.message })}`);
  if (outcome.cashFlow !== undefined) out.raw(',"cash_flow":"').decimal(outcome.cashFlow).raw('"');
  out.raw(',"transactions":');
  let list = out.length;
  const date = Buffer.from(`,"trade_date":${JSON.stringify(tradeDate)}}`);
  for (let i = 0; i < count; i++) {
    const p = positions[i]!;
    if (p.trade === null) continue;
    out.copy((p.trade.type === 'BUY' ? buyStart : sellStart).get(p.securityId)).copy(part.quantity);
    // A trade quantity is a JSON number: a whole one is its digits.
    const q = p.trade.quantity;
    if (q.scale === 0 && q.digits <= MAX_SAFE) out.decimal(q);
    else out.raw(JSON.stringify(toNumber(q)));
    out.copy(date);
  }
  if (out.length === list) out.raw('[]');
  else out.patch(list, 0x5b).raw(']');
  out.raw(',"drifts":');
  list = out.length;
  for (let i = 0; i < count; i++) {
    const p = positions[i]!;
    out.copy(driftStart.get(p.securityId)).decimal(p.original).copy(part.adjusted).decimal(p.adjusted);
    out.copy(bandFields(p)).places(p.actual!, 4); // every position of a rebalanced portfolio is priced
    if (p.restriction === undefined) out.copy(part.end);
    else out.raw(`","restricted":true,"restriction":"${p.restriction}"}`);
  }
  if (out.length === list) out.raw('[]');
  else out.patch(list, 0x5b).raw(']');
  return out.raw('}');
}

export function storedPosition(p: PositionOutcome, tradeDate: string): z.infer<typeof StoredPosition> {
  const drift = actualDriftOf(p);
  return {
    security_id: p.securityId,
    price: p.price && toNumber(p.price),
    original_quantity: toNumber(p.original),
    adjusted_quantity: toNumber(p.adjusted),
    original_position_market_value: p.price && toNumber(mul(p.original, p.price), 2),
    adjusted_position_market_value: p.price && toNumber(mul(p.adjusted, p.price), 2),
    target: toNumber(p.target),
    high_drift: toNumber(p.highDrift),
    low_drift: toNumber(p.lowDrift),
    actual: p.actual && toNumber(p.actual, 4),
    actual_drift: drift && toNumber(drift, 4),
    transaction_type: p.trade?.type ?? null,
    trade_quantity: p.trade === null ? null : toNumber(p.trade.quantity),
    trade_date: p.trade === null ? null : tradeDate,
    ...(p.restriction === undefined ? {} : { restricted: true as const, restriction: p.restriction }),
  };
}

export function toStoredPortfolioDto(o: PortfolioOutcome, tradeDate: string, withPositions: boolean): z.infer<typeof StoredPortfolio> {
  return {
    portfolio_id: o.portfolioId,
    portfolio_name: o.portfolioName,
    status: o.status,
    ...(o.error === null ? {} : { error: o.error }),
    market_value: toNumber(o.marketValue, 2),
    cash_before_rebalance: toNumber(o.cashBefore, 2),
    cash_after_rebalance: toNumber(o.cashAfter, 2),
    ...(o.cashFlow === undefined ? {} : { cash_flow: toNumber(o.cashFlow, 2) }),
    ...(withPositions ? { positions: o.positions.map((p) => storedPosition(p, tradeDate)) } : {}),
  };
}

/** The header fields of a RebalanceResultDTO, around its `portfolios`. */
export function resultHeaderFields(h: RebalanceHeader) {
  const { lastSubmittedAt, ...counts } = h.orders ?? { lastSubmittedAt: null };
  return {
    before: {
      rebalance_id: h.id,
      model_id: h.modelId,
      model_name: h.modelName,
      rebalance_date: h.rebalanceDate.toISOString(),
      number_of_portfolios: h.numberOfPortfolios,
    },
    after: {
      version: h.version,
      created_at: h.createdAt.toISOString(),
      // The counts as recorded (accepted, rejected, failed, unknown), then when.
      orders: lastSubmittedAt === null ? null : { ...counts, last_submitted_at: lastSubmittedAt.toISOString() },
    },
  };
}
