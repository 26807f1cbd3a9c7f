// Whole-share trades (rebalancing.md, What correct means): orders are for
// whole shares, so a fractional holding keeps its fraction; the bands apply
// to the resulting holding. Through HTTP, with the accounting service sending
// fractional net quantities.
import { afterEach, describe, expect, it } from 'vitest';
import { manualClock } from '../helpers/clock.js';
import { expectStatus, json, pid, position, sid } from '../helpers/fixtures.js';
import { createWorld, type World } from '../helpers/rebalancing.js';

let w: World;
afterEach(async () => {
  await w.close();
});

// A fixed clock: trade dates are the clock's day, whenever the suite runs (even across midnight UTC).
const clock = manualClock('2026-03-02T10:00:00.000Z');
const today = '2026-03-02';

describe('a portfolio with fractional holdings', () => {
  it('trades whole shares and keeps each fraction, in the answer and in what is stored', async () => {
    w = await createWorld({}, { clock });
    w.security(sid('a'), 'AAA', '10');
    w.security(sid('b'), 'BBB', '20');
    w.holdings(pid('frac'), {
      cash: '750',
      securities: [
        { securityId: sid('a'), quantity: '10.5' },
        { securityId: sid('b'), quantity: '7.25' },
      ],
    });
    // MV = 750 + 105 + 145 = 1 000. A: 50% = 50 shares; 49.5 and 50.5 are as near, 49.5 nearer the holding: buy 39.
    // B: 10% = 5 shares; 5.25 (drift 5) beats 4.25 (drift 15): sell 2.
    await w.model('Fractions', [position(sid('a'), '0.5'), position(sid('b'), '0.1')], [pid('frac')]);

    const res = await w.t.request({ method: 'POST', url: `/api/v1/portfolio/${pid('frac')}/rebalance` });
    expectStatus(res, 200);
    const body = json(res);
    expect(body.transactions).toEqual([
      { transaction_type: 'BUY', security_id: sid('a'), quantity: 39, trade_date: today },
      { transaction_type: 'SELL', security_id: sid('b'), quantity: 2, trade_date: today },
    ]);
    expect(body.drifts).toEqual([
      {
        security_id: sid('a'),
        original_quantity: '10.5',
        adjusted_quantity: '49.5',
        target: '0.5',
        high_drift: '0.02',
        low_drift: '0.02',
        actual: '0.4950',
      },
      {
        security_id: sid('b'),
        original_quantity: '7.25',
        adjusted_quantity: '5.25',
        target: '0.1',
        high_drift: '0.02',
        low_drift: '0.02',
        actual: '0.1050',
      },
    ]);

    const [stored] = json(await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${body.rebalance_id}` })).portfolios;
    // 750 − 390 + 40.
    expect(stored).toMatchObject({ market_value: 1000, cash_before_rebalance: 750, cash_after_rebalance: 400 });
    expect(stored.positions).toEqual([
      expect.objectContaining({
        security_id: sid('a'),
        original_quantity: 10.5,
        adjusted_quantity: 49.5,
        transaction_type: 'BUY',
        trade_quantity: 39,
      }),
      expect.objectContaining({
        security_id: sid('b'),
        original_quantity: 7.25,
        adjusted_quantity: 5.25,
        transaction_type: 'SELL',
        trade_quantity: 2,
      }),
    ]);
  });

  it('answers 422 naming a fractional holding outside the model, whose fraction no whole-share order can sell', async () => {
    w = await createWorld({}, { clock });
    w.security(sid('a'), 'AAA', '10');
    w.security(sid('out'), 'OUT', '20');
    w.holdings(pid('stray'), { cash: '1000', securities: [{ securityId: sid('out'), quantity: '3.5' }] });
    await w.model('Stray', [position(sid('a'), '0.5')], [pid('stray')]);

    const res = await w.t.request({ method: 'POST', url: `/api/v1/portfolio/${pid('stray')}/rebalance` });
    expectStatus(res, 422);
    expect(json(res)).toMatchObject({
      code: 'INFEASIBLE',
      message:
        `no feasible solution exists: no whole number of shares meets the drift band of ${sid('out')} ` +
        '(band 0.00 to 0.00 at price 20 allows 0 to -1 whole shares beside the 0.5 share held, a fraction whole-share orders cannot trade)',
    });
  });
});
