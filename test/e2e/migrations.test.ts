// Migration 0001: rebalances written in the Python service's exact format are
// converted into this service's layout, found through the API with their
// figures exact, idempotently; a run cut short and run again ends where a clean
// run does; a dry run changes nothing; the command line runs, reports and rolls back.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { BSON, type Db, type Document, MongoClient } from 'mongodb';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { systemClock } from '../../src/domain/clock.js';
import { createMigrator } from '../../src/modules/migrations/runner.js';
import { freePort } from '../../tools/bench/end-to-end.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { runCli as cli } from '../helpers/cli.js';
import { json, pid } from '../helpers/fixtures.js';
import { legacyRebalance } from '../helpers/legacy.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const log = pino({ level: 'silent' });
const COLLECTIONS = ['rebalances', 'rebalance_portfolios', 'rebalances_legacy'];

let client: MongoClient;
beforeAll(async () => {
  client = new MongoClient(inject('mongoUri'));
  await client.connect();
});
afterAll(async () => {
  await client.close();
});

const freshDb = () => client.db(`test_${randomBytes(6).toString('hex')}`);
const migrator = (db: Db, holder = 'test') => createMigrator(db, { holder, clock: systemClock, log });

/** Every document of the migration's collections, as canonical extended JSON (Decimal128 digits and scale included). */
async function snapshot(db: Db): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const name of COLLECTIONS) {
    const docs = await db.collection(name).find().sort({ _id: 1 }).toArray();
    out[name] = docs.map((doc) => BSON.EJSON.stringify(doc, { relaxed: false }));
  }
  return out;
}

async function insertLegacy(db: Db, docs: Document[]): Promise<void> {
  // A copy: the driver would add nothing, but the fixtures stay what the Python service wrote.
  await db.collection('rebalances').insertMany(docs.map((doc) => BSON.deserialize(BSON.serialize(doc))));
}

