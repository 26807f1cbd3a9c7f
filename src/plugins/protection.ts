// What every route gets: back-pressure (503 OVERLOADED while the event loop or
// heap is past its limit), a clean 503 once shutdown has begun, and the
// response headers expected of a JSON API. Probes and /metrics are never shed,
// so Kubernetes and Prometheus still see the process while it is loaded.
import { getHeapStatistics } from 'node:v8';
import underPressure from '@fastify/under-pressure';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { AppError } from '../domain/errors.js';
import { sendError } from './errors.js';

/** Seconds a client is asked to wait when the service sheds load. */
const OVERLOADED_RETRY_AFTER_S = 10;

/** Probes and scrapes: never shed, and their request lines logged at debug (app.ts). */
export const isProbeOrScrape = (request: FastifyRequest) =>
  request.url.startsWith('/health/') || request.url === '/metrics' || request.url.startsWith('/metrics?');

/** The limits set below (under-pressure checks no others). */
const reasons: Record<string, (value: number | undefined) => string> = {
  eventLoopDelay: (v) => `its event loop is delayed by ${Math.round(v ?? 0)} ms on average`,
  heapUsedBytes: (v) => `its heap holds ${Math.round((v ?? 0) / 2 ** 20)} MiB`,
};

export default fp<Config['overload']>(
  async (app, options) => {
    const heapLimit = Math.floor(getHeapStatistics().heap_size_limit * 0.9);
    const maxHeapUsedBytes = options.maxHeapUsedMb === undefined ? heapLimit : options.maxHeapUsedMb * 2 ** 20;
    await app.register(underPressure, {
      maxEventLoopDelay: options.maxEventLoopDelayMs,
      maxHeapUsedBytes,
      retryAfter: OVERLOADED_RETRY_AFTER_S,
      pressureHandler: (request, _reply, type, value) => {
        if (isProbeOrScrape(request)) return undefined;
        const why = reasons[type]?.(typeof value === 'number' ? value : undefined) ?? 'it is past its limits';
        return Promise.reject(
          new AppError(503, 'OVERLOADED', `The service is overloaded (${why}); retry in a few seconds`, [], OVERLOADED_RETRY_AFTER_S),
        );
      },
    });

    // Once shutdown has begun, new requests (on connections still open) are
    // turned away in the one error shape; the probes say so themselves.
    app.addHook('onRequest', async (request, reply) => {
      if (!app.lifecycle.shuttingDown || request.url.startsWith('/health/')) return;
      reply.header('connection', 'close');
      return sendError(
        request,
        reply,
        new AppError(503, 'NOT_READY', 'The service is shutting down; send the request to another instance', [], 1),
      );
    });

    app.addHook('onSend', async (request, reply) => {
      // Answers finished during shutdown close their connection, so the server can close too.
      if (app.lifecycle.shuttingDown) reply.header('connection', 'close');
      reply.headers({ 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer' });
      if (request.url.startsWith('/docs')) return;
      // JSON answers are data, never a page: nothing may run, embed or cache them.
      reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    });
  },
  { name: 'protection', dependencies: ['health', 'errors'] },
);
