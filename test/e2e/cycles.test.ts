// Scheduled rebalance cycles across replicas: one cycle per tick, never
// overlapping, taken over when a replica dies, recorded and readable.
import { randomBytes } from 'node:crypto';
import { ObjectId } from 'mongodb';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { json } from '../helpers/fixtures.js';
import { pid, position, sid } from '../helpers/rebalancing.js';
import { startSimulator, type Simulator } from '../../tools/simulator/simulator.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let sim: Simulator;
const apps: TestApp[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
  await sim.stop();
});

/** Replicas on one database, a schedule every second, and a small book. */
async function replicas(names: string[], env: Record<string, string> = {}): Promise<TestApp[]> {
  sim = await startSimulator({ securities: 10, portfolios: 0 });
  sim.book.setSecurity(sid('a'), 'AAA');
  sim.book.setPrice('AAA', '10');
  const db = `test_${randomBytes(6).toString('hex')}`;
  const started: TestApp[] = [];
  for (const name of names) {
    const app = await createTestApp({
      ...sim.env(),
      MONGODB_DB: db,
      REBALANCE_SCHEDULE: '* * * * * *',
      REPLICA_ID: name,
      CYCLE_LEASE_TTL_MS: '1500',
      CLOCK_SKEW_MS: '100',
      UPSTREAM_BACKOFF_MS: '1',
      ...env,
    });
    started.push(app);
    apps.push(app);
  }
  for (let i = 0; i < 3; i++) sim.book.setHoldings(pid(`c${i}`), { cash: '1000', securities: [] });
  const res = await started[0]!.request({
    method: 'POST',
    url: '/api/v1/models',
    payload: { name: 'Scheduled', positions: [position(sid('a'), '0.5')], portfolios: [pid('c0'), pid('c1'), pid('c2')] },
  });
  expect(res.statusCode).toBe(201);
  return started;
}

const cycles = async (app: TestApp) => app.app.mongo.db.collection('cycles').find({}).sort({ started_at: 1 }).toArray();

