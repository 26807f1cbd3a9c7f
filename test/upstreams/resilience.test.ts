// How every upstream call behaves under failure (upstreams.md), over real HTTP
// against the simulator.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UpstreamUnavailableError } from '../../src/upstreams/index.js';
import { type Harness, harness, SECURITY_ROUTE } from './helpers.js';

let h: Harness;
afterEach(async () => {
  vi.useRealTimers();
  await h.close();
});

const security = () => h.sim.book.securityId(3);
const failure = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail');
};

describe('retries', () => {
  it('retries a 503 and succeeds on the third attempt', async () => {
    h = await harness();
    h.sim.inject('security', { route: SECURITY_ROUTE, status: 503, times: 2 });
    await expect(h.upstreams.security.ticker(security())).resolves.toBe('AAD');
    expect(h.sim.total('security', SECURITY_ROUTE)).toBe(3);
  });

  it('retries timeouts, connection drops and 429, but never another 4xx', async () => {
    h = await harness({ UPSTREAM_TIMEOUT_MS: '100' });
    h.sim.inject('security', { route: SECURITY_ROUTE, latencyMs: 1000, times: 1 });
    h.sim.inject('security', { route: SECURITY_ROUTE, drop: true, times: 1 });
    await expect(h.upstreams.security.ticker(security())).resolves.toBe('AAD');
    expect(h.sim.total('security', SECURITY_ROUTE)).toBe(3);

    h.sim.resetCounts();
    h.sim.inject('security', { route: SECURITY_ROUTE, status: 429, times: 1 });
    await expect(h.upstreams.security.ticker(security())).resolves.toBe('AAD');
    expect(h.sim.total('security', SECURITY_ROUTE)).toBe(2);

    h.sim.resetCounts();
    h.sim.inject('security', { route: SECURITY_ROUTE, status: 400, times: 1 });
    const error = await failure(h.upstreams.security.ticker(security()));
    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect(error.message).toBe(`The Security service is unavailable: GET /api/v1/security/${security()}: answered 400 (simulated 400)`);
    expect(h.sim.total('security', SECURITY_ROUTE)).toBe(1);
  });

  it('gives up after UPSTREAM_RETRIES attempts with an error naming the service and the call', async () => {
    h = await harness({ UPSTREAM_RETRIES: '3' });
    h.sim.inject('security', { route: SECURITY_ROUTE, status: 500 });
    const error = (await failure(h.upstreams.security.ticker(security()))) as UpstreamUnavailableError;
    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect(error).toMatchObject({ statusCode: 503, code: 'UPSTREAM_UNAVAILABLE', service: 'security' });
    expect(error.message).toBe(
      `The Security service is unavailable: GET /api/v1/security/${security()}: answered 500 (simulated 500) after 3 attempts`,
    );
    expect(h.sim.total('security', SECURITY_ROUTE)).toBe(3);
  });

  it('times each attempt out and says so', async () => {
    h = await harness({ UPSTREAM_TIMEOUT_MS: '50', UPSTREAM_RETRIES: '2' });
    h.sim.inject('pricing', { latencyMs: 2000 });
    const error = await failure(h.upstreams.pricing.price('AAD'));
    expect(error.message).toBe('The Pricing service is unavailable: GET /api/v1/price/AAD: no answer within 50 ms after 2 attempts');
  });

  it('times out an attempt whose answer starts at once but whose body never ends (the timeout bounds the whole attempt)', async () => {
    h = await harness({ UPSTREAM_TIMEOUT_MS: '200', UPSTREAM_RETRIES: '1' });
    h.sim.inject('security', { route: SECURITY_ROUTE, trickle: true, times: 1 });
    const error = await failure(h.upstreams.security.ticker(security()));
    expect(error.message).toBe(`The Security service is unavailable: GET /api/v1/security/${security()}: no answer within 200 ms`);
  });

  it('waits at least as long as retry-after asks, whatever the backoff', async () => {
    h = await harness({ UPSTREAM_BACKOFF_MS: '1' });
    h.sim.inject('security', { route: SECURITY_ROUTE, status: 503, retryAfterSeconds: 1, times: 1 });
    await expect(h.upstreams.security.ticker(security())).resolves.toBe('AAD');
    const retry = h.logs.find((line) => line.msg === 'retrying upstream call');
    expect(retry).toMatchObject({ upstream: 'security', attempt: 1 });
    expect(retry!.delayMs as number).toBeGreaterThanOrEqual(1000);
  });

  it('passes retry-after on to the caller when it gives up', async () => {
    h = await harness({ UPSTREAM_RETRIES: '1' });
    h.sim.inject('pricing', { status: 503, retryAfterSeconds: 7 });
    const error = (await failure(h.upstreams.pricing.price('AAB'))) as UpstreamUnavailableError;
    expect(error.retryAfterSeconds).toBe(7);
  });

  it('does not repeat an order submission that may have been taken (timeout), but does after a 503', async () => {
    h = await harness({ ORDER_SUBMIT_TIMEOUT_MS: '100', UPSTREAM_RETRIES: '3' });
    const order = [{ portfolioId: h.sim.book.portfolioId(0), securityId: security(), side: 'BUY' as const, quantity: 5 }];
    h.sim.inject('order', { route: 'POST /api/v1/orders', latencyMs: 1000, times: 1 });
    await expect(h.upstreams.orders.submit(order, new Date())).rejects.toThrow('no answer within 100 ms');
    expect(h.sim.total('order', 'POST /api/v1/orders')).toBe(1);

    h.sim.resetCounts();
    h.sim.inject('order', { route: 'POST /api/v1/orders', status: 503, times: 1 });
    await expect(h.upstreams.orders.submit(order, new Date())).resolves.toMatchObject([{ status: 'accepted' }]);
    expect(h.sim.total('order', 'POST /api/v1/orders')).toBe(2);
  });
});

