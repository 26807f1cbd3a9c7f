// Repeated measurements in one service process (issue 15), beside `npm run bench`:
//   npx tsx tools/bench/repeat.ts rebalance   P=1000 RUNS=3 STORED=0: dry runs (then stored runs) of a model of P x 100,
//                                              service CPU ms per portfolio and peak RSS after each;
//   npx tsx tools/bench/repeat.ts list        200 models of 100 positions, GET /api/v1/models one request at a
//                                              time, 3 rounds of 10: service CPU ms per request.
// POLL=3000 also prints the service's RSS, heap and external memory every 3 s. Each dry run also says how
// much of its CPU was the main thread's; the rest is V8's helper threads (optimising compiler, GC), most of it
// in the first runs of a process; THREADS=1 prints each thread's CPU per portfolio after each run.
import { readdir, readFile } from 'node:fs/promises';
import { startSimulator } from '../simulator/simulator.js';
import { cpuSeconds } from './cpu.js';
import { benchModelPositions, peakRssMiB, startService } from './end-to-end.js';

const what = process.argv[2] ?? 'rebalance';
const P = what === 'list' ? 20 : Number(process.env.P ?? 1000);
const sim = await startSimulator({ seed: 7, securities: 500, portfolios: P, holdings: 100 });
const service = await startService(sim, { MONGODB_TIMEOUT_MS: '60000' });
const pid = service.child.pid!;
const post = (path: string, body?: unknown) =>
  fetch(`${service.url}${path}`, {
    method: 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
  });
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

const poll = setInterval(
  async () => {
    try {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      const metrics = await (await fetch(`${service.url}/metrics`)).text();
      const gauge = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(metrics)?.[1] ?? Number.NaN);
      console.log(
        `  rss ${mib(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) * 1024)} MiB, heap used ${mib(gauge('nodejs_heap_size_used_bytes'))}, ` +
          `heap total ${mib(gauge('nodejs_heap_size_total_bytes'))}, external ${mib(gauge('nodejs_external_memory_bytes'))}`,
      );
    } catch {
      // the service is busy or gone
    }
  },
  Number(process.env.POLL ?? 3_600_000),
);

try {
  if (what === 'list') {
    for (let i = 0; i < 200; i++) {
      const body = { name: `Throughput ${i}`, positions: benchModelPositions(sim), portfolios: i === 0 ? sim.book.portfolioIds() : [] };
      const res = await post('/api/v1/models', body);
      if (res.status !== 201) throw new Error(`model creation answered ${res.status}`);
    }
    const rounds: string[] = [];
    for (let r = 0; r < 3; r++) {
      const before = await cpuSeconds(pid);
      for (let i = 0; i < 10; i++) await (await fetch(`${service.url}/api/v1/models`)).arrayBuffer();
      rounds.push((((await cpuSeconds(pid)) - before) * 100).toFixed(1));
    }
    console.log(`GET /api/v1/models (200 models), service CPU ms per request: ${rounds.join(' / ')}`);
  } else {
    const created = await post('/api/v1/models', {
      name: 'Repeat',
      positions: benchModelPositions(sim),
      portfolios: sim.book.portfolioIds(),
    });
    const { model_id: modelId } = (await created.json()) as { model_id: string };
    /** CPU seconds of each of the service's threads (all named node: the main one has the process's id; V8's compiler and GC helpers are others). */
    const byThread = async () => {
      const out = new Map<string, number>();
      for (const tid of await readdir(`/proc/${pid}/task`)) {
        try {
          out.set(tid, await cpuSeconds(pid, Number(tid)));
        } catch {
          // the thread ended
        }
      }
      return out;
    };
    const run = async (query: string) => {
      const threadsBefore = process.env.THREADS === '1' ? await byThread() : null;
      const mainBefore = await cpuSeconds(pid, pid);
      const before = await cpuSeconds(pid);
      const res = await post(`/api/v1/model/${modelId}/rebalance${query}`);
      for await (const _ of res.body as unknown as AsyncIterable<Uint8Array>);
      if (res.status !== 200) throw new Error(`rebalance answered ${res.status}`);
      const total = (await cpuSeconds(pid)) - before;
      const main = (await cpuSeconds(pid, pid)) - mainBefore;
      if (threadsBefore !== null) {
        const after = await byThread();
        const parts = [...after]
          .map(([tid, cpu]) => [tid, ((cpu - (threadsBefore.get(tid) ?? 0)) * 1000) / P] as const)
          .filter(([, ms]) => ms > 0)
          .map(([tid, ms]) => `${tid === String(pid) ? 'main' : tid} ${ms.toFixed(2)}`);
        console.log(`  threads (ms/portfolio): ${parts.join(', ')}`);
      }
      return `${`${(total * 1000) / P}`.slice(0, 4)} (main thread ${((main * 1000) / P).toFixed(2)})`;
    };
    const runs = Number(process.env.RUNS ?? 3);
    const stored = Number(process.env.STORED ?? 0);
    for (let i = 0; i < runs; i++)
      console.log(`dry run ${i + 1}: ${await run('?dry_run=true')} ms/portfolio, peak RSS ${(await peakRssMiB(pid)).toFixed(0)} MiB`);
    for (let i = 0; i < stored; i++)
      console.log(`stored ${i + 1}: ${await run('')} ms/portfolio, peak RSS ${(await peakRssMiB(pid)).toFixed(0)} MiB`);
  }
} finally {
  clearInterval(poll);
  await service.stop();
  await sim.stop();
}
