// The GlobeCo services this service talks to, built once from configuration
// and shared: clients, their policies, the quote caches, and their health.
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { accountingClient, orderClient, portfolioClient, pricingClient, type ServiceChannel, securityClient } from './clients.js';
import type { ServiceKey } from './errors.js';
import { createServiceHttp } from './http.js';
import { createQuotes } from './quotes.js';
import { createServicePolicy, type ResilienceSettings, type ServiceHealth, type UpstreamObserver } from './resilience.js';

export type { OrderRequest, PortfolioHoldings } from './clients.js';
export * from './errors.js';
export type { Quote, QuoteSession } from './quotes.js';

/** `now` (ms) times the quote caches; without it, real time. */
export function createUpstreams(config: Config, log: Logger, observer: UpstreamObserver = {}, now?: () => number) {
  const u = config.upstreams;
  const logger = log.child({ component: 'upstreams' });
  const channel = (service: ServiceKey, overrides: Partial<ResilienceSettings> = {}): ServiceChannel => ({
    http: createServiceHttp(service, u.urls[service], u.maxInFlight),
    policy: createServicePolicy(service, { ...u, ...overrides }, logger, observer),
  });
  const channels = {
    accounting: channel('accounting'),
    security: channel('security'),
    pricing: channel('pricing'),
    // Names are cosmetic: one attempt, so a portfolio service outage costs no backoff.
    portfolio: channel('portfolio', { attempts: 1 }),
    // A submission waits for the Order service's chunked processing: its own timeout.
    order: channel('order', { writeTimeoutMs: config.orders.submitTimeoutMs }),
  } satisfies Record<ServiceKey, ServiceChannel>;
  const security = securityClient(channels.security);
  const pricing = pricingClient(channels.pricing);
  const quotes = createQuotes(security, pricing, u, now);

  return {
    accounting: accountingClient(channels.accounting),
    security,
    pricing,
    portfolio: portfolioClient(channels.portfolio),
    orders: orderClient(channels.order, config.orders),
    quotes,
    health: () =>
      Object.fromEntries(Object.entries(channels).map(([service, c]) => [service, c.policy.health()])) as Record<ServiceKey, ServiceHealth>,
    async close() {
      await Promise.all(Object.values(channels).map((c) => c.http.close()));
    },
  };
}

export type Upstreams = ReturnType<typeof createUpstreams>;
