// Rebalancing one portfolio and a model, end to end: the real app, a real
// database, the GlobeCo services simulated over real HTTP.
import { afterEach, describe, expect, it } from 'vitest';
import { gate, manualClock } from '../helpers/clock.js';
import { expectStatus, json, pid, position, sid } from '../helpers/fixtures.js';
import { createWorld, type World } from '../helpers/rebalancing.js';

let w: World;
afterEach(async () => {
  await w.close();
});

// A fixed clock: trade dates are the clock's day, whenever the suite runs (even across midnight UTC).
const clock = manualClock('2026-03-02T10:00:00.000Z');
const today = '2026-03-02';
const world = (env: Record<string, string> = {}) => createWorld(env, { clock });
const rebalancePortfolio = (id: string, query = '') => w.t.request({ method: 'POST', url: `/api/v1/portfolio/${id}/rebalance${query}` });
const rebalanceModel = (id: string, query = '') => w.t.request({ method: 'POST', url: `/api/v1/model/${id}/rebalance${query}` });

describe('POST /api/v1/portfolio/:id/rebalance', () => {
  it('computes exact orders and drifts for a hand-worked portfolio', async () => {
    w = await world();
    w.security(sid('a'), 'AAA', '50');
    w.security(sid('b'), 'BBB', '100');
    w.security(sid('c'), 'CCC', '25');
    w.holdings(pid('one'), {
      cash: '10000',
      securities: [
        { securityId: sid('a'), quantity: '100' },
        { securityId: sid('b'), quantity: '20' },
      ],
    });
    // MV = 10 000 + 100·50 + 20·100 = 17 000.
    // A: 30% = 5 100 = 102 shares. B: 25% = 4 250 = 42.5 shares: a tie, 42 is nearer the 20 held.
    // C: 40% = 6 800 = 272 shares. Spend 5 100 + 4 200 + 6 800 = 16 100 <= 17 000.
    await w.model('Hand worked', [position(sid('a'), '0.3'), position(sid('b'), '0.25'), position(sid('c'), '0.4')], [pid('one')]);
    w.sim.book.setPortfolioName(pid('one'), 'Growth Fund');

    const res = await rebalancePortfolio(pid('one'));
    expectStatus(res, 200);
    const body = json(res);
    expect(body).toEqual({
      portfolio_id: pid('one'),
      portfolio_name: 'Growth Fund',
      rebalance_id: expect.stringMatching(/^[0-9a-f]{24}$/),
      status: 'ok',
      transactions: [
        { transaction_type: 'BUY', security_id: sid('a'), quantity: 2, trade_date: today },
        { transaction_type: 'BUY', security_id: sid('b'), quantity: 22, trade_date: today },
        { transaction_type: 'BUY', security_id: sid('c'), quantity: 272, trade_date: today },
      ],
      drifts: [
        {
          security_id: sid('a'),
          original_quantity: '100',
          adjusted_quantity: '102',
          target: '0.3',
          high_drift: '0.02',
          low_drift: '0.02',
          actual: '0.3000',
        },
        {
          security_id: sid('b'),
          original_quantity: '20',
          adjusted_quantity: '42',
          target: '0.25',
          high_drift: '0.02',
          low_drift: '0.02',
          actual: '0.2471',
        },
        {
          security_id: sid('c'),
          original_quantity: '0',
          adjusted_quantity: '272',
          target: '0.4',
          high_drift: '0.02',
          low_drift: '0.02',
          actual: '0.4000',
        },
      ],
    });

    const stored = json(await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${body.rebalance_id}` }));
    expect(stored.portfolios[0]).toMatchObject({
      portfolio_id: pid('one'),
      market_value: 17000,
      cash_before_rebalance: 10000,
      cash_after_rebalance: 900,
    });
    expect(stored.portfolios[0].positions[1]).toEqual({
      security_id: sid('b'),
      price: 100,
      original_quantity: 20,
      adjusted_quantity: 42,
      original_position_market_value: 2000,
      adjusted_position_market_value: 4200,
      target: 0.25,
      high_drift: 0.02,
      low_drift: 0.02,
      actual: 0.2471,
      actual_drift: -0.0116,
      transaction_type: 'BUY',
      trade_quantity: 22,
      trade_date: today,
    });
  });

  it('answers 422 for the rounding trap instead of buying one share', async () => {
    w = await world();
    w.security(sid('x'), 'XXX', '1500');
    w.holdings(pid('trap'), { cash: '100000', securities: [] });
    await w.model('Trap', [position(sid('x'), '0.01', '0.002')], [pid('trap')]);
    const res = await rebalancePortfolio(pid('trap'));
    expectStatus(res, 422);
    expect(json(res)).toMatchObject({
      code: 'INFEASIBLE',
      message: `no feasible solution exists: no whole number of shares meets the drift band of ${sid('x')} (band 800.00 to 1200.00 at price 1500 allows 1 to 0 shares)`,
    });
    expect(json(await w.t.request({ method: 'GET', url: '/api/v1/rebalances' }))).toEqual([]);
  });

  it('spends no more than the portfolio has when rounding would overspend', async () => {
    w = await world();
    // Rounded to the nearest share, A, B and C overspend 1 000 by 75: selling C's share back costs least drift.
    w.security(sid('a'), 'AAA', '90');
    w.security(sid('b'), 'BBB', '90');
    w.security(sid('c'), 'CCC', '95');
    w.security(sid('d'), 'DDD', '800');
    w.holdings(pid('tight'), { cash: '1000', securities: [] });
    await w.model(
      'Tight',
      [
        position(sid('a'), '0.05', '0.05'),
        position(sid('b'), '0.05', '0.05'),
        position(sid('c'), '0.05', '0.05'),
        position(sid('d'), '0.8', '0'),
      ],
      [pid('tight')],
    );
    const body = json(await rebalancePortfolio(pid('tight')));
    expect(body.transactions.map((t: { security_id: string; quantity: number }) => [t.security_id, t.quantity])).toEqual([
      [sid('a'), 1],
      [sid('b'), 1],
      [sid('d'), 1],
    ]);
    const stored = json(await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${body.rebalance_id}/portfolios` }));
    expect(stored[0].cash_after_rebalance).toBe(20);
  });

  it('covers a short with a buy and sells a security the model does not hold', async () => {
    w = await world();
    w.security(sid('s'), 'SSS', '50');
    w.security(sid('x'), 'XXX', '20');
    w.holdings(pid('short'), {
      cash: '10360',
      securities: [
        { securityId: sid('s'), quantity: '-10' },
        { securityId: sid('x'), quantity: '7' },
      ],
    });
    // MV = 10 360 − 500 + 140 = 10 000; S at 10% = 1 000 = 20 shares.
    await w.model('Shorts', [position(sid('s'), '0.1', '0.01')], [pid('short')]);
    const body = json(await rebalancePortfolio(pid('short')));
    expect(body.transactions).toEqual([
      { transaction_type: 'BUY', security_id: sid('s'), quantity: 30, trade_date: today },
      { transaction_type: 'SELL', security_id: sid('x'), quantity: 7, trade_date: today },
    ]);
    expect(body.drifts[1]).toEqual({
      security_id: sid('x'),
      original_quantity: '7',
      adjusted_quantity: '0',
      target: '0',
      high_drift: '0',
      low_drift: '0',
      actual: '0.0000',
    });
  });

  it('has nothing to do for a new portfolio (accounting 404) and buys for one holding only cash', async () => {
    w = await world();
    w.security(sid('a'), 'AAA', '10');
    w.holdings(pid('cash'), { cash: '1000', securities: [] });
    await w.model('New', [position(sid('a'), '0.5')], [pid('new'), pid('cash')]);
    const fresh = json(await rebalancePortfolio(pid('new')));
    expect(fresh).toMatchObject({ status: 'ok', transactions: [] });
    expect(fresh.drifts).toEqual([
      {
        security_id: sid('a'),
        original_quantity: '0',
        adjusted_quantity: '0',
        target: '0.5',
        high_drift: '0.02',
        low_drift: '0.02',
        actual: '0.0000',
      },
    ]);
    const cash = json(await rebalancePortfolio(pid('cash')));
    expect(cash.transactions).toEqual([{ transaction_type: 'BUY', security_id: sid('a'), quantity: 50, trade_date: today }]);
  });

  it('fails a portfolio that holds a security unknown to the Security service, naming it', async () => {
    w = await world();
    w.security(sid('a'), 'AAA', '10');
    w.holdings(pid('odd'), { cash: '100', securities: [{ securityId: sid('ghost'), quantity: '1' }] });
    await w.model('Ghost', [position(sid('a'), '0.5')], [pid('odd')]);
    const res = await rebalancePortfolio(pid('odd'));
    expectStatus(res, 422);
    expect(json(res).message).toBe(`Security ${sid('ghost')} is unknown to the Security service, so the portfolio cannot be valued`);
  });

  it.each([
    ['no price (Pricing answers 404)', null, 'has no price'],
    ['a price of 0', '0', 'has a price of 0, not above 0'],
    ['a negative price', '-2.5', 'has a price of -2.5, not above 0'],
  ])('fails a portfolio holding a security with %s, naming its ticker', async (_, price, why) => {
    w = await world();
    w.security(sid('a'), 'AAA', '10');
    w.security(sid('bad'), 'NOPX', price);
    w.holdings(pid('unpriced'), { cash: '100', securities: [{ securityId: sid('bad'), quantity: '3' }] });
    await w.model('Unpriced', [position(sid('a'), '0.5')], [pid('unpriced')]);
    const res = await rebalancePortfolio(pid('unpriced'));
    expectStatus(res, 422);
    expect(json(res)).toMatchObject({
      code: 'INFEASIBLE',
      message: `Security ${sid('bad')} (NOPX) ${why}, so the portfolio cannot be valued`,
    });
    expect(json(await w.t.request({ method: 'GET', url: '/api/v1/rebalances' }))).toEqual([]);
  });

  it('sorts transactions and drifts by security id, whatever the order of the model and the holdings', async () => {
    w = await world();
    w.security(sid('a'), 'AAA', '20');
    w.security(sid('c'), 'CCC', '10');
    w.security(sid('m'), 'MMM', '25');
    w.security(sid('z'), 'ZZZ', '50');
    // A is held but not in the model, and its id sorts before every id of the model.
    w.holdings(pid('sorted'), {
      cash: '9735',
      securities: [
        { securityId: sid('m'), quantity: '5' },
        { securityId: sid('a'), quantity: '7' },
      ],
    });
    // MV = 9 735 + 5·25 + 7·20 = 10 000. Z 30% = 60 shares, M 20% = 80, C 10% = 100; A is sold.
    await w.model('Descending', [position(sid('z'), '0.3'), position(sid('m'), '0.2'), position(sid('c'), '0.1')], [pid('sorted')]);
    const body = json(await rebalancePortfolio(pid('sorted')));
    expect(body.transactions).toEqual([
      { transaction_type: 'SELL', security_id: sid('a'), quantity: 7, trade_date: today },
      { transaction_type: 'BUY', security_id: sid('c'), quantity: 100, trade_date: today },
      { transaction_type: 'BUY', security_id: sid('m'), quantity: 75, trade_date: today },
      { transaction_type: 'BUY', security_id: sid('z'), quantity: 60, trade_date: today },
    ]);
    expect(body.drifts).toEqual([
      {
        security_id: sid('a'),
        original_quantity: '7',
        adjusted_quantity: '0',
        target: '0',
        high_drift: '0',
        low_drift: '0',
        actual: '0.0000',
      },
      {
        security_id: sid('c'),
        original_quantity: '0',
        adjusted_quantity: '100',
        target: '0.1',
        high_drift: '0.02',
        low_drift: '0.02',
        actual: '0.1000',
      },
      {
        security_id: sid('m'),
        original_quantity: '5',
        adjusted_quantity: '80',
        target: '0.2',
        high_drift: '0.02',
        low_drift: '0.02',
        actual: '0.2000',
      },
      {
        security_id: sid('z'),
        original_quantity: '0',
        adjusted_quantity: '60',
        target: '0.3',
        high_drift: '0.02',
        low_drift: '0.02',
        actual: '0.3000',
      },
    ]);
  });

  it('stores untraded positions without a trade, and cash after as cash minus buys plus sells', async () => {
    w = await world();
    w.security(sid('keep'), 'KEEP', '10');
    w.security(sid('buy'), 'BUYS', '25');
    w.security(sid('sell'), 'SELL', '40');
    w.holdings(pid('mixed'), {
      cash: '7800.5',
      securities: [
        { securityId: sid('keep'), quantity: '100' },
        { securityId: sid('sell'), quantity: '30' },
      ],
    });
    // MV = 7 800.5 + 100·10 + 30·40 = 10 000.5. KEEP 10% = 100.005 shares: 100, as held.
    // BUYS 50% = 200.01 shares: buy 200 (5 000). SELL 4% = 10.0005 shares: sell 20 (800).
    await w.model(
      'Keep, buy, sell',
      [position(sid('keep'), '0.1'), position(sid('buy'), '0.5'), position(sid('sell'), '0.04')],
      [pid('mixed')],
    );
    const res = await rebalancePortfolio(pid('mixed'));
    expectStatus(res, 200);
    const id = json(res).rebalance_id;

    const portfolios = json(await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${id}/portfolios` }));
    // 7 800.5 − 5 000 + 800.
    expect(portfolios).toEqual([
      expect.objectContaining({
        portfolio_id: pid('mixed'),
        market_value: 10000.5,
        cash_before_rebalance: 7800.5,
        cash_after_rebalance: 3600.5,
      }),
    ]);
    const positions = json(await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${id}/portfolio/${pid('mixed')}/positions` }));
    const of = (security: string) => positions.find((p: { security_id: string }) => p.security_id === security);
    expect(positions).toHaveLength(3);
    expect(of(sid('keep'))).toMatchObject({
      price: 10,
      original_quantity: 100,
      adjusted_quantity: 100,
      transaction_type: null,
      trade_quantity: null,
      trade_date: null,
    });
    expect(of(sid('buy'))).toMatchObject({ transaction_type: 'BUY', trade_quantity: 200, trade_date: today });
    expect(of(sid('sell'))).toMatchObject({ transaction_type: 'SELL', trade_quantity: 20, trade_date: today });
  });

  it('keeps the later date when a rebalance that started earlier finishes last', async () => {
    const own = manualClock('2026-03-02T10:00:00.000Z');
    w = await createWorld({}, { clock: own });
    w.security(sid('a'), 'AAA', '10');
    w.holdings(pid('overlap'), { cash: '1000', securities: [] });
    const model = await w.model('Overlap', [position(sid('a'), '0.5')], [pid('overlap')]);
    const slow = gate();
    w.sim.inject('accounting', { hold: slow.hold, times: 1 });
    const first = rebalancePortfolio(pid('overlap'));
    await slow.arrived; // the first rebalance started at 10:00 and waits for its holdings
    own.advance(60_000);
    const second = await rebalancePortfolio(pid('overlap'));
    expectStatus(second, 200);
    slow.open();
    expectStatus(await first, 200);
    const dated = json(await w.t.request({ method: 'GET', url: `/api/v1/model/${model}` }));
    expect(dated.last_rebalance_date).toBe('2026-03-02T10:01:00.000Z');
  });

  it("dates the model without bumping its version, so an editor's next save still succeeds", async () => {
    w = await world();
    w.security(sid('a'), 'AAA', '10');
    w.holdings(pid('dated'), { cash: '1000', securities: [] });
    const model = await w.model('Dated', [position(sid('a'), '0.5')], [pid('dated')]);
    const before = json(await w.t.request({ method: 'GET', url: `/api/v1/model/${model}` }));
    expect(before).toMatchObject({ last_rebalance_date: null, version: 1 });

    const res = await rebalancePortfolio(pid('dated'));
    expectStatus(res, 200);
    const stored = json(await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${json(res).rebalance_id}` }));
    const after = json(await w.t.request({ method: 'GET', url: `/api/v1/model/${model}` }));
    expect(after.last_rebalance_date).toBe(stored.rebalance_date);
    expect(after.version).toBe(1);

    const save = await w.t.request({
      method: 'PUT',
      url: `/api/v1/model/${model}`,
      payload: { name: 'Dated, renamed', positions: before.positions, portfolios: before.portfolios, version: before.version },
    });
    expectStatus(save, 200);
    expect(json(save)).toMatchObject({ name: 'Dated, renamed', version: 2 });
  });

  it('answers 404 for a portfolio no model lists, and 400 for a malformed id', async () => {
    w = await world();
    expectStatus(await rebalancePortfolio(pid('nobody')), 404);
    expect(json(await rebalancePortfolio(pid('nobody'))).message).toBe(`Portfolio ${pid('nobody')} is not in any model`);
    expectStatus(await rebalancePortfolio('short-id'), 400);
  });

  it('still rebalances with portfolio_name null when the portfolio service is down', async () => {
    w = await world();
    w.security(sid('a'), 'AAA', '10');
    w.holdings(pid('named'), { cash: '100', securities: [] });
    await w.model('Nameless', [position(sid('a'), '0.5')], [pid('named')]);
    await w.sim.down('portfolio');
    const res = await rebalancePortfolio(pid('named'));
    expectStatus(res, 200);
    expect(json(res).portfolio_name).toBeNull();
  });

  it('computes everything and stores nothing on a dry run', async () => {
    w = await world();
    w.security(sid('a'), 'AAA', '10');
    w.holdings(pid('dry'), { cash: '100', securities: [] });
    const model = await w.model('Dry', [position(sid('a'), '0.5')], [pid('dry')]);
    const res = await rebalancePortfolio(pid('dry'), '?dry_run=true');
    expect(json(res)).toMatchObject({ rebalance_id: null, status: 'ok', transactions: [{ quantity: 5 }] });
    expect(json(await w.t.request({ method: 'GET', url: '/api/v1/rebalances' }))).toEqual([]);
    expect(json(await w.t.request({ method: 'GET', url: `/api/v1/model/${model}` })).last_rebalance_date).toBeNull();
    expect(await w.t.app.mongo.db.collection('rebalance_portfolios').countDocuments()).toBe(0);
  });
});

describe('POST /api/v1/model/:id/rebalance', () => {
  it('computes every portfolio and stores nothing on a dry run', async () => {
    w = await world();
    w.security(sid('a'), 'AAA', '10');
    w.holdings(pid('p1'), { cash: '1000', securities: [] });
    w.holdings(pid('p2'), { cash: '500', securities: [{ securityId: sid('a'), quantity: '80' }] });
    const model = await w.model('What if', [position(sid('a'), '0.5')], [pid('p1'), pid('p2')]);
    const res = await rebalanceModel(model, '?dry_run=true');
    expectStatus(res, 200);
    expect(json(res).map((r: { rebalance_id: null; transactions: unknown[] }) => [r.rebalance_id, r.transactions])).toEqual([
      [null, [{ transaction_type: 'BUY', security_id: sid('a'), quantity: 50, trade_date: today }]],
      [null, [{ transaction_type: 'SELL', security_id: sid('a'), quantity: 15, trade_date: today }]],
    ]);
    expect(json(await w.t.request({ method: 'GET', url: '/api/v1/rebalances' }))).toEqual([]);
    expect(json(await w.t.request({ method: 'GET', url: `/api/v1/model/${model}` })).last_rebalance_date).toBeNull();
  });

  it('answers with every portfolio, one infeasible among them, stores it, and dates the model without bumping its version', async () => {
    w = await world();
    w.security(sid('a'), 'AAA', '10');
    w.security(sid('x'), 'XXX', '1500');
    w.holdings(pid('p1'), { cash: '1000000', securities: [] });
    w.holdings(pid('p2'), { cash: '100000', securities: [] });
    w.holdings(pid('p3'), { cash: '2000000', securities: [] });
    // X at 1% ±0.2% = 10 000 ±2 000: fine for 1 000 000 (6.67 shares: band 5.3..8), no share fits 100 000's band 800..1 200.
    const model = await w.model(
      'Mixed',
      [position(sid('a'), '0.5', '0.1'), position(sid('x'), '0.01', '0.002')],
      [pid('p1'), pid('p2'), pid('p3')],
    );
    const res = await rebalanceModel(model);
    expectStatus(res, 200);
    const body = json(res);
    expect(body.map((r: { status: string }) => r.status)).toEqual(['ok', 'infeasible', 'ok']);
    expect(body[1]).toMatchObject({
      portfolio_id: pid('p2'),
      transactions: [],
      drifts: [],
      error: { code: 'INFEASIBLE', message: expect.stringContaining(`no whole number of shares meets the drift band of ${sid('x')}`) },
    });
    expect(body[0].transactions).toEqual([
      { transaction_type: 'BUY', security_id: sid('a'), quantity: 50000, trade_date: today },
      { transaction_type: 'BUY', security_id: sid('x'), quantity: 7, trade_date: today },
    ]);
    const id = body[0].rebalance_id;
    expect(body.every((r: { rebalance_id: string }) => r.rebalance_id === id)).toBe(true);

    const stored = json(await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${id}` }));
    expect(stored).toMatchObject({ rebalance_id: id, model_id: model, model_name: 'Mixed', number_of_portfolios: 3, version: 1 });
    expect(stored.portfolios.map((p: { portfolio_id: string }) => p.portfolio_id)).toEqual([pid('p1'), pid('p2'), pid('p3')]);
    const after = json(await w.t.request({ method: 'GET', url: `/api/v1/model/${model}` }));
    expect(after.last_rebalance_date).toBe(stored.rebalance_date);
    expect(after.version).toBe(1);
  });

  it('answers 422 only when every portfolio is infeasible, storing nothing', async () => {
    w = await world();
    w.security(sid('x'), 'XXX', '1500');
    w.holdings(pid('p1'), { cash: '100000', securities: [] });
    w.holdings(pid('p2'), { cash: '100000', securities: [] });
    const model = await w.model('Hopeless', [position(sid('x'), '0.01', '0.002')], [pid('p1'), pid('p2')]);
    const res = await rebalanceModel(model);
    expectStatus(res, 422);
    expect(json(res).message).toBe(`no feasible solution exists for any of the 2 portfolios of model ${model}`);
    expect(await w.t.app.mongo.db.collection('rebalance_portfolios').countDocuments()).toBe(0);
  });

  it('answers 422 naming the securities when the only portfolio of the model is infeasible, like the single-portfolio call', async () => {
    w = await world();
    w.security(sid('x'), 'XXX', '1500');
    w.holdings(pid('alone'), { cash: '100000', securities: [] });
    const model = await w.model('Alone', [position(sid('x'), '0.01', '0.002')], [pid('alone')]);
    const single = await rebalancePortfolio(pid('alone'));
    expectStatus(single, 422);

    const res = await rebalanceModel(model);
    expectStatus(res, 422);
    expect(json(res)).toMatchObject({ code: 'INFEASIBLE', message: expect.stringContaining('no feasible solution exists') });
    expect(json(res).message).toContain(sid('x'));
    expect(json(res).message).toBe(json(single).message);
    expect(json(await w.t.request({ method: 'GET', url: '/api/v1/rebalances' }))).toEqual([]);
  });

  it('answers 404 for an unknown model and 400 for a malformed id', async () => {
    w = await world();
    const unknown = '0123456789abcdef01234567';
    const missing = await rebalanceModel(unknown);
    expectStatus(missing, 404);
    expect(json(missing)).toMatchObject({ code: 'NOT_FOUND', message: `Model ${unknown} not found` });
    for (const bad of ['not-a-model', 'z'.repeat(24)]) {
      const res = await rebalanceModel(bad);
      expectStatus(res, 400, bad);
      expect(json(res).code, bad).toBe('VALIDATION_ERROR');
    }
  });

  it('answers [] for a model without portfolios, asking no upstream for quotes', async () => {
    w = await world();
    w.security(sid('e'), 'EEE', '10');
    const model = await w.model('Empty', [position(sid('e'), '0.5')], []);
    w.sim.resetCounts();
    const res = await rebalanceModel(model);
    expect([res.statusCode, json(res)]).toEqual([200, []]);
    expect([w.sim.total('security'), w.sim.total('pricing')]).toEqual([0, 0]);
  });

  it('stops at the first upstream failure: 503 naming the service, nothing stored, no further calls', async () => {
    w = await world({ REBALANCE_CONCURRENCY: '1', UPSTREAM_RETRIES: '2' });
    w.security(sid('a'), 'AAA', '10');
    const portfolios = Array.from({ length: 6 }, (_, i) => pid(`down${i}`));
    for (const p of portfolios) w.holdings(p, { cash: '1000', securities: [] });
    const model = await w.model('Outage', [position(sid('a'), '0.5')], portfolios);
    // The accounting service answers twice, then fails from the third portfolio on.
    w.sim.inject('accounting', { status: 500, after: 2 });
    const res = await rebalanceModel(model);
    expectStatus(res, 503);
    expect(json(res)).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    // The third summary's 500 may mean "no balances yet": /balances is asked, and fails twice.
    expect(json(res).message).toMatch(
      /^The Portfolio Accounting service is unavailable: GET \/api\/v1\/balances\?portfolio_id=PF0+DOWN2&offset=0&limit=1000: answered 500 \(simulated 500\) after 2 attempts$/,
    );
    // Two answered, then the third summary and two attempts at its balances; nothing asked for the other three.
    expect(w.sim.total('accounting')).toBe(5);
    expect(json(await w.t.request({ method: 'GET', url: '/api/v1/rebalances' }))).toEqual([]);
    expect(await w.t.app.mongo.db.collection('rebalance_portfolios').countDocuments()).toBe(0);
    expect(json(await w.t.request({ method: 'GET', url: `/api/v1/model/${model}` })).last_rebalance_date).toBeNull();
  });

  it('makes about one accounting call per portfolio and looks each security up once', async () => {
    w = await world();
    const K = 30;
    for (let i = 0; i < K; i++) w.security(sid(`k${i}`), `T${String(i).padStart(2, '0')}`, String(10 + i));
    const P = 25;
    const portfolios = Array.from({ length: P }, (_, j) => pid(`cnt${j}`));
    portfolios.forEach((p, j) => {
      w.holdings(p, {
        cash: '50000',
        securities: Array.from({ length: 8 }, (_, h) => ({ securityId: sid(`k${(j * 3 + h) % K}`), quantity: String(5 + h) })),
      });
    });
    const model = await w.model(
      'Counted',
      Array.from({ length: 10 }, (_, i) => position(sid(`k${i}`), '0.09', '0.05')),
      portfolios,
    );
    w.sim.resetCounts();
    const res = await rebalanceModel(model);
    expectStatus(res, 200);
    expect(w.sim.total('accounting')).toBe(P);
    expect(w.sim.total('security')).toBeLessThanOrEqual(K);
    expect(w.sim.total('pricing')).toBeLessThanOrEqual(K);
    // The portfolio names came in one bulk call.
    expect(w.sim.total('portfolio')).toBe(1);
  });
});
