// The pure part of a dry model rebalance in a fresh process, without HTTP: for
// each of N portfolios of about 100 holdings, holdings to optimiser input, the
// band check, the optimiser, the outcome and the answer's bytes. Prints the
// process's CPU per portfolio, the main thread's, and the rest (V8's helper
// threads: its optimising compiler, most of a fresh process's extra cost):
//   npm run build && node tools/bench/pure-path.mjs [DIST] [N]
// DIST (default ./dist) may be another checkout's build, to compare two in
// alternated fresh processes; node flags (--trace-opt, --turbo-stats
// --turbo-filter=prepare) show what the compiler spends on each function.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const dist = pathToFileURL(resolve(process.argv[2] ?? 'dist')).href;
const N = Number(process.argv[3] ?? 1000);
const load = (path) => import(`${dist}/src/${path}`);
const { optimize } = await load('optimizer/index.js');
const { bandCheck } = await load('modules/drift/report.js');
const { parseBoundedDecimal: dec } = await load('domain/decimal.js');
const { optimizerInput, outcomeOf, securitiesOf } = await load('modules/rebalancing/outcome.js');
const { rebalanceJson } = await load('modules/rebalancing/schemas.js');
const { JsonBytes } = await load('http/json-bytes.js');

let seed = 7;
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
// 150 securities, two-decimal prices; a model of the first 100 (90 at 1%, 10 at 0.5%, bands of 5%).
const ids = Array.from({ length: 150 }, (_, i) => `6${String(i * 7919).padStart(23, '0')}`).sort();
const cents = new Map(ids.map((id) => [id, 1 + Math.floor(random() * 50_000)]));
const quotes = new Map(ids.map((id) => [id, { securityId: id, ticker: id, price: dec((cents.get(id) / 100).toFixed(2)) }]));
const model = ids.slice(0, 100).map((securityId, i) => ({
  securityId,
  target: dec(i < 90 ? '0.01' : '0.005'),
  lowDrift: dec('0.05'),
  highDrift: dec('0.05'),
}));
// Holdings near the targets of a 1,000,000 portfolio, a tenth of the model missing and some held outside it.
const portfolios = Array.from({ length: N }, () => {
  const holdings = [];
  for (const id of ids.slice(0, 110)) {
    if (random() < 0.1) continue;
    holdings.push({
      securityId: id,
      quantity: dec(String(Math.max(1, Math.round((10_000 * (0.8 + random() * 0.4) * 100) / cents.get(id))))),
    });
  }
  return { known: true, cash: dec(String(Math.round(random() * 20_000))), holdings };
});

/** CPU milliseconds (user + system) of the process, or of one of its threads (Linux). */
const cpuMs = (stat) => {
  const text = readFileSync(stat, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
};
const all = () => cpuMs('/proc/self/stat');
const main = () => cpuMs(`/proc/self/task/${process.pid}/stat`);

const [allBefore, mainBefore] = [all(), main()];
const out = new JsonBytes();
let bytes = 0;
for (let p = 0; p < N; p++) {
  const holdings = portfolios[p];
  securitiesOf(holdings, model);
  const input = optimizerInput(holdings, model, quotes);
  bandCheck(input);
  const outcome = outcomeOf(`P${p}`, `Portfolio ${p}`, input, optimize(input));
  bytes += rebalanceJson(out.reset(), outcome, null, '2026-12-01').bytes.length;
}
// Compilations still running finish on their threads.
await new Promise((done) => setTimeout(done, 300));
const total = (all() - allBefore) / N;
const mainThread = (main() - mainBefore) / N;
console.log(
  `${N} portfolios (${(bytes / N / 1024).toFixed(1)} KiB of answer each), CPU ms per portfolio: ` +
    `${total.toFixed(3)} (main thread ${mainThread.toFixed(3)}, helper threads ${(total - mainThread).toFixed(3)})`,
);
