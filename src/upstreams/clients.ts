// One client per GlobeCo service, each call through that service's policy.
// 404 means what upstreams.md says it means for that service.
import type { Dec } from '../domain/decimal.js';
import { UnknownSecurityError, UpstreamUnavailableError, type ServiceKey } from './errors.js';
import { parsePayload, type ServiceHttp } from './http.js';
import type { ServicePolicy } from './resilience.js';
import {
  AccountingSummary,
  Lookup,
  OrdersAnswer,
  PortfolioList,
  PortfolioPayload,
  PriceList,
  PricePayload,
  SecurityList,
  SecurityPayload,
} from './schemas.js';
import type { z } from 'zod';

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

export interface Holding {
  readonly securityId: string;
  readonly quantity: Dec;
}

export interface PortfolioHoldings {
  /** False for a new portfolio the accounting service has no record of (404). */
  readonly known: boolean;
  readonly cash: Dec;
  readonly holdings: readonly Holding[];
}

export function accountingClient(channel: ServiceChannel, zero: Dec) {
  return {
    async holdings(portfolioId: string, signal?: AbortSignal): Promise<PortfolioHoldings> {
      const path = `/api/v1/portfolios/${encode(portfolioId)}/summary`;
      const summary = await getJson(channel, path, AccountingSummary, signal);
      if (summary === null) return { known: false, cash: zero, holdings: [] };
      const seen = new Set<string>();
      for (const s of summary.securities) {
        if (seen.has(s.securityId)) {
          throw new UpstreamUnavailableError('accounting', `GET ${path}: answered an unexpected payload (security ${s.securityId} is listed twice)`);
        }
        seen.add(s.securityId);
      }
      return {
        known: true,
        cash: summary.cashBalance,
        holdings: summary.securities.map((s) => ({ securityId: s.securityId, quantity: s.netQuantity })),
      };
    },
  };
}

export function securityClient(channel: ServiceChannel) {
  return {
    async ticker(securityId: string, signal?: AbortSignal): Promise<string> {
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

/** Portfolio names are cosmetic: any failure is null, never an error. */
export function portfolioClient(channel: ServiceChannel) {
  return {
    async name(portfolioId: string, signal?: AbortSignal): Promise<string | null> {
      try {
        const found = await getJson(channel, `/api/v1/portfolio/${encode(portfolioId)}`, PortfolioPayload, signal);
        return found?.name ?? null;
      } catch (error) {
        if (signal?.aborted) throw error;
        return null;
      }
    },
    /** Names of many portfolios in one call (empty on failure). */
    async names(signal?: AbortSignal): Promise<Map<string, string>> {
      try {
        const list = (await getJson(channel, '/api/v1/portfolios', PortfolioList, signal)) ?? [];
        return new Map(list.map((p) => [p.portfolioId, p.name]));
      } catch (error) {
        if (signal?.aborted) throw error;
        return new Map();
      }
    },
  };
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
  readonly accepted: boolean;
  readonly orderId: number | null;
  readonly message: string | null;
}

/** The order service takes at most this many orders a call. */
export const ORDER_BATCH = 1000;

/**
 * The lookups are retried as usual; a submission only when the service surely
 * did not take the orders (the same breaker and in-flight bound for both).
 */
export function orderClient(channel: ServiceChannel, blotterId: number) {
  const service: ServiceKey = 'order';
  let lookups: Promise<{ buy: number; sell: number; fresh: number }> | null = null;

  async function lookupIds(signal?: AbortSignal) {
    const [types, statuses] = await Promise.all([
      getJson(channel, '/api/v1/orderTypes', Lookup, signal),
      getJson(channel, '/api/v1/statuses', Lookup, signal),
    ]);
    const find = (list: z.output<typeof Lookup> | null, abbreviation: string, path: string) => {
      const id = list?.find((entry) => entry.abbreviation === abbreviation)?.id;
      if (id === undefined) throw new UpstreamUnavailableError(service, `GET ${path}: has no ${abbreviation}`);
      return id;
    };
    return {
      buy: find(types, 'BUY', '/api/v1/orderTypes'),
      sell: find(types, 'SELL', '/api/v1/orderTypes'),
      fresh: find(statuses, 'NEW', '/api/v1/statuses'),
    };
  }

  /** BUY/SELL order type ids and the NEW status id, looked up once (a failed lookup is tried again next time). */
  function lookupOnce(signal?: AbortSignal) {
    lookups ??= lookupIds(signal).catch((error: unknown) => {
      lookups = null;
      throw error;
    });
    return lookups;
  }

  return {
    /** Submits in batches of at most 1 000; per-order outcome from 200/207 answers, in the order given. */
    async submit(orders: readonly OrderRequest[], now: Date, signal?: AbortSignal): Promise<OrderResult[]> {
      if (orders.length === 0) return [];
      const ids = await lookupOnce(signal);
      const results: OrderResult[] = [];
      for (let start = 0; start < orders.length; start += ORDER_BATCH) {
        const batch = orders.slice(start, start + ORDER_BATCH);
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
        const answer = await channel.policy.run((s) => channel.http.exchange('POST', '/api/v1/orders', s, body), where, signal, 'safe-only');
        const parsed = parsePayload(OrdersAnswer, answer.body, service, where);
        const byIndex = new Map(parsed.orders.map((o) => [o.requestIndex, o]));
        batch.forEach((_, i) => {
          const outcome = byIndex.get(i);
          results.push({
            index: start + i,
            accepted: outcome?.status === 'SUCCESS',
            orderId: outcome?.orderId ?? null,
            message: outcome === undefined ? 'the order service did not report on this order' : (outcome.message ?? null),
          });
        });
      }
      return results;
    },
  };
}
