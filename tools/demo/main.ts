// `npm run demo`: the whole system on this machine. Starts the embedded
// database (or uses MONGODB_URI), the simulated GlobeCo services with a
// realistic book, and the service; then, through the HTTP API, creates the
// models, rebalances one and prints what it decided. Everything stays up for
// exploring /docs until Ctrl-C (`--exit` stops after the summary).
import { parseArgs } from 'node:util';
import { Decimal } from 'decimal.js';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { startDevDatabase } from '../../src/dev-database.js';
import { freePort } from '../bench/end-to-end.js';
import { startSimulator } from '../simulator/simulator.js';
import { type DemoModel, layOutDemo } from './book.js';

const { values } = parseArgs({
  options: { exit: { type: 'boolean' }, port: { type: 'string' }, model: { type: 'string' }, seed: { type: 'string' } },
});
const SEED = Number(values.seed ?? 2026);
const out = (line = '') => process.stdout.write(`${line}\n`);
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;

interface RebalanceDto {
  portfolio_id: string;
  portfolio_name: string | null;
  rebalance_id: string | null;
  status: 'ok' | 'infeasible';
  error?: { code: string; message: string };
  transactions: { transaction_type: 'BUY' | 'SELL'; security_id: string; quantity: number }[];
}
interface StoredPosition {
  security_id: string;
  price: number;
  original_quantity: number;
  adjusted_quantity: number;
  original_position_market_value: number;
  adjusted_position_market_value: number;
  target: number;
  transaction_type: 'BUY' | 'SELL' | null;
  trade_quantity: number | null;
}
interface StoredPortfolio {
  portfolio_id: string;
  market_value: number;
  cash_before_rebalance: number;
  cash_after_rebalance: number;
  positions: StoredPosition[];
}

// ---------------------------------------------------------------- start-up
out('GlobeCo Order Generation Service: demo');
out();
const database = await startDevDatabase(process.env.MONGODB_URI);
const databases = {
  external: 'MONGODB_URI',
  container: 'a MongoDB 8 container, thrown away on exit',
  embedded: 'the embedded MongoDB-compatible server, thrown away on exit',
};
out(`  database   ${databases[database.kind]}`);
const sim = await startSimulator({ seed: SEED, securities: 300, portfolios: 0, holdings: 0, ports: { admin: 0 } });
const models = layOutDemo(sim.book, SEED);
out(`  simulator  Accounting, Security, Pricing, Portfolio and Order services; admin API ${sim.adminUrl}`);

const port = values.port !== undefined ? Number(values.port) : await portOr(8088);
const config = loadConfig({
  ...sim.env(),
  MONGODB_URI: database.uri,
  MONGODB_DB: process.env.MONGODB_DB ?? `demo_${Date.now().toString(36)}`,
  PORT: String(port),
  HOST: '127.0.0.1',
  LOG_LEVEL: 'error',
});
const app = await buildApp(config);
await app.listen({ port: config.port, host: config.host });
const address = app.server.address();
const base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : port}`;
out(`  service    ${base}  (Swagger UI ${base}/docs)`);
out();

let closing = false;
async function shutdown(code: number): Promise<never> {
  if (!closing) {
    closing = true;
    await app.close();
    await sim.stop();
    await database.stop();
  }
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

async function portOr(preferred: number): Promise<number> {
  const { createServer } = await import('node:net');
  const free = await new Promise<boolean>((resolve) => {
    const probe = createServer()
      .once('error', () => resolve(false))
      .listen(preferred, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
  return free ? preferred : freePort();
}

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

// ---------------------------------------------------------------- the book
out('Models (created through POST /api/v1/models):');
const created: (DemoModel & { id: string })[] = [];
for (const model of models) {
  const { model_id } = await api<{ model_id: string }>('POST', '/models', model);
  created.push({ ...model, id: model_id });
  const invested = model.positions.reduce((sum, p) => sum.plus(p.target), new Decimal(0));
  out(
    `  ${model.name.padEnd(16)} ${String(model.positions.length).padStart(3)} positions, ${invested.times(100).toFixed(1)}% invested, ${String(model.portfolios.length).padStart(3)} portfolios   ${model_id}`,
  );
}
out();

// ---------------------------------------------------------------- the rebalance
const chosen = created.find((m) => m.name === values.model) ?? created[0]!;
const total = chosen.portfolios.length;
sim.resetCounts();
const bar = (done: number) => {
  const width = 30;
  const filled = Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(done).padStart(String(total).length)}/${total} portfolios`;
};
const tty = process.stdout.isTTY === true;
const progress = setInterval(() => {
  if (tty) process.stdout.write(`\r  rebalancing ${bar(Math.min(total, sim.total('accounting')))}`);
}, 100);
const rebalanceStarted = performance.now();
let answers: RebalanceDto[];
try {
  answers = await api<RebalanceDto[]>('POST', `/model/${chosen.id}/rebalance`);
} finally {
  clearInterval(progress);
}
const seconds = (performance.now() - rebalanceStarted) / 1000;
if (tty) process.stdout.write(`\r  rebalancing ${bar(total)}\n`);
out(`Rebalanced "${chosen.name}" (POST /api/v1/model/${chosen.id}/rebalance): ${total} portfolios in ${seconds.toFixed(2)} s`);
const calls = sim.counts();
const count = (service: keyof typeof calls) => Object.values(calls[service] ?? {}).reduce((a, b) => a + b, 0);
out(
  `  upstream calls: ${count('accounting')} accounting, ${count('security')} security, ${count('pricing')} pricing, ${count('portfolio')} portfolio`,
);
out();

