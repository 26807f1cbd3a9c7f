// The HTTP surface around the routes: the one error shape for framework
// errors, correlation ids, CORS, probes and the OpenAPI document.
import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { expectStatus, json } from '../helpers/fixtures.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ BODY_LIMIT_BYTES: '4096' });
});
afterAll(async () => {
  await t.close();
});

const errorShape = {
  status_code: expect.any(Number),
  code: expect.any(String),
  message: expect.any(String),
  detail: expect.any(String),
  details: expect.any(Array),
  correlation_id: expect.any(String),
};

describe('the one error shape', () => {
  it('answers malformed JSON with 400 VALIDATION_ERROR', async () => {
    const res = await t.request({
      method: 'POST',
      url: '/api/v1/models',
      headers: { 'content-type': 'application/json' },
      payload: '{"name": "x",',
    });
    expectStatus(res, 400);
    const message = 'The request body is not valid JSON';
    expect(json(res)).toEqual({ ...errorShape, status_code: 400, code: 'VALIDATION_ERROR', message, detail: message });
  });

  it('answers an unknown route with 404 NOT_FOUND', async () => {
    const res = await t.request({ method: 'GET', url: '/api/v1/nothing-here?x=1' });
    expectStatus(res, 404);
    const message = 'Route GET /api/v1/nothing-here does not exist';
    expect(json(res)).toEqual({ ...errorShape, status_code: 404, code: 'NOT_FOUND', message, detail: message });
  });

  it.each([
    ['an array', '[]'],
    ['a string', '"model"'],
    ['a number', '42'],
    ['null', 'null'],
  ])('rejects a body that is %s', async (_what, payload) => {
    const res = await t.request({ method: 'POST', url: '/api/v1/models', headers: { 'content-type': 'application/json' }, payload });
    expectStatus(res, 400);
    expect(json(res)).toMatchObject({ code: 'VALIDATION_ERROR', message: 'the request body must be an object' });
  });

  it('treats MongoDB operators as invalid values, never as a query', async () => {
    const res = await t.request({ method: 'POST', url: '/api/v1/models', payload: { name: { $gt: '' } } });
    expectStatus(res, 400);
    expect(json(res)).toMatchObject({ code: 'VALIDATION_ERROR', message: 'name must be a string' });
    const list = await t.request({ method: 'GET', url: '/api/v1/models' });
    expect(json(list)).toEqual([]);
  });

  it('rejects operator-shaped portfolio ids', async () => {
    const res = await t.request({ method: 'POST', url: '/api/v1/models', payload: { name: 'x', portfolios: [{ $ne: null }] } });
    expectStatus(res, 400);
    expect(json(res).message).toBe('portfolios[0] must be a string');
  });

  it('answers an oversized body with 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await t.request({ method: 'POST', url: '/api/v1/models', payload: { name: 'x'.repeat(5000) } });
    expectStatus(res, 413);
    expect(json(res)).toEqual({
      ...errorShape,
      status_code: 413,
      code: 'PAYLOAD_TOO_LARGE',
      message: 'The request body is larger than the limit of 4096 bytes',
      detail: 'The request body is larger than the limit of 4096 bytes',
    });
  });

  it('rejects unknown fields so typos do not pass silently', async () => {
    const res = await t.request({ method: 'POST', url: '/api/v1/models', payload: { name: 'x', portfolio: [] } });
    expectStatus(res, 400);
    expect(json(res)).toMatchObject({
      message: 'portfolio is not a known field',
      details: [{ path: 'portfolio', message: 'portfolio is not a known field' }],
    });
  });

  it('answers an unsupported content-type with 415', async () => {
    const res = await t.request({ method: 'POST', url: '/api/v1/models', headers: { 'content-type': 'text/xml' }, payload: '<model/>' });
    expectStatus(res, 415);
    expect(json(res)).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
  });

  it('rejects a prototype-poisoning body', async () => {
    const res = await t.request({
      method: 'POST',
      url: '/api/v1/models',
      headers: { 'content-type': 'application/json' },
      payload: '{"name":"x","__proto__":{"admin":true}}',
    });
    expectStatus(res, 400);
    expect(json(res)).toMatchObject({ ...errorShape, code: 'VALIDATION_ERROR' });
  });
});

