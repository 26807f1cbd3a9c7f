// The five simulated GlobeCo services, each a Fastify app serving the
// payloads of upstreams.md from the book, counting requests per route and
// applying injected faults before answering. They behave as the real services
// do (upstreams.md), quirks included: each service's own error shape, a 500
// summary for a portfolio without balances, /balances and its paging, the
// 1000-row cap of the summary, a plain-text 500 for an id that is not an
// ObjectId, a list of securities that fails whole, prices that move on every
// request, and an Order service that is slow, answers 500 when overloaded and
// reports timed-out orders with requestIndex -1.
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { random } from '../random.js';
import type { Book, SimHoldings } from './book.js';
import type { Faults, SimService } from './faults.js';

export interface ReceivedOrder {
  readonly orderId: number;
  readonly body: Record<string, unknown>;
}

/** How the Order service processes a batch (the real one's settings; times scale with `latencyScale`). */
export interface OrderTiming {
  /** Orders per chunk. */
  readonly chunk: number;
  /** Chunks processed at once. */
  readonly parallel: number;
  /** Per order: its Security and Portfolio lookups and its insert. */
  readonly perOrderMs: number;
  /** Pause after each chunk. */
  readonly pauseMs: number;
}

export const REAL_ORDER_TIMING: OrderTiming = { chunk: 50, parallel: 15, perOrderMs: 18, pauseMs: 100 };

export interface OrderDesk {
  readonly received: ReceivedOrder[];
  /** Decides per order: a reason to reject it, or null to accept. */
  reject: (order: Record<string, unknown>, index: number) => string | null;
  /** Orders whose worker times out: created or not (`created`), reported with requestIndex -1. */
  timeOut: (order: Record<string, unknown>, index: number) => { created: boolean } | null;
  /** The next this many POSTs are refused as overloaded (500, nothing taken). */
  overloaded: number;
  /** POSTs in progress above which the service is overloaded (500, nothing taken). */
  capacity: number;
  nextId: number;
}

export interface ServiceBehaviour {
  /** Prices exactly as stored (no draw per request): only for tests that assert exact figures. */
  readonly steadyPrices: boolean;
  /** Multiplies every simulated processing time (the Order service's chunks): 1 is real time. */
  readonly latencyScale: number;
  readonly orderTiming: OrderTiming;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const now = () => new Date().toISOString();
const OBJECT_ID = /^[0-9a-fA-F]{24}$/;

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};
const CODES: Record<number, string> = {
  400: 'INVALID_REQUEST',
  404: 'NOT_FOUND',
  500: 'INTERNAL_ERROR',
  501: 'NOT_IMPLEMENTED',
  503: 'SERVICE_UNAVAILABLE',
};

/** Each service's own error body: Go `{"error":{code,message}}`, FastAPI `{"detail"}`, Spring's default. */
function sendError(service: SimService, reply: FastifyReply, status: number, message: string, path: string) {
  reply.code(status);
  switch (service) {
    case 'accounting':
      return reply.send({ error: { code: CODES[status] ?? `HTTP_${status}`, message } });
    case 'security':
    case 'portfolio':
      return reply.send({ detail: message });
    case 'pricing':
    case 'order':
      return reply.send({ timestamp: now(), status, error: REASONS[status] ?? 'Error', message, path });
  }
}

function base(service: SimService, faults: Faults): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024, keepAliveTimeout: 30_000 });
  app.addHook('onRequest', async (request, reply) => {
    const route = `${request.method} ${request.routeOptions.url ?? '(no route)'}`;
    faults.count(service, route);
    const fault = faults.pick(service, route);
    if (fault === null) return;
    if (fault.latencyMs !== undefined) await sleep(fault.latencyMs);
    if (fault.hold !== undefined) await fault.hold().catch(() => undefined);
    if (fault.drop === true) {
      reply.hijack();
      request.raw.socket.destroy();
      return;
    }
    if (fault.trickle === true) {
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'application/json' });
      const drip = setInterval(() => reply.raw.write(' '), 20);
      reply.raw.on('close', () => clearInterval(drip));
      return;
    }
    if (fault.malformed === true) {
      await reply.code(200).type('application/json').send('{"simulated": "malformed", ');
      return;
    }
    if (fault.status !== undefined) {
      if (fault.retryAfterSeconds !== undefined) reply.header('retry-after', String(fault.retryAfterSeconds));
      if (fault.text !== undefined) {
        await reply.code(fault.status).type('text/plain; charset=utf-8').send(fault.text);
        return;
      }
      await sendError(service, reply, fault.status, `simulated ${fault.status}`, request.url.split('?')[0]!);
    }
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(service, reply, 404, `${request.method} ${request.url} does not exist`, request.url),
  );
  return app;
}

