// The real server process: it refuses a bad configuration before listening,
// finishes in-flight work on SIGTERM and exits 0, exits at once on a second
// signal, and exits non-zero on an unhandled error.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../tools/bench/end-to-end.js';
import { type Simulator, startSimulator } from '../../tools/simulator/simulator.js';
import { pid, position, sid } from '../helpers/fixtures.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface Server {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything the process wrote so far (JSON log lines on stdout, anything on stderr). */
  output(): string;
  exited: Promise<number | null>;
}

let sim: Simulator | undefined;
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await sim?.stop();
  sim = undefined;
});

function spawnServer(env: Record<string, string>, nodeArgs: string[] = []): Server {
  let out = '';
  const child = spawn(process.execPath, ['--import', 'tsx', ...nodeArgs, 'src/server.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  // 'close', not 'exit': the last lines the process wrote may still be on their way when it exits.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { url: `http://127.0.0.1:${env.PORT ?? '8088'}`, child, output: () => out, exited };
}

/** A server on the test database and a fresh simulator, listening. */
async function startServer(extra: Record<string, string> = {}, nodeArgs: string[] = []): Promise<Server> {
  sim = await startSimulator({ securities: 10, portfolios: 0 });
  const port = await freePort();
  const server = spawnServer(
    {
      ...sim.env(),
      PORT: String(port),
      MONGODB_URI: inject('mongoUri'),
      MONGODB_DB: `test_${randomBytes(6).toString('hex')}`,
      UPSTREAM_BACKOFF_MS: '1',
      ...extra,
    },
    nodeArgs,
  );
  for (let i = 0; i < 300; i++) {
    const ok = await fetch(`${server.url}/health/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return server;
    if (server.child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the server did not become ready:\n${server.output()}`);
}

/** A model over one slow portfolio: the Accounting service answers after `latencyMs`. */
async function slowPortfolio(server: Server, latencyMs: number): Promise<string> {
  sim!.book.setSecurity(sid('p1'), 'PRC');
  sim!.book.setPrice('PRC', '10');
  sim!.book.setHoldings(pid('p1'), { cash: '1000', securities: [] });
  const created = await fetch(`${server.url}/api/v1/models`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Slow', positions: [position(sid('p1'), '0.5')], portfolios: [pid('p1')] }),
  });
  expect(created.status).toBe(201);
  sim!.inject('accounting', { latencyMs });
  return pid('p1');
}

/** Waits until the simulator has received the slow request, so it is surely in flight. */
async function inFlight(): Promise<void> {
  for (let i = 0; i < 200 && sim!.total('accounting') === 0; i++) await new Promise((resolve) => setTimeout(resolve, 25));
  expect(sim!.total('accounting')).toBeGreaterThan(0);
}

const logLines = (server: Server) =>
  server
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: string; msg: string });

describe('the server process', () => {
  it('refuses to start on a bad configuration, naming each bad variable', async () => {
    const server = spawnServer({ PORT: 'eighty', SECURITY_SERVICE_URL: 'not a url', REBALANCE_SCHEDULE: 'every minute' });
    expect(await server.exited).toBe(1);
    const output = server.output();
    expect(output).toContain('PORT must be a whole number');
    expect(output).toContain('SECURITY_SERVICE_URL must be an http:// or https:// URL');
    expect(output).toContain('REBALANCE_SCHEDULE must be a valid cron expression');
  });

  it('on SIGTERM finishes the request in flight, then exits 0', async () => {
    const server = await startServer();
    const portfolio = await slowPortfolio(server, 1500);
    const request = fetch(`${server.url}/api/v1/portfolio/${portfolio}/rebalance`, { method: 'POST' });
    await inFlight();
    server.child.kill('SIGTERM');
    const res = await request;
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ portfolio_id: portfolio, rebalance_id: expect.any(String) });
    expect(await server.exited).toBe(0);
    const messages = logLines(server).map((l) => l.msg);
    expect(messages).toContain('shutting down: finishing in-flight work');
    expect(messages.at(-1)).toBe('shut down cleanly');
  });

  it('exits at once, non-zero, on a second signal', async () => {
    const server = await startServer();
    const portfolio = await slowPortfolio(server, 20_000);
    const request = fetch(`${server.url}/api/v1/portfolio/${portfolio}/rebalance`, { method: 'POST' }).then(
      (r) => r.status,
      () => 'no answer',
    );
    await inFlight();
    server.child.kill('SIGTERM');
    // Signals are not queued: send the second once the first has been taken.
    for (let i = 0; i < 200 && !server.output().includes('shutting down'); i++) await new Promise((resolve) => setTimeout(resolve, 25));
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(1);
    expect(await request).toBe('no answer');
    expect(logLines(server).map((l) => l.msg)).toContain('second signal: exiting now');
  });

  it('logs an unhandled error and exits non-zero', async () => {
    // A preloaded module plants a rejected promise that nothing handles, on a signal, once the server is up.
    const planted = `data:text/javascript,process.on('SIGUSR2', () => { Promise.reject(new Error('planted failure')); })`;
    const server = await startServer({}, ['--import', planted]);
    server.child.kill('SIGUSR2');
    expect(await server.exited).toBe(1);
    const fatal = logLines(server).find((l) => l.level === 'fatal');
    expect(fatal).toMatchObject({ msg: 'unhandled promise rejection', err: { message: 'planted failure' } });
  });
});
