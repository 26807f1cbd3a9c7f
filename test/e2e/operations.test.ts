// What an operator relies on: Prometheus metrics, rate limits, API keys,
// back-pressure, the headers of a JSON API, and turning requests away once
// shutdown has begun.
import { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { gate } from '../helpers/clock.js';
import { databaseRelay, type Relay } from '../helpers/database-relay.js';
import { expectStatus, json, pid, position, sid } from '../helpers/fixtures.js';
import { createWorld, type World } from '../helpers/rebalancing.js';

let t: TestApp | undefined;
let w: World | undefined;
let cable: Relay | undefined;
afterEach(async () => {
  await t?.close();
  await w?.close();
  await cable?.close();
  t = undefined;
  w = undefined;
  cable = undefined;
});

const metricsOf = async (app: TestApp) => {
  const res = await app.request({ method: 'GET', url: '/metrics' });
  expectStatus(res, 200);
  expect(res.headers['content-type']).toContain('text/plain');
  return res.body;
};

/** The value of one sample line, e.g. `http_requests_total{method="GET",...}`; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const wanted = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (wanted) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

/** A log destination the test can read. */
function logSink(): { lines: string[]; sink: Writable } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, sink };
}

describe('GET /metrics', () => {
  it('counts requests by route pattern, with millisecond buckets, and sends unknown routes to one label', async () => {
    t = await createTestApp();
    const created = await t.request({ method: 'POST', url: '/api/v1/models', payload: { name: 'Metered' } });
    const id = json(created).model_id;
    await t.request({ method: 'GET', url: `/api/v1/model/${id}` });
    await t.request({ method: 'GET', url: `/api/v1/model/${id}` });
    await t.request({ method: 'GET', url: '/api/v1/model/0123456789abcdef01234567' });
    await t.request({ method: 'GET', url: '/no/such/route/12345' });
    const text = await metricsOf(t);

    expect(sample(text, 'http_requests_total', { method: 'POST', path: '/api/v1/models', status: '201' })).toBe(1);
    expect(sample(text, 'http_requests_total', { method: 'GET', path: '/api/v1/model/:model_id', status: '200' })).toBe(2);
    expect(sample(text, 'http_requests_total', { method: 'GET', path: '/api/v1/model/:model_id', status: '404' })).toBe(1);
    expect(sample(text, 'http_requests_total', { method: 'GET', path: '<unmatched>', status: '404' })).toBe(1);
    expect(text).not.toContain(id);
    expect(text).not.toContain('/no/such/route');
    // Milliseconds: exactly these buckets, cumulative, ending with both requests.
    const buckets = ['5', '10', '25', '50', '100', '250', '500', '1000', '2500', '5000', '10000', '+Inf'].map((le) =>
      sample(text, 'http_request_duration_bucket', { path: '/api/v1/model/:model_id', status: '200', le }),
    );
    expect(buckets.every((b) => b !== undefined)).toBe(true);
    expect(buckets).toEqual([...buckets].sort((a, b) => a! - b!));
    expect(buckets.at(-1)).toBe(2);
    expect(text.match(/^http_request_duration_bucket\{[^}]*path="\/api\/v1\/model\/:model_id",status="200"\}/gm)).toHaveLength(12);
    expect(sample(text, 'http_request_duration_count', { path: '/api/v1/model/:model_id', status: '200' })).toBe(2);
    // The scrape itself is in flight while it is written.
    expect(sample(text, 'http_requests_in_flight')).toBe(1);
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
  });

  it('reports rebalances, portfolios, solver time, upstream calls, retries, circuits, caches, cycles and orders', async () => {
    w = await createWorld();
    w.security(sid('m1'), 'MET', '20');
    w.holdings(pid('m1'), { cash: '10000', securities: [] });
    await w.model('Metrics', [position(sid('m1'), '0.5')], [pid('m1')]);
    w.sim.inject('accounting', { status: 503, retryAfterSeconds: 0, times: 1 });
    const rebalanced = await w.t.request({ method: 'POST', url: `/api/v1/portfolio/${pid('m1')}/rebalance` });
    expectStatus(rebalanced, 200);
    await w.t.request({ method: 'POST', url: `/api/v1/portfolio/${pid('m1')}/rebalance?dry_run=true` });
    await w.t.request({ method: 'POST', url: `/api/v1/portfolio/${pid('none')}/rebalance` });
    await w.t.request({ method: 'POST', url: `/api/v1/rebalance/${json(rebalanced).rebalance_id}/submit` });
    expect(await w.t.app.scheduler.runOnce()).toMatchObject({ status: 'succeeded' });
    const text = await metricsOf(w.t);

    expect(sample(text, 'rebalances_total', { kind: 'portfolio', outcome: 'stored' })).toBe(1);
    expect(sample(text, 'rebalances_total', { kind: 'portfolio', outcome: 'dry_run' })).toBe(1);
    expect(sample(text, 'rebalances_total', { kind: 'portfolio', outcome: 'not_found' })).toBe(1);
    expect(sample(text, 'rebalances_total', { kind: 'cycle', outcome: 'stored' })).toBe(1);
    expect(sample(text, 'portfolios_rebalanced_total', { status: 'ok' })).toBe(3);
    expect(sample(text, 'solver_duration_ms_count', { result: 'optimal' })).toBe(3);
    expect(sample(text, 'upstream_request_duration_ms_count', { service: 'accounting', outcome: 'ok' })).toBe(3);
    expect(sample(text, 'upstream_retries_total', { service: 'accounting' })).toBe(1);
    expect(sample(text, 'upstream_circuit_state', { service: 'accounting', state: 'closed' })).toBe(1);
    expect(sample(text, 'upstream_circuit_state', { service: 'accounting', state: 'open' })).toBe(0);
    expect(sample(text, 'cache_requests_total', { cache: 'prices', result: 'miss' })).toBe(1);
    expect(sample(text, 'cache_requests_total', { cache: 'prices', result: 'hit' })).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'rebalance_cycles_total', { status: 'succeeded' })).toBe(1);
    expect(sample(text, 'orders_submitted_total', { status: 'accepted' })).toBe(1);
  });

  it('counts a portfolio that cannot be valued among the infeasible ones', async () => {
    w = await createWorld();
    w.security(sid('v1'), 'VAL', '20');
    w.holdings(pid('v1'), { cash: '10000', securities: [] });
    // A holding the Security service does not know: this portfolio cannot be valued.
    w.holdings(pid('v2'), { cash: '10000', securities: [{ securityId: sid('unknown'), quantity: '5' }] });
    const model = await w.model('Unvalued', [position(sid('v1'), '0.5')], [pid('v1'), pid('v2')]);
    expectStatus(await w.t.request({ method: 'POST', url: `/api/v1/model/${model}/rebalance` }), 200);
    const text = await metricsOf(w.t);
    expect(sample(text, 'portfolios_rebalanced_total', { status: 'ok' })).toBe(1);
    expect(sample(text, 'portfolios_rebalanced_total', { status: 'infeasible' })).toBe(1);
  });

  it('shows an open circuit after an upstream keeps failing', async () => {
    w = await createWorld({ CIRCUIT_FAILURE_THRESHOLD: '2', UPSTREAM_RETRIES: '1' });
    w.security(sid('c1'), 'CIR', '20');
    for (const p of ['c1', 'c2', 'c3']) w.holdings(pid(p), { cash: '10000', securities: [] });
    await w.model('Circuit', [position(sid('c1'), '0.5')], [pid('c1'), pid('c2'), pid('c3')]);
    w.sim.inject('accounting', { status: 500 });
    for (const p of ['c1', 'c2', 'c3']) await w.t.request({ method: 'POST', url: `/api/v1/portfolio/${pid(p)}/rebalance` });
    const text = await metricsOf(w.t);
    expect(sample(text, 'upstream_circuit_state', { service: 'accounting', state: 'open' })).toBe(1);
    expect(sample(text, 'upstream_circuit_transitions_total', { service: 'accounting', state: 'open' })).toBe(1);
    expect(sample(text, 'rebalances_total', { kind: 'portfolio', outcome: 'upstream_unavailable' })).toBe(3);
    const health = json(await w.t.request({ method: 'GET', url: '/health/health' }));
    expect(health.upstreams.accounting).toMatchObject({
      circuit: 'open',
      last_error: { message: expect.stringContaining('Portfolio Accounting') },
    });
  });
});

