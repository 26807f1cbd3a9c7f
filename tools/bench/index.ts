// `npm run bench`: every benchmark, one table each, and the numbers as JSON
// in bench/results/ so runs can be compared.
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { benchOptimizer } from './optimizer.js';

const fmt = (ms: number) => (Number.isNaN(ms) ? '-' : ms < 1 ? ms.toFixed(4) : ms.toFixed(1));

async function main(): Promise<void> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const machine = {
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    date: new Date().toISOString(),
  };
  const optimizer = await benchOptimizer(log);

  const lines = [
    `Optimiser (ms per solve; ${machine.cores} cores, ${machine.cpu}, Node ${machine.node})`,
    '| N | cash | method | samples | median | p99 | max | exact | worst gap | wrong | unsolved |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const row of optimizer) {
    for (const m of row.methods) {
      lines.push(
        `| ${row.n} | ${row.binding ? 'binds' : 'free'} | ${m.method} | ${m.samples} | ${fmt(m.medianMs)} | ${fmt(m.p99Ms)} | ${fmt(m.maxMs)} | ` +
          `${m.exact} | ${(m.worstGap * 100).toFixed(4)}% | ${m.wrong} | ${m.unsolved} |`,
      );
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  await mkdir('bench/results', { recursive: true });
  await writeFile('bench/results/optimizer.json', `${JSON.stringify({ machine, rows: optimizer }, null, 2)}\n`);
  log('wrote bench/results/optimizer.json');
}

await main();
