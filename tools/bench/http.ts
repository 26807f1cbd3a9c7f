// HTTP throughput (issue 8): autocannon against the compiled service in its
// own process (embedded database, simulator in this process), on the routes
// callers hit most: read one model, list models, rebalance one portfolio with
// warm caches (stored, and as a dry run to separate the database's share).
import autocannon from 'autocannon';
import { startSimulator } from '../simulator/simulator.js';
import { cpuSeconds } from './cpu.js';
import { benchModelPositions, startService } from './end-to-end.js';

export interface HttpRow {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly connections: number;
  readonly seconds: number;
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly non2xx: number;
  readonly errors: number;
  /** CPU milliseconds of the service process per request. */
  readonly serviceCpuMsPerRequest: number;
}

const CONNECTIONS = 10;

async function json<T>(res: Response): Promise<T> {
  if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

export async function benchHttp(log: (line: string) => void, seconds = 10): Promise<HttpRow[]> {
  const sim = await startSimulator({ seed: 7, securities: 500, portfolios: 20, holdings: 100 });
  const service = await startService(sim);
  const post = (path: string, body: unknown) =>
    fetch(`${service.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  try {
    // 200 models of 100 positions, so a page of 50 is a full page and the whole list is 200; the first has the portfolios.
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) {
      const body = { name: `Throughput ${i}`, positions: benchModelPositions(sim), portfolios: i === 0 ? sim.book.portfolioIds() : [] };
      ids.push((await json<{ model_id: string }>(await post('/api/v1/models', body))).model_id);
    }
    // A portfolio with balances (the realistic book also has new ones).
    const portfolio = sim.book.portfolioIds().find((id) => sim.book.holdings(id) !== null)!;
    // Warm the ticker and price caches.
    await json(await post(`/api/v1/portfolio/${portfolio}/rebalance?dry_run=true`, {}));

    const cases = [
      { name: 'read one model', method: 'GET', path: `/api/v1/model/${ids[0]}` },
      { name: 'list 50 models', method: 'GET', path: '/api/v1/models?limit=50' },
      { name: 'list 200 models', method: 'GET', path: '/api/v1/models' },
      { name: 'rebalance one portfolio, dry run', method: 'POST', path: `/api/v1/portfolio/${portfolio}/rebalance?dry_run=true` },
      { name: 'rebalance one portfolio, stored', method: 'POST', path: `/api/v1/portfolio/${portfolio}/rebalance` },
    ] as const;
    const rows: HttpRow[] = [];
    // BENCH_HTTP_CASES="list 200" runs only the cases whose name contains one of the comma-separated words.
    const wanted = (process.env.BENCH_HTTP_CASES ?? '').split(',').filter((w) => w !== '');
    for (const c of cases.filter((c) => wanted.length === 0 || wanted.some((w) => c.name.includes(w)))) {
      const cpuBefore = await cpuSeconds(service.child.pid!);
      const result = await autocannon({
        url: `${service.url}${c.path}`,
        method: c.method,
        connections: CONNECTIONS,
        duration: seconds,
      });
      const row: HttpRow = {
        name: c.name,
        method: c.method,
        path: c.path.replace(ids[0]!, '{model_id}').replace(portfolio, '{portfolio_id}'),
        connections: CONNECTIONS,
        seconds,
        requests: result.requests.total,
        requestsPerSecond: result.requests.average,
        p50Ms: result.latency.p50,
        p99Ms: result.latency.p99,
        maxMs: result.latency.max,
        non2xx: result.non2xx,
        errors: result.errors,
        serviceCpuMsPerRequest: (((await cpuSeconds(service.child.pid!)) - cpuBefore) * 1000) / result.requests.total,
      };
      rows.push(row);
      log(
        `http: ${c.name}: ${row.requestsPerSecond.toFixed(0)} req/s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, service CPU ${row.serviceCpuMsPerRequest.toFixed(2)} ms/request`,
      );
    }
    return rows;
  } finally {
    await service.stop();
    await sim.stop();
  }
}
