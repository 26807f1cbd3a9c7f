// Issue 19 through the API: cash flows in the rebalance bodies, the model's
// min_cash, min_trade_value and restrictions, the firm-wide restricted list,
// and what the answers and the stored rebalances say about them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../helpers/clock.js';
import { expectStatus, json, pid, position, sid } from '../helpers/fixtures.js';
import { createWorld, type World } from '../helpers/rebalancing.js';

let w: World;
beforeAll(async () => {
  w = await createWorld({}, { clock });
  w.security(sid('a'), 'AAA', '10');
  w.security(sid('b'), 'BBB', '20');
  w.security(sid('c'), 'CCC', '10');
});
afterAll(async () => {
  await w.close();
});

// A fixed clock: trade dates are the clock's day, whenever the suite runs (even across midnight UTC).
const clock = manualClock('2026-03-02T10:00:00.000Z');
const today = '2026-03-02';
const post = (url: string, payload?: object, headers: Record<string, string> = {}) =>
  w.t.request({ method: 'POST', url, ...(payload === undefined ? {} : { payload }), headers });

describe('cash flows', () => {
  it('invests a deposit sent as the body of a portfolio rebalance, and stores the flow', async () => {
    w.holdings(pid('dep'), { cash: '0', securities: [{ securityId: sid('a'), quantity: '100' }] });
    await w.model('Deposit', [position(sid('a'), '0.5', '0.1', '0.1'), position(sid('b'), '0.45', '0.1', '0.1')], [pid('dep')]);

    // No body: today's rebalance of MV 1 000 (A to 50 shares, B 22).
    const plain = expectStatus(await post(`/api/v1/portfolio/${pid('dep')}/rebalance?dry_run=true`), 200);
    expect(json(plain).transactions.map((t: { quantity: number }) => t.quantity)).toEqual([50, 22]);
    expect(json(plain).cash_flow).toBeUndefined();

    // A deposit of 1 000: MV' 2 000, A stays at 100 shares, B buys 45.
    const res = expectStatus(await post(`/api/v1/portfolio/${pid('dep')}/rebalance`, { cash_flow: '1000' }), 200);
    const body = json(res);
    expect(body.cash_flow).toBe('1000');
    expect(body.transactions).toEqual([{ transaction_type: 'BUY', security_id: sid('b'), quantity: 45, trade_date: today }]);
    const [stored] = json(await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${body.rebalance_id}` })).portfolios;
    expect(stored).toMatchObject({ market_value: 2000, cash_before_rebalance: 0, cash_flow: 1000, cash_after_rebalance: 100 });
  });

  it('says a withdrawal larger than the portfolio is infeasible (422), naming it', async () => {
    w.holdings(pid('wd'), { cash: '100', securities: [{ securityId: sid('a'), quantity: '10' }] });
    await w.model('Withdrawal', [position(sid('a'), '0.5', '0.5', '0.5')], [pid('wd')]);
    const res = expectStatus(await post(`/api/v1/portfolio/${pid('wd')}/rebalance`, { cash_flow: -300 }), 422);
    expect(json(res)).toMatchObject({
      code: 'INFEASIBLE',
      message: 'the withdrawal of 300.00 is larger than the portfolio: its market value before the withdrawal is 200.00',
    });
  });

  it('says a portfolio too large to count in whole shares is infeasible (422), naming the security, never a 500', async () => {
    // A deposit of 1e21 (found by the fuzz test): MV 1e21 + 1 000, up to 60% of it in A at 10.
    w.holdings(pid('big'), { cash: '0', securities: [{ securityId: sid('a'), quantity: '100' }] });
    // A holding of 1e20 shares, as the Accounting service reports it.
    w.holdings(pid('huge'), { cash: '0', securities: [{ securityId: sid('a'), quantity: '100000000000000000000' }] });
    w.holdings(pid('fine'), { cash: '1000', securities: [] });
    const model = await w.model('Too large', [position(sid('a'), '0.5', '0.1', '0.1')], [pid('big'), pid('huge'), pid('fine')]);
    const tooLarge = (shares: string) =>
      `the portfolio is too large to rebalance in whole shares: ${sid('a')} would count ${shares} whole shares, ` +
      `more than the ${Number.MAX_SAFE_INTEGER} that can be counted exactly`;

    const one = expectStatus(await post(`/api/v1/portfolio/${pid('big')}/rebalance?dry_run=true`, { cash_flow: 1e21 }), 422);
    expect(json(one)).toMatchObject({ code: 'INFEASIBLE', message: tooLarge('60000000000000000060') });
    const held = expectStatus(await post(`/api/v1/portfolio/${pid('huge')}/rebalance?dry_run=true`), 422);
    expect(json(held)).toMatchObject({ code: 'INFEASIBLE', message: tooLarge('100000000000000000000') });

    // In a model rebalance only those portfolios are infeasible; the others rebalance.
    const all = expectStatus(await post(`/api/v1/model/${model}/rebalance?dry_run=true`, { cash_flows: { [pid('big')]: '1e21' } }), 200);
    const [big, huge, fine] = json(all);
    expect(big).toMatchObject({ status: 'infeasible', error: { code: 'INFEASIBLE', message: tooLarge('60000000000000000060') } });
    expect(huge).toMatchObject({ status: 'infeasible', error: { code: 'INFEASIBLE', message: tooLarge('100000000000000000000') } });
    expect(fine).toMatchObject({ status: 'ok', transactions: [expect.objectContaining({ quantity: 50 })] });
  });

  it('takes cash_flows per portfolio on a model rebalance; other portfolios rebalance as before', async () => {
    for (const p of ['m1', 'm2', 'm3']) w.holdings(pid(p), { cash: '1000', securities: [] });
    const model = await w.model('Flows', [position(sid('a'), '0.5', '0.1', '0.1')], [pid('m1'), pid('m2'), pid('m3')]);
    const res = expectStatus(
      await post(`/api/v1/model/${model}/rebalance`, { cash_flows: { [pid('m1')]: '1000', [pid('m2')]: '-2000' } }),
      200,
    );
    const [m1, m2, m3] = json(res);
    expect(m1).toMatchObject({ status: 'ok', cash_flow: '1000', transactions: [expect.objectContaining({ quantity: 100 })] });
    expect(m2).toMatchObject({ status: 'infeasible', cash_flow: '-2000', error: { code: 'INFEASIBLE' } });
    expect(m2.error.message).toContain('the withdrawal of 2000.00 is larger than the portfolio');
    expect(m3).toMatchObject({ status: 'ok', transactions: [expect.objectContaining({ quantity: 50 })] });
    expect(m3.cash_flow).toBeUndefined();
    const stored = json(await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${m1.rebalance_id}/portfolios` }));
    expect(stored.map((p: { cash_flow?: number }) => p.cash_flow ?? null)).toEqual([1000, -2000, null]);
  });

  it('keeps the flow of a portfolio that cannot be valued in its answer and its stored document', async () => {
    w.security(sid('unpriced'), 'UNP', null);
    w.holdings(pid('u1'), { cash: '100', securities: [{ securityId: sid('unpriced'), quantity: '3' }] });
    w.holdings(pid('u2'), { cash: '1000', securities: [] });
    const model = await w.model('Unvalued flow', [position(sid('a'), '0.5', '0.1', '0.1')], [pid('u1'), pid('u2')]);
    const res = await post(`/api/v1/model/${model}/rebalance`, { cash_flows: { [pid('u1')]: '500' } });
    const [u1] = json(expectStatus(res, 200));
    expect(u1).toMatchObject({ status: 'infeasible', cash_flow: '500' });
    expect(u1.error.message).toContain('UNP');
    const stored = json(await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${u1.rebalance_id}/portfolios` }));
    expect(stored[0]).toMatchObject({ cash_flow: 500 });
  });

  it('refuses cash flows for portfolios the model does not list, and bodies that are not cash flows', async () => {
    const model = await w.model('Strangers', [], [pid('s1')]);
    const res = expectStatus(await post(`/api/v1/model/${model}/rebalance`, { cash_flows: { [pid('zz')]: '10' } }), 400);
    expect(json(res).message).toContain(`cash_flows names portfolios that model ${model} does not list: ${pid('zz')}`);
    expectStatus(await post(`/api/v1/portfolio/${pid('s1')}/rebalance`, { cash_flow: 'lots' }), 400);
    expectStatus(await post(`/api/v1/portfolio/${pid('s1')}/rebalance`, { cashflow: '10' }), 400);
  });
});

describe('model options', () => {
  it('stores min_cash, min_trade_value and restrictions, shows them, and keeps them through a PUT that omits them', async () => {
    const created = expectStatus(
      await post('/api/v1/models', {
        name: 'Options',
        positions: [position(sid('a'), '0.9')],
        portfolios: [],
        min_cash: '0.05',
        min_trade_value: 250,
        restrictions: [{ security_id: sid('b'), rule: 'no_sell' }],
      }),
      201,
    );
    const model = json(created);
    expect(model).toMatchObject({ min_cash: '0.05', min_trade_value: '250', restrictions: [{ security_id: sid('b'), rule: 'no_sell' }] });
    // The portal's PUT knows nothing of them: they stay.
    const put = await w.t.request({
      method: 'PUT',
      url: `/api/v1/model/${model.model_id}`,
      payload: { name: 'Options', positions: [position(sid('a'), '0.8')], portfolios: [], version: 1 },
    });
    expect(json(expectStatus(put, 200))).toMatchObject({ min_cash: '0.05', min_trade_value: '250', version: 2 });
    // null clears one; a model without options shows none of the fields (the old shape, with issue 18's rebalance_to).
    const cleared = await w.t.request({
      method: 'PUT',
      url: `/api/v1/model/${model.model_id}`,
      payload: { name: 'Options', positions: [], portfolios: [], version: 2, min_cash: null, min_trade_value: null, restrictions: [] },
    });
    const body = json(expectStatus(cleared, 200));
    expect(Object.keys(body).sort()).toEqual([
      'last_rebalance_date',
      'model_id',
      'name',
      'portfolios',
      'positions',
      'rebalance_to',
      'version',
    ]);
  });

  it('refuses min_cash that does not fit beside the targets, on create and on a position added later', async () => {
    const tooMuch = await post('/api/v1/models', { name: 'Too much', positions: [position(sid('a'), '0.95')], min_cash: '0.1' });
    expect(json(expectStatus(tooMuch, 400)).message).toBe('the targets (0.95) and min_cash (0.1) would sum to 1.05, above 1');
    expectStatus(await post('/api/v1/models', { name: 'Negative', min_cash: '-0.1' }), 400);
    expectStatus(await post('/api/v1/models', { name: 'Rule', restrictions: [{ security_id: sid('a'), rule: 'maybe' }] }), 400);
    const id = json(
      expectStatus(await post('/api/v1/models', { name: 'Reserve', positions: [position(sid('a'), '0.5')], min_cash: '0.2' }), 201),
    );
    const added = await post(`/api/v1/model/${id.model_id}/position`, position(sid('b'), '0.4'));
    expect(json(expectStatus(added, 400)).message).toBe('the targets (0.9) and min_cash (0.2) would sum to 1.1, above 1');
  });

  it('refuses a minimum trade value beside rebalance_to "band", on create, on a PUT and as a request override; min_cash goes', async () => {
    const message = 'a minimum trade value cannot be combined with rebalance_to "band": use rebalance_to "target" or no min_trade_value';
    const both = await post('/api/v1/models', { name: 'Band and minimum', rebalance_to: 'band', min_trade_value: '100' });
    expect(json(expectStatus(both, 400)).message).toBe(message);
    const created = json(
      expectStatus(await post('/api/v1/models', { name: 'Minimum', positions: [position(sid('a'), '0.5')], min_trade_value: '100' }), 201),
    );
    const toBand = await w.t.request({
      method: 'PUT',
      url: `/api/v1/model/${created.model_id}`,
      payload: { name: 'Minimum', positions: created.positions, portfolios: [], version: 1, rebalance_to: 'band' },
    });
    expect(json(expectStatus(toBand, 400)).message).toBe(message);
    w.holdings(pid('banded'), { cash: '1000', securities: [] });
    const banded = json(
      expectStatus(
        await post('/api/v1/models', {
          name: 'Banded',
          positions: [position(sid('a'), '0.5', '0.05')],
          portfolios: [pid('banded')],
          rebalance_to: 'band',
          min_cash: '0.1',
        }),
        201,
      ),
    );
    const override = await post(`/api/v1/model/${banded.model_id}/rebalance?dry_run=true`, { min_trade_value: '50' });
    expect(json(expectStatus(override, 400)).message).toBe(message);
    const alone = await post(`/api/v1/portfolio/${pid('banded')}/rebalance?dry_run=true`, { min_trade_value: '50' });
    expect(json(expectStatus(alone, 400)).message).toBe(message);
    // Without the override the band model rebalances: A's band 0.5 ± 0.05 of 1 000 = 45..55 shares at 10; the lower edge.
    const ok = await post(`/api/v1/model/${banded.model_id}/rebalance?dry_run=true`);
    expect(json<{ transactions: { quantity: number }[] }[]>(expectStatus(ok, 200))[0]!.transactions).toMatchObject([{ quantity: 45 }]);
  });

  it('applies min_cash and min_trade_value (and a per-request override) when rebalancing', async () => {
    w.holdings(pid('opt'), { cash: '1000', securities: [{ securityId: sid('c'), quantity: '1' }] });
    const model = json(
      expectStatus(
        await post('/api/v1/models', {
          name: 'Reserve and minimum',
          positions: [position(sid('a'), '0.475', '0.1', '0.1'), position(sid('b'), '0.475', '0.1', '0.1')],
          portfolios: [pid('opt')],
          min_cash: '0.05',
          min_trade_value: '50',
        }),
        201,
      ),
    ).model_id;
    // MV 1 010 (C: one share outside the model, worth 10 < 50, sold all the same). Targets 479.75: A 48 and B 24
    // (960) without a reserve; at most 959.50 may be held, and A 47 (drift 10) beats B 23 (drift 20).
    const res = json(expectStatus(await post(`/api/v1/model/${model}/rebalance?dry_run=true`), 200))[0];
    expect(res.transactions.map((t: { security_id: string; quantity: number }) => [t.security_id, t.quantity])).toEqual([
      [sid('a'), 47],
      [sid('b'), 24],
      [sid('c'), 1],
    ]);
    // An override of 1 000 for this request: A (38..58 shares) and B (19..29) cannot be bought in trades that large.
    const big = await post(`/api/v1/model/${model}/rebalance?dry_run=true`, { min_trade_value: '1000' });
    expect(json(expectStatus(big, 422)).message).toContain(
      'the minimum trade value of 1000.00 leaves no allowed holding in the drift band of',
    );
  });
});

describe('restrictions', () => {
  it('keeps the firm-wide list with who set it and when; every model obeys it and the answers say so', async () => {
    expectStatus(await w.t.request({ method: 'PUT', url: '/api/v1/restrictions', payload: { restrictions: [] } }), 400);
    const put = await w.t.request({
      method: 'PUT',
      url: '/api/v1/restrictions',
      payload: { restrictions: [{ security_id: sid('a'), rule: 'no_buy' }] },
      headers: { 'x-requested-by': 'compliance@globeco' },
    });
    const list = json(expectStatus(put, 200));
    expect(list).toMatchObject({
      restrictions: [{ security_id: sid('a'), rule: 'no_buy', set_by: 'compliance@globeco' }],
      updated_by: 'compliance@globeco',
    });
    expect(Number.isNaN(Date.parse(list.updated_at))).toBe(false);
    expect(json(await w.t.request({ method: 'GET', url: '/api/v1/restrictions' }))).toEqual(list);

    // A is far below its band (45..55 shares) and may not be bought: it stays at 10, restricted; B (the model's no_sell) stays.
    w.holdings(pid('rst'), {
      cash: '700',
      securities: [
        { securityId: sid('a'), quantity: '10' },
        { securityId: sid('b'), quantity: '10' },
      ],
    });
    const model = json(
      expectStatus(
        await post('/api/v1/models', {
          name: 'Restricted',
          positions: [position(sid('a'), '0.5', '0.05', '0.05')],
          portfolios: [pid('rst')],
          restrictions: [{ security_id: sid('b'), rule: 'no_sell' }],
        }),
        201,
      ),
    ).model_id;
    const res = json(expectStatus(await post(`/api/v1/model/${model}/rebalance`), 200))[0];
    expect(res).toMatchObject({ status: 'ok', transactions: [] });
    expect(res.drifts).toEqual([
      expect.objectContaining({ security_id: sid('a'), adjusted_quantity: '10', restricted: true, restriction: 'no_buy' }),
      expect.objectContaining({ security_id: sid('b'), adjusted_quantity: '10', restricted: true, restriction: 'no_sell' }),
    ]);
    const positions = json(
      await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${res.rebalance_id}/portfolio/${pid('rst')}/positions` }),
    );
    expect(positions.map((p: { restricted?: boolean; restriction?: string }) => [p.restricted, p.restriction])).toEqual([
      [true, 'no_buy'],
      [true, 'no_sell'],
    ]);

    const cleared = await w.t.request({ method: 'DELETE', url: '/api/v1/restrictions', headers: { 'x-requested-by': 'ops' } });
    expect(json(expectStatus(cleared, 200))).toMatchObject({ restrictions: [], updated_by: 'ops' });
    // Without the firm-wide rule A is bought into its band.
    const after = json(expectStatus(await post(`/api/v1/model/${model}/rebalance?dry_run=true`), 200))[0];
    expect(after.transactions).toEqual([expect.objectContaining({ security_id: sid('a'), transaction_type: 'BUY', quantity: 40 })]);
  });

  it('documents the new fields and routes in OpenAPI', async () => {
    const doc = json(await w.t.request({ method: 'GET', url: '/openapi.json' }));
    expect(Object.keys(doc.components.schemas.ModelDTO.properties)).toEqual(
      expect.arrayContaining(['min_cash', 'min_trade_value', 'restrictions']),
    );
    expect(Object.keys(doc.paths['/api/v1/restrictions'])).toEqual(expect.arrayContaining(['get', 'put', 'delete']));
    expect(JSON.stringify(doc.paths['/api/v1/portfolio/{portfolio_id}/rebalance'].post.requestBody)).toContain('PortfolioRebalanceBody');
    expect(
      Object.keys(
        doc.components.schemas.PortfolioRebalanceBody.properties ?? doc.components.schemas.PortfolioRebalanceBody.anyOf[0].properties,
      ),
    ).toEqual(expect.arrayContaining(['cash_flow', 'min_trade_value']));
  });
});
