// The simulator is a tool of this repo, tested like the service: over HTTP.
import { afterEach, describe, expect, it } from 'vitest';
import { createBook } from './book.js';
import { type Simulator, startSimulator } from './simulator.js';

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

const get = async (url: string) => {
  const res = await fetch(url);
  return { status: res.status, headers: res.headers, text: await res.text() };
};

describe('the book', () => {
  it('is the same for the same seed, different for another, at any scale, without holding it all', () => {
    const a = createBook({ seed: 7, securities: 2000, portfolios: 10_000, holdings: 100 });
    const b = createBook({ seed: 7, securities: 2000, portfolios: 10_000, holdings: 100 });
    const c = createBook({ seed: 8, securities: 2000, portfolios: 10_000, holdings: 100 });
    const last = a.portfolioId(9999);
    expect(b.holdings(last)).toEqual(a.holdings(last));
    const held = a
      .portfolioIds()
      .reverse()
      .find((id) => a.holdings(id) !== null)!;
    expect(b.holdings(held)).toEqual(a.holdings(held));
    expect(a.holdings(held)!.securities).toHaveLength(125);
    expect(new Set(a.holdings(held)!.securities.map((s) => s.securityId)).size).toBe(125);
    expect(c.portfolioId(0)).not.toBe(a.portfolioId(0));
    expect(a.portfolioIds()).toHaveLength(10_000);
    expect(new Set(a.securities().map((s) => s.ticker)).size).toBe(2000);
    for (const s of a.securities().slice(0, 50))
      if (a.price(s.ticker) !== null) expect(Number(a.price(s.ticker))).toBeGreaterThanOrEqual(0.5);
  });
});

