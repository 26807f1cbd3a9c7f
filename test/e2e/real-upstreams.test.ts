// The GlobeCo services as they really behave (upstreams.md), end to end: the
// real app and database, the simulator (realistic by default) over real HTTP.
import { afterEach, describe, expect, it } from 'vitest';
import { expectStatus, json, pid, position, sid } from '../helpers/fixtures.js';
import { createWorld, storedBuyingRebalance, type World } from '../helpers/rebalancing.js';

let w: World;
afterEach(async () => {
  await w.close();
});

const SUMMARY = 'GET /api/v1/portfolios/:portfolioId/summary';
const BALANCES = 'GET /api/v1/balances';
const SECURITY = 'GET /api/v1/security/:securityId';
const PRICE = 'GET /api/v1/price/:ticker';
const ORDERS = 'POST /api/v1/orders';

const rebalancePortfolio = (id: string, query = '') => w.t.request({ method: 'POST', url: `/api/v1/portfolio/${id}/rebalance${query}` });
const rebalanceModel = (id: string, query = '') => w.t.request({ method: 'POST', url: `/api/v1/model/${id}/rebalance${query}` });
const submit = (id: string) => w.t.request({ method: 'POST', url: `/api/v1/rebalance/${id}/submit` });
const ordersOf = async (id: string, status: string): Promise<unknown[]> =>
  json(await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${id}/orders?status=${status}&limit=1000` }));
const circuits = async () => {
  const health = json(await w.t.request({ method: 'GET', url: '/health/health' }));
  return Object.fromEntries(Object.entries(health.upstreams as Record<string, { circuit: string }>).map(([k, v]) => [k, v.circuit]));
};
const allClosed = { accounting: 'closed', security: 'closed', pricing: 'closed', portfolio: 'closed', order: 'closed' };

const rebalanced = async (portfolios: number, perPortfolio: number, name?: string) =>
  (await storedBuyingRebalance(w, portfolios, perPortfolio, name)).id;

describe('Portfolio Accounting as it is', () => {
  it('rebalances a model with a new portfolio (summary 500, /balances empty) without retrying or counting it against the circuit', async () => {
    w = await createWorld();
    w.security(sid('a'), 'AAA', '10');
    w.holdings(pid('old'), { cash: '1000', securities: [] });
    w.holdings(pid('new'), null); // known to the Portfolio service, no balances yet
    const model = await w.model('With a new portfolio', [position(sid('a'), '0.5')], [pid('old'), pid('new')]);
    const res = await rebalanceModel(model, '?dry_run=true');
    expectStatus(res, 200);
    const byId = Object.fromEntries(json(res).map((r: { portfolio_id: string }) => [r.portfolio_id, r]));
    expect(byId[pid('new')]).toMatchObject({ status: 'ok', transactions: [] });
    expect(byId[pid('old')].transactions).toEqual([
      expect.objectContaining({ transaction_type: 'BUY', security_id: sid('a'), quantity: 50 }),
    ]);
    // One summary each, one /balances for the new portfolio: P + new portfolios.
    expect(w.sim.counts().accounting).toEqual({ [SUMMARY]: 2, [BALANCES]: 1 });
    expect(await circuits()).toEqual(allClosed);
  });

  it('reads the holdings from /balances when the summary fails but balances exist', async () => {
    w = await createWorld();
    w.security(sid('a'), 'AAA', '10');
    w.holdings(pid('rows'), { cash: '500', securities: [{ securityId: sid('a'), quantity: '30' }] });
    await w.model('Rows', [position(sid('a'), '0.5')], [pid('rows')]);
    w.sim.inject('accounting', { route: SUMMARY, status: 500 });
    const res = await rebalancePortfolio(pid('rows'), '?dry_run=true');
    expectStatus(res, 200);
    // MV 800: 50% is 40 shares, 30 held.
    expect(json(res).transactions).toEqual([expect.objectContaining({ transaction_type: 'BUY', quantity: 10 })]);
    expect(w.sim.total('accounting', BALANCES)).toBe(1);
  });

  it('reads a portfolio of 1000 rows or more from /balances pages (the summary stops at 1000 rows)', async () => {
    w = await createWorld();
    w.security(sid('a'), 'AAA', '10');
    // 1 200 closed positions first, the one open position last: past the summary's 1 000 rows.
    const closed = Array.from({ length: 1200 }, (_, i) => ({ securityId: sid(`k${i}`), quantity: '0' }));
    w.holdings(pid('big'), { cash: '500', securities: [...closed, { securityId: sid('a'), quantity: '30' }] });
    await w.model('Big', [position(sid('a'), '0.5')], [pid('big')]);
    const res = await rebalancePortfolio(pid('big'), '?dry_run=true');
    expectStatus(res, 200);
    expect(json(res).drifts).toEqual([
      expect.objectContaining({ security_id: sid('a'), original_quantity: '30', adjusted_quantity: '40' }),
    ]);
    expect(w.sim.total('accounting', BALANCES)).toBe(2);
    // Closed positions need neither a ticker nor a price.
    expect(w.sim.total('security', SECURITY)).toBe(1);
  });

  it('treats a closed position of an unpriced, unknown security as no holding: the portfolio rebalances', async () => {
    w = await createWorld();
    w.security(sid('a'), 'AAA', '10');
    w.security(sid('gone'), 'GONE', null); // no price
    w.holdings(pid('closed'), {
      cash: '1000',
      securities: [
        { securityId: sid('gone'), quantity: '0' },
        { securityId: sid('ghost'), quantity: '0' }, // not even known to the Security service
      ],
    });
    await w.model('Closed', [position(sid('a'), '0.5')], [pid('closed')]);
    const res = await rebalancePortfolio(pid('closed'));
    expectStatus(res, 200);
    expect(json(res).transactions).toEqual([expect.objectContaining({ transaction_type: 'BUY', security_id: sid('a'), quantity: 50 })]);
    expect(json(res).drifts.map((d: { security_id: string }) => d.security_id)).toEqual([sid('a')]);
    expect(w.sim.counts().security).toEqual({ [SECURITY]: 1 });
    expect(w.sim.counts().pricing).toEqual({ [PRICE]: 1 });
  });
});

describe('Security as it is', () => {
  it('never sends an id that is not 24 hex characters: the portfolio fails with 422 naming it, the Security service stays healthy', async () => {
    w = await createWorld();
    const odd = 'SEC000000000000000000ODD';
    w.security(sid('a'), 'AAA', '10');
    w.holdings(pid('odd'), { cash: '1000', securities: [{ securityId: odd, quantity: '5' }] });
    await w.model('Odd id', [position(sid('a'), '0.5')], [pid('odd')]);
    const res = await rebalancePortfolio(pid('odd'));
    expectStatus(res, 422);
    expect(json(res)).toMatchObject({
      code: 'INFEASIBLE',
      message: `Security ${odd} is not a Security service id (24 hexadecimal characters), so the portfolio cannot be valued`,
    });
    expect(w.sim.counts().security).toEqual({ [SECURITY]: 1 }); // sid('a') only
    expect(await circuits()).toEqual(allClosed);
  });
});

describe('Order service as it is', () => {
  it('records a batch refused as overloaded (500, nothing taken) as failed, and sends it again next time', async () => {
    w = await createWorld();
    const id = await rebalanced(2, 5);
    w.sim.orders.overloaded = 1;
    const refused = await submit(id);
    expectStatus(refused, 503);
    expect(json(refused).message).toContain('System temporarily overloaded');
    expect(w.sim.orders.received).toHaveLength(0);
    expect(await ordersOf(id, 'failed')).toHaveLength(10);
    expect(await ordersOf(id, 'unknown')).toHaveLength(0);
    const again = json(await submit(id));
    expect(again).toMatchObject({ sent: 10, accepted: 10, totals: { accepted: 10, failed: 0, unknown: 0 } });
    expect(w.sim.orders.received).toHaveLength(10);
  });

  it('reads an answer with requestIndex -1: the unnamed order is unknown and never resent, the others accepted', async () => {
    w = await createWorld();
    const id = await rebalanced(2, 5);
    w.sim.orders.timeOut = (order) => (order.securityId === sid('o3') && order.portfolioId === pid('Orders0') ? { created: true } : null);
    const first = await submit(id);
    expectStatus(first, 200);
    expect(json(first)).toMatchObject({ sent: 10, accepted: 9, rejected: 0, unknown: 1, totals: { accepted: 9, unknown: 1, rejected: 0 } });
    expect(json(first).problems).toEqual([
      expect.objectContaining({ portfolio_id: pid('Orders0'), security_id: sid('o3'), status: 'unknown' }),
    ]);
    w.sim.orders.timeOut = () => null;
    expect(json(await submit(id))).toMatchObject({ sent: 0, skipped: 10, totals: { accepted: 9, unknown: 1 } });
    expect(w.sim.orders.received).toHaveLength(10); // the timed-out order was created once, never twice
  });

  it('submits 1000 orders to a service slower than the lookup timeout, in ORDER_BATCH_SIZE batches under ORDER_SUBMIT_TIMEOUT_MS', async () => {
    // Each batch of 250 takes 5 chunks of 50 orders at half the real speed (500 ms), more than UPSTREAM_TIMEOUT_MS.
    w = await createWorld({ UPSTREAM_TIMEOUT_MS: '400' }, {}, { latencyScale: 0.5 });
    const id = await rebalanced(10, 100);
    const res = await submit(id);
    expect([res.statusCode, json(res).message]).toEqual([200, undefined]);
    expect(json(res)).toMatchObject({ sent: 1000, accepted: 1000, unknown: 0, failed: 0 });
    expect(w.sim.total('order', ORDERS)).toBe(4);
    expect(w.sim.orders.received).toHaveLength(1000);
  });

  it('checks ORDER_BLOTTER_ID against /blotters once, and says so clearly when it does not exist', async () => {
    w = await createWorld({ ORDER_BLOTTER_ID: '99' });
    const id = await rebalanced(1, 3);
    const res = await submit(id);
    expectStatus(res, 503);
    expect(json(res).message).toMatch(
      /ORDER_BLOTTER_ID 99 is not a blotter of the Order service \(GET \/api\/v1\/blotters lists 1 \(Default\), 2 \(Equity\)/,
    );
    expect(w.sim.total('order', ORDERS)).toBe(0);
    expect(await ordersOf(id, 'failed')).toHaveLength(3);
  });
});

describe('the circuits', () => {
  it('stay closed after a rebalance we cancelled: our own cancellations are not failures of the service', async () => {
    w = await createWorld({ UPSTREAM_RETRIES: '1' });
    w.security(sid('a'), 'AAA', '10');
    const portfolios = Array.from({ length: 12 }, (_, i) => pid(`c${i}`));
    for (const p of portfolios) w.holdings(p, { cash: '1000', securities: [] });
    const model = await w.model('Cancelled', [position(sid('a'), '0.5')], portfolios);
    // The first summary is refused (a 4xx: the rebalance stops, nothing counted); the others are slow, then cancelled.
    w.sim.inject('accounting', { route: SUMMARY, status: 400, times: 1 });
    w.sim.inject('accounting', { route: SUMMARY, latencyMs: 500, times: 11 });
    const res = await rebalanceModel(model, '?dry_run=true');
    expectStatus(res, 503);
    expect(json(res).message).toMatch(
      /^The Portfolio Accounting service is unavailable: GET \/api\/v1\/portfolios\/\w+\/summary: answered 400 \(simulated 400\)$/,
    );
    expect(await circuits()).toEqual(allClosed);
    w.sim.heal();
    expectStatus(await rebalanceModel(model, '?dry_run=true'), 200);
  });
});
