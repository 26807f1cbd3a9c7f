// The payloads of the GlobeCo services (upstreams.md), as zod schemas. Extra
// fields are ignored; money and quantities arrive as strings or numbers and
// become exact decimals either way.
import { z } from 'zod';
import { boundedDecimal } from '../domain/schemas.js';

const UpstreamDecimal = boundedDecimal(
  () => 'must be a decimal number (a string or a number)',
  (problem, value) => `${problem}, not ${JSON.stringify(value).slice(0, 40)}`,
);

/** Read as its cash and its rows of holdings (a security and its net quantity). */
export const AccountingSummary = z
  .object({
    portfolioId: z.string(),
    cashBalance: UpstreamDecimal,
    securities: z.array(z.object({ securityId: z.string().min(1), netQuantity: UpstreamDecimal })),
  })
  .transform((s) => ({ cash: s.cashBalance, rows: s.securities.map((r) => ({ securityId: r.securityId, quantity: r.netQuantity })) }));

/** One page of GET /api/v1/balances (the cash row has no securityId; net = long − short). */
export const BalancesPage = z.object({
  balances: z.array(
    z.object({
      securityId: z.string().min(1).nullish(),
      quantityLong: UpstreamDecimal,
      quantityShort: UpstreamDecimal,
    }),
  ),
  pagination: z.object({ hasMore: z.boolean().optional(), total: z.int().optional() }),
});

export const SecurityPayload = z.object({ securityId: z.string().min(1), ticker: z.string().min(1) });
export const SecurityList = z.array(SecurityPayload);

export const PricePayload = z.object({ ticker: z.string().min(1), close: UpstreamDecimal });
export const PriceList = z.array(PricePayload);

export const PortfolioPayload = z.object({ portfolioId: z.string().min(1), name: z.string() });
export const PortfolioList = z.array(PortfolioPayload);

export const Lookup = z.array(z.object({ id: z.int(), abbreviation: z.string() }));
export const Blotters = z.array(z.object({ id: z.int(), name: z.string().nullish() }));

export const OrderOutcome = z.object({
  status: z.string(),
  message: z.string().nullish(),
  orderId: z.int().nullish(),
  /** Any integer: -1 for an order whose worker timed out (it names no request line). */
  requestIndex: z.int(),
});

export const OrdersAnswer = z.object({
  status: z.string(),
  message: z.string().nullish(),
  totalReceived: z.int(),
  successful: z.int(),
  failed: z.int(),
  orders: z.array(OrderOutcome),
});

/** A failed batch answer, loosely: enough to tell whether anything was taken. */
export const OrdersFailure = z.object({
  status: z.string(),
  totalReceived: z.int(),
  successful: z.int().optional(),
  orders: z.array(z.object({ status: z.string() })).nullish(),
});
