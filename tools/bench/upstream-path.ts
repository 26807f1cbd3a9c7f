// The upstream part of a model rebalance, alone (issue 15): 1 000 Accounting
// summaries of 100 holdings from the realistic simulator, 16 at a time, read in
// a fresh process through more and more of the service's own path, to tell
// what a fresh process pays for HTTP and JSON (undici, Node, V8's compiler)
// from what the service adds on top:
//   npm run build && npx tsx tools/bench/upstream-path.ts [SITTINGS]
// Levels: `exchange` (http.ts: undici's dispatch, the body's text, JSON.parse),
// `policy` (+ the cockatiel policy of resilience.ts), `holdings` (+ the
// Accounting client: payload check, decimals, id order), `context` (+ a
// request's AsyncLocalStorage context, as every request has). Each process reads
// the 1 000 summaries 4 times; CPU ms per summary for each pass, the process's
// (main thread and V8's helper threads). Pass 1 is what a model rebalance's
// first run pays; passes 3–4 are a warm process. Reads that fail are counted and
// said (a new portfolio's summary answers 500 below the `holdings` level, which
// looks into it with /balances).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { cpuSeconds } from './cpu.js';

const LEVELS = ['exchange', 'policy', 'holdings', 'context'] as const;
type Level = (typeof LEVELS)[number];
const IN_FLIGHT = 16;
const PASSES = 4;

async function child(level: Level, url: string, ids: readonly string[]): Promise<void> {
  const dist = new URL('../../dist/src/', import.meta.url);
  const { loadConfig } = await import(new URL('config.js', dist).href);
  const { createServiceHttp } = await import(new URL('upstreams/http.js', dist).href);
  const { createServicePolicy } = await import(new URL('upstreams/resilience.js', dist).href);
  const { accountingClient } = await import(new URL('upstreams/clients.js', dist).href);
  const { requestContext } = await import(new URL('logger.js', dist).href);
  const upstreams = loadConfig({ ...process.env, PORTFOLIO_ACCOUNTING_SERVICE_URL: url }).upstreams;
  const http = createServiceHttp('accounting', url, upstreams.maxInFlight);
  const policy = createServicePolicy('accounting', upstreams, pino({ level: 'silent' }));
  const client = accountingClient({ http, policy });
  const read: (id: string) => Promise<unknown> =
    level === 'exchange'
      ? (id) => http.exchange('GET', `/api/v1/portfolios/${id}/summary`, new AbortController().signal)
      : level === 'policy'
        ? (id) =>
            policy.run(
              (signal: AbortSignal) => http.exchange('GET', `/api/v1/portfolios/${id}/summary`, signal, { answers: [500] }),
              'GET summary',
            )
        : (id) => client.holdings(id);
  const passes: string[] = [];
  let failed = 0;
  for (let pass = 0; pass < PASSES; pass++) {
    const before = await cpuSeconds(process.pid);
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        await read(ids[next++]!).catch(() => {
          failed += 1;
        });
      }
    };
    const all = () => Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    await (level === 'context' ? requestContext.run({ correlationId: 'bench' }, all) : all());
    passes.push(((((await cpuSeconds(process.pid)) - before) * 1000) / ids.length).toFixed(3));
  }
  console.log(`${passes.join(' ')}${failed === 0 ? '' : ` (${failed} of ${PASSES * ids.length} reads failed)`}`);
  await http.close();
}

if (process.argv[2] === 'child') {
  await child(process.argv[3] as Level, process.argv[4]!, JSON.parse(process.env.BENCH_IDS!));
} else {
  const { startSimulator } = await import('../simulator/simulator.js');
  const sim = await startSimulator({ seed: 7, securities: 500, portfolios: 1000, holdings: 100 });
  const ids = sim.book.portfolioIds();
  const url = sim.env().PORTFOLIO_ACCOUNTING_SERVICE_URL!;
  const run = promisify(execFile);
  const sittings = Number(process.argv[2] ?? 3);
  console.log(`1000 Accounting summaries, ${IN_FLIGHT} in flight, CPU ms per summary in passes 1..${PASSES} of a fresh process:`);
  try {
    for (let s = 0; s < sittings; s++) {
      for (const level of LEVELS) {
        const { stdout } = await run(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'child', level, url], {
          env: { ...process.env, BENCH_IDS: JSON.stringify(ids) },
        });
        console.log(`  ${level.padEnd(8)} ${stdout.trim()}`);
      }
    }
  } finally {
    await sim.stop();
  }
}
