// Drift reports, threshold rebalancing and rebalance_to (issue 18), end to end:
// the real app, a real database, the GlobeCo services simulated over HTTP.
import { afterEach, describe, expect, it } from 'vitest';
import { manualClock } from '../helpers/clock.js';
import { expectStatus, json, pid, position, sid } from '../helpers/fixtures.js';
import { createWorld, type World } from '../helpers/rebalancing.js';

let w: World;
afterEach(async () => {
  await w.close();
});

const clock = manualClock('2026-03-02T10:00:00.000Z');
const get = (url: string) => w.t.request({ method: 'GET', url });

/**
 * Model: A 30%, B 25%, C 40%, each ±2%; prices A 50, B 100, C 25.
 * P1: cash 10 000, 100 A, 20 B: MV 17 000; out of band (B and C).
 * P2: cash 500, 60 A, 25 B, 160 C: MV 10 000, exactly on target.
 * P4: cash 450, 61 A, 25 B, 160 C: MV 10 000, A 0.5% over target, inside its band.
 * P3: holds X, which has no price: cannot be valued.
 */
async function book(): Promise<string> {
  w = await createWorld({}, { clock });
  w.security(sid('a'), 'AAA', '50');
  w.security(sid('b'), 'BBB', '100');
  w.security(sid('c'), 'CCC', '25');
  w.security(sid('x'), 'XXX', null);
  const held = (a: string, b: string, c: string) => [
    { securityId: sid('a'), quantity: a },
    { securityId: sid('b'), quantity: b },
    ...(c === '0' ? [] : [{ securityId: sid('c'), quantity: c }]),
  ];
  w.holdings(pid('p1'), { cash: '10000', securities: held('100', '20', '0') });
  w.holdings(pid('p2'), { cash: '500', securities: held('60', '25', '160') });
  w.holdings(pid('p3'), { cash: '100', securities: [{ securityId: sid('x'), quantity: '3' }] });
  w.holdings(pid('p4'), { cash: '450', securities: held('61', '25', '160') });
  return w.model(
    'Drifting',
    [position(sid('a'), '0.3'), position(sid('b'), '0.25'), position(sid('c'), '0.4')],
    [pid('p1'), pid('p2'), pid('p3'), pid('p4')],
  );
}

describe('GET /api/v1/portfolio/:id/drift', () => {
  it('reports weights, bands, drifts and the total drift, digit for digit', async () => {
    await book();
    const res = await get(`/api/v1/portfolio/${pid('p1')}/drift`);
    expectStatus(res, 200);
    const security = (
      id: string,
      quantity: string,
      price: string,
      value: string,
      weight: string,
      target: string,
      drift: string,
      inBand: boolean,
    ) => ({
      security_id: sid(id),
      quantity,
      price,
      market_value: value,
      weight,
      target,
      low_drift: '0.02',
      high_drift: '0.02',
      band_low: (Number(target) - 0.02).toFixed(2),
      band_high: (Number(target) + 0.02).toFixed(2),
      drift,
      in_band: inBand,
    });
    expect(json(res)).toEqual({
      portfolio_id: pid('p1'),
      portfolio_name: 'Portfolio 0000P1', // the simulator's name
      model_id: expect.stringMatching(/^[0-9a-f]{24}$/),
      status: 'out_of_band',
      reason: null,
      market_value: '17000',
      cash: '10000',
      cash_weight: '0.588235', // 10 000 / 17 000 = 0.5882352…
      // (|5 100 − 5 000| + |4 250 − 2 000| + |6 800 − 0|) / 17 000 = 9 150 / 17 000 = 0.5382352…
      total_drift: '0.538235',
      in_band: false,
      securities_out_of_band: 2,
      securities: [
        // 5 000 / 17 000 = 0.2941176… inside 0.28..0.32 (4 760 <= 5 000 <= 5 440); drift −100 / 17 000 = −0.0058823…
        security('a', '100', '50', '5000', '0.294118', '0.3', '-0.005882', true),
        // 2 000 / 17 000 = 0.1176470…, below 0.23; drift −2 250 / 17 000 = −0.1323529…
        security('b', '20', '100', '2000', '0.117647', '0.25', '-0.132353', false),
        security('c', '0', '25', '0', '0', '0.4', '-0.4', false),
      ],
    });
    // Read-only: nothing stored, the model untouched.
    expect(json(await get('/api/v1/rebalances'))).toEqual([]);
  });

  it('reports a portfolio that cannot be valued with the reason, and 404 for a portfolio in no model', async () => {
    await book();
    const res = await get(`/api/v1/portfolio/${pid('p3')}/drift`);
    expectStatus(res, 200);
    expect(json(res)).toMatchObject({ status: 'unvalued', market_value: null, total_drift: null, in_band: null, securities: [] });
    expect(json(res).reason).toContain('has no price');
    expectStatus(await get(`/api/v1/portfolio/${pid('none')}/drift`), 404);
  });
});

