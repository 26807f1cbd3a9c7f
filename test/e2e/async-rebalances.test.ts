// Asynchronous model rebalances (issue 17): 202 with a Location at once, the
// status and progress of a running rebalance, completion, failure (nothing
// stored), cancellation, asynchronous dry runs kept for a while, and the
// portfolios of a stored rebalance in pages. A slow upstream is a call held
// open until the test lets it through; time is a manual clock.
import { ObjectId } from 'mongodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../helpers/app.js';
import { gate, type ManualClock, manualClock } from '../helpers/clock.js';
import { databaseRelay } from '../helpers/database-relay.js';
import { expectStatus, json, pid, position, sid } from '../helpers/fixtures.js';
import { createWorld, type World } from '../helpers/rebalancing.js';

let w: World;
let clock: ManualClock;
let modelId: string;
const PORTFOLIOS = Array.from({ length: 4 }, (_, i) => pid(`as${i}`));
const TTL_MS = 60_000;

beforeAll(async () => {
  clock = manualClock(new Date());
  // One portfolio at a time, so a held call stops the rebalance at a known portfolio.
  w = await createWorld({ REBALANCE_CONCURRENCY: '1', REBALANCE_DRY_RUN_TTL_MS: String(TTL_MS) }, { clock });
  w.security(sid('as'), 'ASY', '25');
  for (const p of PORTFOLIOS) w.holdings(p, { cash: '10000', securities: [] });
  modelId = await w.model('Asynchronous', [position(sid('as'), '0.5')], PORTFOLIOS);
});
afterAll(async () => {
  await w.close();
});
afterEach(() => {
  w.sim.heal('accounting');
});

const get = (url: string) => w.t.request({ method: 'GET', url });
const startAsync = async (query = 'async=true', headers: Record<string, string> = {}) => {
  const res = await w.t.request({ method: 'POST', url: `/api/v1/model/${modelId}/rebalance?${query}`, headers });
  expectStatus(res, 202, 'asynchronous rebalance');
  return { res, body: json(res) };
};
/** Polls the rebalance until it is no longer running; its last answer. */
const settled = async (id: string) => {
  await expect.poll(async () => json(await get(`/api/v1/rebalance/${id}`)).status, { timeout: 30_000, interval: 20 }).not.toBe('running');
  return json(await get(`/api/v1/rebalance/${id}`));
};
const listedIds = async () => (json(await get('/api/v1/rebalances?limit=100')) as { rebalance_id: string }[]).map((r) => r.rebalance_id);
/** Portfolio documents written under this rebalance id, published or not. */
const documentsOf = (id: string) => w.t.app.mongo.db.collection('rebalance_portfolios').countDocuments({ rebalance_id: new ObjectId(id) });