describe('error messages', () => {
  it('quote what the service said, in whichever body shape it uses', async () => {
    h = await harness({ UPSTREAM_RETRIES: '1' });
    const id = h.sim.book.portfolioId(1);
    // Portfolio Accounting: {"error":{"code","message"}}
    h.sim.inject('accounting', { route: 'GET /api/v1/balances', status: 502, times: 1 });
    h.sim.inject('accounting', { route: 'GET /api/v1/portfolios/:portfolioId/summary', status: 500, times: 1 });
    await expect(h.upstreams.accounting.holdings(id)).rejects.toThrow(
      `The Portfolio Accounting service is unavailable: GET /api/v1/balances?portfolio_id=${id}&offset=0&limit=1000: answered 502 (simulated 502)`,
    );
    // Security: FastAPI's {"detail": ...}
    h.sim.inject('security', { status: 503, times: 1 });
    await expect(h.upstreams.security.ticker(security())).rejects.toThrow(
      `GET /api/v1/security/${security()}: answered 503 (simulated 503)`,
    );
    // Pricing: Spring's {"timestamp","status","error","message","path"}
    h.sim.inject('pricing', { status: 503, times: 1 });
    await expect(h.upstreams.pricing.price('AAD')).rejects.toThrow('GET /api/v1/price/AAD: answered 503 (simulated 503)');
    // Plain text
    h.sim.inject('pricing', { status: 500, text: 'Internal Server Error', times: 1 });
    await expect(h.upstreams.pricing.price('AAD')).rejects.toThrow('GET /api/v1/price/AAD: answered 500 (Internal Server Error)');
    // The Order service's batch answer: its message
    h.sim.orders.overloaded = 1;
    const order = [{ portfolioId: h.sim.book.portfolioId(0), securityId: security(), side: 'BUY' as const, quantity: 5 }];
    await expect(h.upstreams.orders.submit(order, new Date())).rejects.toThrow(
      'POST /api/v1/orders (1 orders): answered 500 (Internal server error processing batch request: System temporarily overloaded - please retry in a few minutes)',
    );
  });
});

describe('the circuit breaker', () => {
  it('opens after the threshold of consecutive failures, fails fast without calling, half-opens and closes', async () => {
    // The breaker reads the time from Date: fake that alone (timers and sockets stay real) and move it by hand.
    vi.useFakeTimers({ toFake: ['Date'] });
    h = await harness({ UPSTREAM_RETRIES: '1', CIRCUIT_FAILURE_THRESHOLD: '3', CIRCUIT_RESET_MS: '300' });
    h.sim.inject('security', { status: 500 });
    for (let i = 0; i < 3; i++) await failure(h.upstreams.security.ticker(security()));
    expect(h.upstreams.health().security.circuit).toBe('open');
    expect(h.upstreams.health().security.last_error?.message).toContain('answered 500');
    expect(h.logs.some((line) => line.msg === 'Security circuit open' && line.level === 40)).toBe(true);

    const fast = (await failure(h.upstreams.security.ticker(security()))) as UpstreamUnavailableError;
    expect(fast.message).toBe(
      `The Security service is unavailable: GET /api/v1/security/${security()}: its circuit is open after 3 consecutive failures`,
    );
    expect(fast.retryAfterSeconds).toBe(1);
    expect(h.sim.total('security')).toBe(3); // failing fast calls nobody

    h.sim.heal('security');
    vi.advanceTimersByTime(299);
    await failure(h.upstreams.security.ticker(security()));
    expect(h.sim.total('security')).toBe(3); // still open 1 ms before the reset time
    vi.advanceTimersByTime(1);
    await expect(h.upstreams.security.ticker(security())).resolves.toBe('AAD');
    expect(h.upstreams.health().security.circuit).toBe('closed');
    expect(h.sim.total('security')).toBe(4);
  });

  it('is not opened by 4xx answers', async () => {
    h = await harness({ UPSTREAM_RETRIES: '1', CIRCUIT_FAILURE_THRESHOLD: '2' });
    h.sim.inject('security', { status: 400 });
    for (let i = 0; i < 4; i++) await failure(h.upstreams.security.ticker(security()));
    expect(h.upstreams.health().security.circuit).toBe('closed');
  });

  it('counts a service that is fully down (connection refused)', async () => {
    h = await harness({ UPSTREAM_RETRIES: '1', CIRCUIT_FAILURE_THRESHOLD: '2' });
    await h.sim.down('accounting');
    const error = await failure(h.upstreams.accounting.holdings(h.sim.book.portfolioId(0)));
    expect(error.message).toMatch(
      /^The Portfolio Accounting service is unavailable: GET \/api\/v1\/portfolios\/\w+\/summary: the connection failed \(ECONNREFUSED\)$/,
    );
    await failure(h.upstreams.accounting.holdings(h.sim.book.portfolioId(0)));
    expect(h.upstreams.health().accounting.circuit).toBe('open');
  });
});
