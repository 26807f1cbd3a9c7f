// `npm run simulator`: the five GlobeCo services on their ports, plus the admin API.
import { parseArgs } from 'node:util';
import { startSimulator } from './simulator.js';

const DEFAULTS = {
  seed: 42,
  securities: 500,
  portfolios: 200,
  holdings: 20,
  host: '127.0.0.1',
  'accounting-port': 8087,
  'security-port': 8000,
  'pricing-port': 8083,
  'portfolio-port': 8002,
  'order-port': 8081,
  'admin-port': 8099,
};

const USAGE = `Usage: npm run simulator -- [options]
  --seed N              book seed (same seed, same book)          default ${DEFAULTS.seed}
  --securities N        securities in the book                    default ${DEFAULTS.securities}
  --portfolios N        portfolios (e.g. 10000)                   default ${DEFAULTS.portfolios}
  --holdings N          holdings per portfolio (e.g. 100)         default ${DEFAULTS.holdings}
  --host H              listen address                            default ${DEFAULTS.host}
  --accounting-port N   Portfolio Accounting                      default ${DEFAULTS['accounting-port']}
  --security-port N     Security                                  default ${DEFAULTS['security-port']}
  --pricing-port N      Pricing                                   default ${DEFAULTS['pricing-port']}
  --portfolio-port N    Portfolio                                 default ${DEFAULTS['portfolio-port']}
  --order-port N        Order                                     default ${DEFAULTS['order-port']}
  --admin-port N        admin API (faults, counts, book)          default ${DEFAULTS['admin-port']}
  --latency-scale X     scales the Order service's processing time default 1 (as slow as the real one)

It behaves like the real GlobeCo services (docs/upstreams-and-simulator.md, The simulator).`;

function number(values: Record<string, string | boolean | undefined>, name: keyof typeof DEFAULTS): number {
  const raw = values[name];
  if (raw === undefined) return DEFAULTS[name] as number;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`--${name} must be a whole number\n${USAGE}\n`);
    process.exit(2);
  }
  return n;
}

let parsed;
try {
  parsed = parseArgs({
    options: Object.fromEntries([
      ...[...Object.keys(DEFAULTS), 'latency-scale'].map((k) => [k, { type: 'string' as const }]),
      ['help', { type: 'boolean' as const }],
    ]),
  });
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
  process.exit(2);
}
const values = parsed.values as Record<string, string | boolean | undefined>;
if (values.help === true) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const scale = values['latency-scale'] === undefined ? 1 : Number(values['latency-scale']);
if (!Number.isFinite(scale) || scale < 0) {
  process.stderr.write(`--latency-scale must be a number of 0 or more\n${USAGE}\n`);
  process.exit(2);
}

const sim = await startSimulator({
  latencyScale: scale,
  seed: number(values, 'seed'),
  securities: number(values, 'securities'),
  portfolios: number(values, 'portfolios'),
  holdings: number(values, 'holdings'),
  host: typeof values.host === 'string' ? values.host : DEFAULTS.host,
  ports: {
    accounting: number(values, 'accounting-port'),
    security: number(values, 'security-port'),
    pricing: number(values, 'pricing-port'),
    portfolio: number(values, 'portfolio-port'),
    order: number(values, 'order-port'),
    admin: number(values, 'admin-port'),
  },
});
const size = sim.book.size();
process.stdout.write(
  [
    `GlobeCo simulator: seed ${size.seed}, ${size.securities} securities, ${size.portfolios} portfolios of ${size.holdings} holdings`,
    ...Object.entries(sim.urls).map(([service, url]) => `  ${service.padEnd(11)} ${url}`),
    `  admin       ${sim.adminUrl} (GET /admin lists the routes)`,
    '',
    'Point the service at it with:',
    ...Object.entries(sim.env()).map(([name, value]) => `  export ${name}=${value}`),
    '',
  ].join('\n'),
);
const stop = async () => {
  await sim.stop();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
