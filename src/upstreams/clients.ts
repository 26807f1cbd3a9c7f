// One client per GlobeCo service, each call through that service's policy.
// 404 (and the Accounting summary's 500) mean what upstreams.md says they mean for that service.

import type { z } from 'zod';
import type { Config } from '../config.js';
import { add, type Dec, DecimalInputError, isZero, parseBoundedDecimal, sub, ZERO } from '../domain/decimal.js';
import { sortedById } from '../domain/ids.js';
import { type ServiceKey, UnknownSecurityError, UpstreamAnswerToCheck, UpstreamHttpError, UpstreamUnavailableError } from './errors.js';
import { parsePayload, type ServiceHttp } from './http.js';
import type { ServicePolicy } from './resilience.js';
import {
  AccountingSummary,
  BalancesPage,
  Blotters,
  Lookup,
  OrdersAnswer,
  OrdersFailure,
  PortfolioList,
  PortfolioPayload,
  PriceList,
  PricePayload,
  SecurityList,
  SecurityPayload,
} from './schemas.js';

export interface ServiceChannel {
  readonly http: ServiceHttp;
  readonly policy: ServicePolicy;
}

/** GET path through the policy; the parsed body, or null on 404. */
async function getJson<S extends z.ZodType>(
  channel: ServiceChannel,
  path: string,
  schema: S,
  signal?: AbortSignal,
): Promise<z.output<S> | null> {
  const where = `GET ${path}`;
  const answer = await channel.policy.run((attemptSignal) => channel.http.exchange('GET', path, attemptSignal), where, signal);
  if (answer.status === 404) return null;
  return parsePayload(schema, answer.body, channel.http.service, where);
}

const encode = encodeURIComponent;

interface Holding {
  readonly securityId: string;
  /** Never zero: a closed position (netQuantity 0) is not a holding. */
  readonly quantity: Dec;
}

export interface PortfolioHoldings {
  /** False for a new portfolio: the accounting service has no balances for it yet. */
  readonly known: boolean;
  readonly cash: Dec;
  /** Sorted by security id. */
  readonly holdings: readonly Holding[];
}