const rebalanceId = answers.find((a) => a.rebalance_id !== null)?.rebalance_id;
const stored = await api<{ portfolios: StoredPortfolio[] }>('GET', `/rebalance/${rebalanceId}`);
const byPortfolio = new Map(stored.portfolios.map((p) => [p.portfolio_id, p]));
const tickers = new Map(sim.book.securities().map((s) => [s.securityId, s.ticker]));

/** Σ |weight − target| over the positions, in percentage points of the market value. */
function drift(p: StoredPortfolio, which: 'before' | 'after'): Decimal {
  if (p.market_value === 0) return new Decimal(0);
  return p.positions
    .reduce((sum, position) => {
      const value = which === 'before' ? position.original_position_market_value : position.adjusted_position_market_value;
      return sum.plus(new Decimal(value).div(p.market_value).minus(position.target).abs());
    }, new Decimal(0))
    .times(100);
}
const money = (n: number | Decimal) => new Decimal(n).toDecimalPlaces(0).toNumber().toLocaleString('en-US');

interface Row {
  answer: RebalanceDto;
  portfolio: StoredPortfolio | undefined;
  buys: number;
  sells: number;
  before: Decimal;
  after: Decimal;
}
const rows: Row[] = answers.map((answer) => {
  const portfolio = byPortfolio.get(answer.portfolio_id);
  return {
    answer,
    portfolio,
    buys: answer.transactions.filter((t) => t.transaction_type === 'BUY').length,
    sells: answer.transactions.filter((t) => t.transaction_type === 'SELL').length,
    before: portfolio === undefined ? new Decimal(0) : drift(portfolio, 'before'),
    after: portfolio === undefined ? new Decimal(0) : drift(portfolio, 'after'),
  };
});

const SHOWN = 20;
out(`Per portfolio (the ${Math.min(SHOWN, rows.length)} furthest from their model first; drift = sum of |weight - target|):`);
out(
  `  ${'portfolio'.padEnd(26)} ${'market value'.padStart(13)} ${'buys'.padStart(5)} ${'sells'.padStart(5)} ${'drift before'.padStart(13)} ${'drift after'.padStart(12)}`,
);
const ordered = [...rows].sort((a, b) => b.before.comparedTo(a.before));
for (const r of ordered.slice(0, SHOWN)) {
  const name = (r.answer.portfolio_name ?? r.answer.portfolio_id).slice(0, 26).padEnd(26);
  const mv = r.portfolio === undefined ? '' : money(r.portfolio.market_value);
  const after = r.answer.status === 'ok' ? `${r.after.toFixed(2)}%` : 'infeasible';
  out(
    `  ${name} ${mv.padStart(13)} ${String(r.buys).padStart(5)} ${String(r.sells).padStart(5)} ${`${r.before.toFixed(2)}%`.padStart(13)} ${after.padStart(12)}`,
  );
}
if (rows.length > SHOWN) out(`  ... and ${rows.length - SHOWN} more (every figure is in the stored rebalance)`);
out();