describe('rate limiting', () => {
  it('answers 429 RATE_LIMITED with retry-after past the budget, and never limits probes or metrics', async () => {
    t = await createTestApp({ RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_MS: '60000' });
    for (let i = 0; i < 3; i++) expectStatus(await t.request({ method: 'GET', url: '/api/v1/models' }), 200);
    const limited = await t.request({ method: 'GET', url: '/api/v1/models', headers: { 'x-correlation-id': 'limited-1' } });
    expectStatus(limited, 429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(json(limited)).toEqual({
      status_code: 429,
      code: 'RATE_LIMITED',
      message: expect.stringMatching(/^Too many requests: at most 3 per 60 s/),
      detail: json(limited).message,
      details: [],
      correlation_id: 'limited-1',
    });
    for (const url of ['/health/live', '/health/ready', '/metrics']) {
      for (let i = 0; i < 5; i++) expectStatus(await t.request({ method: 'GET', url }), 200, url);
    }
  });

  it('counts each client separately', async () => {
    t = await createTestApp({ RATE_LIMIT_MAX: '1' });
    const from = (remoteAddress: string) => t!.request({ method: 'GET', url: '/api/v1/models', remoteAddress });
    expectStatus(await from('10.0.0.1'), 200);
    expectStatus(await from('10.0.0.1'), 429);
    expectStatus(await from('10.0.0.2'), 200);
  });
});

describe('API keys', () => {
  const keys = ['first-key-0123456789abcdef', 'second-key-0123456789abcdef'];

  it('needs a valid bearer key for every write, never for reads, probes or metrics, and never logs it', async () => {
    const { lines, sink } = logSink();
    t = await createTestApp({ API_KEYS: keys.join(','), LOG_LEVEL: 'debug' }, { logger: pino({ level: 'debug' }, sink) });
    const create = (authorization?: string) =>
      t!.request({
        method: 'POST',
        url: '/api/v1/models',
        payload: { name: 'Keyed' },
        headers: authorization === undefined ? {} : { authorization },
      });

    const missing = await create();
    expectStatus(missing, 401);
    expect(missing.headers['www-authenticate']).toContain('Bearer');
    expect(json(missing)).toMatchObject({ status_code: 401, code: 'UNAUTHORIZED', message: expect.stringContaining('Bearer') });
    expect(json(await create('Bearer not-a-key-at-all-000000'))).toMatchObject({
      code: 'UNAUTHORIZED',
      message: 'The API key is not valid',
    });
    expectStatus(await create(`Basic ${keys[0]}`), 401);
    const made = await create(`Bearer ${keys[1]}`);
    expectStatus(made, 201);
    expect(made.headers['www-authenticate']).toBeUndefined();
    const id = json(made).model_id;
    expectStatus(await t.request({ method: 'DELETE', url: `/api/v1/model/${id}?version=1` }), 401);
    expectStatus(await t.request({ method: 'PUT', url: `/api/v1/model/${id}`, payload: {} }), 401);

    for (const url of ['/api/v1/models', `/api/v1/model/${id}`, '/health/live', '/health/ready', '/metrics', '/openapi.json']) {
      expectStatus(await t.request({ method: 'GET', url }), 200, url);
    }
    const logs = lines.join('');
    expect(logs).toContain('API_KEYS is set');
    for (const key of keys) expect(logs).not.toContain(key);
  });

  it('leaves everything open without API_KEYS, and says so at start-up', async () => {
    const { lines, sink } = logSink();
    t = await createTestApp({}, { logger: pino({ level: 'info' }, sink) });
    expectStatus(await t.request({ method: 'POST', url: '/api/v1/models', payload: { name: 'Open' } }), 201);
    expect(lines.join('')).toContain('API_KEYS is not set');
  });
});

describe('back-pressure', () => {
  it('sheds /api/v1 with 503 OVERLOADED past the heap limit; readiness says so; liveness and metrics do not', async () => {
    t = await createTestApp({ MAX_HEAP_USED_MB: '1' });
    // The process is sampled every second: wait for the first sample.
    let shed = await t.request({ method: 'GET', url: '/api/v1/models' });
    for (let i = 0; i < 50 && shed.statusCode === 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      shed = await t.request({ method: 'GET', url: '/api/v1/models' });
    }
    expectStatus(shed, 503);
    expect(shed.headers['retry-after']).toBe('10');
    expect(json(shed)).toMatchObject({
      status_code: 503,
      code: 'OVERLOADED',
      message: expect.stringMatching(/^The service is overloaded \(its heap holds \d+ MiB\)/),
    });
    const ready = await t.request({ method: 'GET', url: '/health/ready' });
    expectStatus(ready, 503);
    expect(json(ready).message).toContain('overloaded');
    expectStatus(await t.request({ method: 'GET', url: '/health/live' }), 200);
    expectStatus(await t.request({ method: 'GET', url: '/metrics' }), 200);
  });
});

describe('responses', () => {
  it('carry the headers of a JSON API', async () => {
    t = await createTestApp();
    for (const url of ['/api/v1/models', '/api/v1/nothing-here', '/health/ready']) {
      const res = await t.request({ method: 'GET', url });
      expect(res.headers['x-content-type-options'], url).toBe('nosniff');
      expect(res.headers['x-frame-options'], url).toBe('DENY');
      expect(res.headers['cache-control'], url).toBe('no-store');
      expect(res.headers['content-security-policy'], url).toContain("default-src 'none'");
      expect(res.headers['x-powered-by'], url).toBeUndefined();
    }
  });

  it('turn new requests away with 503 in the error shape once shutdown has begun; readiness fails, liveness does not', async () => {
    t = await createTestApp();
    t.app.lifecycle.shuttingDown = true;
    const res = await t.request({ method: 'GET', url: '/api/v1/models' });
    expectStatus(res, 503);
    expect(res.headers.connection).toBe('close');
    expect(json(res)).toMatchObject({ status_code: 503, code: 'NOT_READY', message: expect.stringContaining('shutting down') });
    expectStatus(await t.request({ method: 'GET', url: '/health/ready' }), 503);
    expectStatus(await t.request({ method: 'GET', url: '/health/live' }), 200);
  });
});

describe('unexpected failures', () => {
  it('answer 500 INTERNAL in the error shape with no internals, logged with the correlation id', async () => {
    const { lines, sink } = logSink();
    let broken = false;
    const clock = {
      now: () => {
        if (broken) throw new Error('clock failure at /srv/secret/config.ts:42');
        return new Date();
      },
    };
    t = await createTestApp({}, { logger: pino({ level: 'info' }, sink), clock });
    broken = true;
    const res = await t.request({
      method: 'POST',
      url: '/api/v1/models',
      payload: { name: 'Broken clock' },
      headers: { 'x-correlation-id': 'boom-1' },
    });
    expectStatus(res, 500);
    expect(json(res)).toEqual({
      status_code: 500,
      code: 'INTERNAL',
      message: 'An internal error occurred; the correlation id identifies it in the service logs',
      detail: 'An internal error occurred; the correlation id identifies it in the service logs',
      details: [],
      correlation_id: 'boom-1',
    });
    expect(res.body).not.toContain('secret');
    const logged = lines.map((line) => JSON.parse(line) as { correlation_id?: string; msg?: string; err?: { message?: string } });
    expect(logged.find((l) => l.msg === 'request failed')).toMatchObject({
      correlation_id: 'boom-1',
      err: { message: expect.stringContaining('clock failure') },
    });
    // The request's log lines (received, failed, answered) carry its id.
    const forRequest = logged.filter((l) => l.correlation_id === 'boom-1');
    expect(forRequest.length).toBeGreaterThanOrEqual(2);
    broken = false;
    expect(json(await t.request({ method: 'GET', url: '/api/v1/models' }))).toEqual([]);
  });
});

describe('slow clients', () => {
  it('get 408 and a closed connection when a request is not sent in full within REQUEST_TIMEOUT_MS', async () => {
    t = await createTestApp({ REQUEST_TIMEOUT_MS: '300' });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as { port: number };
    const socket = new Socket();
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.connect(port, '127.0.0.1', () => {
      // Headers promise 100 bytes of body; only one ever comes.
      socket.write('POST /api/v1/models HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{');
    });
    await closed;
    const answer = Buffer.concat(received).toString();
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
    expect(body).toMatchObject({ status_code: 408, code: 'REQUEST_TIMEOUT', details: [] });
    expect(body.message).toContain('300 ms');
    expect(body.correlation_id).toEqual(expect.any(String));
    const listed = await t.request({ method: 'GET', url: '/api/v1/models' });
    expect(json(listed)).toEqual([]);
  });
});

describe('a database outage', () => {
  it('while the orders of a stored rebalance are submitted: the answer says the rebalance is stored and how to resubmit', async () => {
    cable = await databaseRelay();
    w = await createWorld({ MONGODB_URI: cable.uri, MONGODB_TIMEOUT_MS: '300', ORDER_SUBMISSION: 'on' });
    w.security(sid('out'), 'OUT', '10');
    w.holdings(pid('out0'), { cash: '1000', securities: [] });
    const model = await w.model('Outage', [position(sid('out'), '0.5')], [pid('out0')]);
    const held = gate();
    w.sim.inject('order', { hold: held.hold, times: 1 });
    const answer = w.t.request({ method: 'POST', url: `/api/v1/model/${model}/rebalance?submit=true` });
    await held.arrived; // stored; its orders under way
    await cable.cut();
    held.open();
    const res = await answer;
    expectStatus(res, 503);
    const { message } = json(res) as { message: string };
    expect(message).toMatch(
      /^Rebalance [0-9a-f]{24} is stored, but submitting its orders failed: MongoDB, the service database, is unavailable\./,
    );
    const id = /^Rebalance ([0-9a-f]{24})/.exec(message)![1]!;
    expect(message).toContain(`resubmit with POST /api/v1/rebalance/${id}/submit`);
    await cable.restore();
    await expect
      .poll(async () => (await w!.t.request({ method: 'GET', url: `/api/v1/rebalance/${id}` })).statusCode, { timeout: 20_000 })
      .toBe(200);
  });

  it('answers 503 in the error shape naming MongoDB, fails readiness, and recovers when the database is back', async () => {
    cable = await databaseRelay();
    t = await createTestApp({ MONGODB_URI: cable.uri, MONGODB_TIMEOUT_MS: '300' });
    const created = await t.request({ method: 'POST', url: '/api/v1/models', payload: { name: 'Before the outage' } });
    expectStatus(created, 201);
    const id = json(created).model_id as string;

    await cable.cut();
    for (const request of [
      { method: 'GET' as const, url: `/api/v1/model/${id}` },
      { method: 'POST' as const, url: '/api/v1/models', payload: { name: 'During the outage' } },
    ]) {
      const res = await t.request(request);
      expectStatus(res, 503);
      expect(res.headers['retry-after']).toBe('5');
      expect(json(res)).toMatchObject({ status_code: 503, code: 'UPSTREAM_UNAVAILABLE' });
      expect(json(res).message).toContain('MongoDB');
      expect(res.body).not.toMatch(/127\.0\.0\.1|Mongo[A-Z]\w*Error/);
    }
    expectStatus(await t.request({ method: 'GET', url: '/health/ready' }), 503);
    expectStatus(await t.request({ method: 'GET', url: '/health/live' }), 200);

    await cable.restore();
    let back = await t.request({ method: 'GET', url: `/api/v1/model/${id}` });
    for (let attempt = 0; attempt < 50 && back.statusCode === 503; attempt++) {
      back = await t.request({ method: 'GET', url: `/api/v1/model/${id}` });
    }
    expectStatus(back, 200);
    // Nothing was half written while it was down.
    const listed = json(await t.request({ method: 'GET', url: '/api/v1/models' })) as { name: string }[];
    expect(listed.map((m) => m.name)).toEqual(['Before the outage']);
  });
});
