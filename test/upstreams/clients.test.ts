// The clients' contracts: payload parsing, 404 semantics, caches, bulk
// lookups and order batching, over real HTTP against the simulator.
import { afterEach, describe, expect, it } from 'vitest';
import { formatDecimal } from '../../src/domain/decimal.js';
import { MissingPriceError, UnknownSecurityError, UpstreamUnavailableError } from '../../src/upstreams/index.js';
import { manualClock } from '../helpers/clock.js';
import { type Harness, harness, PRICE_ROUTE, SECURITY_ROUTE, SUMMARY_ROUTE } from './helpers.js';

let h: Harness;
afterEach(async () => {
  await h.close();
});

describe('payloads', () => {
  it('reads holdings and cash as exact decimals, from strings or numbers', async () => {
    h = await harness();
    const id = h.sim.book.portfolioId(0);
    h.sim.book.setHoldings(id, {
      cash: '3356336.10',
      securities: [
        { securityId: h.sim.book.securityId(1), quantity: '100' },
        { securityId: h.sim.book.securityId(2), quantity: '-12.5' },
      ],
    });
    const holdings = await h.upstreams.accounting.holdings(id);
    expect(holdings.known).toBe(true);
    expect(formatDecimal(holdings.cash)).toBe('3356336.1');
    expect(holdings.holdings.map((x) => [x.securityId, formatDecimal(x.quantity)])).toEqual([
      [h.sim.book.securityId(1), '100'],
      [h.sim.book.securityId(2), '-12.5'],
    ]);
    h.sim.book.setPrice('AAB', '0.1');
    expect(formatDecimal((await h.upstreams.pricing.price('AAB'))!)).toBe('0.1'); // sent as the JSON number 0.1
  });

  it('answers holdings in security-id order whatever order the summary lists them in, and refuses a security listed twice', async () => {
    h = await harness();
    const id = h.sim.book.portfolioId(0);
    const [a, b, c] = [1, 2, 3].map((i) => h.sim.book.securityId(i));
    const listed = (...rows: [string, string][]) =>
      h.sim.book.setHoldings(id, { cash: '10', securities: rows.map(([securityId, quantity]) => ({ securityId, quantity })) });
    listed([c!, '3'], [a!, '1'], [b!, '2']);
    const holdings = await h.upstreams.accounting.holdings(id);
    expect(holdings.holdings.map((x) => [x.securityId, formatDecimal(x.quantity)])).toEqual([
      [a, '1'],
      [b, '2'],
      [c, '3'],
    ]);
    // Listed twice, out of order and in order (rows in order with one listed twice do not ascend strictly).
    for (const rows of [
      [
        [b!, '2'],
        [a!, '1'],
        [b!, '5'],
      ],
      [
        [a!, '1'],
        [b!, '2'],
        [b!, '5'],
      ],
    ] as [string, string][][]) {
      listed(...rows);
      await expect(h.upstreams.accounting.holdings(id)).rejects.toThrow(
        `The Portfolio Accounting service is unavailable: GET /api/v1/portfolios/${id}/summary: answered an unexpected payload (security ${b} is listed twice)`,
      );
    }
  });

  it('treats a 404 from accounting as a new portfolio with no cash and no holdings', async () => {
    h = await harness();
    h.sim.inject('accounting', { route: SUMMARY_ROUTE, status: 404, times: 1 });
    const holdings = await h.upstreams.accounting.holdings('NEWPORTFOLIO0000000000001');
    expect(holdings).toMatchObject({ known: false, holdings: [] });
    expect(formatDecimal(holdings.cash)).toBe('0');
    expect(h.sim.counts().accounting).toEqual({ [SUMMARY_ROUTE]: 1 });
  });

  it('treats a 500 summary with no balance rows as a new portfolio, in two calls, neither retried nor counted', async () => {
    h = await harness({ CIRCUIT_FAILURE_THRESHOLD: '1' });
    h.sim.book.setHoldings('NEWPORTFOLIO0000000000001', null);
    const holdings = await h.upstreams.accounting.holdings('NEWPORTFOLIO0000000000001');
    expect(holdings).toMatchObject({ known: false, holdings: [] });
    expect(h.sim.counts().accounting).toEqual({ [SUMMARY_ROUTE]: 1, 'GET /api/v1/balances': 1 });
    expect(h.upstreams.health().accounting).toEqual({ circuit: 'closed', last_error: null });
  });

  it('names an unknown security and a missing or non-positive price, without retrying', async () => {
    h = await harness();
    const session = h.upstreams.quotes.session();
    await expect(session.resolve(['0000000000000000deadbeef'])).rejects.toThrow(new UnknownSecurityError('0000000000000000deadbeef'));
    h.sim.book.setPrice('AAC', null);
    await expect(session.resolve([h.sim.book.securityId(2)])).rejects.toThrow(
      `Security ${h.sim.book.securityId(2)} (AAC) has no price, so the portfolio cannot be valued`,
    );
    h.sim.book.setPrice('AAE', '0');
    const zero = session.resolve([h.sim.book.securityId(4)]);
    await expect(zero).rejects.toBeInstanceOf(MissingPriceError);
    await expect(zero).rejects.toThrow(
      `Security ${h.sim.book.securityId(4)} (AAE) has a price of 0, not above 0, so the portfolio cannot be valued`,
    );
    expect(h.sim.total('security', SECURITY_ROUTE)).toBe(3);
    // One price call each for AAC (404) and AAE (close 0): neither is retried; the unknown security needs none.
    expect(h.sim.total('pricing', PRICE_ROUTE)).toBe(2);
    expect(h.sim.total('pricing')).toBe(2);
  });

  it('rejects malformed JSON and unexpected payloads, naming the service, the call and the problem', async () => {
    h = await harness();
    h.sim.inject('security', { route: SECURITY_ROUTE, malformed: true, times: 1 });
    const malformed = h.upstreams.security.ticker(h.sim.book.securityId(1));
    await expect(malformed).rejects.toBeInstanceOf(UpstreamUnavailableError);
    await expect(malformed).rejects.toThrow(
      `The Security service is unavailable: GET /api/v1/security/${h.sim.book.securityId(1)}: answered malformed JSON`,
    );
    h.sim.book.setPrice('AAB', 'not-a-number');
    await expect(h.upstreams.pricing.price('AAB')).rejects.toThrow(
      'The Pricing service is unavailable: GET /api/v1/price/AAB: answered an unexpected payload (close must be a decimal number (a string or a number))',
    );
  });
});

