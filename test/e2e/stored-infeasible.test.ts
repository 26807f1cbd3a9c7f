// A portfolio that is infeasible (or cannot be valued) in a model rebalance is
// stored with what it holds, unchanged (api.md, Stored rebalances): a reader
// that ignores `status`, like the portfolio portal, sees the portfolio as it
// is, not an empty one worth only its cash. The rebalance answer keeps the
// status, the error and empty lists.
import { afterEach, describe, expect, it } from 'vitest';
import { expectStatus, json, pid, position, sid } from '../helpers/fixtures.js';
import { createWorld, type World } from '../helpers/rebalancing.js';

let w: World;
afterEach(async () => {
  await w.close();
});

const get = async (url: string) => {
  const res = await w.t.request({ method: 'GET', url: `/api/v1${url}` });
  expectStatus(res, 200, url);
  return json(res);
};

const unchanged = { transaction_type: null, trade_quantity: null, trade_date: null };

describe('a model rebalance with infeasible portfolios', () => {
  it('stores an infeasible portfolio with its holdings priced, unchanged, without trades, and cash after = cash before', async () => {
    w = await createWorld();
    w.security(sid('a'), 'AAA', '10');
    w.security(sid('x'), 'XXX', '1500');
    w.security(sid('o'), 'OOO', '20');
    w.holdings(pid('fits'), { cash: '1000000', securities: [{ securityId: sid('a'), quantity: '100' }] });
    // MV = 100 000 + 200·10 + 30·20 = 102 600; X's band 1% ± 0.2% = 820.80..1 231.20 holds no share of 1 500.
    w.holdings(pid('stuck'), {
      cash: '100000',
      securities: [
        { securityId: sid('a'), quantity: '200' },
        { securityId: sid('o'), quantity: '30' },
      ],
    });
    w.sim.book.setPortfolioName(pid('stuck'), 'Stuck Fund');
    const model = await w.model(
      'Stuck',
      [position(sid('a'), '0.5', '0.1'), position(sid('x'), '0.01', '0.002')],
      [pid('fits'), pid('stuck')],
    );

    const res = await w.t.request({ method: 'POST', url: `/api/v1/model/${model}/rebalance` });
    expectStatus(res, 200);
    const [fits, stuck] = json(res);
    expect(fits).toMatchObject({ status: 'ok' });
    expect(stuck).toEqual({
      portfolio_id: pid('stuck'),
      portfolio_name: 'Stuck Fund',
      rebalance_id: fits.rebalance_id,
      status: 'infeasible',
      error: { code: 'INFEASIBLE', message: expect.stringContaining(`no whole number of shares meets the drift band of ${sid('x')}`) },
      transactions: [],
      drifts: [],
    });

    const held = [
      // 2 000 / 102 600 = 0.01949..; 0.0195 / 0.5 − 1.
      {
        security_id: sid('a'),
        price: 10,
        original_quantity: 200,
        adjusted_quantity: 200,
        original_position_market_value: 2000,
        adjusted_position_market_value: 2000,
        target: 0.5,
        high_drift: 0.1,
        low_drift: 0.1,
        actual: 0.0195,
        actual_drift: -0.961,
        ...unchanged,
      },
      // Held outside the model: 600 / 102 600 = 0.00584..
      {
        security_id: sid('o'),
        price: 20,
        original_quantity: 30,
        adjusted_quantity: 30,
        original_position_market_value: 600,
        adjusted_position_market_value: 600,
        target: 0,
        high_drift: 0,
        low_drift: 0,
        actual: 0.0058,
        actual_drift: 0,
        ...unchanged,
      },
      {
        security_id: sid('x'),
        price: 1500,
        original_quantity: 0,
        adjusted_quantity: 0,
        original_position_market_value: 0,
        adjusted_position_market_value: 0,
        target: 0.01,
        high_drift: 0.002,
        low_drift: 0.002,
        actual: 0,
        actual_drift: -1,
        ...unchanged,
      },
    ];
    const figures = { market_value: 102600, cash_before_rebalance: 100000, cash_after_rebalance: 100000 };
    const status = { status: 'infeasible', error: { code: 'INFEASIBLE', message: stuck.error.message } };

    const stored = await get(`/rebalance/${fits.rebalance_id}`);
    expect(stored.portfolios[1]).toEqual({
      portfolio_id: pid('stuck'),
      portfolio_name: 'Stuck Fund',
      ...status,
      ...figures,
      positions: held,
    });
    expect(stored.portfolios[0]).toMatchObject({ portfolio_id: pid('fits'), status: 'ok' });

    const portfolios = await get(`/rebalance/${fits.rebalance_id}/portfolios`);
    expect(portfolios[1]).toMatchObject({ portfolio_id: pid('stuck'), ...status, ...figures });

    expect(await get(`/rebalance/${fits.rebalance_id}/portfolio/${pid('stuck')}/positions`)).toEqual(held);
  });

  it('stores a portfolio that could not be valued with its holdings, priced where a price is known', async () => {
    w = await createWorld();
    w.security(sid('a'), 'AAA', '10');
    w.security(sid('n'), 'NOPX', null);
    w.holdings(pid('fits'), { cash: '1000', securities: [] });
    w.holdings(pid('unpriced'), {
      cash: '1000',
      securities: [
        { securityId: sid('a'), quantity: '10' },
        { securityId: sid('n'), quantity: '5' },
      ],
    });
    const model = await w.model('Unpriced', [position(sid('a'), '0.5')], [pid('fits'), pid('unpriced')]);

    const res = await w.t.request({ method: 'POST', url: `/api/v1/model/${model}/rebalance` });
    expectStatus(res, 200);
    const [fits, unpriced] = json(res);
    const message = `Security ${sid('n')} (NOPX) has no price, so the portfolio cannot be valued`;
    expect(unpriced).toMatchObject({ status: 'infeasible', error: { code: 'INFEASIBLE', message }, transactions: [], drifts: [] });

    // Valued at the prices known: 1 000 + 10·10.
    const stored = await get(`/rebalance/${fits.rebalance_id}`);
    expect(stored.portfolios[1]).toMatchObject({ market_value: 1100, cash_before_rebalance: 1000, cash_after_rebalance: 1000 });
    expect(await get(`/rebalance/${fits.rebalance_id}/portfolio/${pid('unpriced')}/positions`)).toEqual([
      {
        security_id: sid('a'),
        price: 10,
        original_quantity: 10,
        adjusted_quantity: 10,
        original_position_market_value: 100,
        adjusted_position_market_value: 100,
        target: 0.5,
        high_drift: 0.02,
        low_drift: 0.02,
        actual: 0.0909,
        actual_drift: -0.8182,
        ...unchanged,
      },
      {
        security_id: sid('n'),
        price: null,
        original_quantity: 5,
        adjusted_quantity: 5,
        original_position_market_value: null,
        adjusted_position_market_value: null,
        target: 0,
        high_drift: 0,
        low_drift: 0,
        actual: null,
        actual_drift: null,
        ...unchanged,
      },
    ]);
  });
});