describe('GET /api/v1/model/:id/drift', () => {
  it('has one row per portfolio, a summary, sorting, filtering and paging', async () => {
    const model = await book();
    const res = await get(`/api/v1/model/${model}/drift`);
    expectStatus(res, 200);
    const body = json(res);
    expect(body.summary).toEqual({
      portfolios: 4,
      in_band: 2,
      out_of_band: 1,
      unvalued: 1,
      worst: [
        { portfolio_id: pid('p1'), total_drift: '0.538235' },
        { portfolio_id: pid('p4'), total_drift: '0.005' }, // 50 / 10 000
        { portfolio_id: pid('p2'), total_drift: '0' },
      ],
    });
    // The model's order by default; the unvalued portfolio is a row with its reason.
    expect(body.portfolios.map((r: { portfolio_id: string; status: string }) => [r.portfolio_id, r.status])).toEqual([
      [pid('p1'), 'out_of_band'],
      [pid('p2'), 'in_band'],
      [pid('p3'), 'unvalued'],
      [pid('p4'), 'in_band'],
    ]);
    expect(body.portfolios[3]).toEqual({
      portfolio_id: pid('p4'),
      portfolio_name: 'Portfolio 0000P4',
      model_id: model,
      status: 'in_band',
      reason: null,
      market_value: '10000',
      cash: '450',
      cash_weight: '0.045',
      total_drift: '0.005',
      in_band: true,
      securities_out_of_band: 0,
    });
    expect(body.portfolios[2].reason).toContain('has no price');
    expect(res.headers['x-total-count']).toBe('4');

    const worst = await get(`/api/v1/model/${model}/drift?sort_by=-total_drift`);
    expect(json(worst).portfolios.map((r: { portfolio_id: string }) => r.portfolio_id)).toEqual([
      pid('p1'),
      pid('p4'),
      pid('p2'),
      pid('p3'),
    ]);
    const page = await get(`/api/v1/model/${model}/drift?sort_by=-total_drift&offset=1&limit=1`);
    expect(json(page).portfolios.map((r: { portfolio_id: string }) => r.portfolio_id)).toEqual([pid('p4')]);
    expect(page.headers['x-total-count']).toBe('4');
    const out = await get(`/api/v1/model/${model}/drift?out_of_band_only=true`);
    expect(json(out).portfolios.map((r: { portfolio_id: string }) => r.portfolio_id)).toEqual([pid('p1'), pid('p3')]);
    expect(out.headers['x-total-count']).toBe('2');
    expectStatus(await get(`/api/v1/model/${model}/drift?sort_by=name`), 400);
    expectStatus(await get(`/api/v1/model/${'0'.repeat(24)}/drift`), 404);
    expect(json(await get('/api/v1/rebalances'))).toEqual([]);
  });
});

