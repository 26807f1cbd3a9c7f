// The HTTP surface around the routes: the one error shape for framework
// errors, correlation ids, CORS, probes and the OpenAPI document.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { json } from '../helpers/fixtures.js';

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
    expect(res.statusCode).toBe(400);
    expect(json(res)).toEqual({ ...errorShape, status_code: 400, code: 'VALIDATION_ERROR', message: 'The request body is not valid JSON' });
  });

  it('answers an unknown route with 404 NOT_FOUND', async () => {
    const res = await t.request({ method: 'GET', url: '/api/v1/nothing-here?x=1' });
    expect(res.statusCode).toBe(404);
    expect(json(res)).toEqual({ ...errorShape, status_code: 404, code: 'NOT_FOUND', message: 'Route GET /api/v1/nothing-here does not exist' });
  });

  it.each([
    ['an array', '[]'],
    ['a string', '"model"'],
    ['a number', '42'],
    ['null', 'null'],
  ])('rejects a body that is %s', async (_what, payload) => {
    const res = await t.request({ method: 'POST', url: '/api/v1/models', headers: { 'content-type': 'application/json' }, payload });
    expect(res.statusCode).toBe(400);
    expect(json(res)).toMatchObject({ code: 'VALIDATION_ERROR', message: 'the request body must be an object' });
  });

  it('treats MongoDB operators as invalid values, never as a query', async () => {
    const res = await t.request({ method: 'POST', url: '/api/v1/models', payload: { name: { $gt: '' } } });
    expect(res.statusCode).toBe(400);
    expect(json(res)).toMatchObject({ code: 'VALIDATION_ERROR', message: 'name must be a string' });
    const list = await t.request({ method: 'GET', url: '/api/v1/models' });
    expect(json(list)).toEqual([]);
  });

  it('rejects operator-shaped portfolio ids', async () => {
    const res = await t.request({ method: 'POST', url: '/api/v1/models', payload: { name: 'x', portfolios: [{ $ne: null }] } });
    expect(res.statusCode).toBe(400);
    expect(json(res).message).toBe('portfolios[0] must be a string');
  });

  it('answers an oversized body with 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await t.request({ method: 'POST', url: '/api/v1/models', payload: { name: 'x'.repeat(5000) } });
    expect(res.statusCode).toBe(413);
    expect(json(res)).toEqual({
      ...errorShape,
      status_code: 413,
      code: 'PAYLOAD_TOO_LARGE',
      message: 'The request body is larger than the limit of 4096 bytes',
    });
  });

  it('rejects unknown fields so typos do not pass silently', async () => {
    const res = await t.request({ method: 'POST', url: '/api/v1/models', payload: { name: 'x', portfolio: [] } });
    expect(res.statusCode).toBe(400);
    expect(json(res)).toMatchObject({
      message: 'portfolio is not a known field',
      details: [{ path: 'portfolio', message: 'portfolio is not a known field' }],
    });
  });

  it('answers an unsupported content-type with 415', async () => {
    const res = await t.request({ method: 'POST', url: '/api/v1/models', headers: { 'content-type': 'text/xml' }, payload: '<model/>' });
    expect(res.statusCode).toBe(415);
    expect(json(res)).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
  });

  it('rejects a prototype-poisoning body', async () => {
    const res = await t.request({
      method: 'POST',
      url: '/api/v1/models',
      headers: { 'content-type': 'application/json' },
      payload: '{"name":"x","__proto__":{"admin":true}}',
    });
    expect(res.statusCode).toBe(400);
    expect(json(res)).toMatchObject({ ...errorShape, code: 'VALIDATION_ERROR' });
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
    expect(res.statusCode).toBe(204);
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
    expect(res.statusCode).toBe(200);
    expect(json(res)).toEqual({ status: 'ok' });
  });

  it('is ready while MongoDB answers, with details in /health/health', async () => {
    expect(json(await t.request({ method: 'GET', url: '/health/ready' }))).toEqual({ status: 'ready' });
    const res = await t.request({ method: 'GET', url: '/health/health' });
    expect(res.statusCode).toBe(200);
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
      expect(ready.statusCode).toBe(503);
      expect(json(ready)).toMatchObject({ code: 'NOT_READY', message: 'The service is shutting down' });
      expect((await other.request({ method: 'GET', url: '/health/health' })).statusCode).toBe(503);
      expect((await other.request({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    } finally {
      await other.close();
    }
  });

  it('is not ready when MongoDB does not answer', async () => {
    const other = await createTestApp();
    await other.app.mongo.client.close();
    try {
      const ready = await other.request({ method: 'GET', url: '/health/ready' });
      expect(ready.statusCode).toBe(503);
      expect(json(ready).message).toBe('MongoDB did not answer a ping within 1000 ms');
      expect((await other.request({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    } finally {
      await other.close();
    }
  });
});

describe('OpenAPI and Swagger UI', () => {
  it('serves an OpenAPI 3 document generated from the route schemas, with examples', async () => {
    const res = await t.request({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
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
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
  });
});
