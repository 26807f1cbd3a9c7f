// sort_by on the lists of stored rebalances (GET /rebalances, POST
// /rebalances/portfolios), as the portal sends it for its column sorting:
// rebalance_date (newest first by default), model_name, number_of_portfolios,
// rebalance_id, each + or -, ties stable, each backed by an index.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSortBy } from '../../src/domain/sorting.js';
import { listOrder, REBALANCE_SORT_FIELDS } from '../../src/modules/rebalancing/repository.js';
import { expectStatus, json, pid, position, sid } from '../helpers/fixtures.js';
import { createWorld, type World } from '../helpers/rebalancing.js';

let w: World;
let now = new Date('2026-11-20T10:00:00.000Z');
/** Stored in this order; their dates are not in that order, and two pairs tie. A rebalance id
 * carries the time its rebalance started (the sweeper reads it), so ids go by date: 4, 1, 0, 2, 3. */
const r: string[] = [];

beforeAll(async () => {
  w = await createWorld({}, { clock: { now: () => now } });
  w.security(sid('a'), 'AAA', '10');
  for (const p of ['b1', 'b2', 'a1', 'c1', 'c2', 'c3']) w.holdings(pid(p), { cash: '1000', securities: [] });
  const bravo = await w.model('Bravo', [position(sid('a'), '0.5')], [pid('b1'), pid('b2')]);
  const alpha = await w.model('alpha', [position(sid('a'), '0.5')], [pid('a1')]);
  const charlie = await w.model('Charlie', [position(sid('a'), '0.5')], [pid('c1'), pid('c2'), pid('c3')]);
  const store = async (at: string, url: string) => {
    now = new Date(at);
    const res = await w.t.request({ method: 'POST', url });
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.body}`);
    const body = json(res);
    r.push(Array.isArray(body) ? body[0].rebalance_id : body.rebalance_id);
  };
  await store('2026-11-20T10:00:00.000Z', `/api/v1/model/${bravo}/rebalance`); // r0: Bravo, 2 portfolios
  await store('2026-11-20T09:00:00.000Z', `/api/v1/model/${alpha}/rebalance`); // r1: alpha, 1
  await store('2026-11-20T11:00:00.000Z', `/api/v1/model/${charlie}/rebalance`); // r2: Charlie, 3
  await store('2026-11-20T11:00:00.000Z', `/api/v1/model/${bravo}/rebalance`); // r3: Bravo, 2 (same date as r2)
  await store('2026-11-20T08:00:00.000Z', `/api/v1/portfolio/${pid('c1')}/rebalance`); // r4: Charlie, 1
});
afterAll(async () => {
  await w.close();
});

const ids = (res: { body: string }) => json<{ rebalance_id: string }[]>(res).map((x) => r.indexOf(x.rebalance_id));
const list = (query: string) => w.t.request({ method: 'GET', url: `/api/v1/rebalances?${query}` });
const containing = (query: string, portfolios: string[]) =>
  w.t.request({ method: 'POST', url: `/api/v1/rebalances/portfolios?${query}`, payload: { portfolios } });

// Expected orders as indexes into r. Ties go by id in the direction of the first key.
const orders: [string, number[]][] = [
  ['', [3, 2, 0, 1, 4]],
  ['sort_by=', [3, 2, 0, 1, 4]],
  ['sort_by=-rebalance_date', [3, 2, 0, 1, 4]],
  ['sort_by=rebalance_date', [4, 1, 0, 2, 3]],
  ['sort_by=%2Brebalance_date', [4, 1, 0, 2, 3]],
  ['sort_by=+rebalance_date', [4, 1, 0, 2, 3]],
  ['sort_by=model_name', [0, 3, 4, 2, 1]],
  ['sort_by=-model_name', [1, 2, 4, 3, 0]],
  ['sort_by=number_of_portfolios', [4, 1, 0, 3, 2]],
  ['sort_by=-number_of_portfolios', [2, 3, 0, 1, 4]],
  ['sort_by=rebalance_id', [4, 1, 0, 2, 3]],
  ['sort_by=-rebalance_id', [3, 2, 0, 1, 4]],
  ['sort_by=model_name,-rebalance_date', [3, 0, 2, 4, 1]],
  ['sort_by=%20-number_of_portfolios%20,%20model_name%20,', [2, 3, 0, 4, 1]],
];

describe('GET /rebalances?sort_by', () => {
  it('sorts by each field, both ways, with stable ties, newest first by default', async () => {
    for (const [query, expected] of orders) {
      const res = await list(query);
      expectStatus(res, 200, query);
      expect(ids(res), query).toEqual(expected);
      expect(res.headers['x-total-count'], query).toBe('5');
    }
  });

  it('pages through the sorted order, and past its end to an empty page', async () => {
    expect(ids(await list('sort_by=model_name&offset=1&limit=2'))).toEqual([3, 4]);
    expect(ids(await list('sort_by=-number_of_portfolios&offset=3&limit=2'))).toEqual([1, 4]);
    const past = await list('sort_by=model_name&offset=5&limit=20');
    expect([past.statusCode, json(past), past.headers['x-total-count']]).toEqual([200, [], '5']);
  });

  it.each([
    ['sort_by=name', 'sort_by field "name" is not one of rebalance_date, model_name, number_of_portfolios, rebalance_id'],
    ['sort_by=created_at', 'sort_by field "created_at" is not one of rebalance_date, model_name, number_of_portfolios, rebalance_id'],
    ['sort_by=model_name,-model_name', 'sort_by names "model_name" more than once'],
    ['sort_by=*model_name', 'sort_by item "*model_name" is not a field name with an optional + or - prefix'],
  ])('answers 400 for %s', async (query, message) => {
    const res = await list(query);
    expectStatus(res, 400);
    expect(json(res)).toMatchObject({ code: 'VALIDATION_ERROR', message, detail: message, details: [{ path: 'sort_by' }] });
  });
});

describe('POST /rebalances/portfolios?sort_by', () => {
  it('sorts the rebalances that contain the portfolios by each field, with the total', async () => {
    // b1 is in r0 and r3; c1 in r2 and r4.
    const cases: [string, number[]][] = [
      ['', [3, 2, 0, 4]],
      ['sort_by=rebalance_date', [4, 0, 2, 3]],
      ['sort_by=model_name', [0, 3, 4, 2]],
      ['sort_by=-model_name', [2, 4, 3, 0]],
      ['sort_by=-number_of_portfolios', [2, 3, 0, 4]],
      ['sort_by=rebalance_id', [4, 0, 2, 3]],
      ['sort_by=model_name&offset=1&limit=2', [3, 4]],
    ];
    for (const [query, expected] of cases) {
      const res = await containing(query, [pid('b1'), pid('c1')]);
      expectStatus(res, 200, query);
      expect(ids(res), query).toEqual(expected);
      expect(res.headers['x-total-count'], query).toBe('4');
    }
    const bad = await containing('sort_by=size', [pid('b1')]);
    expect([bad.statusCode, json(bad).code]).toEqual([400, 'VALIDATION_ERROR']);
  });
});

describe('indexes', () => {
  it('back every one-field sort, either way round, on both lists', async () => {
    const indexes = (await w.t.app.mongo.db.collection('rebalances').listIndexes().toArray()).map((i) => JSON.stringify(i.key));
    const reverse = (order: Record<string, number>) => Object.fromEntries(Object.entries(order).map(([k, v]) => [k, -v]));
    for (const field of REBALANCE_SORT_FIELDS) {
      for (const sign of ['', '-']) {
        const order = listOrder(parseSortBy(`${sign}${field}`, REBALANCE_SORT_FIELDS));
        // An index serves a sort in its own order or in the exact reverse.
        const served = (key: Record<string, number>) =>
          indexes.includes(JSON.stringify(key)) || indexes.includes(JSON.stringify(reverse(key)));
        expect(served(order), `GET /rebalances sort_by=${sign}${field}`).toBe(true);
        // With portfolios: {$in} the index scans each portfolio in order and merges; the direction of that prefix is free.
        expect(
          served({ portfolios: 1, ...order }) || served({ portfolios: -1, ...order }),
          `POST /rebalances/portfolios sort_by=${sign}${field}`,
        ).toBe(true);
      }
    }
  });
});