interface BalanceRow {
  id: number;
  portfolioId: string;
  securityId?: string;
  quantityLong: string;
  quantityShort: string;
  lastUpdated: string;
  version: number;
}

/** A portfolio's balance rows as the accounting service stores them: cash first, then one per security ever held. */
function balanceRows(portfolioId: string, holdings: SimHoldings, at: string): BalanceRow[] {
  const split = (quantity: string) =>
    quantity.startsWith('-') ? { quantityLong: '0', quantityShort: quantity.slice(1) } : { quantityLong: quantity, quantityShort: '0' };
  return [
    { id: 1, portfolioId, ...split(holdings.cash), lastUpdated: at, version: 1 },
    ...holdings.securities.map((s, i) => ({
      id: i + 2,
      portfolioId,
      securityId: s.securityId,
      ...split(s.quantity),
      lastUpdated: at,
      version: 1,
    })),
  ];
}

/** Nanosecond RFC 3339, as the Go service writes it. */
const nanos = () => now().replace('Z', '123456Z');

/** At most this many balance rows are read by a summary. */
export const SUMMARY_ROW_CAP = 1000;

export function accountingApp(book: Book, faults: Faults): FastifyInstance {
  const app = base('accounting', faults);
  app.get<{ Params: { portfolioId: string } }>('/api/v1/portfolios/:portfolioId/summary', async (request, reply) => {
    const { portfolioId } = request.params;
    const holdings = book.holdings(portfolioId);
    // The real service's "not found" check misses its own error text: no balances is a 500.
    if (holdings === null) return sendError('accounting', reply, 500, 'Failed to retrieve portfolio summary', request.url);
    const at = nanos();
    const rows = balanceRows(portfolioId, holdings, at).slice(0, SUMMARY_ROW_CAP);
    const cash = rows.find((r) => r.securityId === undefined);
    const securities = rows.filter((r) => r.securityId !== undefined);
    const net = (r: BalanceRow) => (r.quantityShort === '0' ? r.quantityLong : `-${r.quantityShort}`);
    return {
      portfolioId,
      cashBalance: cash === undefined ? '0' : net(cash),
      securityCount: securities.length,
      lastUpdated: at,
      securities: securities.map((r) => ({
        securityId: r.securityId,
        quantityLong: r.quantityLong,
        quantityShort: r.quantityShort,
        netQuantity: net(r),
        lastUpdated: at,
      })),
    };
  });
  app.get<{ Querystring: Record<string, string | undefined> }>('/api/v1/balances', async (request) => {
    const q = request.query;
    const whole = (raw: string | undefined) => (raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : null);
    // Any limit outside 1..1000 silently becomes 50.
    const asked = whole(q.limit);
    const limit = asked !== null && asked >= 1 && asked <= 1000 ? asked : 50;
    const offset = whole(q.offset) ?? 0;
    const holdings = q.portfolio_id === undefined ? null : book.holdings(q.portfolio_id);
    let rows = holdings === null ? [] : balanceRows(q.portfolio_id!, holdings, nanos());
    if (q.security_id !== undefined) rows = rows.filter((r) => r.securityId === q.security_id);
    const total = rows.length;
    return {
      balances: rows.slice(offset, offset + limit),
      pagination: {
        limit,
        offset,
        total,
        hasMore: offset + limit < total,
        page: Math.floor(offset / limit),
        totalPages: Math.ceil(total / limit),
      },
    };
  });
  app.get('/api/v2/*', async (request, reply) => sendError('accounting', reply, 501, 'API v2 is not implemented', request.url));
  return app;
}