describe('quotes', () => {
  it('caches tickers and prices, and asks again once they expire', async () => {
    const clock = manualClock();
    h = await harness({ PRICE_CACHE_TTL_MS: '100' }, {}, clock);
    const id = h.sim.book.securityId(5);
    const first = await h.upstreams.quotes.session().resolve([id]);
    expect(first.get(id)).toMatchObject({ securityId: id, ticker: 'AAF' });
    await h.upstreams.quotes.session().resolve([id]);
    expect(h.sim.total('security', SECURITY_ROUTE)).toBe(1);
    expect(h.sim.total('pricing', PRICE_ROUTE)).toBe(1);
    expect(h.upstreams.quotes.stats()).toEqual({ tickers: { hits: 1, misses: 1 }, prices: { hits: 1, misses: 1 } });

    clock.advance(99);
    await h.upstreams.quotes.session().resolve([id]);
    expect(h.sim.total('pricing', PRICE_ROUTE)).toBe(1);
    clock.advance(2);
    await h.upstreams.quotes.session().resolve([id]);
    expect(h.sim.total('security', SECURITY_ROUTE)).toBe(1);
    expect(h.sim.total('pricing', PRICE_ROUTE)).toBe(2);
  });

  it('shares one request between concurrent lookups of the same security', async () => {
    h = await harness();
    h.sim.inject('security', { latencyMs: 50 });
    const id = h.sim.book.securityId(7);
    await Promise.all(Array.from({ length: 10 }, () => h.upstreams.quotes.session().resolve([id])));
    expect(h.sim.total('security', SECURITY_ROUTE)).toBe(1);
    expect(h.sim.total('pricing', PRICE_ROUTE)).toBe(1);
  });

  it('asks each security once per session, and uses the bulk endpoints for many at once', async () => {
    h = await harness({}, { steadyPrices: true });
    const priced = h.sim.book.pricedSecurityIds();
    const session = h.upstreams.quotes.session();
    const few = [priced[1]!, priced[2]!, priced[1]!];
    await session.resolve(few);
    await session.resolve(few);
    expect(h.sim.total('security', SECURITY_ROUTE)).toBe(2);

    const many = priced.slice(0, 60);
    const quotes = await session.resolve([...many, ...many]);
    expect(quotes.size).toBe(60);
    expect(h.sim.total('security', 'GET /api/v1/securities')).toBe(1);
    expect(h.sim.total('pricing', 'GET /api/v1/prices')).toBe(1);
    expect(h.sim.total('security', SECURITY_ROUTE)).toBe(2);
    expect(h.sim.total('pricing', PRICE_ROUTE)).toBe(2);
    const last = quotes.get(priced[59]!)!;
    expect(formatDecimal(last.price)).toBe(String(Number(h.sim.book.price(last.ticker))));
  });
});

