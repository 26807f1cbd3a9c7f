// Throughput of migration 0001 (legacy rebalances of the Python service into
// this service's layout): `npx tsx tools/bench/migration.ts [--documents 40]
// [--portfolios 100] [--positions 10]`. Writes the legacy documents to a fresh
// database (MONGODB_URI, else the development database: a container or the
// embedded server), migrates them, prints legacy documents and portfolios per second.
import { randomBytes } from 'node:crypto';
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { startDevDatabase } from '../../src/dev-database.js';
import { systemClock } from '../../src/domain/clock.js';
import { createMigrator } from '../../src/modules/migrations/runner.js';
import { legacyRebalance } from '../../test/helpers/legacy.js';

const { values } = parseArgs({ options: { documents: { type: 'string' }, portfolios: { type: 'string' }, positions: { type: 'string' } } });
const documents = Number(values.documents ?? '40');
const portfolios = Number(values.portfolios ?? '100');
const positions = Number(values.positions ?? '10');

const database = await startDevDatabase(loadConfig().mongodb.uri);
const client = new MongoClient(database.uri);
try {
  await client.connect();
  const db = client.db(`bench_${randomBytes(6).toString('hex')}`);
  for (let i = 0; i < documents; i++) {
    await db.collection('rebalances').insertOne(legacyRebalance({ portfolios, positions, seed: i + 1 }));
  }
  const started = process.hrtime.bigint();
  const run = await createMigrator(db, { holder: 'bench', clock: systemClock, log: pino({ level: 'silent' }) }).run();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (!run.ok) throw new Error(`migration failed: ${JSON.stringify(run.steps)}`);
  const line = {
    database: database.kind,
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    documents,
    portfolios_per_document: portfolios,
    positions_per_portfolio: positions,
    seconds: Number(seconds.toFixed(2)),
    legacy_documents_per_second: Number((documents / seconds).toFixed(1)),
    portfolios_per_second: Math.round((documents * portfolios) / seconds),
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
} finally {
  await client.close();
  await database.stop();
}