describe('the services', () => {
  it('serves the payloads of upstreams.md', async () => {
    sim = await startSimulator({ seed: 3, securities: 50, portfolios: 5, holdings: 4, realism: { newPortfolioShare: 0 } });
    const portfolio = sim.book.portfolioId(0);
    const summary = JSON.parse((await get(`${sim.urls.accounting}/api/v1/portfolios/${portfolio}/summary`)).text);
    expect(summary).toMatchObject({ portfolioId: portfolio, cashBalance: expect.stringMatching(/^\d+\.\d\d$/), securityCount: 5 });
    expect(summary.lastUpdated).toMatch(/\.\d{9}Z$/);
    expect(summary.securities[0]).toMatchObject({ netQuantity: expect.stringMatching(/^\d+$/), quantityShort: '0' });

    const security = JSON.parse((await get(`${sim.urls.security}/api/v1/security/${sim.book.securityId(0)}`)).text);
    expect(security).toMatchObject({ securityId: sim.book.securityId(0), ticker: 'AAA', securityType: { abbreviation: 'CS' } });
    expect(JSON.parse((await get(`${sim.urls.security}/api/v1/securities`)).text)).toHaveLength(50);

    const ticker = sim.book.security(sim.book.pricedSecurityIds()[0]!)!.ticker;
    const price = JSON.parse((await get(`${sim.urls.pricing}/api/v1/price/${ticker}`)).text);
    expect(price).toMatchObject({ ticker, close: expect.any(Number) });
    expect(JSON.parse((await get(`${sim.urls.pricing}/api/v1/prices`)).text)).toHaveLength(sim.book.pricedSecurityIds().length);

    expect(JSON.parse((await get(`${sim.urls.portfolio}/api/v1/portfolio/${portfolio}`)).text)).toMatchObject({ name: 'Portfolio 1' });
    const types = JSON.parse((await get(`${sim.urls.order}/api/v1/orderTypes`)).text);
    expect(types.map((t: { abbreviation: string }) => t.abbreviation)).toEqual(['BUY', 'SELL', 'SHORT', 'COVER', 'EXRC']);
    expect(JSON.parse((await get(`${sim.urls.order}/api/v1/statuses`)).text)).toHaveLength(10);
    expect(JSON.parse((await get(`${sim.urls.order}/api/v1/blotters`)).text)[0]).toMatchObject({ id: 1, name: expect.any(String) });
  });

  it('has a realistic book: unpriced securities, closed positions, new portfolios', () => {
    const book = createBook({ seed: 42, securities: 500, portfolios: 400, holdings: 20 });
    const unpriced = book.securities().filter((s) => book.price(s.ticker) === null).length;
    expect(unpriced).toBeGreaterThan(150);
    expect(unpriced).toBeLessThan(250);
    const fresh = book.portfolioIds().filter((id) => book.holdings(id) === null).length;
    expect(fresh).toBeGreaterThan(5);
    expect(fresh).toBeLessThan(40);
    const held = book.holdings(book.portfolioIds().find((id) => book.holdings(id) !== null)!)!;
    const closed = held.securities.filter((s) => s.quantity === '0');
    expect(closed).toHaveLength(5);
    for (const s of held.securities) if (s.quantity !== '0') expect(book.price(book.security(s.securityId)!.ticker)).not.toBeNull();
  });

  it("answers in each real service's own way: 500 summary without balances, plain-text 500 for a bad id, {detail}, Spring", async () => {
    sim = await startSimulator({ securities: 5, portfolios: 1 });
    sim.book.setHoldings('NEWPORTFOLIO', null);
    const summary = await get(`${sim.urls.accounting}/api/v1/portfolios/NEWPORTFOLIO/summary`);
    expect(summary.status).toBe(500);
    expect(JSON.parse(summary.text)).toEqual({ error: { code: 'INTERNAL_ERROR', message: 'Failed to retrieve portfolio summary' } });
    const balances = JSON.parse((await get(`${sim.urls.accounting}/api/v1/balances?portfolio_id=NEWPORTFOLIO`)).text);
    expect(balances).toEqual({ balances: [], pagination: { limit: 50, offset: 0, total: 0, hasMore: false, page: 0, totalPages: 0 } });
    expect((await get(`${sim.urls.accounting}/api/v2/portfolios/NEWPORTFOLIO/summary`)).status).toBe(501);

    const bad = await get(`${sim.urls.security}/api/v1/security/SEC000000000000000000001`);
    expect([bad.status, bad.text]).toEqual([500, 'Internal Server Error']);
    const missing = await get(`${sim.urls.security}/api/v1/security/0000000000000000deadbeef`);
    expect([missing.status, JSON.parse(missing.text)]).toEqual([404, { detail: 'Security not found' }]);
    sim.book.dropSecurityType(sim.book.securityId(2));
    expect((await get(`${sim.urls.security}/api/v1/securities`)).status).toBe(400);

    const noPrice = await get(`${sim.urls.pricing}/api/v1/price/NOSUCH`);
    expect(noPrice.status).toBe(404);
    expect(JSON.parse(noPrice.text)).toMatchObject({ status: 404, error: 'Not Found', path: '/api/v1/price/NOSUCH' });
    const noPortfolio = await get(`${sim.urls.portfolio}/api/v1/portfolio/NOSUCH`);
    expect([noPortfolio.status, JSON.parse(noPortfolio.text)]).toEqual([404, { detail: 'Portfolio not found' }]);
  });

  it('keeps closed positions as zero rows, caps the summary at 1000 rows and pages /balances (limit outside 1..1000 is 50)', async () => {
    sim = await startSimulator({ securities: 1500, portfolios: 0 });
    const securities = Array.from({ length: 1200 }, (_, i) => ({ securityId: sim!.book.securityId(i), quantity: i % 2 === 0 ? '3' : '0' }));
    sim.book.setHoldings('BIG', { cash: '100', securities });
    const summary = JSON.parse((await get(`${sim.urls.accounting}/api/v1/portfolios/BIG/summary`)).text);
    expect(summary.securities).toHaveLength(999);
    expect(summary.securities[1]).toMatchObject({ netQuantity: '0' });
    const page = JSON.parse((await get(`${sim.urls.accounting}/api/v1/balances?portfolio_id=BIG&offset=1000&limit=1000`)).text);
    expect(page.balances).toHaveLength(201);
    expect(page.pagination).toEqual({ limit: 1000, offset: 1000, total: 1201, hasMore: false, page: 1, totalPages: 2 });
    const first = JSON.parse((await get(`${sim.urls.accounting}/api/v1/balances?portfolio_id=BIG&limit=5000`)).text);
    expect(first.balances).toHaveLength(50);
    expect(first.balances[0]).toMatchObject({ portfolioId: 'BIG', quantityLong: '100', quantityShort: '0' });
    expect(first.balances[0].securityId).toBeUndefined();
    expect(first.pagination).toMatchObject({ limit: 50, hasMore: true });
  });

  it('draws a new two-decimal price on every request, the same sequence for the same seed', async () => {
    const draws = async () => {
      const s = await startSimulator({ seed: 5, securities: 5, portfolios: 0 });
      s.book.setPrice('IBM', '172.05');
      const out: number[] = [];
      for (let i = 0; i < 5; i++) out.push(JSON.parse((await get(`${s.urls.pricing}/api/v1/price/IBM`)).text).close);
      await s.stop();
      return out;
    };
    const first = await draws();
    expect(await draws()).toEqual(first);
    expect(new Set(first).size).toBeGreaterThan(1);
    for (const close of first) {
      expect(Math.round(close * 100) / 100).toBe(close);
      expect(close).toBeGreaterThan(168);
      expect(close).toBeLessThan(176);
    }
  });

  it('takes up to 1 000 orders a call (413 above), checks every referenced id, answers 207 when some fail', async () => {
    sim = await startSimulator({ securities: 5, portfolios: 1, latencyScale: 0.01, realism: { newPortfolioShare: 0 } });
    const order = {
      blotterId: 1,
      statusId: 1,
      portfolioId: sim.book.portfolioId(0),
      orderTypeId: 1,
      securityId: sim.book.securityId(1),
      quantity: 1,
    };
    const post = (body: unknown) =>
      fetch(`${sim!.urls.order}/api/v1/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await post(Array(1001).fill(order))).status).toBe(413);
    expect((await post([])).status).toBe(400);
    sim.orders.reject = (_o, i) => (i === 1 ? 'no' : null);
    const res = await post([
      order,
      order,
      order,
      { ...order, blotterId: 99 },
      { ...order, securityId: 'S' },
      { ...order, portfolioId: 'P' },
    ]);
    expect(res.status).toBe(207);
    const answer = (await res.json()) as { orders: { requestIndex: number; message: string }[] };
    expect(answer).toMatchObject({ status: 'PARTIAL', totalReceived: 6, successful: 2, failed: 4 });
    const messages = Object.fromEntries(answer.orders.map((o: { requestIndex: number; message: string }) => [o.requestIndex, o.message]));
    expect(messages).toMatchObject({
      3: 'Blotter not found with ID: 99',
      4: 'Security not found with ID: S',
      5: 'Portfolio not found with ID: P',
    });
    expect(sim.orders.received).toHaveLength(2);
  });

  it('answers 500 with nothing taken when overloaded, and reports a timed-out order with requestIndex -1', async () => {
    sim = await startSimulator({ securities: 5, portfolios: 1, latencyScale: 0.01, realism: { newPortfolioShare: 0 } });
    const order = {
      blotterId: 1,
      statusId: 1,
      portfolioId: sim.book.portfolioId(0),
      orderTypeId: 1,
      securityId: sim.book.securityId(1),
      quantity: 1,
    };
    const post = (body: unknown) =>
      fetch(`${sim!.urls.order}/api/v1/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    sim.orders.overloaded = 1;
    const overloaded = await post([order]);
    expect(overloaded.status).toBe(500);
    expect(overloaded.headers.get('retry-after')).toBeNull();
    expect(await overloaded.json()).toMatchObject({ status: 'FAILURE', totalReceived: 0, orders: [] });
    sim.orders.timeOut = (_o, i) => (i === 0 ? { created: true } : null);
    const answer = (await (await post([order, order])).json()) as { orders: { requestIndex: number }[] };
    expect(answer.orders.map((o: { requestIndex: number }) => o.requestIndex).sort()).toEqual([-1, 1]);
    expect(sim.orders.received).toHaveLength(2);
  });
});

describe('faults and counts', () => {
  it('injects each kind of fault, per service and route, for a number of requests', async () => {
    sim = await startSimulator({ securities: 5, portfolios: 1 });
    const url = `${sim.urls.pricing}/api/v1/price/AAA`;
    sim.inject('pricing', { route: 'GET /api/v1/price/:ticker', status: 503, retryAfterSeconds: 4, times: 1 });
    const shed = await get(url);
    expect([shed.status, shed.headers.get('retry-after')]).toEqual([503, '4']);
    expect((await get(url)).status).toBe(200);

    sim.inject('pricing', { malformed: true, times: 1 });
    const malformed = await get(url);
    expect(malformed.status).toBe(200);
    expect(() => JSON.parse(malformed.text)).toThrow();

    sim.inject('pricing', { drop: true, times: 1 });
    await expect(fetch(url)).rejects.toThrow();

    sim.inject('pricing', { route: 'GET /api/v1/prices', status: 500 });
    expect((await get(url)).status).toBe(200);
    expect((await get(`${sim.urls.pricing}/api/v1/prices`)).status).toBe(500);

    expect(sim.counts().pricing).toEqual({ 'GET /api/v1/price/:ticker': 5, 'GET /api/v1/prices': 1 });
    sim.resetCounts();
    expect(sim.total('pricing')).toBe(0);
  });

  it('fails a given fraction of requests, the same ones for the same seed', async () => {
    const run = async () => {
      const s = await startSimulator({ seed: 11, securities: 5, portfolios: 1 });
      s.inject('security', { failureRate: 0.3, status: 500 });
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++) statuses.push((await get(`${s.urls.security}/api/v1/security/${s.book.securityId(1)}`)).status);
      await s.stop();
      return statuses;
    };
    const first = await run();
    expect(await run()).toEqual(first);
    const failed = first.filter((s) => s === 500).length;
    expect(failed).toBeGreaterThan(4);
    expect(failed).toBeLessThan(24);
  });

  it('goes fully down (connection refused) and comes back', async () => {
    sim = await startSimulator({ securities: 5, portfolios: 1 });
    await sim.down('security');
    await expect(fetch(`${sim.urls.security}/api/v1/securities`)).rejects.toThrow();
    await sim.up('security');
    expect((await get(`${sim.urls.security}/api/v1/securities`)).status).toBe(200);
  });
});

