// The five simulated GlobeCo services, each a Fastify app serving the
// payloads of upstreams.md from the book, counting requests per route and
// applying injected faults before answering.
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { Book } from './book.js';
import type { Faults, SimService } from './faults.js';

export interface ReceivedOrder {
  readonly orderId: number;
  readonly body: Record<string, unknown>;
}

export interface OrderDesk {
  readonly received: ReceivedOrder[];
  /** Decides per order: a reason to reject it, or null to accept. */
  reject: (order: Record<string, unknown>, index: number) => string | null;
  nextId: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const now = () => new Date().toISOString();

function error(reply: FastifyReply, status: number, code: string, message: string) {
  return reply.code(status).send({ error: { code, message, details: [], timestamp: now(), traceId: Math.random().toString(16).slice(2) } });
}

function base(service: SimService, faults: Faults): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024, keepAliveTimeout: 30_000 });
  app.addHook('onRequest', async (request, reply) => {
    const route = `${request.method} ${request.routeOptions.url ?? '(no route)'}`;
    faults.count(service, route);
    const fault = faults.pick(service, route);
    if (fault === null) return;
    if (fault.latencyMs !== undefined) await sleep(fault.latencyMs);
    if (fault.drop === true) {
      reply.hijack();
      request.raw.socket.destroy();
      return;
    }
    if (fault.malformed === true) {
      await reply.code(200).type('application/json').send('{"simulated": "malformed", ');
      return;
    }
    if (fault.status !== undefined) {
      if (fault.retryAfterSeconds !== undefined) reply.header('retry-after', String(fault.retryAfterSeconds));
      await error(reply, fault.status, 'SIMULATED_FAULT', `simulated ${fault.status}`);
    }
  });
  app.setNotFoundHandler((request, reply) => error(reply, 404, 'NOT_FOUND', `${request.method} ${request.url} does not exist`));
  return app;
}

export function accountingApp(book: Book, faults: Faults): FastifyInstance {
  const app = base('accounting', faults);
  app.get<{ Params: { portfolioId: string } }>('/api/v1/portfolios/:portfolioId/summary', async (request, reply) => {
    const { portfolioId } = request.params;
    const holdings = book.holdings(portfolioId);
    if (holdings === null) return error(reply, 404, 'NOT_FOUND', `Portfolio ${portfolioId} has no transactions`);
    const at = now();
    return {
      portfolioId,
      cashBalance: holdings.cash,
      securityCount: holdings.securities.length,
      lastUpdated: at,
      securities: holdings.securities.map((s) => {
        const negative = s.quantity.startsWith('-');
        return {
          securityId: s.securityId,
          quantityLong: negative ? '0' : s.quantity,
          quantityShort: negative ? s.quantity.slice(1) : '0',
          netQuantity: s.quantity,
          lastUpdated: at,
        };
      }),
    };
  });
  return app;
}

export function securityApp(book: Book, faults: Faults): FastifyInstance {
  const app = base('security', faults);
  const payload = (s: { securityId: string; ticker: string; description: string }) => ({
    ...s,
    securityTypeId: '683b6b9620f302c879a5fef3',
    version: 1,
    securityType: { securityTypeId: '683b6b9620f302c879a5fef3', abbreviation: 'CS', description: 'Common Stock' },
  });
  app.get<{ Params: { securityId: string } }>('/api/v1/security/:securityId', async (request, reply) => {
    const found = book.security(request.params.securityId);
    return found === null ? error(reply, 404, 'NOT_FOUND', `Security ${request.params.securityId} not found`) : payload(found);
  });
  app.get('/api/v1/securities', async () => book.securities().map(payload));
  return app;
}

export function pricingApp(book: Book, faults: Faults): FastifyInstance {
  const app = base('pricing', faults);
  const payload = (ticker: string, close: string, id: number) => {
    const value = Number(close);
    return { id, ticker, date: now().slice(0, 10), open: value, close: value, high: value, low: value, volume: 0 };
  };
  app.get<{ Params: { ticker: string } }>('/api/v1/price/:ticker', async (request, reply) => {
    const close = book.price(request.params.ticker);
    return close === null ? error(reply, 404, 'NOT_FOUND', `No price for ${request.params.ticker}`) : payload(request.params.ticker, close, 1);
  });
  app.get('/api/v1/prices', async () => book.prices().map((p, i) => payload(p.ticker, p.close, i + 1)));
  return app;
}

export function portfolioApp(book: Book, faults: Faults): FastifyInstance {
  const app = base('portfolio', faults);
  const payload = (portfolioId: string, name: string) => ({ portfolioId, name, dateCreated: '2025-01-02T00:00:00Z', version: 1 });
  app.get<{ Params: { portfolioId: string } }>('/api/v1/portfolio/:portfolioId', async (request, reply) => {
    const name = book.portfolioName(request.params.portfolioId);
    return name === null ? error(reply, 404, 'NOT_FOUND', `Portfolio ${request.params.portfolioId} not found`) : payload(request.params.portfolioId, name);
  });
  app.get('/api/v1/portfolios', async () => book.portfolioIds().map((id) => payload(id, book.portfolioName(id) ?? id)));
  return app;
}

export function orderApp(desk: OrderDesk, faults: Faults): FastifyInstance {
  const app = base('order', faults);
  app.get('/api/v1/orderTypes', async () => [
    { id: 1, abbreviation: 'BUY', description: 'Buy', version: 1 },
    { id: 2, abbreviation: 'SELL', description: 'Sell', version: 1 },
    { id: 3, abbreviation: 'SHORT', description: 'Sell short', version: 1 },
  ]);
  app.get('/api/v1/statuses', async () => [
    { id: 1, abbreviation: 'NEW', description: 'New', version: 1 },
    { id: 2, abbreviation: 'SENT', description: 'Sent', version: 1 },
  ]);
  app.post('/api/v1/orders', async (request, reply) => {
    const body = request.body;
    if (!Array.isArray(body)) return error(reply, 400, 'BAD_REQUEST', 'the body must be an array of orders');
    if (body.length > 1000) return error(reply, 413, 'PAYLOAD_TOO_LARGE', `${body.length} orders; at most 1000 a request`);
    const orders = body.map((raw, requestIndex) => {
      const order = (raw ?? {}) as Record<string, unknown>;
      const invalid =
        typeof order.portfolioId !== 'string' || typeof order.securityId !== 'string' || typeof order.quantity !== 'number' || !(order.quantity > 0)
          ? 'invalid order'
          : null;
      const rejected = invalid ?? desk.reject(order, requestIndex);
      if (rejected !== null) return { status: 'FAILURE', message: rejected, orderId: null, requestIndex };
      const orderId = desk.nextId++;
      desk.received.push({ orderId, body: order });
      return { status: 'SUCCESS', message: 'Order created', orderId, requestIndex };
    });
    const failed = orders.filter((o) => o.status === 'FAILURE').length;
    const status = failed === 0 ? 'SUCCESS' : failed === orders.length ? 'FAILURE' : 'PARTIAL';
    return reply.code(failed === 0 ? 200 : 207).send({
      status,
      message: `${orders.length - failed} of ${orders.length} orders created`,
      totalReceived: orders.length,
      successful: orders.length - failed,
      failed,
      orders,
    });
  });
  return app;
}