const busiest = rows.filter((r) => r.answer.status === 'ok').sort((a, b) => b.answer.transactions.length - a.answer.transactions.length)[0];
if (busiest?.portfolio !== undefined) {
  const p = busiest.portfolio;
  out(`Trades of ${busiest.answer.portfolio_name} (${p.portfolio_id}), market value ${money(p.market_value)}:`);
  out(
    `  ${'ticker'.padEnd(7)} ${'side'.padEnd(4)} ${'quantity'.padStart(9)} ${'price'.padStart(9)} ${'value'.padStart(11)} ${'weight before'.padStart(14)} ${'after'.padStart(7)} ${'target'.padStart(7)}`,
  );
  for (const position of p.positions.filter((x) => x.transaction_type !== null)) {
    const weight = (value: number) => `${new Decimal(value).div(p.market_value).times(100).toFixed(2)}%`;
    const value = new Decimal(position.price).times(position.trade_quantity!);
    out(
      `  ${(tickers.get(position.security_id) ?? position.security_id).padEnd(7)} ${position.transaction_type!.padEnd(4)} ${String(position.trade_quantity).padStart(9)} ` +
        `${position.price.toFixed(2).padStart(9)} ${money(value).padStart(11)} ${weight(position.original_position_market_value).padStart(14)} ` +
        `${weight(position.adjusted_position_market_value).padStart(7)} ${`${new Decimal(position.target).times(100).toFixed(1)}%`.padStart(7)}`,
    );
  }
  out(`  cash ${money(p.cash_before_rebalance)} before, ${money(p.cash_after_rebalance)} after`);
  out();
}

const ok = rows.filter((r) => r.answer.status === 'ok');
const infeasible = rows.filter((r) => r.answer.status === 'infeasible');
let bought = new Decimal(0);
let sold = new Decimal(0);
for (const r of ok) {
  for (const position of r.portfolio?.positions ?? []) {
    if (position.transaction_type === null) continue;
    const value = new Decimal(position.price).times(position.trade_quantity!);
    if (position.transaction_type === 'BUY') bought = bought.plus(value);
    else sold = sold.plus(value);
  }
}
const mean = (values: Decimal[]) => (values.length === 0 ? new Decimal(0) : Decimal.sum(...values).div(values.length));
out('Totals:');
out(`  portfolios          ${ok.length} rebalanced, ${infeasible.length} infeasible`);
out(
  `  orders              ${ok.reduce((n, r) => n + r.buys, 0)} buys (${money(bought)}), ${ok.reduce((n, r) => n + r.sells, 0)} sells (${money(sold)})`,
);
out(`  mean drift          ${mean(ok.map((r) => r.before)).toFixed(2)}% before, ${mean(ok.map((r) => r.after)).toFixed(2)}% after`);
for (const r of infeasible.slice(0, 5)) out(`  infeasible          ${r.answer.portfolio_name}: ${r.answer.error?.message}`);
if (infeasible.length > 5) out(`  ... and ${infeasible.length - 5} more infeasible`);
out();
out('Explore:');
out(`  stored rebalance    GET ${base}/api/v1/rebalance/${rebalanceId}`);
out(
  `  one portfolio       GET ${base}/api/v1/rebalance/${rebalanceId}/portfolio/${busiest?.answer.portfolio_id ?? chosen.portfolios[0]}/positions`,
);
out(`  another model       curl -X POST ${base}/api/v1/model/${created[1]!.id}/rebalance?dry_run=true`);
out(`  Swagger UI          ${base}/docs`);
out(`  metrics             ${base}/metrics`);
out(`  simulator admin     ${sim.adminUrl}/admin`);
out();
out(`Ready in ${elapsed()}.`);

if (values.exit === true) await shutdown(0);
out('Everything keeps running until Ctrl-C.');