describe('POST /api/v1/model/:id/rebalance?trigger=threshold', () => {
  it('trades only the portfolios out of band; the others answer in_band and are stored untraded', async () => {
    const model = await book();
    // Calendar (the default) trades P4 back to its target: one A sold.
    const calendar = json(await w.t.request({ method: 'POST', url: `/api/v1/model/${model}/rebalance?dry_run=true` }));
    expect(calendar[3].transactions).toEqual([{ transaction_type: 'SELL', security_id: sid('a'), quantity: 1, trade_date: '2026-03-02' }]);

    const res = await w.t.request({ method: 'POST', url: `/api/v1/model/${model}/rebalance?trigger=threshold` });
    expectStatus(res, 200);
    const body = json(res);
    expect(body.map((r: { status: string }) => r.status)).toEqual(['ok', 'in_band', 'infeasible', 'in_band']);
    expect(body[0].transactions.length).toBeGreaterThan(0);
    expect(body[3]).toMatchObject({ portfolio_id: pid('p4'), status: 'in_band', transactions: [] });
    expect(body[3].drifts.map((d: { adjusted_quantity: string; actual: string }) => [d.adjusted_quantity, d.actual])).toEqual([
      ['61', '0.3050'],
      ['25', '0.2500'],
      ['160', '0.4000'],
    ]);

    const stored = json(await get(`/api/v1/rebalance/${body[0].rebalance_id}`));
    const p4 = stored.portfolios.find((p: { portfolio_id: string }) => p.portfolio_id === pid('p4'));
    expect(p4).toMatchObject({ status: 'in_band', cash_before_rebalance: 450, cash_after_rebalance: 450 });
    expect(p4.positions.every((p: { transaction_type: unknown }) => p.transaction_type === null)).toBe(true);
    const p1 = stored.portfolios.find((p: { portfolio_id: string }) => p.portfolio_id === pid('p1'));
    expect(p1.status).toBe('ok');
    expect(p1.positions.some((p: { transaction_type: unknown }) => p.transaction_type !== null)).toBe(true);
    expectStatus(await w.t.request({ method: 'POST', url: `/api/v1/model/${model}/rebalance?trigger=sometimes` }), 400);

    // An in-band portfolio with a deposit to invest (issue 19) trades whatever its drift.
    const deposit = await w.t.request({
      method: 'POST',
      url: `/api/v1/model/${model}/rebalance?trigger=threshold&dry_run=true`,
      payload: { cash_flows: { [pid('p4')]: '10000' } },
    });
    const withFlow = json(expectStatus(deposit, 200));
    expect(withFlow.map((r: { status: string }) => r.status)).toEqual(['ok', 'in_band', 'infeasible', 'ok']);
    expect(withFlow[3]).toMatchObject({ cash_flow: '10000' });
    expect(withFlow[3].transactions.length).toBeGreaterThan(0);
  });

  it('counts a security above its band as in band when its rule forbids selling it (no_sell, frozen)', async () => {
    await book();
    // P5: A at 0.34 of 10 000 (its band 0.28..0.32), B at 0.25, C at 0.39 (band 0.38..0.42), 2% cash: only A is out.
    w.holdings(pid('p5'), {
      cash: '200',
      securities: [
        { securityId: sid('a'), quantity: '68' },
        { securityId: sid('b'), quantity: '25' },
        { securityId: sid('c'), quantity: '156' },
      ],
    });
    const positions = [position(sid('a'), '0.3'), position(sid('b'), '0.25'), position(sid('c'), '0.4')];
    const model = await w.model('Above', positions, [pid('p5')]);
    const statusWith = async (version: number, restrictions: object[]) => {
      expectStatus(
        await w.t.request({
          method: 'PUT',
          url: `/api/v1/model/${model}`,
          payload: { name: 'Above', positions, portfolios: [pid('p5')], version, restrictions },
        }),
        200,
      );
      const res = await w.t.request({ method: 'POST', url: `/api/v1/model/${model}/rebalance?trigger=threshold&dry_run=true` });
      return json<{ status: string }[]>(expectStatus(res, 200))[0]!.status;
    };
    expect(await statusWith(1, [])).toBe('ok');
    expect(await statusWith(2, [{ security_id: sid('a'), rule: 'no_sell' }])).toBe('in_band');
    expect(await statusWith(3, [{ security_id: sid('a'), rule: 'frozen' }])).toBe('in_band');
    expect(await statusWith(4, [{ security_id: sid('a'), rule: 'no_buy' }])).toBe('ok');
  });

  it("judges a restricted security by what its rule allows, and trades a portfolio short of its model's min_cash", async () => {
    const model = await book();
    const positions = [position(sid('a'), '0.3'), position(sid('b'), '0.25'), position(sid('c'), '0.4')];
    const replace = (version: number, extra: object) =>
      w.t.request({
        method: 'PUT',
        url: `/api/v1/model/${model}`,
        payload: { name: 'Drifting', positions, portfolios: [pid('p1'), pid('p2'), pid('p3'), pid('p4')], version, ...extra },
      });
    const threshold = async () => {
      const res = await w.t.request({ method: 'POST', url: `/api/v1/model/${model}/rebalance?trigger=threshold&dry_run=true` });
      return json<{ status: string; transactions: object[]; drifts: { security_id: string; restriction?: string }[] }[]>(
        expectStatus(res, 200),
      );
    };
    // P1 is below the bands of B and C only: with both no_buy, nothing a rebalance may do moves it: in band.
    expectStatus(
      await replace(1, {
        restrictions: [
          { security_id: sid('b'), rule: 'no_buy' },
          { security_id: sid('c'), rule: 'no_buy' },
        ],
      }),
      200,
    );
    const restricted = await threshold();
    expect(restricted.map((r) => r.status)).toEqual(['in_band', 'in_band', 'infeasible', 'in_band']);
    expect(restricted[0]!.drifts.map((d) => d.restriction ?? null)).toEqual([null, 'no_buy', 'no_buy']);
    // A 5% reserve: P4 holds 4.5% in cash (450 of 10 000), so it trades (one A sold, 9 500 in positions); P2 holds 5%.
    expectStatus(await replace(2, { min_cash: '0.05' }), 200);
    const reserved = await threshold();
    expect(reserved.map((r) => r.status)).toEqual(['in_band', 'in_band', 'infeasible', 'ok']);
    expect(reserved[3]!.transactions).toEqual([{ transaction_type: 'SELL', security_id: sid('a'), quantity: 1, trade_date: '2026-03-02' }]);
  });

  it('counts in-band portfolios in the cycle record under REBALANCE_TRIGGER=threshold, and shows the drift metrics', async () => {
    w = await createWorld({ REBALANCE_TRIGGER: 'threshold' }, { clock });
    w.security(sid('a'), 'AAA', '50');
    w.holdings(pid('in'), { cash: '500', securities: [{ securityId: sid('a'), quantity: '10' }] }); // 50%
    w.holdings(pid('out'), { cash: '1000', securities: [] }); // 0%
    await w.model('Cycled', [position(sid('a'), '0.5')], [pid('in'), pid('out')]);
    const cycle = await w.t.app.scheduler.runOnce();
    expect(cycle).toMatchObject({ status: 'succeeded', portfolios: 2, inBand: 1, infeasible: 0 });
    const listed = json(await get('/api/v1/cycles'));
    expect(listed[0]).toMatchObject({ portfolios: 2, in_band_portfolios: 1 });
    const metrics = (await w.t.request({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/drift_portfolios_out_of_band\{model_id="[0-9a-f]{24}"\} 1/);
    expect(metrics).toMatch(/drift_out_of_band_cycles\{model_id="[0-9a-f]{24}"\} 1/);
    expect(metrics).toContain('drift_portfolio_total_drift_count 2');
  });
});

describe('rebalance_to', () => {
  it('is target by default, band when asked; a PUT that omits it keeps it; OpenAPI shows it', async () => {
    w = await createWorld({}, { clock });
    const created = await w.t.request({ method: 'POST', url: '/api/v1/models', payload: { name: 'Edges', rebalance_to: 'band' } });
    expectStatus(created, 201);
    const model = json(created);
    expect(model.rebalance_to).toBe('band');
    expect(json(await w.t.request({ method: 'POST', url: '/api/v1/models', payload: { name: 'Plain' } })).rebalance_to).toBe('target');
    const put = (payload: object) =>
      w.t.request({
        method: 'PUT',
        url: `/api/v1/model/${model.model_id}`,
        payload: { name: 'Edges', positions: [], portfolios: [], ...payload },
      });
    // The portal's PUT does not know the field: the stored value stays.
    expect(json(expectStatus(await put({ version: 1 }), 200))).toMatchObject({ rebalance_to: 'band', version: 2 });
    expect(json(expectStatus(await put({ version: 2, rebalance_to: 'target' }), 200))).toMatchObject({
      rebalance_to: 'target',
      version: 3,
    });
    expect(json(await get(`/api/v1/model/${model.model_id}`)).rebalance_to).toBe('target');
    const bad = await w.t.request({ method: 'POST', url: '/api/v1/models', payload: { name: 'Bad', rebalance_to: 'edge' } });
    expectStatus(bad, 400);
    expect(json(bad).details).toEqual([{ path: 'rebalance_to', message: 'rebalance_to must be "target" or "band"' }]);
    const openapi = json(await get('/openapi.json'));
    expect(openapi.components.schemas.ModelDTO.properties.rebalance_to.enum).toEqual(['target', 'band']);
    expect(openapi.components.schemas.ModelDTO.required).toContain('rebalance_to');
  });

  it('with band, a rebalance trades only as far as the band edge', async () => {
    w = await createWorld({}, { clock });
    w.security(sid('a'), 'AAA', '10');
    w.holdings(pid('edge'), { cash: '7000', securities: [{ securityId: sid('a'), quantity: '300' }] });
    // MV 10 000; A 50% ±10%: 400..600 shares. To the target: 500; to the band: 400.
    const res = await w.t.request({
      method: 'POST',
      url: '/api/v1/models',
      payload: { name: 'Edge', positions: [position(sid('a'), '0.5', '0.1')], portfolios: [pid('edge')], rebalance_to: 'band' },
    });
    const model = json(expectStatus(res, 201)).model_id;
    const band = json(await w.t.request({ method: 'POST', url: `/api/v1/model/${model}/rebalance?dry_run=true` }));
    expect(band[0].transactions).toEqual([{ transaction_type: 'BUY', security_id: sid('a'), quantity: 100, trade_date: '2026-03-02' }]);
    expect(band[0].drifts[0]).toMatchObject({ adjusted_quantity: '400', actual: '0.4000' });
    await w.t.request({
      method: 'PUT',
      url: `/api/v1/model/${model}`,
      payload: {
        name: 'Edge',
        positions: [position(sid('a'), '0.5', '0.1')],
        portfolios: [pid('edge')],
        rebalance_to: 'target',
        version: 1,
      },
    });
    const target = json(await w.t.request({ method: 'POST', url: `/api/v1/model/${model}/rebalance?dry_run=true` }));
    expect(target[0].transactions[0].quantity).toBe(200);
  });
});