export function securityApp(book: Book, faults: Faults): FastifyInstance {
  const app = base('security', faults);
  const payload = (s: { securityId: string; ticker: string; description: string }) => ({
    securityId: s.securityId,
    ticker: s.ticker,
    description: s.description,
    securityTypeId: '683b6b9620f302c879a5fef3',
    version: 1,
    securityType: { securityTypeId: '683b6b9620f302c879a5fef3', abbreviation: 'CS', description: 'Common Stock' },
  });
  app.get<{ Params: { securityId: string } }>('/api/v1/security/:securityId', async (request, reply) => {
    const { securityId } = request.params;
    // An id that is not an ObjectId crashes the handler: plain-text 500.
    if (!OBJECT_ID.test(securityId)) return reply.code(500).type('text/plain; charset=utf-8').send('Internal Server Error');
    const found = book.security(securityId);
    return found === null ? reply.code(404).send({ detail: 'Security not found' }) : payload(found);
  });
  app.get('/api/v1/securities', async (_request, reply) => {
    const all = book.securities();
    const typeless = all.find((s) => s.typeMissing === true);
    if (typeless !== undefined) return reply.code(400).send({ detail: `Security type not found for security ${typeless.securityId}` });
    return all.map(payload);
  });
  return app;
}

export function pricingApp(book: Book, faults: Faults, behaviour: ServiceBehaviour, seed: number): FastifyInstance {
  const app = base('pricing', faults);
  const draw = random(seed * 977 + 13);
  /** A new price around the stored one on every request (±2%, two decimals, at least 0.01). */
  const quote = (stored: string): number => {
    const value = Number(stored);
    if (behaviour.steadyPrices || !(value > 0)) return value;
    return Math.max(0.01, Math.round(value * (0.98 + draw() * 0.04) * 100) / 100);
  };
  const payload = (ticker: string, close: string, id: number) => {
    const value = quote(close);
    return { id, ticker, date: '2024-06-28', open: value, close: value, high: value, low: value, volume: 0 };
  };
  app.get<{ Params: { ticker: string } }>('/api/v1/price/:ticker', async (request, reply) => {
    const close = book.price(request.params.ticker);
    return close === null
      ? reply.code(404).send({ timestamp: now(), status: 404, error: 'Not Found', path: request.url })
      : payload(request.params.ticker, close, 1);
  });
  app.get('/api/v1/prices', async () => book.prices().map((p, i) => payload(p.ticker, p.close, i + 1)));
  return app;
}

export function portfolioApp(book: Book, faults: Faults): FastifyInstance {
  const app = base('portfolio', faults);
  const payload = (portfolioId: string, name: string) => ({ portfolioId, name, dateCreated: '2025-01-02T00:00:00Z', version: 1 });
  app.get<{ Params: { portfolioId: string } }>('/api/v1/portfolio/:portfolioId', async (request, reply) => {
    const name = book.portfolioName(request.params.portfolioId);
    return name === null ? reply.code(404).send({ detail: 'Portfolio not found' }) : payload(request.params.portfolioId, name);
  });
  app.get('/api/v1/portfolios', async () => book.portfolioIds().map((id) => payload(id, book.portfolioName(id) ?? id)));
  return app;
}

export const ORDER_TYPES = ['BUY', 'SELL', 'SHORT', 'COVER', 'EXRC'].map((abbreviation, i) => ({
  id: i + 1,
  abbreviation,
  description: abbreviation,
  version: 1,
}));
export const STATUSES = ['NEW', 'SENT', 'WORK', 'PART', 'FULL', 'HOLD', 'CNCL', 'CNCLD', 'CPART', 'DEL'].map((abbreviation, i) => ({
  id: i + 1,
  abbreviation,
  description: abbreviation,
  version: 1,
}));
export const BLOTTERS = ['Default', 'Equity', 'Fixed Income', 'Hold', 'Crypto'].map((name, i) => ({ id: i + 1, name, version: 1 }));

