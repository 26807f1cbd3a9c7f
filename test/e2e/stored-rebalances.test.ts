// Stored rebalances: reading, paging, querying by portfolio, deleting.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../helpers/clock.js';
import { expectStatus, json, pid, position, sid } from '../helpers/fixtures.js';
import { createWorld, type World } from '../helpers/rebalancing.js';

let w: World;
let modelA: string;
let modelB: string;
const ids: string[] = [];
// A fixed clock: trade dates are the clock's day, whenever the suite runs (even across midnight UTC).
const clock = manualClock('2026-03-02T10:00:00.000Z');
const today = '2026-03-02';
const world = (env: Record<string, string> = {}) => createWorld(env, { clock });

beforeAll(async () => {
  w = await world();
  w.security(sid('a'), 'AAA', '41.17');
  w.security(sid('b'), 'BBB', '12.5');
  w.holdings(pid('p1'), { cash: '50000', securities: [{ securityId: sid('a'), quantity: '100.25' }] });
  w.holdings(pid('p2'), { cash: '20000', securities: [{ securityId: sid('b'), quantity: '30' }] });
  w.holdings(pid('p3'), { cash: '7000', securities: [] });
  modelA = await w.model('Alpha', [position(sid('a'), '0.45', '0.05'), position(sid('b'), '0.45', '0.05')], [pid('p1'), pid('p2')]);
  modelB = await w.model('Beta', [position(sid('b'), '0.9', '0.05')], [pid('p3')]);
  // Four rebalances, oldest first: A, B, A (single portfolio p2), B.
  for (const call of [
    `/api/v1/model/${modelA}/rebalance`,
    `/api/v1/model/${modelB}/rebalance`,
    `/api/v1/portfolio/${pid('p2')}/rebalance`,
    `/api/v1/model/${modelB}/rebalance`,
  ]) {
    const res = await w.t.request({ method: 'POST', url: call });
    const body = json(res);
    ids.push(Array.isArray(body) ? body[0].rebalance_id : body.rebalance_id);
  }
});
afterAll(async () => {
  await w.close();
});

const get = (url: string) => w.t.request({ method: 'GET', url });

describe('reading stored rebalances', () => {
  it('lists them newest first, paged by offset and limit', async () => {
    const res = await get('/api/v1/rebalances');
    expectStatus(res, 200);
    expect(json(res).map((r: { rebalance_id: string }) => r.rebalance_id)).toEqual([...ids].reverse());
    expect(json(await get('/api/v1/rebalances?offset=1&limit=2')).map((r: { rebalance_id: string }) => r.rebalance_id)).toEqual([
      ids[2],
      ids[1],
    ]);
    expect(json(await get('/api/v1/rebalances?offset=4'))).toEqual([]);
  });

  it.each([
    ['limit=0', 'limit must be between 1 and 100'],
    ['limit=101', 'limit must be between 1 and 100'],
    ['offset=-1', 'offset must be a non-negative integer'],
  ])('answers 400 for %s', async (query, message) => {
    const res = await get(`/api/v1/rebalances?${query}`);
    expectStatus(res, 400);
    expect(json(res).message).toBe(message);
  });

  it('returns one rebalance in full, with exact figures rounded only at the edge', async () => {
    const res = await get(`/api/v1/rebalance/${ids[0]}`);
    expectStatus(res, 200);
    const r = json(res);
    expect(r).toMatchObject({
      rebalance_id: ids[0],
      model_id: modelA,
      model_name: 'Alpha',
      rebalance_date: expect.stringMatching(/Z$/),
      number_of_portfolios: 2,
      version: 1,
      created_at: r.rebalance_date,
    });
    // p1: MV = 50 000 + 100.25 · 41.17 = 54 127.2925. A at 45% = 24 357.281625 = 591.63 shares; whole-share
    // trades keep the 0.25 held, so 591.25 (not 592.25): buy 491.
    const p1 = r.portfolios[0];
    expect(p1).toMatchObject({ portfolio_id: pid('p1'), market_value: 54127.29, cash_before_rebalance: 50000, status: 'ok' });
    expect(p1.positions[0]).toMatchObject({
      security_id: sid('a'),
      price: 41.17,
      original_quantity: 100.25,
      adjusted_quantity: 591.25,
      original_position_market_value: 4127.29,
      adjusted_position_market_value: 24341.76,
      transaction_type: 'BUY',
      trade_quantity: 491,
      trade_date: today,
    });
  });

  it('stores exactly what the rebalance answered', async () => {
    w.holdings(pid('p1'), { cash: '1000', securities: [{ securityId: sid('a'), quantity: '3' }] });
    const answered = json(await w.t.request({ method: 'POST', url: `/api/v1/portfolio/${pid('p1')}/rebalance` }));
    const positions = json(await get(`/api/v1/rebalance/${answered.rebalance_id}/portfolio/${pid('p1')}/positions`));
    const traded = positions.filter((p: { transaction_type: string | null }) => p.transaction_type !== null);
    expect(
      traded.map((p: { transaction_type: string; security_id: string; trade_quantity: number }) => [
        p.transaction_type,
        p.security_id,
        p.trade_quantity,
      ]),
    ).toEqual(
      answered.transactions.map((t: { transaction_type: string; security_id: string; quantity: number }) => [
        t.transaction_type,
        t.security_id,
        t.quantity,
      ]),
    );
    expect(positions.map((p: { adjusted_quantity: number }) => String(p.adjusted_quantity))).toEqual(
      answered.drifts.map((d: { adjusted_quantity: string }) => d.adjusted_quantity),
    );
    const doc = await w.t.app.mongo.db.collection('rebalance_portfolios').findOne({ portfolio_id: pid('p1') });
    expect(doc!.market_value._bsontype).toBe('Decimal128');
    expect(doc!.positions.price[0]._bsontype).toBe('Decimal128');
  });

  it("lists a rebalance's portfolios without positions, and one portfolio's positions", async () => {
    const portfolios = json(await get(`/api/v1/rebalance/${ids[0]}/portfolios`));
    expect(portfolios.map((p: { portfolio_id: string }) => p.portfolio_id)).toEqual([pid('p1'), pid('p2')]);
    expect(portfolios[0].positions).toBeUndefined();
    const positions = json(await get(`/api/v1/rebalance/${ids[0]}/portfolio/${pid('p2')}/positions`));
    expect(positions.map((p: { security_id: string }) => p.security_id)).toEqual([sid('a'), sid('b')]);
  });

  it('answers 404 and 400 where it should', async () => {
    expectStatus(await get('/api/v1/rebalance/0123456789abcdef01234567'), 404);
    expectStatus(await get('/api/v1/rebalance/nope'), 400);
    expectStatus(await get(`/api/v1/rebalance/${ids[0]}/portfolio/${pid('p3')}/positions`), 404);
    expect(json(await get(`/api/v1/rebalance/${ids[0]}/portfolio/${pid('p3')}/positions`)).message).toBe(
      `Portfolio ${pid('p3')} is not in rebalance ${ids[0]}`,
    );
  });

  it('finds the rebalances that contain given portfolios, newest first, paged', async () => {
    const post = (query: string, portfolios: string[]) =>
      w.t.request({ method: 'POST', url: `/api/v1/rebalances/portfolios${query}`, payload: { portfolios } });
    const withP2 = json(await post('', [pid('p2')])).map((r: { rebalance_id: string }) => r.rebalance_id);
    expect(withP2).toEqual([ids[2], ids[0]]);
    // p3 is in both of Beta's rebalances, p2 in Alpha's and in the single-portfolio one: all four, newest first.
    const withAny = (query: string) =>
      post(query, [pid('p3'), pid('p2')]).then((res) => json(res).map((r: { rebalance_id: string }) => r.rebalance_id));
    expect(await withAny('?limit=2')).toEqual([ids[3], ids[2]]);
    expect(await withAny('?offset=2&limit=2')).toEqual([ids[1], ids[0]]);
    expectStatus(await post('', ['bad']), 400);
  });
});

