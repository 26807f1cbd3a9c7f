// Tickers and prices, cached with a time-to-live and a size bound, looked up
// once per rebalance request (a session) however many portfolios hold a
// security; concurrent lookups of one key share one request, and many misses
// at once are filled from the services' bulk endpoints.
import { LRUCache } from 'lru-cache';
import type { Config } from '../config.js';
import { type Dec, formatDecimal, sign } from '../domain/decimal.js';
import { OBJECT_ID, type pricingClient, type securityClient } from './clients.js';
import { MissingPriceError } from './errors.js';

export interface Quote {
  readonly securityId: string;
  readonly ticker: string;
  readonly price: Dec;
}

export interface QuoteSession {
  /**
   * Quotes for these securities (each asked once per session), looked up by id:
   * it may hold other securities of the session too. Unknown security or bad
   * price: an error naming it.
   */
  resolve(securityIds: readonly string[]): Promise<ReadonlyMap<string, Quote>>;
}

/** `now`: the caches' clock in ms (default: performance.now); a test's clock makes entries expire when it says. */
export function createQuotes(
  security: ReturnType<typeof securityClient>,
  pricing: ReturnType<typeof pricingClient>,
  settings: Pick<Config['upstreams'], 'securityCacheTtlMs' | 'priceCacheTtlMs' | 'cacheMaxEntries' | 'bulkThreshold'>,
  now?: () => number,
) {
  // A TTL of 0 turns caching off; 1 ms still shares requests that are in flight. A clock of
  // the caller's is read on every check (lru-cache otherwise reuses a reading for 1 ms of real time).
  const clock = now === undefined ? {} : { perf: { now }, ttlResolution: 0 };
  const tickers = new LRUCache<string, string>({
    max: settings.cacheMaxEntries,
    ttl: Math.max(1, settings.securityCacheTtlMs),
    ...clock,
    fetchMethod: (securityId) => security.ticker(securityId),
  });
  // A price absent (null) is stored as such, so a 404 is not asked again until it expires.
  const prices = new LRUCache<string, { readonly close: Dec | null }>({
    max: settings.cacheMaxEntries,
    ttl: Math.max(1, settings.priceCacheTtlMs),
    ...clock,
    fetchMethod: async (ticker) => ({ close: await pricing.price(ticker) }),
  });
  const stats = { tickers: { hits: 0, misses: 0 }, prices: { hits: 0, misses: 0 } };

  // One bulk call of each kind at a time, shared by every session that needs it.
  let bulkTickers: Promise<void> | null = null;
  let bulkPrices: Promise<Map<string, Dec>> | null = null;
  const fillTickers = () =>
    (bulkTickers ??= security
      .all()
      .then((all) => {
        for (const [id, ticker] of all) tickers.set(id, ticker);
      })
      .finally(() => {
        bulkTickers = null;
      }));
  /** Every price; a ticker asked for and absent from the list has none (the list is every price). */
  const fillPrices = async (asked: readonly string[]) => {
    bulkPrices ??= pricing
      .all()
      .then((all) => {
        for (const [ticker, close] of all) prices.set(ticker, { close });
        return all;
      })
      .finally(() => {
        bulkPrices = null;
      });
    const all = await bulkPrices;
    for (const ticker of asked) if (!all.has(ticker) && !prices.has(ticker)) prices.set(ticker, { close: null });
  };

  const counted = <V extends NonNullable<unknown>>(cache: LRUCache<string, V>, key: string, stat: typeof stats.tickers): Promise<V> => {
    if (cache.has(key)) stat.hits += 1;
    else stat.misses += 1;
    return cache.fetch(key) as Promise<V>;
  };

  async function quote(securityId: string): Promise<Quote> {
    const ticker = await counted(tickers, securityId, stats.tickers);
    const { close } = await counted(prices, ticker, stats.prices);
    if (close === null) throw new MissingPriceError(securityId, ticker, 'has no price');
    if (sign(close) <= 0) throw new MissingPriceError(securityId, ticker, `has a price of ${formatDecimal(close)}, not above 0`);
    return { securityId, ticker, price: close };
  }

  return {
    session(): QuoteSession {
      const asked = new Map<string, Promise<Quote>>();
      /** The quotes of `asked` that came: a portfolio whose securities are all here is answered without waiting. */
      const settled = new Map<string, Quote>();
      // A bulk call that failed (the Security service's list fails whole when one
      // security lacks its type) is not tried again in this session: single lookups instead.
      let bulkFailed = false;
      /** Looks up what the session has not asked yet (the first portfolios of a rebalance), then answers from it. */
      async function lookUp(securityIds: readonly string[]): Promise<ReadonlyMap<string, Quote>> {
        const fresh = [...new Set(securityIds)].filter((id) => !asked.has(id));
        const uncachedTickers = fresh.filter((id) => OBJECT_ID.test(id) && !tickers.has(id));
        if (uncachedTickers.length > settings.bulkThreshold && !bulkFailed) {
          await fillTickers().catch(() => {
            bulkFailed = true;
          });
        }
        const uncachedPrices = fresh.flatMap((id) => {
          const ticker = tickers.get(id, { allowStale: false });
          return ticker !== undefined && !prices.has(ticker) ? [ticker] : [];
        });
        if (uncachedPrices.length > settings.bulkThreshold && !bulkFailed) {
          await fillPrices(uncachedPrices).catch(() => {
            bulkFailed = true;
          });
        }
        for (const id of fresh) {
          const pending = quote(id);
          // Observed below; the rejection is handled here too, so that it is never unhandled meanwhile.
          pending.then(
            (quote) => void settled.set(id, quote),
            () => undefined,
          );
          asked.set(id, pending);
        }
        const out = new Map<string, Quote>();
        for (const id of new Set(securityIds)) out.set(id, await asked.get(id)!);
        return out;
      }
      return {
        resolve(securityIds) {
          // Every one of them came already (each portfolio after the first few): the session's own quotes, at
          // once. The lookup is its own function, so this one stays small for the optimising compiler.
          let all = true;
          for (let i = 0; i < securityIds.length && all; i++) all = settled.has(securityIds[i]!);
          return all ? Promise.resolve(settled) : lookUp(securityIds);
        },
      };
    },
    sizes: () => ({ tickers: tickers.size, prices: prices.size }),
    stats: () => ({ tickers: { ...stats.tickers }, prices: { ...stats.prices } }),
  };
}