describe('bulk quotes', () => {
  it('reads more than QUOTE_BULK_THRESHOLD uncached securities with one /securities and one /prices call', async () => {
    h = await harness({ QUOTE_BULK_THRESHOLD: '10' });
    const ids = h.sim.book.pricedSecurityIds().slice(0, 11);
    const quotes = await h.upstreams.quotes.session().resolve(ids);
    expect(quotes.size).toBe(11);
    expect(h.sim.counts().security).toEqual({ 'GET /api/v1/securities': 1 });
    expect(h.sim.counts().pricing).toEqual({ 'GET /api/v1/prices': 1 });
  });

  it('falls back to one lookup each when the bulk list fails (a security without its type: 400 for the whole list)', async () => {
    h = await harness({ QUOTE_BULK_THRESHOLD: '10' });
    h.sim.book.dropSecurityType(h.sim.book.securityId(0));
    const ids = h.sim.book.pricedSecurityIds().slice(1, 13);
    const session = h.upstreams.quotes.session();
    expect((await session.resolve(ids)).size).toBe(12);
    expect((await session.resolve(h.sim.book.pricedSecurityIds().slice(20, 32))).size).toBe(12);
    // The failed list is not asked again in the same rebalance.
    expect(h.sim.counts().security).toEqual({ 'GET /api/v1/securities': 1, [SECURITY_ROUTE]: 24 });
    expect(h.sim.counts().pricing).toEqual({ [PRICE_ROUTE]: 24 });
  });
});

describe('portfolio names', () => {
  it('gives null when the portfolio service is down or does not know the portfolio', async () => {
    h = await harness();
    expect(await h.upstreams.portfolio.name(h.sim.book.portfolioId(2))).toBe('Portfolio 3');
    expect(await h.upstreams.portfolio.name('NOSUCHPORTFOLIO000000001')).toBeNull();
    await h.sim.down('portfolio');
    expect(await h.upstreams.portfolio.name(h.sim.book.portfolioId(2))).toBeNull();
  });
});

describe('order submission', () => {
  it('splits into ORDER_BATCH_SIZE orders a call (250), looks the ids up once, and reports a partial failure per order', async () => {
    h = await harness();
    const portfolio = h.sim.book.portfolioId(0);
    const orders = Array.from({ length: 2500 }, (_, i) => ({
      portfolioId: portfolio,
      securityId: h.sim.book.securityId(i % 100),
      side: i % 2 === 0 ? ('BUY' as const) : ('SELL' as const),
      quantity: 1 + (i % 7),
    }));
    const rejected = h.sim.book.securityId(13);
    h.sim.orders.reject = (order) => (order.securityId === rejected ? 'security is restricted' : null);
    const results = await h.upstreams.orders.submit(orders, new Date('2026-11-20T13:05:00.000Z'));
    await h.upstreams.orders.submit(orders.slice(0, 1), new Date());

    expect(h.sim.total('order', 'POST /api/v1/orders')).toBe(11);
    expect(h.sim.total('order', 'GET /api/v1/orderTypes')).toBe(1);
    expect(h.sim.total('order', 'GET /api/v1/statuses')).toBe(1);
    expect(results).toHaveLength(2500);
    expect(results.filter((r) => r.status !== 'accepted')).toHaveLength(25);
    expect(results[13]).toEqual({ index: 13, status: 'rejected', orderId: null, message: 'security is restricted' });
    expect(results[2499]).toMatchObject({ index: 2499, status: 'accepted', orderId: expect.any(Number) });
    const first = h.sim.orders.received[0]!.body;
    expect(first).toEqual({
      blotterId: 1,
      statusId: 1,
      portfolioId: portfolio,
      orderTypeId: 1,
      securityId: h.sim.book.securityId(0),
      quantity: 1,
      limitPrice: null,
      tradeOrderId: null,
      orderTimestamp: '2026-11-20T13:05:00.000Z',
      version: 1,
    });
    expect(h.sim.orders.received[1]!.body.orderTypeId).toBe(2);
  });
});