describe('migration 0001: legacy rebalances', () => {
  let t: TestApp;
  const big = legacyRebalance({ portfolios: 320, seed: 7 });
  const small = legacyRebalance({ portfolios: 2, positions: 4, seed: 8, date: new Date('2025-07-01T09:00:00Z') });

  beforeAll(async () => {
    t = await createTestApp();
    await insertLegacy(t.app.mongo.db, [big, small]);
  });
  afterAll(async () => {
    await t.close();
  });

  it('a dry run changes nothing and reports what it would convert', async () => {
    const before = await snapshot(t.app.mongo.db);
    const run = await migrator(t.app.mongo.db).run({ dryRun: true });
    expect(run).toMatchObject({ locked: true, dryRun: true, ok: true });
    expect(run.steps).toEqual([
      {
        id: '0001-legacy-rebalances',
        status: 'pending',
        report: { legacy_documents: 2, to_convert: 2, portfolios: 322, positions: 320 * 3 + 2 * 4, failed: [] },
      },
    ]);
    expect(await snapshot(t.app.mongo.db)).toEqual(before);
    expect(await t.app.mongo.db.collection('migrations').countDocuments()).toBe(0);
  });

  it('converts them, reporting counts, and records the step as applied', async () => {
    const run = await migrator(t.app.mongo.db).run();
    expect(run.ok).toBe(true);
    expect(run.steps).toEqual([
      {
        id: '0001-legacy-rebalances',
        status: 'applied',
        report: { legacy_documents: 2, converted: 2, portfolios: 322, positions: 968, failed: [] },
      },
    ]);
    const again = await migrator(t.app.mongo.db).run();
    expect(again.steps).toEqual([{ id: '0001-legacy-rebalances', status: 'already applied' }]);
    expect(await t.app.mongo.db.collection('rebalance_portfolios').countDocuments()).toBe(322);
  });

  it('GET /rebalance/{id} answers the migrated rebalance with every portfolio and position', async () => {
    const res = await t.request({ method: 'GET', url: `/api/v1/rebalance/${big._id.toHexString()}` });
    expect(res.statusCode).toBe(200);
    const r = json(res);
    expect(r).toMatchObject({
      rebalance_id: big._id.toHexString(),
      model_id: big.model_id.toHexString(),
      model_name: 'Legacy model 7',
      rebalance_date: '2025-06-30T14:05:09.123Z',
      number_of_portfolios: 320,
      version: 1,
      created_at: '2025-06-30T14:05:09.123Z',
      orders: null,
    });
    expect(r.portfolios.map((p: { portfolio_id: string }) => p.portfolio_id)).toEqual(
      big.portfolios.map((p: { portfolio_id: string }) => p.portfolio_id),
    );
    expect(r.portfolios[319]).toMatchObject({
      portfolio_id: pid(700_319),
      portfolio_name: null,
      status: 'ok',
      market_value: 100319.07,
      cash_before_rebalance: 5000,
      cash_after_rebalance: 1553.57,
    });
    expect(r.portfolios[319].positions[1]).toEqual({
      security_id: big.portfolios[319].positions[1].security_id,
      price: 11.17,
      original_quantity: 419,
      adjusted_quantity: 429,
      original_position_market_value: 4680.23,
      adjusted_position_market_value: 4791.93,
      target: 0.3,
      high_drift: 0.05,
      low_drift: 0.025,
      actual: 0.2971,
      actual_drift: 0.0097,
      transaction_type: 'BUY',
      trade_quantity: 10,
      trade_date: '2025-06-30',
    });
    expect(r.portfolios[0].positions[0]).toMatchObject({ transaction_type: null, trade_quantity: null, trade_date: null });
  });

  it("a portfolio's positions and the by-portfolio search find the migrated data", async () => {
    const positions = await t.request({
      method: 'GET',
      url: `/api/v1/rebalance/${small._id.toHexString()}/portfolio/${pid(800_001)}/positions`,
    });
    expect(positions.statusCode).toBe(200);
    expect(json(positions).map((p: { transaction_type: string | null }) => p.transaction_type)).toEqual([null, 'BUY', 'SELL', null]);
    const found = await t.request({
      method: 'POST',
      url: '/api/v1/rebalances/portfolios',
      payload: { portfolios: [pid(700_005), pid(800_001)] },
    });
    expect(found.statusCode).toBe(200);
    expect(json(found).map((r: { rebalance_id: string }) => r.rebalance_id)).toEqual([small._id.toHexString(), big._id.toHexString()]);
    const listed = json(await t.request({ method: 'GET', url: '/api/v1/rebalances' }));
    expect(listed.map((r: { rebalance_id: string }) => r.rebalance_id)).toEqual([small._id.toHexString(), big._id.toHexString()]);
  });

  it('keeps every figure exactly as stored (Decimal128 digits and scale) and the legacy document whole', async () => {
    const db = t.app.mongo.db;
    const doc = await db.collection('rebalance_portfolios').findOne({ rebalance_id: big._id, portfolio_id: pid(700_042) });
    const legacy = big.portfolios[42];
    expect(doc!.market_value.toString()).toBe(legacy.market_value.toString());
    expect(doc!.cash_after_rebalance.toString()).toBe('1276.5678901234567890123456789');
    const column = (field: string) => doc!.positions[field].map((v: unknown) => (v === null ? null : String(v)));
    for (const field of [
      'price',
      'original_quantity',
      'adjusted_quantity',
      'original_position_market_value',
      'adjusted_position_market_value',
      'target',
      'high_drift',
      'low_drift',
      'actual',
      'actual_drift',
      'transaction_type',
      'trade_quantity',
    ]) {
      expect(column(field), field).toEqual(
        legacy.positions.map((p: Record<string, unknown>) => (p[field] === null ? null : String(p[field]))),
      );
    }
    expect(column('price')[0]).toBe('10.1700');
    expect(column('adjusted_position_market_value')[2]).toBe('1606.4400');
    expect(doc!.positions.trade_date).toEqual(legacy.positions.map((p: { trade_date: Date | null }) => p.trade_date));
    const backup = await db.collection('rebalances_legacy').findOne({ _id: big._id });
    expect(BSON.EJSON.stringify(backup!, { relaxed: false })).toBe(BSON.EJSON.stringify(big, { relaxed: false }));
  });

  it('a rebalance created by this service and the models are left as they are', async () => {
    // The Python models' format is this service's: a model written by it reads back through the API.
    const model = {
      _id: big.model_id,
      name: 'Python model',
      positions: [
        {
          security_id: big.portfolios[0].positions[0].security_id,
          target: big.portfolios[0].positions[0].target,
          high_drift: big.portfolios[0].positions[0].high_drift,
          low_drift: big.portfolios[0].positions[0].low_drift,
        },
      ],
      portfolios: [pid(1)],
      last_rebalance_date: null,
      version: 1,
      created_at: new Date(),
      updated_at: new Date(),
    };
    await t.app.mongo.db.collection('models').insertOne(model);
    const res = await t.request({ method: 'GET', url: `/api/v1/model/${big.model_id.toHexString()}` });
    expect(res.statusCode).toBe(200);
    expect(json(res)).toMatchObject({
      name: 'Python model',
      positions: [{ target: '0.3', high_drift: '0.05', low_drift: '0.025' }],
      portfolios: [pid(1)],
      version: 1,
    });
  });
});