export function orderApp(desk: OrderDesk, book: Book, faults: Faults, behaviour: ServiceBehaviour): FastifyInstance {
  const app = base('order', faults);
  let inProgress = 0;
  app.get('/api/v1/orderTypes', async () => ORDER_TYPES);
  app.get('/api/v1/statuses', async () => STATUSES);
  app.get('/api/v1/blotters', async () => BLOTTERS);

  /** Why the service refuses this order, or null: every referenced id must exist, quantity > 0. */
  const invalid = (order: Record<string, unknown>): string | null => {
    if (!BLOTTERS.some((b) => b.id === order.blotterId)) return `Blotter not found with ID: ${String(order.blotterId)}`;
    if (!STATUSES.some((s) => s.id === order.statusId)) return `Status not found with ID: ${String(order.statusId)}`;
    if (!ORDER_TYPES.some((t) => t.id === order.orderTypeId)) return `Order type not found with ID: ${String(order.orderTypeId)}`;
    if (typeof order.portfolioId !== 'string' || book.portfolioName(order.portfolioId) === null) {
      return `Portfolio not found with ID: ${String(order.portfolioId)}`;
    }
    if (typeof order.securityId !== 'string' || !OBJECT_ID.test(order.securityId) || book.security(order.securityId) === null) {
      return `Security not found with ID: ${String(order.securityId)}`;
    }
    if (typeof order.quantity !== 'number' || !(order.quantity > 0)) return 'Quantity must be positive';
    return null;
  };

  const batchAnswer = (status: string, message: string, orders: object[], received: number) => {
    const successful = orders.filter((o) => (o as { status: string }).status === 'SUCCESS').length;
    return { status, message, totalReceived: received, successful, failed: received - successful, orders };
  };

  app.post('/api/v1/orders', async (request, reply) => {
    const body = request.body;
    if (!Array.isArray(body) || body.length === 0) {
      return reply.code(400).send(batchAnswer('FAILURE', 'Request body is required and must contain an array of orders', [], 0));
    }
    if (body.length > 1000) {
      return reply.code(413).send(batchAnswer('FAILURE', `Batch size ${body.length} exceeds maximum allowed size of 1000`, [], 0));
    }
    if (desk.overloaded > 0 || inProgress >= desk.capacity) {
      if (desk.overloaded > 0) desk.overloaded -= 1;
      // The overload exception is caught by the catch-all: 500, nothing taken, no retry-after.
      return reply
        .code(500)
        .send(
          batchAnswer(
            'FAILURE',
            'Internal server error processing batch request: System temporarily overloaded - please retry in a few minutes',
            [],
            0,
          ),
        );
    }
    inProgress += 1;
    try {
      const timing = behaviour.orderTiming;
      const results: object[] = [];
      const chunks: number[][] = [];
      for (let start = 0; start < body.length; start += timing.chunk) {
        chunks.push(Array.from({ length: Math.min(timing.chunk, body.length - start) }, (_, k) => start + k));
      }
      // `parallel` workers take chunks in turn; each order costs its lookups, each chunk a pause.
      let nextChunk = 0;
      const worker = async () => {
        while (nextChunk < chunks.length) {
          const chunk = chunks[nextChunk++]!;
          await sleep(chunk.length * timing.perOrderMs * behaviour.latencyScale);
          for (const requestIndex of chunk) {
            const order = (body[requestIndex] ?? {}) as Record<string, unknown>;
            const timedOut = desk.timeOut(order, requestIndex);
            if (timedOut !== null) {
              if (timedOut.created) desk.received.push({ orderId: desk.nextId++, body: order });
              results.push({ status: 'FAILURE', message: 'Order processing timed out', orderId: null, requestIndex: -1, order: null });
              continue;
            }
            const rejected = invalid(order) ?? desk.reject(order, requestIndex);
            if (rejected !== null) {
              results.push({ status: 'FAILURE', message: rejected, orderId: null, requestIndex, order: null });
              continue;
            }
            const orderId = desk.nextId++;
            desk.received.push({ orderId, body: order });
            results.push({
              status: 'SUCCESS',
              message: 'Order created successfully',
              orderId,
              requestIndex,
              order: { id: orderId, ...order },
            });
          }
          await sleep(timing.pauseMs * behaviour.latencyScale);
        }
      };
      await Promise.all(Array.from({ length: Math.min(timing.parallel, chunks.length) }, worker));
      const successful = results.filter((o) => (o as { status: string }).status === 'SUCCESS').length;
      const status = successful === body.length ? 'SUCCESS' : successful === 0 ? 'FAILURE' : 'PARTIAL';
      return reply
        .code(status === 'SUCCESS' ? 200 : 207)
        .send(batchAnswer(status, `${successful} of ${body.length} orders created`, results, body.length));
    } finally {
      inProgress -= 1;
    }
  });
  return app;
}
