// `npm run bench`: every benchmark, a table each, and the numbers as JSON in
// bench/results/ so runs can be compared. `-- --only optimizer,constraints,end-to-end,async,http,drift`
// runs some (drift: the drift report against a dry run, 1 000 portfolios, issue 18); `-- --sizes 100,1000`
// changes the end-to-end and async model sizes (`-- --sync` also times the synchronous call after each asynchronous one);
// `-- --seconds 5` the length of each HTTP throughput run.
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { benchAsync } from './async.js';
import { benchConstraints } from './constraints.js';
import { benchDrift } from './drift.js';
import { benchEndToEnd } from './end-to-end.js';
import { benchHttp } from './http.js';
import { benchOptimizer } from './optimizer.js';

const fmt = (ms: number) => (Number.isNaN(ms) ? '-' : ms < 1 ? ms.toFixed(4) : ms.toFixed(1));
const log = (line: string) => process.stderr.write(`${line}\n`);

const { values } = parseArgs({
  options: { only: { type: 'string' }, sizes: { type: 'string' }, seconds: { type: 'string' }, sync: { type: 'boolean' } },
});
const only = new Set((values.only ?? 'optimizer,constraints,end-to-end,async,http,drift').split(','));
const sizes = (values.sizes ?? '100,1000,10000').split(',').map(Number);

const machine = {
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: availableParallelism(),
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  date: new Date().toISOString(),
};
await mkdir('bench/results', { recursive: true });

if (only.has('optimizer')) {
  const rows = await benchOptimizer(log);
  const lines = [
    `Optimiser (ms per solve; ${machine.cores} cores, ${machine.cpu}, Node ${machine.node})`,
    '| N | cash | method | samples | median | p99 | max | exact | worst gap | wrong | unsolved |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const row of rows) {
    for (const m of row.methods) {
      lines.push(
        `| ${row.n} | ${row.binding ? 'binds' : 'free'} | ${m.method} | ${m.samples} | ${fmt(m.medianMs)} | ${fmt(m.p99Ms)} | ${fmt(m.maxMs)} | ` +
          `${m.exact} | ${(m.worstGap * 100).toFixed(4)}% | ${m.wrong} | ${m.unsolved} |`,
      );
    }
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);
  await writeFile('bench/results/optimizer.json', `${JSON.stringify({ machine, rows }, null, 2)}\n`);
  log('wrote bench/results/optimizer.json');
}

if (only.has('constraints')) {
  const rows = benchConstraints(log);
  const lines = [
    'Optimiser with constraints (issue 19: deposit 5%, min_cash 0.02, 1 in 10 restricted, min trade 0.1% of MV; ms per solve, decimals in, verified decimals out)',
    '| N | instances | unconstrained median | p99 | max | constrained median | p99 | max | median ratio | constrained answers |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.n} | ${r.constrained.samples} | ${fmt(r.unconstrained.medianMs)} | ${fmt(r.unconstrained.p99Ms)} | ${fmt(r.unconstrained.maxMs)} | ` +
        `${fmt(r.constrained.medianMs)} | ${fmt(r.constrained.p99Ms)} | ${fmt(r.constrained.maxMs)} | ` +
        `${(r.constrained.medianMs / r.unconstrained.medianMs).toFixed(2)} | ${Object.entries(r.outcomes)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')} |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n\n`);
  await writeFile('bench/results/optimizer-constraints.json', `${JSON.stringify({ machine, rows }, null, 2)}\n`);
  log('wrote bench/results/optimizer-constraints.json');
}

if (only.has('end-to-end') || only.has('async') || only.has('http') || only.has('drift')) {
  log('building the service for the end-to-end and HTTP benchmarks');
  execFileSync('npm', ['run', 'build'], { stdio: 'ignore' });
}