describe('the default page of stored rebalances', () => {
  let many: World;
  const stored: string[] = [];
  beforeAll(async () => {
    many = await world();
    many.security(sid('a'), 'AAA', '10');
    many.holdings(pid('many'), { cash: '1000', securities: [] });
    await many.model('Many', [position(sid('a'), '0.5')], [pid('many')]);
    for (let i = 0; i < 12; i++) {
      const res = await many.t.request({ method: 'POST', url: `/api/v1/portfolio/${pid('many')}/rebalance` });
      if (res.statusCode !== 200) throw new Error(`rebalance ${i}: ${res.body}`);
      stored.push(json(res).rebalance_id);
    }
  });
  afterAll(async () => {
    await many.close();
  });

  it('holds the ten newest of twelve, and the rest follow from offset 10', async () => {
    const ids = (res: { body: string }) => json(res).map((r: { rebalance_id: string }) => r.rebalance_id);
    const newestFirst = [...stored].reverse();
    const first = await many.t.request({ method: 'GET', url: '/api/v1/rebalances' });
    expectStatus(first, 200);
    expect(ids(first)).toEqual(newestFirst.slice(0, 10));
    expect(ids(await many.t.request({ method: 'GET', url: '/api/v1/rebalances?offset=10' }))).toEqual(newestFirst.slice(10));
    const past = await many.t.request({ method: 'GET', url: '/api/v1/rebalances?offset=13' });
    expect([past.statusCode, json(past), past.headers['x-total-count']]).toEqual([200, [], '12']);
  });
});

describe('deleting a stored rebalance', () => {
  it('needs the current version (409 otherwise) and takes its portfolios with it', async () => {
    const stale = await w.t.request({ method: 'DELETE', url: `/api/v1/rebalance/${ids[1]}?version=2` });
    expectStatus(stale, 409);
    expect(json(stale).code).toBe('VERSION_CONFLICT');
    const res = await w.t.request({ method: 'DELETE', url: `/api/v1/rebalance/${ids[1]}?version=1` });
    expect([res.statusCode, json(res)]).toEqual([200, { message: `Rebalance ${ids[1]} deleted` }]);
    expectStatus(await get(`/api/v1/rebalance/${ids[1]}`), 404);
    const { ObjectId } = await import('mongodb');
    expect(await w.t.app.mongo.db.collection('rebalance_portfolios').countDocuments({ rebalance_id: new ObjectId(ids[1]) })).toBe(0);
    expectStatus(await w.t.request({ method: 'DELETE', url: `/api/v1/rebalance/${ids[1]}?version=1` }), 404);
  });
});
