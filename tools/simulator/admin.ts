// The simulator's admin API: the programmatic API over HTTP, for the demo,
// benchmarks and manual exploration.
import Fastify, { type FastifyInstance } from 'fastify';
import type { SimHoldings } from './book.js';
import { type Fault, SIM_SERVICES, type SimService } from './faults.js';
import type { Simulator } from './simulator.js';

const isService = (value: string): value is SimService => (SIM_SERVICES as readonly string[]).includes(value);

export function createAdminApp(sim: Simulator): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });
  const service = (name: string) => {
    if (!isService(name)) throw Object.assign(new Error(`unknown service ${name}; one of ${SIM_SERVICES.join(', ')}`), { statusCode: 400 });
    return name;
  };

  app.get('/admin', async () => ({
    services: sim.urls,
    book: sim.book.size(),
    routes: [
      'GET /admin/book',
      'POST /admin/book {seed, securities, portfolios, holdings}',
      'GET /admin/counts',
      'DELETE /admin/counts',
      'POST /admin/faults/:service {route?, latencyMs?, status?, retryAfterSeconds?, failureRate?, malformed?, drop?, trickle?, times?, after?}',
      'DELETE /admin/faults[/:service]',
      'POST /admin/down/:service',
      'POST /admin/up/:service',
      'PUT /admin/portfolios/:id/holdings {cash, securities: [{securityId, quantity}]}',
      'DELETE /admin/portfolios/:id/holdings',
      'PUT /admin/prices/:ticker {close}',
      'DELETE /admin/prices/:ticker',
      'PUT /admin/securities/:id {ticker}',
      'DELETE /admin/securities/:id',
      'DELETE /admin/securities/:id/type',
      'GET /admin/orders',
      'POST /admin/orders/reject {securityIds: [...]}',
      'POST /admin/orders/time-out {securityIds: [...], created?}',
      'POST /admin/orders/overload {times}',
    ],
  }));

  app.get('/admin/book', async () => {
    const size = sim.book.size();
    return {
      ...size,
      sampleSecurities: sim.book.securities().slice(0, 10),
      samplePortfolios: sim.book.portfolioIds().slice(0, 10),
    };
  });
  app.post<{ Body: { seed?: number; securities?: number; portfolios?: number; holdings?: number } }>('/admin/book', async (request) => {
    const next = { ...sim.book.size(), ...request.body };
    sim.book.resize(next);
    return next;
  });

  app.get('/admin/counts', async () => sim.counts());
  app.delete('/admin/counts', async () => {
    sim.resetCounts();
    return { ok: true };
  });

  app.post<{ Params: { service: string }; Body: Fault }>('/admin/faults/:service', async (request) => {
    sim.inject(service(request.params.service), request.body);
    return { ok: true };
  });
  app.delete('/admin/faults', async () => {
    sim.heal();
    return { ok: true };
  });
  app.delete<{ Params: { service: string } }>('/admin/faults/:service', async (request) => {
    sim.heal(service(request.params.service));
    return { ok: true };
  });
  app.post<{ Params: { service: string } }>('/admin/down/:service', async (request) => {
    await sim.down(service(request.params.service));
    return { ok: true };
  });
  app.post<{ Params: { service: string } }>('/admin/up/:service', async (request) => {
    await sim.up(service(request.params.service));
    return { ok: true };
  });

  app.put<{ Params: { id: string }; Body: SimHoldings }>('/admin/portfolios/:id/holdings', async (request) => {
    sim.book.setHoldings(request.params.id, request.body);
    return { ok: true };
  });
  app.delete<{ Params: { id: string } }>('/admin/portfolios/:id/holdings', async (request) => {
    sim.book.setHoldings(request.params.id, null);
    return { ok: true };
  });
  app.put<{ Params: { ticker: string }; Body: { close: string | number } }>('/admin/prices/:ticker', async (request) => {
    sim.book.setPrice(request.params.ticker, String(request.body.close));
    return { ok: true };
  });
  app.delete<{ Params: { ticker: string } }>('/admin/prices/:ticker', async (request) => {
    sim.book.setPrice(request.params.ticker, null);
    return { ok: true };
  });
  app.put<{ Params: { id: string }; Body: { ticker: string } }>('/admin/securities/:id', async (request) => {
    sim.book.setSecurity(request.params.id, request.body.ticker);
    return { ok: true };
  });
  app.delete<{ Params: { id: string } }>('/admin/securities/:id', async (request) => {
    sim.book.setSecurity(request.params.id, null);
    return { ok: true };
  });

  app.delete<{ Params: { id: string } }>('/admin/securities/:id/type', async (request) => {
    sim.book.dropSecurityType(request.params.id);
    return { ok: true };
  });

  app.get('/admin/orders', async () => sim.orders.received);
  app.post<{ Body: { securityIds: string[]; created?: boolean } }>('/admin/orders/time-out', async (request) => {
    const slow = new Set(request.body.securityIds);
    const created = request.body.created ?? true;
    sim.orders.timeOut = (order) => (slow.has(String(order.securityId)) ? { created } : null);
    return { ok: true };
  });
  app.post<{ Body: { times: number } }>('/admin/orders/overload', async (request) => {
    sim.orders.overloaded = request.body.times;
    return { ok: true };
  });
  app.post<{ Body: { securityIds: string[] } }>('/admin/orders/reject', async (request) => {
    const rejected = new Set(request.body.securityIds);
    sim.orders.reject = (order) => (rejected.has(String(order.securityId)) ? 'rejected by the simulator' : null);
    return { ok: true };
  });
  return app;
}
