// The simulator is a tool of this repo, tested like the service: over HTTP.
import { afterEach, describe, expect, it } from 'vitest';
import { createBook } from './book.js';
import { startSimulator, type Simulator } from './simulator.js';

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
    expect(a.holdings(last)!.securities).toHaveLength(100);
    expect(new Set(a.holdings(last)!.securities.map((s) => s.securityId)).size).toBe(100);
    expect(c.portfolioId(0)).not.toBe(a.portfolioId(0));
    expect(a.portfolioIds()).toHaveLength(10_000);
    expect(new Set(a.securities().map((s) => s.ticker)).size).toBe(2000);
    for (const s of a.securities().slice(0, 50)) expect(Number(a.price(s.ticker))).toBeGreaterThanOrEqual(0.5);
  });
});

describe('the services', () => {
  it('serves the payloads of upstreams.md', async () => {
    sim = await startSimulator({ seed: 3, securities: 50, portfolios: 5, holdings: 4 });
    const portfolio = sim.book.portfolioId(0);
    const summary = JSON.parse((await get(`${sim.urls.accounting}/api/v1/portfolios/${portfolio}/summary`)).text);
    expect(summary).toMatchObject({ portfolioId: portfolio, cashBalance: expect.stringMatching(/^\d+\.\d\d$/), securityCount: 4 });
    expect(summary.securities[0]).toMatchObject({ netQuantity: expect.stringMatching(/^\d+$/), quantityShort: '0' });

    const security = JSON.parse((await get(`${sim.urls.security}/api/v1/security/${sim.book.securityId(0)}`)).text);
    expect(security).toMatchObject({ securityId: sim.book.securityId(0), ticker: 'AAA', securityType: { abbreviation: 'CS' } });
    expect(JSON.parse((await get(`${sim.urls.security}/api/v1/securities`)).text)).toHaveLength(50);

    const price = JSON.parse((await get(`${sim.urls.pricing}/api/v1/price/AAA`)).text);
    expect(price).toMatchObject({ ticker: 'AAA', close: expect.any(Number) });
    expect(JSON.parse((await get(`${sim.urls.pricing}/api/v1/prices`)).text)).toHaveLength(50);

    expect(JSON.parse((await get(`${sim.urls.portfolio}/api/v1/portfolio/${portfolio}`)).text)).toMatchObject({ name: 'Portfolio 1' });
    const types = JSON.parse((await get(`${sim.urls.order}/api/v1/orderTypes`)).text);
    expect(types.map((t: { abbreviation: string }) => t.abbreviation)).toEqual(expect.arrayContaining(['BUY', 'SELL']));
  });

  it('answers 404 in the error shape of the GlobeCo services', async () => {
    sim = await startSimulator({ securities: 5, portfolios: 1 });
    const res = await get(`${sim.urls.accounting}/api/v1/portfolios/NOPE/summary`);
    expect(res.status).toBe(404);
    expect(JSON.parse(res.text)).toMatchObject({ error: { code: 'NOT_FOUND', message: expect.any(String), traceId: expect.any(String) } });
  });

  it('takes up to 1 000 orders a call (413 above) and answers 207 when some fail', async () => {
    sim = await startSimulator({ securities: 5, portfolios: 1 });
    const order = { blotterId: 1, statusId: 1, portfolioId: 'P', orderTypeId: 1, securityId: 'S', quantity: 1 };
    const post = (body: unknown) =>
      fetch(`${sim!.urls.order}/api/v1/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post(Array(1001).fill(order))).status).toBe(413);
    sim.orders.reject = (_o, i) => (i === 1 ? 'no' : null);
    const res = await post([order, order, order]);
    expect(res.status).toBe(207);
    expect(await res.json()).toMatchObject({ status: 'PARTIAL', totalReceived: 3, successful: 2, failed: 1 });
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
      fetch(`${admin}${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? null : JSON.stringify(body) });

    await send('PUT', '/admin/portfolios/PX/holdings', { cash: '10', securities: [{ securityId: 'S1', quantity: '2' }] });
    expect(JSON.parse((await get(`${sim.urls.accounting}/api/v1/portfolios/PX/summary`)).text)).toMatchObject({ cashBalance: '10' });
    await send('PUT', '/admin/prices/AAA', { close: '12.34' });
    expect(JSON.parse((await get(`${sim.urls.pricing}/api/v1/price/AAA`)).text).close).toBe(12.34);
    await send('DELETE', '/admin/securities/' + sim.book.securityId(0));
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
