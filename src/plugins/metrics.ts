// Prometheus metrics at GET /metrics (prom-client, one registry per app so
// tests and the CLI can build several). HTTP metrics label requests by route
// pattern, never the raw URL, so label values stay bounded; the domain
// metrics are fed by the observers the services are built with.
import { performance } from 'node:perf_hooks';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Dec } from '../domain/decimal.js';
import { toNumber } from '../domain/decimal.js';
import type { DriftObserver } from '../modules/drift/service.js';
import type { OrderStatus } from '../modules/orders/repository.js';
import type { RebalanceObserver } from '../modules/rebalancing/service.js';
import type { CycleStatus } from '../modules/scheduling/cycles.js';
import type { Upstreams } from '../upstreams/index.js';
import type { CircuitName, UpstreamObserver } from '../upstreams/resilience.js';

/** Request durations, in milliseconds (api.md). */
const HTTP_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
/** Total drift of a portfolio (a fraction of its market value). */
const DRIFT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1];
const SOLVER_BUCKETS_MS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 50, 100, 500, 1000, 5000, 30000];
/** Every request that matched no route shares this path label. */
export const UNMATCHED_PATH = '<unmatched>';
const CIRCUITS: readonly CircuitName[] = ['closed', 'open', 'half_open', 'isolated'];

/** What the scrape-time metrics read: the circuit state per upstream service, the quote caches' hits and misses so far. */
type MetricSources = Pick<Upstreams, 'health' | 'quotes'>;

export type Metrics = ReturnType<typeof createMetrics>;

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
  }
  interface FastifyRequest {
    metricsStart: number | undefined;
  }
}

/** Metrics registered in one registry, each declared by its name, help, buckets (histograms) and labels. */
function makers(registry: Registry) {
  const registers = [registry];
  return {
    registers,
    counter: <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
      new Counter<L>({ name, help, labelNames, registers }),
    gauge: <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
      new Gauge<L>({ name, help, labelNames, registers }),
    histogram: <L extends string>(name: string, help: string, buckets: number[], labelNames: readonly L[] = []) =>
      new Histogram<L>({ name, help, buckets, labelNames, registers }),
  };
}