describe("one shape for every error, the framework's own included", () => {
  it('repeats message as detail (what FastAPI callers like the portal read) in every error body, with x-correlation-id', async () => {
    const model = json(await t.request({ method: 'POST', url: '/api/v1/models', payload: { name: 'Detail' } }));
    const failures = [
      { method: 'GET', url: '/api/v1/nothing-here' },
      { method: 'GET', url: '/api/v1/model/0123456789abcdef01234567' },
      { method: 'GET', url: '/api/v1/model/bad' },
      { method: 'GET', url: '/api/v1/models?limit=x' },
      { method: 'POST', url: '/api/v1/models', payload: { name: 'Detail' } },
      { method: 'POST', url: '/api/v1/models', headers: { 'content-type': 'application/json' }, payload: '{' },
      { method: 'POST', url: '/api/v1/models', payload: { name: 'x'.repeat(5000) } },
      { method: 'POST', url: '/api/v1/models', headers: { 'content-type': 'text/xml' }, payload: '<model/>' },
      { method: 'DELETE', url: `/api/v1/model/${model.model_id}?version=7` },
      { method: 'PUT', url: `/api/v1/model/${model.model_id}`, payload: { name: 'Detail', positions: [], portfolios: [], version: 9 } },
    ] as const;
    for (const failure of failures) {
      const res = await t.request(failure);
      const body = json(res);
      expect(res.statusCode, failure.url).toBeGreaterThanOrEqual(400);
      expect(body, failure.url).toEqual({ ...errorShape, status_code: res.statusCode, message: body.message, detail: body.message });
      expect(res.headers['x-correlation-id'], failure.url).toBe(body.correlation_id);
    }
  });

  it.each([
    ['GET', `/api/v1/model/${'a'.repeat(101)}`, 'model_id must be 24 lowercase hexadecimal characters'],
    ['GET', `/api/v1/model/${'0'.repeat(10_000)}`, 'model_id must be 24 lowercase hexadecimal characters'],
    ['DELETE', `/api/v1/rebalance/${'f'.repeat(500)}?version=1`, 'rebalance_id must be 24 lowercase hexadecimal characters'],
    ['POST', `/api/v1/portfolio/${'P'.repeat(101)}/rebalance`, 'portfolio_id must be 24 letters or digits'],
    ['GET', `/api/v1/rebalance/${'0'.repeat(24)}/portfolio/${'P'.repeat(300)}/positions`, 'portfolio_id must be 24 letters or digits'],
  ])('answers an over-long id (%s %s) with a 400 naming the parameter, never a raw 414', async (method, url, message) => {
    const res = await t.request({ method: method as 'GET', url, headers: { 'x-correlation-id': 'long-id-1' } });
    expectStatus(res, 400);
    expect(json(res)).toEqual({
      ...errorShape,
      status_code: 400,
      code: 'VALIDATION_ERROR',
      message,
      detail: message,
      correlation_id: 'long-id-1',
    });
    expect(res.headers['x-correlation-id']).toBe('long-id-1');
  });

  it.each(['/%', '/api/v1/model/%zz', '/api/v1/rebalance/%E0%A4%A/portfolios'])(
    'answers a malformed URL encoding (%s) in the one shape, with x-correlation-id',
    async (url) => {
      const res = await t.request({ method: 'GET', url, headers: { 'x-correlation-id': 'bad-url-1' } });
      expectStatus(res, 400);
      const message = 'The URL path is not valid: it has a malformed percent-encoding';
      expect(json(res)).toEqual({
        ...errorShape,
        status_code: 400,
        code: 'VALIDATION_ERROR',
        message,
        detail: message,
        correlation_id: 'bad-url-1',
      });
      expect(res.headers['x-correlation-id']).toBe('bad-url-1');
    },
  );

  it.each([
    ['without Origin', { 'access-control-request-method': 'POST' }],
    ['without Access-Control-Request-Method', { origin: 'https://portal.example' }],
    ['without either', {}],
  ])('answers a CORS preflight %s in the one shape, with x-correlation-id', async (_what, headers) => {
    const res = await t.request({ method: 'OPTIONS', url: '/api/v1/models', headers });
    expectStatus(res, 400);
    expect(res.headers['content-type']).toContain('application/json');
    const body = json(res);
    expect(body).toEqual({
      ...errorShape,
      status_code: 400,
      code: 'VALIDATION_ERROR',
      message: 'A CORS preflight (OPTIONS) needs the Origin and Access-Control-Request-Method headers',
      detail: 'A CORS preflight (OPTIONS) needs the Origin and Access-Control-Request-Method headers',
    });
    expect(res.headers['x-correlation-id']).toBe(body.correlation_id);
  });

  it('answers a request that is not HTTP in the one shape, detail included, over a real socket', async () => {
    const other = await createTestApp();
    try {
      await other.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = other.app.server.address() as { port: number };
      const socket = new Socket();
      const received: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.connect(port, '127.0.0.1', () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
      await closed;
      const answer = Buffer.concat(received).toString();
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
      expect(body).toEqual({
        ...errorShape,
        status_code: 400,
        code: 'VALIDATION_ERROR',
        message: 'The request is not valid HTTP',
        detail: 'The request is not valid HTTP',
      });
      expect(answer).toContain(`x-correlation-id: ${String(body.correlation_id)}`);
    } finally {
      await other.close();
    }
  });
});

describe('correlation ids', () => {
  it('echoes x-correlation-id on the response and in the error body', async () => {
    const res = await t.request({ method: 'GET', url: '/api/v1/model/bad', headers: { 'x-correlation-id': 'req-123' } });
    expect(res.headers['x-correlation-id']).toBe('req-123');
    expect(json(res).correlation_id).toBe('req-123');
  });

  it('generates one when none (or an unsafe one) is sent', async () => {
    const res = await t.request({ method: 'GET', url: '/health/live' });
    expect(res.headers['x-correlation-id']).toMatch(/^[0-9a-f-]{36}$/);
    const unsafe = await t.request({ method: 'GET', url: '/health/live', headers: { 'x-correlation-id': 'a b\nc' } });
    expect(unsafe.headers['x-correlation-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('CORS', () => {
  it('allows any origin by default and exposes the paging and correlation headers', async () => {
    const res = await t.request({ method: 'GET', url: '/api/v1/models', headers: { origin: 'https://portal.example' } });
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-expose-headers']).toContain('x-total-count');
  });

  it('answers a preflight for writes', async () => {
    const res = await t.request({
      method: 'OPTIONS',
      url: '/api/v1/models',
      headers: { origin: 'https://portal.example', 'access-control-request-method': 'PUT' },
    });
    expectStatus(res, 204);
    expect(res.headers['access-control-allow-methods']).toContain('PUT');
  });

  it('narrows to CORS_ORIGINS when set', async () => {
    const narrow = await createTestApp({ CORS_ORIGINS: 'https://portal.example' });
    try {
      const allowed = await narrow.request({ method: 'GET', url: '/health/live', headers: { origin: 'https://portal.example' } });
      expect(allowed.headers['access-control-allow-origin']).toBe('https://portal.example');
      const other = await narrow.request({ method: 'GET', url: '/health/live', headers: { origin: 'https://evil.example' } });
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await narrow.close();
    }
  });
});

describe('probes', () => {
  it('answers liveness without touching anything', async () => {
    const res = await t.request({ method: 'GET', url: '/health/live' });
    expectStatus(res, 200);
    expect(json(res)).toEqual({ status: 'ok' });
  });

  it('is ready while MongoDB answers, with details in /health/health', async () => {
    expect(json(await t.request({ method: 'GET', url: '/health/ready' }))).toEqual({ status: 'ready' });
    const res = await t.request({ method: 'GET', url: '/health/health' });
    expectStatus(res, 200);
    expect(json(res)).toMatchObject({
      status: 'ok',
      version: expect.any(String),
      uptime_seconds: expect.any(Number),
      mongodb: { status: 'ok' },
      upstreams: {
        accounting: { circuit: 'closed', last_error: null },
        security: { circuit: 'closed', last_error: null },
        pricing: { circuit: 'closed', last_error: null },
        portfolio: { circuit: 'closed', last_error: null },
        order: { circuit: 'closed', last_error: null },
      },
      caches: { tickers: 0, prices: 0 },
    });
  });

  it('is not ready (503, error shape) from the moment shutdown begins, while liveness stays 200', async () => {
    const other = await createTestApp();
    try {
      other.app.lifecycle.shuttingDown = true;
      const ready = await other.request({ method: 'GET', url: '/health/ready' });
      expectStatus(ready, 503);
      expect(json(ready)).toMatchObject({ code: 'NOT_READY', message: 'The service is shutting down' });
      expect(ready.headers['retry-after']).toBe('5');
      const health = await other.request({ method: 'GET', url: '/health/health' });
      expect([health.statusCode, health.headers['retry-after']]).toEqual([503, '5']);
      expectStatus(await other.request({ method: 'GET', url: '/health/live' }), 200);
    } finally {
      await other.close();
    }
  });

  it('is not ready when MongoDB does not answer', async () => {
    const other = await createTestApp();
    await other.app.mongo.client.close();
    try {
      const ready = await other.request({ method: 'GET', url: '/health/ready' });
      expectStatus(ready, 503);
      expect(json(ready).message).toBe('MongoDB did not answer a ping within 1000 ms');
      expectStatus(await other.request({ method: 'GET', url: '/health/live' }), 200);
    } finally {
      await other.close();
    }
  });
});

describe('OpenAPI and Swagger UI', () => {
  it('serves an OpenAPI 3 document generated from the route schemas, with examples', async () => {
    const res = await t.request({ method: 'GET', url: '/openapi.json' });
    expectStatus(res, 200);
    const doc = json(res);
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of [
      '/api/v1/models',
      '/api/v1/model/{model_id}',
      '/api/v1/model/{model_id}/position',
      '/api/v1/model/{model_id}/portfolio',
      '/health/ready',
    ]) {
      expect(doc.paths).toHaveProperty([path]);
    }
    expect(Object.keys(doc.paths['/api/v1/model/{model_id}'])).toEqual(expect.arrayContaining(['get', 'put', 'delete']));
    expect(doc.components.schemas.CreateModelBodyInput.example.name).toBe('Global Balanced');
    expect(doc.components.schemas.CreateModelBodyInput.additionalProperties).toBe(false);
    expect(doc.components.schemas.ModelDTO.example.version).toBe(1);
  });

  it('serves Swagger UI at /docs', async () => {
    const res = await t.request({ method: 'GET', url: '/docs/' });
    expectStatus(res, 200);
    expect(res.headers['content-type']).toContain('text/html');
  });
});
