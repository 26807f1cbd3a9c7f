// Scheduled rebalance cycles across replicas: one cycle per tick, never
// overlapping, taken over when a replica dies, recorded and readable. Ticks
// are fired explicitly with their names, time is a manual clock, and a slow
// upstream is a call held open until the test lets it through: no sleeps.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createCycleRepository } from '../../src/modules/scheduling/cycles.js';
import { createLease } from '../../src/modules/scheduling/lease.js';
import { type Simulator, startSimulator } from '../../tools/simulator/simulator.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { gate, type ManualClock, manualClock } from '../helpers/clock.js';
import { expectStatus, json, pid, position, sid } from '../helpers/fixtures.js';

let sim: Simulator;
const apps: TestApp[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
  await sim.stop();
});

const LEASE_TTL_MS = 1500;
const SKEW_MS = 100;

/** Replicas on one database sharing one manual clock, and a small book. */
async function replicas(names: string[], clock: ManualClock, env: Record<string, string> = {}): Promise<TestApp[]> {
  sim = await startSimulator({ securities: 10, portfolios: 0 });
  sim.book.setSecurity(sid('a'), 'AAA');
  sim.book.setPrice('AAA', '10');
  const db = `test_${randomBytes(6).toString('hex')}`;
  const started: TestApp[] = [];
  for (const name of names) {
    const app = await createTestApp(
      {
        ...sim.env(),
        MONGODB_DB: db,
        REBALANCE_SCHEDULE: '* * * * * *',
        REPLICA_ID: name,
        CYCLE_LEASE_TTL_MS: String(LEASE_TTL_MS),
        CLOCK_SKEW_MS: String(SKEW_MS),
        UPSTREAM_BACKOFF_MS: '1',
        ...env,
      },
      { clock },
    );
    started.push(app);
    apps.push(app);
  }
  for (let i = 0; i < 3; i++) sim.book.setHoldings(pid(`c${i}`), { cash: '1000', securities: [] });
  const res = await started[0]!.request({
    method: 'POST',
    url: '/api/v1/models',
    payload: { name: 'Scheduled', positions: [position(sid('a'), '0.5')], portfolios: [pid('c0'), pid('c1'), pid('c2')] },
  });
  expectStatus(res, 201);
  return started;
}

const cycles = async (app: TestApp) => app.app.mongo.db.collection('cycles').find({}).sort({ started_at: 1 }).toArray();