/** An upstream decimal as AccountingSummary reads it, or undefined when the schema would refuse it. */
function upstreamDecimal(value: unknown): Dec | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  try {
    return parseBoundedDecimal(value);
  } catch (error) {
    if (error instanceof DecimalInputError) return undefined;
    throw error;
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A summary that AccountingSummary accepts, read the same way without it (one
 * is parsed per portfolio of every rebalance); null for anything else, which
 * goes through the schema so that the error names the problem.
 */
function readSummary(body: unknown): z.output<typeof AccountingSummary> | null {
  if (!isRecord(body) || typeof body.portfolioId !== 'string' || !Array.isArray(body.securities)) return null;
  const cash = upstreamDecimal(body.cashBalance);
  if (cash === undefined) return null;
  const securities: unknown[] = body.securities;
  const rows = new Array<{ securityId: string; quantity: Dec }>(securities.length);
  for (let i = 0; i < securities.length; i++) {
    const row = securities[i];
    if (!isRecord(row) || typeof row.securityId !== 'string' || row.securityId === '') return null;
    const quantity = upstreamDecimal(row.netQuantity);
    if (quantity === undefined) return null;
    rows[i] = { securityId: row.securityId, quantity };
  }
  return { cash, rows };
}

/** /balances pages are read this many rows at a time (its largest page). */
const BALANCES_PAGE = 1000;
/** A summary lists at most this many balance rows (cash included): with as many, read /balances instead. */
const SUMMARY_ROWS = 1000;

/**
 * Holdings and cash. The summary answers 500 (or 404) for a portfolio with no
 * balances yet; /balances tells that apart from a real failure: no rows is a
 * new portfolio, rows are the holdings. Rows of closed positions (0) are dropped.
 */
export function accountingClient(channel: ServiceChannel) {
  const service: ServiceKey = 'accounting';

  function holdingsOf(path: string, cash: Dec, rows: readonly { securityId: string; quantity: Dec }[]): PortfolioHoldings {
    // Rows usually come in id order already, and then hold no security twice: only rows that had to be sorted are
    // looked through for one listed twice.
    const sorted = sortedById(rows);
    if (sorted !== rows) {
      for (let i = 1; i < sorted.length; i++) {
        if (sorted[i - 1]!.securityId === sorted[i]!.securityId) {
          throw new UpstreamUnavailableError(
            service,
            `GET ${path}: answered an unexpected payload (security ${sorted[i]!.securityId} is listed twice)`,
          );
        }
      }
    }
    return { known: true, cash, holdings: sorted.filter((row) => !isZero(row.quantity)) };
  }

  /** Every balance row of a portfolio, page by page; null when it has none (a new portfolio). */
  async function fromBalances(portfolioId: string, signal?: AbortSignal): Promise<PortfolioHoldings | null> {
    let cash = ZERO;
    const rows: { securityId: string; quantity: Dec }[] = [];
    let path = '';
    for (let offset = 0; ; offset += BALANCES_PAGE) {
      path = `/api/v1/balances?portfolio_id=${encode(portfolioId)}&offset=${offset}&limit=${BALANCES_PAGE}`;
      const page = (await getJson(channel, path, BalancesPage, signal)) ?? { balances: [], pagination: { hasMore: false, total: 0 } };
      for (const row of page.balances) {
        const net = sub(row.quantityLong, row.quantityShort);
        if (row.securityId === undefined || row.securityId === null) cash = add(cash, net);
        else rows.push({ securityId: row.securityId, quantity: net });
      }
      if (offset === 0 && page.balances.length === 0) return null;
      const more = page.pagination.hasMore ?? offset + page.balances.length < (page.pagination.total ?? 0);
      if (!more || page.balances.length === 0) break;
    }
    return holdingsOf(path, cash, rows);
  }

  return {
    async holdings(portfolioId: string, signal?: AbortSignal): Promise<PortfolioHoldings> {
      const path = `/api/v1/portfolios/${encode(portfolioId)}/summary`;
      const where = `GET ${path}`;
      // 404: a new portfolio. A 500 may mean the same: looked into with /balances, neither retried nor counted.
      let answer;
      try {
        answer = await channel.policy.run((s) => channel.http.exchange('GET', path, s, { answers: [500] }), where, signal);
      } catch (error) {
        if (!(error instanceof UpstreamAnswerToCheck)) throw error;
        answer = null;
      }
      const unknown: PortfolioHoldings = { known: false, cash: ZERO, holdings: [] };
      if (answer?.status === 404) return unknown;
      if (answer === null) return (await fromBalances(portfolioId, signal)) ?? unknown;
      const summary = readSummary(answer.body) ?? parsePayload(AccountingSummary, answer.body, service, where);
      // The summary reads at most 1 000 rows: a portfolio with as many may have more.
      if (summary.rows.length + 1 >= SUMMARY_ROWS) return (await fromBalances(portfolioId, signal)) ?? unknown;
      return holdingsOf(path, summary.cash, summary.rows);
    },
  };
}

/** The Security service's ids are ObjectIds; it answers 500 to anything else, so such an id is never sent. */
export const OBJECT_ID = /^[0-9a-fA-F]{24}$/;

export function securityClient(channel: ServiceChannel) {
  return {
    async ticker(securityId: string, signal?: AbortSignal): Promise<string> {
      if (!OBJECT_ID.test(securityId)) {
        throw new UnknownSecurityError(securityId, 'is not a Security service id (24 hexadecimal characters)');
      }
      const found = await getJson(channel, `/api/v1/security/${encode(securityId)}`, SecurityPayload, signal);
      if (found === null) throw new UnknownSecurityError(securityId);
      return found.ticker;
    },
    /** Every security in one call: security id to ticker. */
    async all(signal?: AbortSignal): Promise<Map<string, string>> {
      const list = (await getJson(channel, '/api/v1/securities', SecurityList, signal)) ?? [];
      return new Map(list.map((s) => [s.securityId, s.ticker]));
    },
  };
}

/** The price of a ticker, or null when the pricing service has none (404). */
export function pricingClient(channel: ServiceChannel) {
  return {
    async price(ticker: string, signal?: AbortSignal): Promise<Dec | null> {
      const found = await getJson(channel, `/api/v1/price/${encode(ticker)}`, PricePayload, signal);
      return found === null ? null : found.close;
    },
    /** Every price in one call: ticker to close. */
    async all(signal?: AbortSignal): Promise<Map<string, Dec>> {
      const list = (await getJson(channel, '/api/v1/prices', PriceList, signal)) ?? [];
      return new Map(list.map((p) => [p.ticker, p.close]));
    },
  };
}

/** Names for many portfolios come in one call; for a few, one call each. */
const BULK_NAMES_FROM = 20;

/** Portfolio names are cosmetic: any failure is null, never an error. */
export function portfolioClient(channel: ServiceChannel) {
  const client = {
    async name(portfolioId: string, signal?: AbortSignal): Promise<string | null> {
      try {
        const found = await getJson(channel, `/api/v1/portfolio/${encode(portfolioId)}`, PortfolioPayload, signal);
        return found?.name ?? null;
      } catch (error) {
        if (signal?.aborted) throw error;
        return null;
      }
    },
    /** How to name `count` portfolios: all in one call when many, else one call each (a failed or cancelled lookup is no name). */
    lookup(count: number, signal: AbortSignal): (portfolioId: string) => Promise<string | null> {
      if (count < BULK_NAMES_FROM) return (id) => client.name(id, signal).catch(() => null);
      const names = getJson(channel, '/api/v1/portfolios', PortfolioList, signal).then(
        (list) => new Map((list ?? []).map((p) => [p.portfolioId, p.name])),
        () => new Map<string, string>(),
      );
      return (id) => names.then((all) => all.get(id) ?? null);
    },
  };
  return client;
}

export interface OrderRequest {
  readonly portfolioId: string;
  readonly securityId: string;
  readonly side: 'BUY' | 'SELL';
  readonly quantity: number;
}

export interface OrderResult {
  /** Index in the submitted list. */
  readonly index: number;
  /**
   * accepted or rejected as the service reported it; unknown when no result
   * line names the order (a worker timed out: requestIndex -1), so it may or may not exist.
   */
  readonly status: 'accepted' | 'rejected' | 'unknown';
  readonly orderId: number | null;
  readonly message: string | null;
}

/** An answer that shows the service took nothing (overloaded: 500 with totalReceived 0, or FAILURE with no order created). */
function nothingTaken(body: unknown): boolean {
  const parsed = OrdersFailure.safeParse(body);
  if (!parsed.success) return false;
  const { totalReceived, status, successful, orders } = parsed.data;
  return totalReceived === 0 || (status === 'FAILURE' && (successful ?? 0) === 0 && !(orders ?? []).some((o) => o.status === 'SUCCESS'));
}

/**
 * The lookups are retried as usual; a submission only when the service surely
 * did not take the orders (the same breaker and in-flight bound for both).
 * ORDER_BATCH_SIZE (config.ts) keeps a batch within the Order service's limit of 1 000 orders a call.
 */
export function orderClient(channel: ServiceChannel, { blotterId, batchSize }: Pick<Config['orders'], 'blotterId' | 'batchSize'>) {
  const service: ServiceKey = 'order';
  let lookups: Promise<{ buy: number; sell: number; fresh: number }> | null = null;

  async function lookupIds(signal?: AbortSignal) {
    const [types, statuses, blotters] = await Promise.all([
      getJson(channel, '/api/v1/orderTypes', Lookup, signal),
      getJson(channel, '/api/v1/statuses', Lookup, signal),
      getJson(channel, '/api/v1/blotters', Blotters, signal),
    ]);
    const find = (list: z.output<typeof Lookup> | null, abbreviation: string, path: string) => {
      const id = list?.find((entry) => entry.abbreviation === abbreviation)?.id;
      if (id === undefined) throw new UpstreamUnavailableError(service, `GET ${path}: has no ${abbreviation}`, undefined, false);
      return id;
    };
    if (!(blotters ?? []).some((b) => b.id === blotterId)) {
      const known = (blotters ?? [])
        .map((b) => (b.name === undefined || b.name === null ? String(b.id) : `${b.id} (${b.name})`))
        .join(', ');
      throw new UpstreamUnavailableError(
        service,
        `ORDER_BLOTTER_ID ${blotterId} is not a blotter of the Order service (GET /api/v1/blotters lists ${known === '' ? 'none' : known}); set ORDER_BLOTTER_ID to one of them`,
        undefined,
        false,
      );
    }
    return {
      buy: find(types, 'BUY', '/api/v1/orderTypes'),
      sell: find(types, 'SELL', '/api/v1/orderTypes'),
      fresh: find(statuses, 'NEW', '/api/v1/statuses'),
    };
  }

  /** BUY/SELL order type ids, the NEW status id and the blotter, looked up once (a failed lookup is tried again next time). */
  function lookupOnce(signal?: AbortSignal) {
    lookups ??= lookupIds(signal).catch((error: unknown) => {
      lookups = null;
      throw error;
    });
    return lookups;
  }

  return {
    batchSize,
    /** Submits in batches of `batchSize`; per-order outcome from 200/207 answers, in the order given. */
    async submit(orders: readonly OrderRequest[], now: Date, signal?: AbortSignal): Promise<OrderResult[]> {
      if (orders.length === 0) return [];
      const ids = await lookupOnce(signal);
      const results: OrderResult[] = [];
      for (let start = 0; start < orders.length; start += batchSize) {
        const batch = orders.slice(start, start + batchSize);
        const body = batch.map((o) => ({
          blotterId,
          statusId: ids.fresh,
          portfolioId: o.portfolioId,
          orderTypeId: o.side === 'BUY' ? ids.buy : ids.sell,
          securityId: o.securityId,
          quantity: o.quantity,
          limitPrice: null,
          tradeOrderId: null,
          orderTimestamp: now.toISOString(),
          version: 1,
        }));
        const where = `POST /api/v1/orders (${batch.length} orders)`;
        const answer = await channel.policy.run(
          (s) =>
            channel.http.exchange('POST', '/api/v1/orders', s, { body }).catch((error: unknown) => {
              // An overloaded service answers 500 with nothing taken: the orders may be sent again.
              if (error instanceof UpstreamHttpError && nothingTaken(error.body)) error.tookNoEffect = true;
              throw error;
            }),
          where,
          signal,
          'safe-only',
        );
        const parsed = parsePayload(OrdersAnswer, answer.body, service, where);
        const message = 'the Order service named no result for this order (it may or may not have been created)';
        const outcomes = batch.map((_, i): OrderResult => ({ index: start + i, status: 'unknown', orderId: null, message }));
        for (const line of parsed.orders) {
          if (line.requestIndex < 0 || line.requestIndex >= batch.length) continue;
          const status = line.status === 'SUCCESS' ? 'accepted' : 'rejected';
          const index = start + line.requestIndex;
          outcomes[line.requestIndex] = { index, status, orderId: line.orderId ?? null, message: line.message ?? null };
        }
        results.push(...outcomes);
      }
      return results;
    },
  };
}