function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const { registers, counter, gauge, histogram } = makers(registry);
  let sources: MetricSources | null = null;

  const upstreamDuration = histogram(
    'upstream_request_duration_ms',
    'Duration of one logical upstream call, retries included, in milliseconds',
    HTTP_BUCKETS_MS,
    ['service', 'outcome'],
  );
  const upstreamRetries = counter('upstream_retries_total', 'Upstream attempts that were retried', ['service']);
  const circuitChanges = counter('upstream_circuit_transitions_total', 'Circuit breaker state changes per upstream service', [
    'service',
    'state',
  ]);
  new Gauge({
    name: 'upstream_circuit_state',
    help: 'Circuit breaker state per upstream service: 1 for the current state, 0 for the others',
    labelNames: ['service', 'state'],
    registers,
    collect() {
      if (sources === null) return;
      for (const [service, health] of Object.entries(sources.health())) {
        for (const state of CIRCUITS) this.set({ service, state }, health.circuit === state ? 1 : 0);
      }
    },
  });
  new Counter({
    name: 'cache_requests_total',
    help: 'Quote cache lookups by cache (tickers, prices) and result (hit, miss)',
    labelNames: ['cache', 'result'],
    registers,
    // The caches' own counts so far (they only grow), read at each scrape.
    collect() {
      if (sources === null) return;
      this.reset();
      for (const [cache, stats] of Object.entries(sources.quotes.stats())) {
        for (const [result, value] of Object.entries({ hit: stats.hits, miss: stats.misses })) {
          if (value > 0) this.inc({ cache, result }, value);
        }
      }
    },
  });
  const rebalances = counter('rebalances_total', 'Rebalance requests by kind (portfolio, model, cycle) and outcome', ['kind', 'outcome']);
  const portfolios = counter('portfolios_rebalanced_total', 'Portfolios rebalanced, by status (ok, infeasible)', ['status']);
  const solver = histogram(
    'solver_duration_ms',
    'Time of one portfolio optimisation, in milliseconds, by result (optimal, nothing_to_do, infeasible)',
    SOLVER_BUCKETS_MS,
    ['result'],
  );
  const cycles = counter('rebalance_cycles_total', 'Scheduled or --once rebalance cycles by outcome', ['status']);
  const outOfBand = gauge(
    'drift_portfolios_out_of_band',
    'Portfolios of a model with a security outside its band, at its last drift report or model rebalance (before trading)',
    ['model_id'],
  );
  const outOfBandCycles = gauge(
    'drift_out_of_band_cycles',
    'Consecutive rebalance cycles (of this replica) that found portfolios of the model out of band before trading',
    ['model_id'],
  );
  const totalDrift = histogram(
    'drift_portfolio_total_drift',
    'Total drift Σ|MV·w − u·p| / MV of each portfolio valued by a drift report or a model rebalance (before trading)',
    DRIFT_BUCKETS,
  );
  const drifted = (modelId: string, count: number, drifts: readonly Dec[]) => {
    outOfBand.set({ model_id: modelId }, count);
    for (const d of drifts) totalDrift.observe(toNumber(d));
  };
  const cyclesOutOfBand = new Map<string, number>();
  const orders = counter('orders_submitted_total', 'Orders sent to the Order service, by what became of them', ['status']);

  return {
    registry,
    upstreams: {
      call: (service, outcome, ms) => upstreamDuration.observe({ service, outcome }, ms),
      retry: (service) => upstreamRetries.inc({ service }),
      circuit: (service, state) => circuitChanges.inc({ service, state }),
    } satisfies UpstreamObserver,
    rebalancing: {
      rebalance: (kind, outcome) => rebalances.inc({ kind, outcome }),
      portfolio: (status) => portfolios.inc({ status }),
      solved: (result, ms) => solver.observe({ result }, ms),
      drifted(kind, modelId, count, drifts) {
        drifted(modelId, count, drifts);
        if (kind !== 'cycle') return;
        const streak = count > 0 ? (cyclesOutOfBand.get(modelId) ?? 0) + 1 : 0;
        cyclesOutOfBand.set(modelId, streak);
        outOfBandCycles.set({ model_id: modelId }, streak);
      },
    } satisfies RebalanceObserver,
    // Drift reports (issue 18); model rebalances and cycles report theirs through `rebalancing.drifted`.
    drift: {
      model: drifted,
      portfolio: (d) => totalDrift.observe(toNumber(d)),
    } satisfies DriftObserver,
    cycle: (status: CycleStatus) => cycles.inc({ status }),
    orders: (status: OrderStatus, count: number) => orders.inc({ status }, count),
    /** Where the scrape-time metrics read from (set once the upstream clients exist). */
    watch(given: MetricSources) {
      sources = given;
    },
  };
}

const pathOf = (request: FastifyRequest) => request.routeOptions.url ?? UNMATCHED_PATH;

export default fp(
  async (app) => {
    const metrics = createMetrics();
    app.decorate('metrics', metrics);
    app.decorateRequest('metricsStart', undefined);
    const { counter, gauge, histogram } = makers(metrics.registry);
    const requests = counter('http_requests_total', 'HTTP requests by method, route pattern and status', ['method', 'path', 'status']);
    const duration = histogram(
      'http_request_duration',
      'HTTP request duration in milliseconds, by method, route pattern and status',
      HTTP_BUCKETS_MS,
      ['method', 'path', 'status'],
    );
    const inFlight = gauge('http_requests_in_flight', 'HTTP requests being served now');

    // A request leaves the in-flight count once, whether it was answered or its client went away.
    const done = (request: FastifyRequest, status: number | null) => {
      if (request.metricsStart === undefined) return;
      const ms = performance.now() - request.metricsStart;
      request.metricsStart = undefined;
      inFlight.dec();
      const labels = { method: request.method, path: pathOf(request), status: status === null ? 'aborted' : String(status) };
      requests.inc(labels);
      duration.observe(labels, ms);
    };
    app.addHook('onRequest', async (request) => {
      request.metricsStart = performance.now();
      inFlight.inc();
    });
    app.addHook('onResponse', async (request, reply) => done(request, reply.statusCode));
    app.addHook('onRequestAbort', async (request) => done(request, null));

    app.get(
      '/metrics',
      { schema: { tags: ['health'], summary: 'Prometheus metrics (text exposition format)' } },
      async (_request, reply) => {
        const text = await metrics.registry.metrics();
        return reply.type(metrics.registry.contentType).send(text);
      },
    );
  },
  { name: 'metrics' },
);
