// One paging rule on every paged list (api.md, Models, paging): an offset at or
// past the end is 200 [] with the total in x-total-count, which the portal
// relies on when items are deleted between its page loads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus, json, pid, position, sid } from '../helpers/fixtures.js';
import { createWorld, type World } from '../helpers/rebalancing.js';

let w: World;
let rebalanceId: string;
/** Cycles run at most once a second (their tick); the clock moves on a second between them. */
let shift = 0;

beforeAll(async () => {
  w = await createWorld({}, { clock: { now: () => new Date(Date.now() + shift) } });
  w.security(sid('a'), 'AAA', '20');
  w.security(sid('b'), 'BBB', '50');
  for (const p of ['g1', 'g2']) w.holdings(pid(p), { cash: '10000', securities: [] });
  const model = await w.model('Paged', [position(sid('a'), '0.4'), position(sid('b'), '0.4')], [pid('g1'), pid('g2')]);
  await w.model('Paged too', [], []);
  await w.model('Paged three', [], []);
  const rebalanced = await w.t.request({ method: 'POST', url: `/api/v1/model/${model}/rebalance` });
  rebalanceId = json(rebalanced)[0].rebalance_id;
  expect(await w.t.app.scheduler.runOnce()).toMatchObject({ status: 'succeeded' });
  shift += 1000;
  expect(await w.t.app.scheduler.runOnce()).toMatchObject({ status: 'succeeded' });
  const submitted = await w.t.request({ method: 'POST', url: `/api/v1/rebalance/${rebalanceId}/submit` });
  expect(json(submitted)).toMatchObject({ accepted: 4 });
});
afterAll(async () => {
  await w.close();
});

interface List {
  readonly name: string;
  readonly total: number;
  get(query: string): Promise<{ statusCode: number; body: string; headers: Record<string, unknown> }>;
}

const lists = (): List[] => [
  { name: 'GET /models', total: 3, get: (q) => w.t.request({ method: 'GET', url: `/api/v1/models${q}` }) },
  { name: 'GET /rebalances', total: 3, get: (q) => w.t.request({ method: 'GET', url: `/api/v1/rebalances${q}` }) },
  {
    name: 'POST /rebalances/portfolios',
    total: 3,
    get: (q) => w.t.request({ method: 'POST', url: `/api/v1/rebalances/portfolios${q}`, payload: { portfolios: [pid('g2')] } }),
  },
  { name: 'GET /cycles', total: 2, get: (q) => w.t.request({ method: 'GET', url: `/api/v1/cycles${q}` }) },
  {
    name: 'GET /rebalance/{id}/orders',
    total: 4,
    get: (q) => w.t.request({ method: 'GET', url: `/api/v1/rebalance/${rebalanceId}/orders${q}` }),
  },
];

describe('every paged list', () => {
  it('carries x-total-count on every page', async () => {
    for (const list of lists()) {
      for (const query of ['', '?offset=0&limit=2', `?offset=${list.total - 1}&limit=20`]) {
        const res = await list.get(query);
        expectStatus(res, 200, `${list.name}${query}`);
        expect(res.headers['x-total-count'], `${list.name}${query}`).toBe(String(list.total));
        expect(json(res).length, `${list.name}${query}`).toBeGreaterThan(0);
      }
    }
  });

  it('answers 200 [] with x-total-count for an offset at or past the end, as the portal expects', async () => {
    for (const list of lists()) {
      for (const offset of [list.total, list.total + 1, list.total + 20, Number.MAX_SAFE_INTEGER]) {
        for (const query of [`?offset=${offset}`, `?offset=${offset}&limit=20`]) {
          const res = await list.get(query);
          expect([res.statusCode, json(res)], `${list.name}${query}`).toEqual([200, []]);
          expect(res.headers['x-total-count'], `${list.name}${query}`).toBe(String(list.total));
        }
      }
    }
  });

  it('answers the next page after deletions between page loads with 200 [], not an error (models, rebalances)', async () => {
    const firstModels = await w.t.request({ method: 'GET', url: '/api/v1/models?offset=0&limit=2' });
    expect(json(firstModels)).toHaveLength(2);
    for (const m of json(firstModels) as { model_id: string; name: string; version: number }[]) {
      if (m.name === 'Paged') continue;
      expectStatus(await w.t.request({ method: 'DELETE', url: `/api/v1/model/${m.model_id}?version=${m.version}` }), 204);
    }
    const nextModels = await w.t.request({ method: 'GET', url: '/api/v1/models?offset=2&limit=2' });
    expect([nextModels.statusCode, json(nextModels), nextModels.headers['x-total-count']]).toEqual([200, [], '2']);

    const firstRebalances = await w.t.request({ method: 'GET', url: '/api/v1/rebalances?offset=0&limit=2&sort_by=-rebalance_date' });
    for (const r of json(firstRebalances) as { rebalance_id: string; version: number }[]) {
      const res = await w.t.request({ method: 'DELETE', url: `/api/v1/rebalance/${r.rebalance_id}?version=${r.version}` });
      expectStatus(res, 200);
    }
    const nextRebalances = await w.t.request({ method: 'GET', url: '/api/v1/rebalances?offset=2&limit=2&sort_by=-rebalance_date' });
    expect([nextRebalances.statusCode, json(nextRebalances), nextRebalances.headers['x-total-count']]).toEqual([200, [], '1']);
  });
});