describe('a migration cut short', () => {
  it('reports a document it cannot read (a model_id that is no ObjectId) and keeps the step pending; the others are converted', async () => {
    const db = freshDb();
    const good = legacyRebalance({ portfolios: 2, seed: 4 });
    const bad: Document = { ...legacyRebalance({ portfolios: 1, seed: 5 }), model_id: 'not-an-object-id' };
    await insertLegacy(db, [good, bad]);
    const result = await migrator(db).run({});
    expect(result.steps[0]).toMatchObject({
      status: 'failed',
      report: { legacy_documents: 2, converted: 1, failed: [{ rebalance_id: String(bad._id), reason: 'model_id is not an ObjectId' }] },
    });
    // Run again, it is still pending: the document that cannot be read is reported again.
    expect((await migrator(db).run({})).steps[0]).toMatchObject({ status: 'failed' });
  });

  it('run again, ends with exactly the documents of a run that was never interrupted', async () => {
    const docs = [
      legacyRebalance({ portfolios: 2, seed: 1 }),
      legacyRebalance({ portfolios: 305, seed: 2 }),
      legacyRebalance({ portfolios: 3, seed: 3 }),
    ];
    const clean = freshDb();
    const crashed = freshDb();
    await insertLegacy(clean, docs);
    await insertLegacy(crashed, docs);
    await migrator(clean).run({ testHooks: { batchSize: 100 } });

    // The "crash": the run stops dead after 202 portfolio documents (the first rebalance and two batches of the second).
    const crash = new Error('simulated crash');
    await expect(
      migrator(crashed, 'first').run({
        testHooks: {
          batchSize: 100,
          afterBatch: (written) => {
            if (written >= 202) throw crash;
          },
        },
      }),
    ).rejects.toBe(crash);
    const half = await snapshot(crashed);
    expect(half.rebalance_portfolios).toHaveLength(202);
    expect(await crashed.collection('rebalances').countDocuments({ trade_date: { $exists: false } })).toBe(2);

    const rerun = await migrator(crashed, 'second').run({ testHooks: { batchSize: 100 } });
    expect(rerun.steps[0]).toMatchObject({ status: 'applied', report: { legacy_documents: 2, converted: 2, portfolios: 308 } });
    expect(await snapshot(crashed)).toEqual(await snapshot(clean));
  });
});

