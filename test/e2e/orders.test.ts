// Submitting a stored rebalance's orders to the Order service: batches of at
// most 1 000, each order sent once, outcomes recorded and visible.
import { afterEach, describe, expect, it } from 'vitest';
import { expectStatus, json, pid, position, sid } from '../helpers/fixtures.js';
import { createWorld, storedBuyingRebalance, type World } from '../helpers/rebalancing.js';

let w: World;
afterEach(async () => {
  await w.close();
});

const rebalanced = (portfolios: number, perPortfolio: number, name?: string) => storedBuyingRebalance(w, portfolios, perPortfolio, name);

const submit = (id: string) => w.t.request({ method: 'POST', url: `/api/v1/rebalance/${id}/submit` });

describe('order submission', () => {
  it('sends ORDER_BATCH_SIZE (250) orders a call, looks the ids up once, and records the outcome on the rebalance', async () => {
    w = await createWorld();
    const { id, trades } = await rebalanced(25, 100);
    expect(trades).toBe(2500);
    const res = await submit(id);
    expectStatus(res, 200);
    expect(json(res)).toMatchObject({ sent: 2500, accepted: 2500, rejected: 0, failed: 0, unknown: 0, skipped: 0, problems: [] });
    expect(w.sim.total('order', 'POST /api/v1/orders')).toBe(10);
    expect(w.sim.total('order', 'GET /api/v1/orderTypes')).toBe(1);
    expect(w.sim.orders.received).toHaveLength(2500);
    expect(w.sim.orders.received[0]!.body).toMatchObject({
      blotterId: 1,
      statusId: 1,
      orderTypeId: 1,
      limitPrice: null,
      quantity: expect.any(Number),
    });

    const stored = json(await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${id}` }));
    expect(stored).toMatchObject({
      version: 2,
      orders: { accepted: 2500, rejected: 0, failed: 0, unknown: 0, last_submitted_at: expect.any(String) },
    });
    const page = await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${id}/orders?limit=2` });
    expect(page.headers['x-total-count']).toBe('2500');
    expect(json(page)[0]).toMatchObject({ status: 'accepted', order_id: expect.any(Number), attempts: 1, transaction_type: 'BUY' });
  });

  it('after a partial failure (207), sends only the refused orders again, never an accepted one', async () => {
    w = await createWorld();
    const { id } = await rebalanced(3, 10);
    const refused = sid('o4');
    w.sim.orders.reject = (order) => (order.securityId === refused ? 'security is restricted today' : null);
    const first = json(await submit(id));
    expect(first).toMatchObject({ sent: 30, accepted: 27, rejected: 3, totals: { accepted: 27, rejected: 3 } });
    expect(first.problems).toHaveLength(3);
    expect(first.problems[0]).toMatchObject({ security_id: refused, status: 'rejected', message: 'security is restricted today' });
    expect(json(await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${id}` })).orders).toMatchObject({ accepted: 27, rejected: 3 });

    w.sim.orders.reject = () => null;
    const second = json(await submit(id));
    expect(second).toMatchObject({ sent: 3, accepted: 3, skipped: 27, totals: { accepted: 30, rejected: 0 } });
    const third = json(await submit(id));
    expect(third).toMatchObject({ sent: 0, skipped: 30 });
    // Every trade reached the Order service exactly once.
    const keys = w.sim.orders.received.map((o) => `${o.body.portfolioId}/${o.body.securityId}`);
    expect(keys).toHaveLength(30);
    expect(new Set(keys).size).toBe(30);
    const rejected = json(await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${id}/orders?status=accepted&limit=1000` }));
    expect(rejected.find((o: { security_id: string }) => o.security_id === refused)).toMatchObject({ attempts: 2, status: 'accepted' });

    // Deleting the rebalance takes its order records with it.
    const { version } = json(await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${id}` }));
    expectStatus(await w.t.request({ method: 'DELETE', url: `/api/v1/rebalance/${id}?version=${version}` }), 200);
    expectStatus(await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${id}/orders` }), 404);
    const db = w.t.app.mongo.db;
    expect(await db.collection('order_submissions').countDocuments({ rebalance_id: id })).toBe(0);
    expect(await db.collection('order_batches').countDocuments({ rebalance_id: id })).toBe(0);
  });

  it('never resends orders the Order service may have taken (it timed out), and resends ones it surely did not (503)', async () => {
    w = await createWorld({ ORDER_SUBMIT_TIMEOUT_MS: '200', UPSTREAM_RETRIES: '2' });
    const { id } = await rebalanced(2, 5);
    w.sim.inject('order', { route: 'POST /api/v1/orders', latencyMs: 1000, times: 1 });
    const timedOut = await submit(id);
    expectStatus(timedOut, 503);
    expect(json(timedOut).message).toContain('The Order service is unavailable');
    const unknown = json(await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${id}/orders?status=unknown` }));
    expect(unknown).toHaveLength(10);
    expect(json(await submit(id))).toMatchObject({ sent: 0, skipped: 10, totals: { unknown: 10 } });

    const { id: other } = await rebalanced(2, 5, 'Other');
    w.sim.inject('order', { route: 'POST /api/v1/orders', status: 503, retryAfterSeconds: 0 });
    expectStatus(await submit(other), 503);
    expect(json(await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${other}/orders?status=failed` }))).toHaveLength(10);
    w.sim.heal('order');
    expect(json(await submit(other))).toMatchObject({ sent: 10, accepted: 10, totals: { accepted: 10, failed: 0 } });
  });

  it('records orders answered 404 as failed, not as possibly taken, and sends them again later', async () => {
    w = await createWorld();
    const { id } = await rebalanced(2, 5);
    w.sim.inject('order', { route: 'POST /api/v1/orders', status: 404 });
    expectStatus(await submit(id), 503);
    expect(json(await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${id}/orders?status=failed` }))).toHaveLength(10);
    expect(w.sim.total('order', 'POST /api/v1/orders')).toBe(1); // a 4xx is not retried
    w.sim.heal('order');
    expect(json(await submit(id))).toMatchObject({ sent: 10, accepted: 10, totals: { accepted: 10, failed: 0, unknown: 0 } });
  });

  it('refuses a second submission of the same rebalance while one is running (409), and 404 for none', async () => {
    w = await createWorld();
    const { id } = await rebalanced(2, 5);
    w.sim.inject('order', { route: 'POST /api/v1/orders', latencyMs: 300, times: 1 });
    const [a, b] = await Promise.all([submit(id), submit(id)]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([200, 409]);
    expect(json(a.statusCode === 409 ? a : b)).toMatchObject({ code: 'CONFLICT' });
    expect(w.sim.orders.received).toHaveLength(10);
    expectStatus(await submit('0123456789abcdef01234567'), 404);
  });

  it('submits the orders of a scheduled cycle when ORDER_SUBMISSION is on', async () => {
    w = await createWorld({ ORDER_SUBMISSION: 'on' });
    await rebalanced(2, 5);
    await w.t.app.mongo.db.collection('order_submissions').deleteMany({});
    w.sim.orders.received.length = 0;
    const cycle = await w.t.app.scheduler.runOnce();
    expect(cycle).toMatchObject({ status: 'succeeded', models: 1, ordersSubmitted: 10, ordersFailed: 0 });
    expect(w.sim.orders.received).toHaveLength(10);
  });

  it('submits on ?submit=true when ORDER_SUBMISSION is on, and says what happened in x-order-submission', async () => {
    w = await createWorld({ ORDER_SUBMISSION: 'on', UPSTREAM_RETRIES: '1' });
    w.security(sid('q1'), 'QQA', '10');
    for (const p of ['q1', 'q2']) w.holdings(pid(p), { cash: '10000', securities: [] });
    const model = await w.model('Submit now', [position(sid('q1'), '0.5', '0.1')], [pid('q1'), pid('q2')]);

    const res = await w.t.request({ method: 'POST', url: `/api/v1/model/${model}/rebalance?submit=true` });
    expectStatus(res, 200);
    expect(res.headers['x-order-submission']).toBe('sent=2; accepted=2; rejected=0; failed=0; unknown=0; skipped=0');
    expect(w.sim.orders.received.map((o) => o.body.portfolioId).sort()).toEqual([pid('q1'), pid('q2')]);
    const id = json(res)[0].rebalance_id;
    expect(json(await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${id}` })).orders).toMatchObject({ accepted: 2 });

    const dry = await w.t.request({ method: 'POST', url: `/api/v1/portfolio/${pid('q1')}/rebalance?submit=true&dry_run=true` });
    expectStatus(dry, 400);
    expect(json(dry).message).toContain('dry run');

    // The Order service refuses connections: the rebalance is stored, the answer says so, nothing is lost.
    await w.sim.down('order');
    const down = await w.t.request({ method: 'POST', url: `/api/v1/portfolio/${pid('q2')}/rebalance?submit=true` });
    expectStatus(down, 503);
    expect(json(down).message).toMatch(/^The Order service is unavailable: .*Rebalance [0-9a-f]{24} is stored/);
    const stored = /Rebalance ([0-9a-f]{24}) is stored/.exec(json(down).message)![1];
    const failed = json(await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${stored}/orders?status=failed` }));
    expect(failed).toHaveLength(1);
    await w.sim.up('order');
    expect(json(await w.t.request({ method: 'POST', url: `/api/v1/rebalance/${stored}/submit` }))).toMatchObject({ sent: 1, accepted: 1 });
  });

  it('refuses ?submit=true while ORDER_SUBMISSION is off, before doing anything', async () => {
    w = await createWorld();
    w.security(sid('r1'), 'RRA', '10');
    w.holdings(pid('r1'), { cash: '10000', securities: [] });
    await w.model('No submit', [position(sid('r1'), '0.5', '0.1')], [pid('r1')]);
    const res = await w.t.request({ method: 'POST', url: `/api/v1/portfolio/${pid('r1')}/rebalance?submit=true` });
    expectStatus(res, 400);
    expect(json(res)).toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringContaining('ORDER_SUBMISSION=off') });
    expect(w.sim.total('accounting')).toBe(0);
    expect(JSON.parse((await w.t.request({ method: 'GET', url: '/api/v1/rebalances' })).body)).toEqual([]);
  });
});