describe('asynchronous model rebalances', () => {
  it('answers 202 with a Location at once; its progress rises to the total while it runs; then it is the stored rebalance, complete', async () => {
    const held = gate();
    w.sim.inject('accounting', { after: 2, times: 1, hold: held.hold });
    const { res, body } = await startAsync();
    expect(res.headers.location).toBe(`/api/v1/rebalance/${body.rebalance_id}`);
    expect(body).toMatchObject({
      rebalance_id: expect.stringMatching(/^[0-9a-f]{24}$/),
      model_id: modelId,
      status: 'running',
      dry_run: false,
      progress: { done: 0, total: 4, infeasible: 0 },
      started_at: expect.stringMatching(/Z$/),
    });
    const id = body.rebalance_id as string;

    // Two portfolios done, the third held: running, half way, no portfolios, not listed.
    await held.arrived;
    const running = json(await get(`/api/v1/rebalance/${id}`));
    expect(running).toMatchObject({ rebalance_id: id, status: 'running', progress: { done: 2, total: 4, infeasible: 0 } });
    expect(running).not.toHaveProperty('portfolios');
    expect(await listedIds()).not.toContain(id);
    const early = await get(`/api/v1/rebalance/${id}/portfolios`);
    expectStatus(early, 409);
    expect(json(early).message).toContain('running');

    held.open();
    const done = await settled(id);
    expect(done).toMatchObject({ rebalance_id: id, status: 'complete', model_id: modelId, number_of_portfolios: 4, version: 1 });
    expect(done.portfolios.map((p: { portfolio_id: string }) => p.portfolio_id)).toEqual(PORTFOLIOS);
    expect(await listedIds()).toContain(id);
  });

  it('Prefer: respond-async does the same', async () => {
    const { res, body } = await startAsync('', { prefer: 'respond-async, wait=5' });
    expect(res.headers['preference-applied']).toBe('respond-async');
    expect((await settled(body.rebalance_id)).status).toBe('complete');
  });

  it('the synchronous call is unchanged: without async it answers 200 with the RebalanceDTO[]', async () => {
    const res = await w.t.request({ method: 'POST', url: `/api/v1/model/${modelId}/rebalance` });
    expectStatus(res, 200);
    expect(json(res)).toHaveLength(4);
  });

  it('takes the same body as the synchronous call: cash flows are invested, and a stranger portfolio is refused at once', async () => {
    const flows = { cash_flows: { [PORTFOLIOS[0]!]: '10000' } };
    const res = await w.t.request({ method: 'POST', url: `/api/v1/model/${modelId}/rebalance?async=true`, payload: flows });
    const done = await settled(json(expectStatus(res, 202)).rebalance_id);
    const [first, second] = done.portfolios;
    // MV 10 000 + 10 000: half of it in ASY at 25 is 400 shares; the others, without a flow, buy 200.
    expect(first).toMatchObject({ cash_flow: 10000, market_value: 20000 });
    expect(first.positions[0]).toMatchObject({ trade_quantity: 400 });
    expect(second.positions[0]).toMatchObject({ trade_quantity: 200 });
    const stranger = { cash_flows: { [pid('nobody')]: '1' } };
    const refused = await w.t.request({ method: 'POST', url: `/api/v1/model/${modelId}/rebalance?async=true`, payload: stranger });
    expect(json(expectStatus(refused, 400)).message).toContain('does not list');
  });

  it('a job another replica marked abandoned while its heartbeats were held up never publishes', async () => {
    const other = await createTestApp({ ...w.sim.env(), MONGODB_DB: w.t.config.mongodb.dbName, REPLICA_ID: 'other' }, { clock });
    try {
      const held = gate();
      w.sim.inject('accounting', { after: 3, times: 1, hold: held.hold });
      const { body } = await startAsync();
      const id = body.rebalance_id as string;
      await held.arrived; // three portfolios done, the last one held
      // Past REBALANCE_JOB_STALE_MS (60 s) without a heartbeat: the other replica's sweep marks it abandoned.
      clock.advance(61_000);
      expect(await other.app.maintenance.sweep()).toMatchObject({ abandonedRebalances: 1 });
      held.open();
      // The owner reads its own job as running until it has stopped; then it reads as the sweep recorded it.
      expect(await settled(id)).toMatchObject({ status: 'abandoned' });
      expect(await listedIds()).not.toContain(id);
      expect(await documentsOf(id)).toBe(0);
    } finally {
      await other.close();
    }
  });

  it('an unknown model is answered at once, 404, with nothing started', async () => {
    const res = await w.t.request({ method: 'POST', url: '/api/v1/model/0123456789abcdef01234567/rebalance?async=true' });
    expectStatus(res, 404);
  });

  it('an upstream that goes down mid-way: failed, with the error in the one shape, and nothing stored', async () => {
    w.sim.inject('accounting', { after: 2, status: 503 });
    const { body } = await startAsync();
    const failed = await settled(body.rebalance_id);
    expect(failed).toMatchObject({
      rebalance_id: body.rebalance_id,
      status: 'failed',
      progress: { total: 4 },
      error: {
        status_code: 503,
        code: 'UPSTREAM_UNAVAILABLE',
        message: expect.stringContaining('Accounting'),
        correlation_id: expect.any(String),
      },
    });
    expect(failed.progress.done).toBeLessThan(4);
    expect(await listedIds()).not.toContain(body.rebalance_id);
    expect(await documentsOf(body.rebalance_id)).toBe(0);
  });

  it('DELETE of a running rebalance cancels it: nothing stored, and it reads as cancelled', async () => {
    const held = gate();
    w.sim.inject('accounting', { after: 1, times: 1, hold: held.hold });
    const { body } = await startAsync();
    const id = body.rebalance_id as string;
    await held.arrived;
    const cancelled = await w.t.request({ method: 'DELETE', url: `/api/v1/rebalance/${id}` });
    expectStatus(cancelled, 200);
    expect(json(cancelled).message).toContain('cancelled');
    held.open();
    expect(json(await get(`/api/v1/rebalance/${id}`))).toMatchObject({ status: 'cancelled', progress: { done: 1, total: 4 } });
    expect(await documentsOf(id)).toBe(0);
    expect(await listedIds()).not.toContain(id);
    // A stored rebalance still needs its version to be deleted.
    const noVersion = await w.t.request({ method: 'DELETE', url: `/api/v1/rebalance/${(await listedIds())[0]}` });
    expectStatus(noVersion, 400);
    expect(json(noVersion).message).toBe('version is required (the version you last read)');
  });

  it('an asynchronous dry run: its result is readable (dry_run, not listed) until it expires, then removed', async () => {
    const { body } = await startAsync('async=true&dry_run=true');
    expect(body).toMatchObject({ dry_run: true, status: 'running' });
    const id = body.rebalance_id as string;
    const result = await settled(id);
    expect(result).toMatchObject({ rebalance_id: id, status: 'complete', dry_run: true, number_of_portfolios: 4 });
    expect(Date.parse(result.expires_at)).toBe(clock.now().getTime() + TTL_MS);
    expect(result.portfolios).toHaveLength(4);
    expect(result.portfolios[0].positions[0]).toMatchObject({ security_id: sid('as'), transaction_type: 'BUY', trade_quantity: 200 });
    expect(await listedIds()).not.toContain(id);
    const page = await get(`/api/v1/rebalance/${id}/portfolios?offset=3`);
    expect(json(page).map((p: { portfolio_id: string }) => p.portfolio_id)).toEqual([PORTFOLIOS[3]]);

    // A sweep before it expires keeps it; after, removes it.
    await w.t.app.maintenance.sweep();
    expectStatus(await get(`/api/v1/rebalance/${id}`), 200);
    clock.advance(TTL_MS + 1);
    expect(await w.t.app.maintenance.sweep()).toMatchObject({ expiredDryRuns: 1 });
    expectStatus(await get(`/api/v1/rebalance/${id}`), 404);
    expect(await documentsOf(id)).toBe(0);
  });
});