describe('scheduled cycles', () => {
  it('runs each tick exactly once across two replicas, and stores and records each cycle', async () => {
    const [a, b] = await replicas(['replica-a', 'replica-b']);
    a!.app.scheduler.start();
    b!.app.scheduler.start();
    await sleep(4500);
    await a!.app.scheduler.stop(5000);
    await b!.app.scheduler.stop(5000);

    const ran = await cycles(a!);
    expect(ran.length).toBeGreaterThanOrEqual(3);
    const ticks = ran.map((c) => c.tick.toISOString());
    expect(new Set(ticks).size).toBe(ticks.length);
    for (const c of ran) expect(c).toMatchObject({ status: 'succeeded', models: 1, portfolios: 3, infeasible: 0, trigger: 'schedule' });
    // Which replica wins a tick is a race; that each cycle names the replica that ran it is not.
    for (const c of ran) expect(['replica-a', 'replica-b']).toContain(c.replica);
    // Every cycle stored a rebalance.
    const stored = await a!.app.mongo.db.collection('rebalances').countDocuments();
    expect(stored).toBe(ran.length);

    const listed = await a!.request({ method: 'GET', url: '/api/v1/cycles?limit=100' });
    expect(listed.headers['x-total-count']).toBe(String(ran.length));
    const newest = json(listed)[0];
    expect(newest).toMatchObject({ status: 'succeeded', models: 1, portfolios: 3, rebalance_ids: [expect.stringMatching(/^[0-9a-f]{24}$/)] });
    const one = await a!.request({ method: 'GET', url: `/api/v1/cycle/${newest.cycle_id}` });
    expect(json(one)).toEqual(newest);
    expect((await a!.request({ method: 'GET', url: `/api/v1/cycle/${'0'.repeat(24)}` })).statusCode).toBe(404);
  });

  it('rebalances every model that has portfolios in one cycle, and skips the ones without', async () => {
    const [a] = await replicas(['only']);
    for (const p of ['d0', 'd1']) sim.book.setHoldings(pid(p), { cash: '500', securities: [] });
    const second = await a!.request({
      method: 'POST',
      url: '/api/v1/models',
      payload: { name: 'Second', positions: [position(sid('a'), '0.25')], portfolios: [pid('d0'), pid('d1')] },
    });
    const empty = await a!.request({ method: 'POST', url: '/api/v1/models', payload: { name: 'No portfolios', positions: [position(sid('a'), '0.5')] } });
    expect([second.statusCode, empty.statusCode]).toEqual([201, 201]);

    const cycle = await a!.app.scheduler.runOnce();
    expect(cycle).toMatchObject({ status: 'succeeded', models: 2, portfolios: 5, infeasible: 0 });
    const stored = json(await a!.request({ method: 'GET', url: '/api/v1/rebalances?limit=100' })) as { model_name: string; number_of_portfolios: number }[];
    expect(stored.map((r) => [r.model_name, r.number_of_portfolios]).sort()).toEqual([
      ['Scheduled', 3],
      ['Second', 2],
    ]);
    const models = json(await a!.request({ method: 'GET', url: '/api/v1/models' })) as { name: string; last_rebalance_date: string | null }[];
    expect(models.find((m) => m.name === 'No portfolios')!.last_rebalance_date).toBeNull();
  });

  it('never overlaps cycles, even when one outlasts the interval', async () => {
    const [a, b] = await replicas(['slow-a', 'slow-b'], { REBALANCE_CONCURRENCY: '1' });
    sim.inject('accounting', { latencyMs: 600 });
    a!.app.scheduler.start();
    b!.app.scheduler.start();
    await sleep(5000);
    await a!.app.scheduler.stop(10_000);
    await b!.app.scheduler.stop(10_000);

    const ran = await cycles(a!);
    expect(ran.length).toBeGreaterThanOrEqual(2);
    for (const c of ran) expect(c.ended_at.getTime() - c.started_at.getTime()).toBeGreaterThan(1000);
    for (let i = 1; i < ran.length; i++) expect(ran[i]!.started_at.getTime()).toBeGreaterThanOrEqual(ran[i - 1]!.ended_at.getTime());
  });

  it('takes over from a replica that died holding the lease once the lease expires', async () => {
    const [b] = await replicas(['survivor']);
    const db = b!.app.mongo.db;
    const dead = new ObjectId();
    const expires = new Date(Date.now() + 1500);
    await db.collection('cycles').insertOne({
      _id: dead,
      replica: 'dead-replica',
      trigger: 'schedule',
      tick: new Date(Date.now() - 5000),
      started_at: new Date(Date.now() - 5000),
      ended_at: null,
      status: 'running',
      models: 0,
      portfolios: 0,
      infeasible: 0,
      upstream_failures: 0,
      orders_submitted: 0,
      orders_failed: 0,
      rebalance_ids: [],
      errors: [],
    });
    await db.collection('leases').insertOne({
      _id: 'rebalance-cycle' as never,
      holder: 'dead-replica',
      cycle_id: dead.toHexString(),
      expires_at: expires,
      last_tick: new Date(Date.now() - 5000),
      acquired_at: new Date(Date.now() - 5000),
    });
    b!.app.scheduler.start();
    await sleep(4000);
    await b!.app.scheduler.stop(5000);

    const ran = (await cycles(b!)).filter((c) => c.replica === 'survivor');
    expect(ran.length).toBeGreaterThanOrEqual(1);
    // Nothing ran while the dead replica's lease was valid (plus the skew allowance).
    expect(ran[0]!.started_at.getTime()).toBeGreaterThanOrEqual(expires.getTime() + 100);
    expect(await db.collection('cycles').findOne({ _id: dead })).toMatchObject({ status: 'abandoned' });
  });

  it('records a cycle still running past the shutdown grace period as interrupted and frees the lease', async () => {
    const [a] = await replicas(['stopping'], { REBALANCE_CONCURRENCY: '1' });
    sim.inject('accounting', { latencyMs: 1500 });
    a!.app.scheduler.start();
    await sleep(1500);
    expect(a!.app.scheduler.isRunning()).toBe(true);
    await a!.app.scheduler.stop(200);
    const ran = await cycles(a!);
    expect(ran.at(-1)).toMatchObject({ status: 'interrupted', errors: ['the replica shut down before the cycle finished'] });
    expect(await a!.app.mongo.db.collection('leases').findOne({ _id: 'rebalance-cycle' as never })).toMatchObject({ holder: null });
  });
});
