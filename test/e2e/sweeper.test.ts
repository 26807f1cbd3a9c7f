// Nothing a failed rebalance wrote stays behind: its portfolio documents go at
// once when the database takes it, on the next sweep when it did not, and by
// age when the process that wrote them died; a client that leaves before its
// answer starts releases its spool file at once.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { MongoClient, ObjectId } from 'mongodb';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/domain/clock.js';
import { createLease } from '../../src/modules/scheduling/lease.js';
import { databaseRelay, type Relay } from '../helpers/database-relay.js';
import { expectStatus, json, pid, position, sid } from '../helpers/fixtures.js';
import { createWorld, type World } from '../helpers/rebalancing.js';

let w: World | undefined;
let relay: Relay | undefined;
let client: MongoClient | undefined;
let spoolDir: string | undefined;
afterEach(async () => {
  await w?.close();
  await client?.close();
  await relay?.close();
  if (spoolDir !== undefined) await rm(spoolDir, { recursive: true, force: true });
  w = undefined;
  relay = undefined;
  client = undefined;
  spoolDir = undefined;
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await pause(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A log the test can read. */
function logSink() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: pino({ level: 'info' }, sink) };
}

/** A world on the relayed database, with a model of three portfolios. */
async function relayedWorld(): Promise<{ modelId: string; documents: () => Promise<number> }> {
  relay = await databaseRelay();
  w = await createWorld({ MONGODB_URI: relay.uri, MONGODB_TIMEOUT_MS: '2000' });
  w.security(sid('a'), 'ABO', '10');
  const portfolios = [pid('a1'), pid('a2'), pid('a3')];
  for (const p of portfolios) w.holdings(p, { cash: '1000', securities: [] });
  const modelId = await w.model('Aborted', [position(sid('a'), '0.5')], portfolios);
  client = new MongoClient(relay.uri);
  const db = client.db(w.t.config.mongodb.dbName);
  return { modelId, documents: () => db.collection('rebalance_portfolios').countDocuments() };
}

describe('a rebalance that fails after writing portfolio documents', () => {
  it('removes them before it answers when the header cannot be written', async () => {
    const { modelId, documents } = await relayedWorld();
    relay!.block('insert', 'rebalances');

    const res = await w!.t.request({ method: 'POST', url: `/api/v1/model/${modelId}/rebalance` });

    expectStatus(res, 503);
    expect(json(res)).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    relay!.unblock();
    expect(await documents()).toBe(0);
    expect(json(await w!.t.request({ method: 'GET', url: '/api/v1/rebalances' }))).toEqual([]);
  });

  it("removes the header too when the last step of publishing (the model's rebalance date) fails", async () => {
    const { modelId, documents } = await relayedWorld();
    relay!.block('update', 'models');

    const res = await w!.t.request({ method: 'POST', url: `/api/v1/model/${modelId}/rebalance` });

    expectStatus(res, 503);
    relay!.unblock();
    expect(await documents()).toBe(0);
    const listed = await w!.t.request({ method: 'GET', url: '/api/v1/rebalances' });
    expect([json(listed), listed.headers['x-total-count']]).toEqual([[], '0']);
  });

  it('removes them on the next sweep when the database could not take the clean-up either', async () => {
    const { modelId, documents } = await relayedWorld();
    relay!.block('insert', 'rebalances');
    relay!.block('delete', 'rebalance_portfolios');

    const res = await w!.t.request({ method: 'POST', url: `/api/v1/model/${modelId}/rebalance` });

    expectStatus(res, 503);
    relay!.unblock();
    expect(await documents()).toBe(3);
    expect(json(await w!.t.request({ method: 'GET', url: '/api/v1/rebalances' }))).toEqual([]);
    // Far younger than SWEEP_MIN_AGE_MS, but this process knows it failed.
    const report = await w!.t.app.maintenance.sweep();
    expect(report).toMatchObject({ rebalances: 1 });
    expect(await documents()).toBe(0);
  });
});

describe('the sweeper', () => {
  const HOST = hostname().replace(/[^A-Za-z0-9.]/g, '_') || 'host';
  const spoolFile = (host: string, pid: number) => `ogs-spool-${host}-${pid}-${randomUUID()}.json`;

  it('removes unpublished portfolio documents older than the bound and spool files of no live request, and keeps the rest', async () => {
    let now = new Date('2026-03-02T09:00:00Z');
    const clock = { now: () => now };
    spoolDir = await mkdtemp(join(tmpdir(), 'ogs-sweeper-test-'));
    w = await createWorld({ SWEEP_MIN_AGE_MS: '3600000', SPOOL_DIR: spoolDir }, { clock });
    w.security(sid('s'), 'SWP', '10');
    w.holdings(pid('s1'), { cash: '1000', securities: [] });
    const modelId = await w.model('Swept', [position(sid('s'), '0.5')], [pid('s1')]);
    const published = await w.t.request({ method: 'POST', url: `/api/v1/model/${modelId}/rebalance` });
    expectStatus(published, 200);
    const publishedId = json(published)[0].rebalance_id as string;

    // What a killed process left: a rebalance started at 09:00 with two portfolio documents and no header.
    client = new MongoClient(w.t.config.mongodb.uri!);
    const portfolios = client.db(w.t.config.mongodb.dbName).collection('rebalance_portfolios');
    const orphan = new ObjectId(ObjectId.generate(Math.floor(now.getTime() / 1000)));
    await portfolios.insertMany([0, 1].map((seq) => ({ rebalance_id: orphan, seq, portfolio_id: pid(`o${seq}`) })));

    // Spool files: another host's, old and recent; a dead process of this host; this process's, held by no request.
    const exited = spawn(process.execPath, ['-e', '']);
    const deadPid = exited.pid!;
    await new Promise((resolve) => exited.once('exit', resolve));
    const files = {
      otherOld: spoolFile('elsewhere', 1),
      otherRecent: spoolFile('elsewhere', 2),
      dead: spoolFile(HOST, deadPid),
      mine: spoolFile(HOST, process.pid),
      notASpool: 'unrelated.json',
    };
    for (const name of Object.values(files)) await writeFile(join(spoolDir, name), '[]');
    const old = new Date(now.getTime() - 2 * 3_600_000);
    await utimes(join(spoolDir, files.otherOld), old, old);

    // 59 minutes on: the rebalance might still be running elsewhere.
    now = new Date('2026-03-02T09:59:00Z');
    const early = await w.t.app.maintenance.sweep();
    expect(early).toMatchObject({ leased: true, rebalances: 0, portfolioDocuments: 0 });
    expect(await portfolios.countDocuments({ rebalance_id: orphan })).toBe(2);

    now = new Date('2026-03-02T10:01:00Z');
    const late = await w.t.app.maintenance.sweep();
    expect(late).toMatchObject({ leased: true, rebalances: 1, portfolioDocuments: 2 });
    expect(await portfolios.countDocuments({ rebalance_id: orphan })).toBe(0);
    expect(await portfolios.countDocuments({ rebalance_id: new ObjectId(publishedId) })).toBe(1);
    const stored = await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${publishedId}` });
    expectStatus(stored, 200);
    expect(json(stored).portfolios).toHaveLength(1);

    expect((await readdir(spoolDir)).sort()).toEqual([files.otherRecent, files.notASpool].sort());
  });

  it('does not sweep while another replica holds its lease', async () => {
    w = await createWorld({ SWEEP_MIN_AGE_MS: '0' });
    client = new MongoClient(w.t.config.mongodb.uri!);
    const db = client.db(w.t.config.mongodb.dbName);
    const orphan = new ObjectId(ObjectId.generate(Math.floor(Date.now() / 1000) - 60));
    await db.collection('rebalance_portfolios').insertOne({ rebalance_id: orphan, seq: 0, portfolio_id: pid('x') });
    // Another replica takes the sweep lease through the lease code, for a tick before this replica's next one.
    const other = createLease(db, systemClock, { name: 'maintenance-sweep', holder: 'another-replica', ttlMs: 600_000, skewMs: 5000 });
    const startup = await db.collection<{ _id: string; last_tick: Date }>('leases').findOne({ _id: 'maintenance-sweep' });
    expect(await other.acquire(new Date((startup?.last_tick.getTime() ?? 0) + 1), 'sweep-1')).not.toBeNull();

    expect(await w.t.app.maintenance.sweep()).toMatchObject({ leased: false, rebalances: 0 });
    expect(await db.collection('rebalance_portfolios').countDocuments()).toBe(1);

    // The other replica finishes its sweep.
    await other.release('sweep-1');
    expect(await w.t.app.maintenance.sweep()).toMatchObject({ leased: true, rebalances: 1 });
    expect(await db.collection('rebalance_portfolios').countDocuments()).toBe(0);
  });
});

describe('a client that leaves before its answer starts', () => {
  it('releases the spool file at once; the rebalance is still stored, and nothing fails', async () => {
    spoolDir = await mkdtemp(join(tmpdir(), 'ogs-spool-test-'));
    const { lines, logger } = logSink();
    w = await createWorld({ SPOOL_DIR: spoolDir }, { logger });
    const t = w.t;
    w.security(sid('l'), 'LFT', '10');
    w.holdings(pid('l1'), { cash: '1000', securities: [] });
    const modelId = await w.model('Left', [position(sid('l'), '0.5')], [pid('l1')]);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as { port: number };
    w.sim.inject('accounting', { latencyMs: 1000 });

    const req = request({ host: '127.0.0.1', port, method: 'POST', path: `/api/v1/model/${modelId}/rebalance` });
    req.on('error', () => undefined);
    req.end();
    await until('the holdings request', () => w!.sim.total('accounting') > 0);
    expect(await readdir(spoolDir)).toHaveLength(1);
    req.destroy();

    await until('the spool file to go', async () => (await readdir(spoolDir!)).length === 0);
    await until('the rebalance to be stored', async () => json(await t.request({ method: 'GET', url: '/api/v1/rebalances' })).length === 1);
    expect(await readdir(spoolDir)).toEqual([]);
    expect(lines.filter((l) => (l.level as number) >= 50)).toEqual([]);
  });
});