describe('a stored rebalance read in pages', () => {
  let id: string;
  beforeAll(async () => {
    const res = await w.t.request({ method: 'POST', url: `/api/v1/model/${modelId}/rebalance` });
    expectStatus(res, 200);
    id = json(res)[0].rebalance_id;
  });
  const page = async (query: string) => {
    const res = await get(`/api/v1/rebalance/${id}/portfolios${query}`);
    expectStatus(res, 200);
    return { total: res.headers['x-total-count'], items: json(res) as { portfolio_id: string; positions?: unknown[] }[] };
  };

  it('offset and limit page the portfolios in the model order, x-total-count the total; neither: all of them', async () => {
    const all = await page('');
    expect(all.total).toBe('4');
    expect(all.items.map((p) => p.portfolio_id)).toEqual(PORTFOLIOS);
    expect(all.items[0]).not.toHaveProperty('positions');
    const middle = await page('?offset=1&limit=2');
    expect(middle.items.map((p) => p.portfolio_id)).toEqual(PORTFOLIOS.slice(1, 3));
    expect(middle.total).toBe('4');
    expect((await page('?limit=1')).items.map((p) => p.portfolio_id)).toEqual([PORTFOLIOS[0]]);
    expect((await page('?offset=4')).items).toEqual([]);
    expect((await page('?offset=9&limit=5')).items).toEqual([]);
  });

  it('positions only when asked', async () => {
    const withPositions = await page('?offset=2&limit=1&positions=true');
    expect(withPositions.items).toHaveLength(1);
    expect(withPositions.items[0]!.positions).toEqual([
      expect.objectContaining({ security_id: sid('as'), transaction_type: 'BUY', trade_quantity: 200 }),
    ]);
  });

  it('refuses a limit out of range, as every paged list does', async () => {
    for (const query of ['?limit=0', '?limit=101', '?offset=-1', '?positions=yes']) {
      expectStatus(await get(`/api/v1/rebalance/${id}/portfolios${query}`), 400, query);
    }
  });
});

