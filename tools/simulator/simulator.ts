// A faithful stand-in for the five GlobeCo services, in one process: a seeded
// book, fault injection, request counts, the real services' quirks by default. The programmatic API is what tests,
// the demo and the benchmarks use; `npm run simulator` wraps it (main.ts).
import type { FastifyInstance } from 'fastify';
import { createAdminApp } from './admin.js';
import { type BookRealism, type BookSize, createBook, DEFAULT_SIZE, REALISTIC } from './book.js';
import { createFaults, type Fault, SIM_SERVICES, type SimService } from './faults.js';
import {
  accountingApp,
  type OrderDesk,
  type OrderTiming,
  orderApp,
  portfolioApp,
  pricingApp,
  REAL_ORDER_TIMING,
  type ServiceBehaviour,
  securityApp,
} from './services.js';

export type { Fault, SimService } from './faults.js';

/**
 * Realistic by default (upstreams.md). The switches below make it less so,
 * each only for tests that need it: exact prices, a book without unpriced
 * securities or new portfolios, a faster Order service.
 */
export interface SimulatorOptions extends Partial<BookSize> {
  readonly host?: string;
  /** The generated book's share of unpriced securities, closed positions and new portfolios. */
  readonly realism?: Partial<BookRealism>;
  /** Prices exactly as stored instead of a new draw per request. */
  readonly steadyPrices?: boolean;
  /** Scales the Order service's processing time (1 = as slow as the real one). */
  readonly latencyScale?: number;
  readonly orderTiming?: Partial<OrderTiming>;
  /** POSTs /orders in progress at once before the Order service answers 500 (overloaded). */
  readonly orderCapacity?: number;
  /** Port per service (0 = any free port), and for the admin API (omit to run none). */
  readonly ports?: Partial<Record<SimService | 'admin', number>>;
}

/** The environment variables that point this service at the simulator. */
const ENV_NAMES: Record<SimService, string> = {
  accounting: 'PORTFOLIO_ACCOUNTING_SERVICE_URL',
  security: 'SECURITY_SERVICE_URL',
  pricing: 'PRICING_SERVICE_URL',
  portfolio: 'PORTFOLIO_SERVICE_URL',
  order: 'ORDER_SERVICE_URL',
};

export async function startSimulator(options: SimulatorOptions = {}) {
  const host = options.host ?? '127.0.0.1';
  const size: BookSize = {
    seed: options.seed ?? DEFAULT_SIZE.seed,
    securities: options.securities ?? DEFAULT_SIZE.securities,
    portfolios: options.portfolios ?? DEFAULT_SIZE.portfolios,
    holdings: options.holdings ?? DEFAULT_SIZE.holdings,
  };
  const book = createBook(size, { ...REALISTIC, ...options.realism });
  const faults = createFaults(size.seed);
  const desk: OrderDesk = {
    received: [],
    reject: () => null,
    timeOut: () => null,
    overloaded: 0,
    capacity: options.orderCapacity ?? 4,
    nextId: 1,
  };
  const behaviour: ServiceBehaviour = {
    steadyPrices: options.steadyPrices ?? false,
    latencyScale: options.latencyScale ?? 1,
    orderTiming: { ...REAL_ORDER_TIMING, ...options.orderTiming },
  };
  const build: Record<SimService, () => FastifyInstance> = {
    accounting: () => accountingApp(book, faults),
    security: () => securityApp(book, faults),
    pricing: () => pricingApp(book, faults, behaviour, size.seed),
    portfolio: () => portfolioApp(book, faults),
    order: () => orderApp(desk, book, faults, behaviour),
  };
  const apps = new Map<SimService, FastifyInstance>();
  /** W3C trace context received, for the tracing tests. */
  const traceparents: { service: SimService; url: string; traceparent: string }[] = [];
  const ports = {} as Record<SimService, number>;

  async function listen(service: SimService, port: number): Promise<void> {
    const app = build[service]();
    app.addHook('onRequest', async (request) => {
      const traceparent = request.headers.traceparent;
      if (typeof traceparent === 'string') traceparents.push({ service, url: request.url, traceparent });
    });
    await app.listen({ host, port });
    const address = app.server.address();
    ports[service] = typeof address === 'object' && address !== null ? address.port : port;
    apps.set(service, app);
  }
  for (const service of SIM_SERVICES) await listen(service, options.ports?.[service] ?? 0);

  const urls = Object.fromEntries(SIM_SERVICES.map((s) => [s, `http://${host}:${ports[s]}`])) as Record<SimService, string>;

  const simulator = {
    urls,
    book,
    faults,
    orders: desk,
    /** Environment for this service's configuration (upstream URLs). */
    env(): Record<string, string> {
      return Object.fromEntries(SIM_SERVICES.map((s) => [ENV_NAMES[s], urls[s]]));
    },
    inject(service: SimService, fault: Fault): void {
      faults.set(service, fault);
    },
    heal(service?: SimService): void {
      faults.clear(service);
    },
    counts: () => faults.counts(),
    total: (service: SimService, route?: string) => faults.total(service, route),
    resetCounts: () => faults.resetCounts(),
    /** Every `traceparent` header received, in order. */
    traceparents: (): readonly { service: SimService; url: string; traceparent: string }[] => traceparents,
    /** Fully down: the service stops listening (connections are refused) until `up`. */
    async down(service: SimService): Promise<void> {
      const app = apps.get(service);
      apps.delete(service);
      await app?.close();
    },
    async up(service: SimService): Promise<void> {
      if (!apps.has(service)) await listen(service, ports[service]);
    },
    admin: null as FastifyInstance | null,
    adminUrl: null as string | null,
    async stop(): Promise<void> {
      await Promise.all([...apps.values()].map((app) => app.close()));
      apps.clear();
      await simulator.admin?.close();
    },
  };

  if (options.ports?.admin !== undefined) {
    const admin = createAdminApp(simulator);
    await admin.listen({ host, port: options.ports.admin });
    const address = admin.server.address();
    simulator.admin = admin;
    simulator.adminUrl = `http://${host}:${typeof address === 'object' && address !== null ? address.port : options.ports.admin}`;
  }
  return simulator;
}

export type Simulator = Awaited<ReturnType<typeof startSimulator>>;