describe('the migration lock', () => {
  it('a lock left by a process that died is taken over once expired; a live one is respected', async () => {
    const db = freshDb();
    await insertLegacy(db, [legacyRebalance({ portfolios: 2, seed: 11 })]);
    const locks = db.collection<{ _id: string; holder: string; acquired_at: Date; expires_at: Date }>('migrations');
    const now = Date.now();
    await locks.insertOne({ _id: 'lock', holder: 'alive', acquired_at: new Date(now), expires_at: new Date(now + 60_000) });
    expect(await migrator(db).run()).toMatchObject({ locked: false, steps: [] });
    expect(await db.collection('rebalance_portfolios').countDocuments()).toBe(0);

    await locks.updateOne({ _id: 'lock' }, { $set: { holder: 'dead', expires_at: new Date(now - 60_000) } });
    const run = await migrator(db, 'next').run();
    expect(run).toMatchObject({ locked: true, ok: true, steps: [{ status: 'applied', report: { converted: 1 } }] });
    expect(await locks.findOne({ _id: 'lock' })).toBeNull();
  });
});

describe('order-generation migrate', () => {
  it('--dry-run reports, migrate converts, --rollback puts the Python documents back', async () => {
    const db = freshDb();
    const docs = [legacyRebalance({ portfolios: 3, seed: 5 }), legacyRebalance({ portfolios: 4, seed: 6 })];
    await insertLegacy(db, docs);
    const original = await snapshot(db);
    // The Python service's variable names, as its Deployment sets them.
    const env = { DATABASE_URL: inject('mongoUri'), DATABASE_NAME: db.databaseName, LOG_LEVEL: 'silent' };

    const dry = await cli(['migrate', '--dry-run'], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({
      dry_run: true,
      ok: true,
      migrations: [{ id: '0001-legacy-rebalances', status: 'pending', report: { legacy_documents: 2, to_convert: 2, portfolios: 7 } }],
    });
    expect(await snapshot(db)).toEqual(original);

    const run = await cli(['migrate'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      dry_run: false,
      ok: true,
      migrations: [{ status: 'applied', report: { converted: 2, portfolios: 7 } }],
    });
    expect(await db.collection('rebalance_portfolios').countDocuments()).toBe(7);

    const back = await cli(['migrate', '--rollback'], env);
    expect(back.code, back.stderr).toBe(0);
    expect(JSON.parse(back.stdout)).toEqual({ rollback: { restored: 2, alreadyLegacy: 0, deletedSince: 0, createdByThisService: 0 } });
    const restored = await snapshot(db);
    expect(restored.rebalances).toEqual(original.rebalances);
    expect(restored.rebalance_portfolios).toEqual([]);
    expect(await db.collection('migrations').countDocuments()).toBe(0);
  });
});

describe('the server at start-up', () => {
  it("converts legacy rebalances before it listens, reading the Python service's DATABASE_URL and DATABASE_NAME with a warning", async () => {
    const db = freshDb();
    const legacy = legacyRebalance({ portfolios: 5, seed: 9 });
    await insertLegacy(db, [legacy]);
    const port = await freePort();
    let out = '';
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'info',
        DATABASE_URL: inject('mongoUri'),
        DATABASE_NAME: db.databaseName,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    try {
      const url = `http://127.0.0.1:${port}`;
      await expect
        .poll(
          () =>
            fetch(`${url}/health/ready`).then(
              (r) => r.ok,
              () => false,
            ),
          { timeout: 60_000, interval: 100 },
        )
        .toBe(true);
      const res = await fetch(`${url}/api/v1/rebalance/${legacy._id.toHexString()}`);
      const body = (await res.json()) as { portfolios: { portfolio_id: string }[] };
      expect(body.portfolios.map((p) => p.portfolio_id)).toEqual(legacy.portfolios.map((p: { portfolio_id: string }) => p.portfolio_id));
      const lines = out
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { level: string; msg: string; migration?: string });
      expect(lines).toContainEqual(
        expect.objectContaining({ level: 'warn', msg: expect.stringMatching(/^DATABASE_URL is deprecated: rename it MONGODB_URI/) }),
      );
      expect(lines).toContainEqual(
        expect.objectContaining({ level: 'warn', msg: expect.stringMatching(/^DATABASE_NAME is deprecated: rename it MONGODB_DB/) }),
      );
      expect(lines).toContainEqual(expect.objectContaining({ msg: 'migration applied', migration: '0001-legacy-rebalances' }));
    } finally {
      child.kill('SIGKILL');
    }
  });
});