describe('an asynchronous dry run whose portfolios cannot be written', () => {
  it('reads as failed, with the database named (not the cancellation the failed write caused), and leaves nothing', async () => {
    const relay = await databaseRelay();
    const r = await createWorld({ MONGODB_URI: relay.uri, MONGODB_TIMEOUT_MS: '2000' });
    try {
      r.security(sid('dw'), 'DRW', '10');
      const ids = Array.from({ length: 3 }, (_, i) => pid(`dw${i}`));
      for (const p of ids) r.holdings(p, { cash: '1000', securities: [] });
      const model = await r.model('Dry writes', [position(sid('dw'), '0.5')], ids);
      relay.block('insert', 'rebalance_portfolios');
      const started = await r.t.request({ method: 'POST', url: `/api/v1/model/${model}/rebalance?async=true&dry_run=true` });
      expectStatus(started, 202, 'asynchronous dry run');
      const id = json(started).rebalance_id as string;
      const read = async () => json(await r.t.request({ method: 'GET', url: `/api/v1/rebalance/${id}` }));
      await expect.poll(async () => (await read()).status, { timeout: 30_000, interval: 20 }).toBe('failed');
      expect((await read()).error).toMatchObject({
        status_code: 503,
        code: 'UPSTREAM_UNAVAILABLE',
        message: expect.stringContaining('MongoDB'),
      });
      relay.unblock();
      expect(await r.t.app.mongo.db.collection('rebalance_portfolios').countDocuments({ rebalance_id: new ObjectId(id) })).toBe(0);
    } finally {
      await r.close();
      await relay.close();
    }
  });
});

describe('an asynchronous rebalance stored, its orders not submitted', () => {
  it('reads as complete, with the error that says why its orders were not sent and how to send them again', async () => {
    const relay = await databaseRelay();
    const r = await createWorld({ MONGODB_URI: relay.uri, MONGODB_TIMEOUT_MS: '2000', ORDER_SUBMISSION: 'on' });
    try {
      r.security(sid('ord'), 'ORD', '10');
      r.holdings(pid('ord0'), { cash: '1000', securities: [] });
      const model = await r.model('Orders', [position(sid('ord'), '0.5')], [pid('ord0')]);
      // Recording the orders fails (the database drops the connection there); everything else goes through.
      relay.block('insert', 'order_submissions');
      const started = await r.t.request({ method: 'POST', url: `/api/v1/model/${model}/rebalance?async=true&submit=true` });
      expectStatus(started, 202, 'asynchronous rebalance');
      const id = json(started).rebalance_id as string;
      const read = async () => json(await r.t.request({ method: 'GET', url: `/api/v1/rebalance/${id}` }));
      // Complete once published; the submission that follows fails a moment later, and its error shows then.
      await expect.poll(async () => (await read()).error, { timeout: 30_000, interval: 20 }).toBeDefined();
      const answer = await read();
      expect(answer).toMatchObject({
        rebalance_id: id,
        status: 'complete',
        number_of_portfolios: 1,
        orders: null,
        error: { status_code: 503, code: 'UPSTREAM_UNAVAILABLE' },
      });
      expect(answer.portfolios).toHaveLength(1);
      expect(answer.error.message).toMatch(new RegExp(`^Rebalance ${id} is stored, but submitting its orders failed: MongoDB`));
      expect(answer.error.message).toContain(`resubmit with POST /api/v1/rebalance/${id}/submit`);
      // As the message says: sent again once the database takes it.
      relay.unblock();
      const again = await r.t.request({ method: 'POST', url: `/api/v1/rebalance/${id}/submit` });
      expectStatus(again, 200, 'resubmission');
      expect((await read()).orders).toMatchObject({ accepted: 1 });
    } finally {
      await r.close();
      await relay.close();
    }
  });
});