if (only.has('end-to-end')) {
  const rows = await benchEndToEnd(sizes, log);
  const lines = [
    'End to end (model of N portfolios x 100 holdings, rebalanced through the HTTP API and stored; embedded database; realistic simulator)',
    '| portfolios | new | stored: wall s | portfolios/s | ms/portfolio | service CPU ms/portfolio | database CPU ms/portfolio | dry run: wall s | service CPU ms/portfolio | answer MiB | calls, cold: accounting / security / pricing / portfolio | calls, warm | call targets | service peak RSS MiB |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => {
      const per = (seconds: number) => ((seconds * 1000) / r.portfolios).toFixed(2);
      const calls = (counts: Record<string, number>) =>
        ['accounting', 'security', 'pricing', 'portfolio'].map((s) => counts[s] ?? 0).join(' / ');
      return (
        `| ${r.portfolios} | ${r.newPortfolios} | ${r.wallSeconds.toFixed(1)} | ${r.portfoliosPerSecond.toFixed(0)} | ${per(r.wallSeconds)} | ${per(r.serviceCpuSeconds)} | ` +
        `${per(r.databaseCpuSeconds)} | ${r.dryRunWallSeconds.toFixed(1)} | ${per(r.dryRunServiceCpuSeconds)} | ${r.responseMiB.toFixed(1)} | ${calls(r.coldUpstreamCalls)} | ${calls(r.upstreamCalls)} | ${r.callTargetsMet ? 'met' : 'MISSED'} | ${r.peakRssMiB.toFixed(0)} |`
      );
    }),
  ];
  process.stdout.write(`${lines.join('\n')}\n\n`);
  await writeFile('bench/results/end-to-end.json', `${JSON.stringify({ machine, rows }, null, 2)}\n`);
  log('wrote bench/results/end-to-end.json');
}

if (only.has('async')) {
  const rows = await benchAsync(sizes, values.sync === true, log);
  const s = (seconds: number) => (Number.isNaN(seconds) ? '-' : seconds.toFixed(1));
  const lines = [
    'Asynchronous rebalance (same model; ?async=true on a fresh service, status polled every 500 ms, then every portfolio read in pages of 100 with positions; with --sync the synchronous call on a fresh service)',
    '| portfolios | 202 in ms | complete in s | pages read in s | pages MiB | service CPU s | service peak RSS MiB | sync (fresh service): first byte s | sync: last byte s |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.portfolios} | ${r.acceptedMs.toFixed(0)} | ${s(r.completeSeconds)} | ${s(r.pagesSeconds)} | ${r.pagesMiB.toFixed(1)} | ${s(r.serviceCpuSeconds)} | ${r.peakRssMiB.toFixed(0)} | ${s(r.syncFirstByteSeconds)} | ${s(r.syncSeconds)} |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n\n`);
  await writeFile('bench/results/async.json', `${JSON.stringify({ machine, rows }, null, 2)}\n`);
  log('wrote bench/results/async.json');
}

if (only.has('http')) {
  const rows = await benchHttp(log, Number(values.seconds ?? 10));
  const lines = [
    `HTTP throughput (autocannon, ${rows[0]?.connections ?? 10} connections, ${rows[0]?.seconds ?? 10} s each; service in its own process, embedded database)`,
    '| route | requests | req/s | p50 ms | p99 ms | max ms | non-2xx | errors | service CPU ms/request |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.method} ${r.path} (${r.name}) | ${r.requests} | ${r.requestsPerSecond.toFixed(0)} | ${r.p50Ms} | ${r.p99Ms} | ${r.maxMs} | ${r.non2xx} | ${r.errors} | ${r.serviceCpuMsPerRequest.toFixed(2)} |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n\n`);
  await writeFile('bench/results/http.json', `${JSON.stringify({ machine, rows }, null, 2)}\n`);
  log('wrote bench/results/http.json');
}

if (only.has('drift')) {
  const rows = await benchDrift([1000], log);
  const lines = [
    'Drift report (GET /model/{id}/drift, N portfolios x 100 holdings) against a dry-run rebalance of the same model; warm caches, best of 2',
    '| portfolios | drift report: wall s | service CPU s | dry run: wall s | service CPU s | out of band | not valued |',
    '|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.portfolios} | ${r.driftWallSeconds.toFixed(2)} | ${r.driftServiceCpuSeconds.toFixed(2)} | ${r.dryRunWallSeconds.toFixed(2)} | ${r.dryRunServiceCpuSeconds.toFixed(2)} | ${r.outOfBand} | ${r.unvalued} |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n\n`);
  await writeFile('bench/results/drift.json', `${JSON.stringify({ machine, rows }, null, 2)}\n`);
  log('wrote bench/results/drift.json');
}
