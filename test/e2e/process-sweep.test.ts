// A server process stopped in the middle of a model rebalance. Killed, it
// leaves portfolio documents without a header and a spool file behind; no
// reader ever sees them, and the next process removes them in its start-up
// sweep. On SIGTERM, a rebalance still running when the grace period ends
// stops and removes what it wrote before the process exits.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../tools/bench/end-to-end.js';
import { type Simulator, startSimulator } from '../../tools/simulator/simulator.js';
import { pid, position, sid } from '../helpers/fixtures.js';

/** A model holding one security at half its value, over these portfolios, created through the API; its id. */
async function createModel(url: string, name: string, security: string, portfolios: readonly string[]): Promise<string> {
  const created = await fetch(`${url}/api/v1/models`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, positions: [position(security, '0.5')], portfolios }),
  });
  expect(created.status).toBe(201);
  return ((await created.json()) as { model_id: string }).model_id;
}

const root = fileURLToPath(new URL('../..', import.meta.url));

interface Server {
  readonly url: string;
  readonly child: ChildProcess;
  output(): string;
  readonly exited: Promise<number | null>;
}

let sim: Simulator | undefined;
let client: MongoClient | undefined;
let spoolDir: string | undefined;
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await sim?.stop();
  await client?.close();
  if (spoolDir !== undefined) await rm(spoolDir, { recursive: true, force: true });
  sim = undefined;
  client = undefined;
  spoolDir = undefined;
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it holds (at most about `tries` × 25 ms). */
async function until(what: string, check: () => Promise<boolean> | boolean, tries = 800): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await pause(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function startServer(env: Record<string, string>): Promise<Server> {
  let out = '';
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', LOG_LEVEL: 'info', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const server = { url: `http://127.0.0.1:${port}`, child, output: () => out, exited };
  await until(
    'the server to be ready',
    async () => {
      if (child.exitCode !== null) throw new Error(`the server exited:\n${out}`);
      return fetch(`${server.url}/health/ready`).then(
        (r) => r.ok,
        () => false,
      );
    },
    1200,
  );
  return server;
}

const logLines = (server: Server) =>
  server
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/**
 * A server running a rebalance of a 120-portfolio model that stops after 100:
 * their holdings come at once, the rest never, so two batches of 50 portfolio
 * documents are written and no header.
 */
async function rebalanceStuckMidWrite(extra: Record<string, string> = {}) {
  const portfolios = Array.from({ length: 120 }, (_, i) => pid(`k${i}`));
  sim = await startSimulator({ securities: 10, portfolios: 0 });
  sim.book.setSecurity(sid('k'), 'KIL');
  sim.book.setPrice('KIL', '10');
  for (const p of portfolios) sim.book.setHoldings(p, { cash: '1000', securities: [] });
  spoolDir = await mkdtemp(join(tmpdir(), 'ogs-sweep-test-'));
  const dbName = `test_${randomBytes(6).toString('hex')}`;
  const env = {
    ...sim.env(),
    MONGODB_URI: inject('mongoUri'),
    MONGODB_DB: dbName,
    UPSTREAM_BACKOFF_MS: '1',
    REBALANCE_CONCURRENCY: '4',
    SPOOL_DIR: spoolDir,
    ...extra,
  };
  client = new MongoClient(inject('mongoUri'));
  const db = client.db(dbName);

  const server = await startServer(env);
  const modelId = await createModel(server.url, 'Stuck', sid('k'), portfolios);

  sim.inject('accounting', { after: 100, latencyMs: 120_000 });
  const answer = fetch(`${server.url}/api/v1/model/${modelId}/rebalance`, { method: 'POST' }).then(
    async (r) => ({ status: r.status, body: (await r.json()) as { code?: string } }),
    () => 'no answer' as const,
  );
  await until('100 portfolio documents', async () => (await db.collection('rebalance_portfolios').countDocuments()) >= 100);
  const written = await db.collection('rebalance_portfolios').findOne({});
  return { env, db, server, modelId, answer, rebalanceId: String(written!.rebalance_id), spoolDir };
}

describe('a server stopped mid-rebalance', { timeout: 120_000 }, () => {
  it('killed: leaves nothing a reader can see, and the next start-up sweep removes its portfolio documents and spool file', async () => {
    const { env, db, server: first, modelId, answer, rebalanceId, spoolDir } = await rebalanceStuckMidWrite();

    // Readers never see a rebalance before its header.
    expect(await db.collection('rebalances').countDocuments()).toBe(0);
    const listed = await fetch(`${first.url}/api/v1/rebalances`);
    expect(await listed.json()).toEqual([]);
    expect((await fetch(`${first.url}/api/v1/rebalance/${rebalanceId}`)).status).toBe(404);
    expect((await fetch(`${first.url}/api/v1/rebalance/${rebalanceId}/portfolios`)).status).toBe(404);
    expect(await readdir(spoolDir)).toHaveLength(1);

    first.child.kill('SIGKILL');
    await first.exited;
    expect(await answer).toBe('no answer');
    expect(await db.collection('rebalance_portfolios').countDocuments()).toBe(100);
    expect(await readdir(spoolDir)).toHaveLength(1);

    // The next process (here with an age bound of 0) sweeps at start-up.
    const second = await startServer({ ...env, SWEEP_MIN_AGE_MS: '0' });
    await until('the start-up sweep', () => logLines(second).some((l) => l.msg === 'sweep finished'));
    expect(logLines(second).find((l) => l.msg === 'sweep finished')).toMatchObject({
      leased: true,
      rebalances: 1,
      portfolioDocuments: 100,
      spoolFiles: 1,
    });
    expect(await db.collection('rebalance_portfolios').countDocuments()).toBe(0);
    expect(await readdir(spoolDir)).toEqual([]);
    expect(await (await fetch(`${second.url}/api/v1/rebalances`)).json()).toEqual([]);
    expect((await fetch(`${second.url}/api/v1/rebalance/${rebalanceId}`)).status).toBe(404);

    // The model itself is intact and rebalances normally.
    sim!.heal('accounting');
    const rebalanced = await fetch(`${second.url}/api/v1/model/${modelId}/rebalance`, { method: 'POST' });
    expect(rebalanced.status).toBe(200);
    expect(await rebalanced.json()).toHaveLength(120);
    expect(await db.collection('rebalance_portfolios').countDocuments()).toBe(120);
  });

  it('on SIGTERM past the grace period: the rebalance stops, answers 503, removes its documents and spool file, and the process exits 0', async () => {
    const { db, server, answer, spoolDir } = await rebalanceStuckMidWrite({ SHUTDOWN_GRACE_MS: '200' });

    server.child.kill('SIGTERM');

    expect(await answer).toMatchObject({ status: 503, body: { code: 'NOT_READY' } });
    expect(await server.exited).toBe(0);
    expect(await db.collection('rebalance_portfolios').countDocuments()).toBe(0);
    expect(await db.collection('rebalances').countDocuments()).toBe(0);
    expect(await readdir(spoolDir)).toEqual([]);
  });
});

describe('a server killed while it runs an asynchronous rebalance', { timeout: 120_000 }, () => {
  it('leaves a record that the next process marks abandoned (never left running), with what it wrote removed', async () => {
    const portfolios = Array.from({ length: 60 }, (_, i) => pid(`j${i}`));
    sim = await startSimulator({ securities: 10, portfolios: 0 });
    sim.book.setSecurity(sid('j'), 'JOB');
    sim.book.setPrice('JOB', '10');
    for (const p of portfolios) sim.book.setHoldings(p, { cash: '1000', securities: [] });
    const dbName = `test_${randomBytes(6).toString('hex')}`;
    const env = { ...sim.env(), MONGODB_URI: inject('mongoUri'), MONGODB_DB: dbName, UPSTREAM_BACKOFF_MS: '1', REBALANCE_CONCURRENCY: '2' };
    client = new MongoClient(inject('mongoUri'));
    const db = client.db(dbName);

    const first = await startServer({ ...env, REBALANCE_JOB_HEARTBEAT_MS: '100' });
    const modelId = await createModel(first.url, 'Killed job', sid('j'), portfolios);
    sim.inject('accounting', { after: 55, latencyMs: 120_000 });
    const accepted = await fetch(`${first.url}/api/v1/model/${modelId}/rebalance?async=true`, { method: 'POST' });
    expect(accepted.status).toBe(202);
    const { rebalance_id: id } = (await accepted.json()) as { rebalance_id: string };
    const status = async (url: string) =>
      (await (await fetch(`${url}/api/v1/rebalance/${id}`)).json()) as { status: string; progress: { done: number; total: number } };
    // Its progress is recorded in the database (the heartbeat) while it runs.
    await until('recorded progress', async () => ((await db.collection('rebalance_jobs').findOne({}))?.progress?.done ?? 0) >= 55);
    expect(await status(first.url)).toMatchObject({ status: 'running', progress: { done: 55, total: 60 } });
    expect(await db.collection('rebalance_portfolios').countDocuments()).toBe(50);

    first.child.kill('SIGKILL');
    await first.exited;

    // The next process: the record is still "running" until its heartbeat is older than the bound.
    const second = await startServer({ ...env, REBALANCE_JOB_STALE_MS: '1000', REPAIR_INTERVAL_MS: '1000' });
    await until('the record marked abandoned', async () => (await status(second.url)).status === 'abandoned');
    expect(await status(second.url)).toMatchObject({
      rebalance_id: id,
      status: 'abandoned',
      progress: { done: 55, total: 60 },
      ended_at: expect.stringMatching(/Z$/),
      error: { code: 'UPSTREAM_UNAVAILABLE', message: expect.stringContaining('stopped before it finished') },
    });
    expect(await db.collection('rebalance_portfolios').countDocuments()).toBe(0);
    expect(await (await fetch(`${second.url}/api/v1/rebalances`)).json()).toEqual([]);
    expect(logLines(second)).toContainEqual(
      expect.objectContaining({ msg: 'asynchronous rebalance abandoned: its process stopped', rebalanceId: id }),
    );
  });
});