describe('the admin API', () => {
  it('sets holdings, prices and securities, injects faults, reads counts and rescales the book', async () => {
    sim = await startSimulator({ securities: 5, portfolios: 2, ports: { admin: 0 } });
    const admin = sim.adminUrl!;
    const send = (method: string, path: string, body?: unknown) =>
      fetch(`${admin}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? null : JSON.stringify(body),
      });

    await send('PUT', '/admin/portfolios/PX/holdings', { cash: '10', securities: [{ securityId: 'S1', quantity: '2' }] });
    expect(JSON.parse((await get(`${sim.urls.accounting}/api/v1/portfolios/PX/summary`)).text)).toMatchObject({ cashBalance: '10' });
    await send('PUT', '/admin/prices/AAA', { close: '12.34' });
    expect(JSON.parse((await get(`${sim.urls.pricing}/api/v1/price/AAA`)).text).close).toBeCloseTo(12.34, 0);
    await send('DELETE', `/admin/securities/${sim.book.securityId(0)}`);
    expect((await get(`${sim.urls.security}/api/v1/security/${sim.book.securityId(0)}`)).status).toBe(404);
    await send('POST', '/admin/faults/order', { status: 500 });
    expect((await get(`${sim.urls.order}/api/v1/statuses`)).status).toBe(500);
    await send('DELETE', '/admin/faults');
    expect((await get(`${sim.urls.order}/api/v1/statuses`)).status).toBe(200);
    expect(await (await send('GET', '/admin/counts')).json()).toMatchObject({ order: { 'GET /api/v1/statuses': 2 } });
    expect((await send('POST', '/admin/faults/nosuch', { status: 500 })).status).toBe(400);

    await send('POST', '/admin/book', { portfolios: 10_000, holdings: 100 });
    expect(await (await send('GET', '/admin/book')).json()).toMatchObject({ portfolios: 10_000, holdings: 100 });
  });
});