describe('scheduled cycles', () => {
  it('runs each tick exactly once across two replicas, and stores and records each cycle', async () => {
    const clock = manualClock();
    const [a, b] = await replicas(['replica-a', 'replica-b'], clock);
    const ticks = [clock.now(), clock.advance(1000), clock.advance(1000)];
    for (const tick of ticks) {
      // Both replicas fire the same tick at once; one of them runs it.
      const both = await Promise.all([a!.app.scheduler.tick(tick), b!.app.scheduler.tick(tick)]);
      expect(both.filter((c) => c !== null)).toHaveLength(1);
    }
    // A replica whose timer fires late never runs a tick again.
    expect(await b!.app.scheduler.tick(ticks[1]!)).toBeNull();

    const ran = await cycles(a!);
    expect(ran.map((c) => c.tick.toISOString())).toEqual(ticks.map((t) => t.toISOString()));
    for (const c of ran) expect(c).toMatchObject({ status: 'succeeded', models: 1, portfolios: 3, infeasible: 0, trigger: 'schedule' });
    // Which replica wins a tick is a race; that each cycle names the replica that ran it is not.
    for (const c of ran) expect(['replica-a', 'replica-b']).toContain(c.replica);
    // Every cycle stored a rebalance.
    const stored = await a!.app.mongo.db.collection('rebalances').countDocuments();
    expect(stored).toBe(ran.length);

    const listed = expectStatus(await a!.request({ method: 'GET', url: '/api/v1/cycles?limit=100' }), 200);
    expect(listed.headers['x-total-count']).toBe(String(ran.length));
    const newest = json(listed)[0];
    expect(newest).toMatchObject({
      status: 'succeeded',
      models: 1,
      portfolios: 3,
      rebalance_ids: [expect.stringMatching(/^[0-9a-f]{24}$/)],
    });
    const one = expectStatus(await a!.request({ method: 'GET', url: `/api/v1/cycle/${newest.cycle_id}` }), 200);
    expect(json(one)).toEqual(newest);
    expectStatus(await a!.request({ method: 'GET', url: `/api/v1/cycle/${'0'.repeat(24)}` }), 404);
  });

  it('rebalances every model that has portfolios in one cycle, and skips the ones without', async () => {
    const [a] = await replicas(['only'], manualClock());
    for (const p of ['d0', 'd1']) sim.book.setHoldings(pid(p), { cash: '500', securities: [] });
    const second = await a!.request({
      method: 'POST',
      url: '/api/v1/models',
      payload: { name: 'Second', positions: [position(sid('a'), '0.25')], portfolios: [pid('d0'), pid('d1')] },
    });
    const empty = await a!.request({
      method: 'POST',
      url: '/api/v1/models',
      payload: { name: 'No portfolios', positions: [position(sid('a'), '0.5')] },
    });
    expectStatus(second, 201);
    expectStatus(empty, 201);

    const cycle = await a!.app.scheduler.runOnce();
    expect(cycle).toMatchObject({ status: 'succeeded', models: 2, portfolios: 5, infeasible: 0 });
    const stored = json(await a!.request({ method: 'GET', url: '/api/v1/rebalances?limit=100' })) as {
      model_name: string;
      number_of_portfolios: number;
    }[];
    expect(stored.map((r) => [r.model_name, r.number_of_portfolios]).sort()).toEqual([
      ['Scheduled', 3],
      ['Second', 2],
    ]);
    const models = json(await a!.request({ method: 'GET', url: '/api/v1/models' })) as {
      name: string;
      last_rebalance_date: string | null;
    }[];
    expect(models.find((m) => m.name === 'No portfolios')!.last_rebalance_date).toBeNull();
  });

  it('records its progress as it runs: GET /cycle/{id} shows the models and portfolios done of those it found', async () => {
    const clock = manualClock();
    const [a] = await replicas(['progress'], clock, { REBALANCE_CONCURRENCY: '1', REBALANCE_JOB_HEARTBEAT_MS: '100' });
    const held = gate();
    sim.inject('accounting', { after: 1, times: 1, hold: held.hold });
    const running = a!.app.scheduler.tick(clock.now());
    await held.arrived; // the first portfolio is done, the second held
    const [listed] = json(await a!.request({ method: 'GET', url: '/api/v1/cycles' })) as { cycle_id: string }[];
    const cycle = async () => json(await a!.request({ method: 'GET', url: `/api/v1/cycle/${listed!.cycle_id}` }));
    await expect.poll(async () => (await cycle()).progress?.portfolios_done, { timeout: 20_000, interval: 20 }).toBe(1);
    expect(await cycle()).toMatchObject({
      status: 'running',
      progress: { models_done: 0, models_total: 1, portfolios_done: 1, portfolios_total: 3 },
    });
    held.open();
    expect(await running).toMatchObject({ status: 'succeeded' });
    expect(await cycle()).toMatchObject({
      status: 'succeeded',
      progress: { models_done: 1, models_total: 1, portfolios_done: 3, portfolios_total: 3 },
    });
  });

  it('counts its own rebalance of a model, not one of the same model that a caller runs beside it', async () => {
    const clock = manualClock();
    // Held calls never time out here: what the cycle shows can only come from what is held.
    const env = { REBALANCE_CONCURRENCY: '1', REBALANCE_JOB_HEARTBEAT_MS: '100', UPSTREAM_TIMEOUT_MS: '60000' };
    const [a] = await replicas(['beside'], clock, env);
    const [model] = json(await a!.request({ method: 'GET', url: '/api/v1/models' })) as { model_id: string }[];
    // The caller's stored rebalance is held at its first portfolio (none done); the cycle's, at its second (one done).
    const caller = gate();
    const cycleHeld = gate();
    sim.inject('accounting', { times: 1, hold: caller.hold });
    sim.inject('accounting', { after: 1, times: 1, hold: cycleHeld.hold });
    const beside = a!.request({ method: 'POST', url: `/api/v1/model/${model!.model_id}/rebalance` });
    await caller.arrived;
    const running = a!.app.scheduler.tick(clock.now());
    await cycleHeld.arrived;
    const [listed] = json(await a!.request({ method: 'GET', url: '/api/v1/cycles' })) as { cycle_id: string }[];
    const cycle = async () => json(await a!.request({ method: 'GET', url: `/api/v1/cycle/${listed!.cycle_id}` }));
    await expect.poll(async () => (await cycle()).progress?.portfolios_done, { timeout: 20_000, interval: 20 }).toBe(1);
    caller.open();
    cycleHeld.open();
    expectStatus(await beside, 200);
    expect(await running).toMatchObject({ status: 'succeeded' });
  });

  it('never overlaps cycles, even when one outlasts the interval', async () => {
    const clock = manualClock();
    const [a, b] = await replicas(['slow-a', 'slow-b'], clock);
    const slow = gate();
    sim.inject('accounting', { hold: slow.hold });
    const first = a!.app.scheduler.tick(clock.now());
    await slow.arrived; // a holds the lease and is inside its cycle
    // The next tick comes while the first cycle still runs: a skips it, b finds the lease held.
    const next = clock.advance(1000);
    expect(await a!.app.scheduler.tick(next)).toBeNull();
    expect(await b!.app.scheduler.tick(next)).toBeNull();
    expect(a!.app.scheduler.isRunning()).toBe(true);
    slow.open();
    expect(await first).toMatchObject({ status: 'succeeded', replica: 'slow-a' });
    // The tick after the first cycle ended runs, on whichever replica fires it.
    expect(await b!.app.scheduler.tick(clock.advance(1000))).toMatchObject({ status: 'succeeded', replica: 'slow-b' });

    const ran = await cycles(a!);
    expect(ran.map((c) => c.replica)).toEqual(['slow-a', 'slow-b']);
    expect(ran[1]!.started_at.getTime()).toBeGreaterThanOrEqual(ran[0]!.ended_at.getTime());
  });

  it('takes over from a replica that died holding the lease once the lease expires', async () => {
    const clock = manualClock();
    const [b] = await replicas(['survivor'], clock);
    const db = b!.app.mongo.db;
    // The dead replica took the lease and started a cycle through the same code, then never renewed it.
    const deadLease = createLease(db, clock, { name: 'rebalance-cycle', holder: 'dead-replica', ttlMs: LEASE_TTL_MS, skewMs: SKEW_MS });
    const deadCycles = createCycleRepository(db);
    const dead = deadCycles.newId();
    const deadTick = clock.now();
    expect(await deadLease.acquire(deadTick, dead)).toEqual({ abandonedCycle: null });
    await deadCycles.start(dead, 'dead-replica', 'schedule', deadTick, clock.now());

    // Nothing runs while the dead replica's lease is valid, nor within the skew allowance after it expired.
    expect(await b!.app.scheduler.tick(clock.advance(1000))).toBeNull();
    expect(await b!.app.scheduler.tick(clock.advance(LEASE_TTL_MS - 1000 + SKEW_MS))).toBeNull();
    const taken = await b!.app.scheduler.tick(clock.advance(1));
    expect(taken).toMatchObject({ status: 'succeeded', replica: 'survivor' });
    expect(taken!.startedAt.getTime()).toBe(deadTick.getTime() + LEASE_TTL_MS + SKEW_MS + 1);
    expect(await deadCycles.find(dead)).toMatchObject({ status: 'abandoned' });
  });

  it('records a cycle still running past the shutdown grace period as interrupted and frees the lease', async () => {
    const clock = manualClock();
    const [a] = await replicas(['stopping'], clock);
    const stuck = gate();
    sim.inject('accounting', { hold: stuck.hold });
    const running = a!.app.scheduler.tick(clock.now());
    await stuck.arrived;
    expect(a!.app.scheduler.isRunning()).toBe(true);
    await a!.app.scheduler.stop(200);
    const ran = await cycles(a!);
    expect(ran.at(-1)).toMatchObject({ status: 'interrupted', errors: ['the replica shut down before the cycle finished'] });
    expect(await a!.app.mongo.db.collection('leases').findOne({ _id: 'rebalance-cycle' as never })).toMatchObject({ holder: null });
    // Once the upstream answers, the cycle stops at its next model and leaves the record as it is.
    stuck.open();
    await running;
    expect((await cycles(a!)).at(-1)).toMatchObject({ status: 'interrupted' });
  });
});
