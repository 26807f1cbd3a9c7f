// Builds the service (routes, plugins, services) without listening: the
// server, the CLI and the tests all build the same thing here.
import { randomUUID } from 'node:crypto';
import cors from '@fastify/cors';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { systemClock, type Clock } from './domain/clock.js';
import { createLogger } from './logger.js';
import { claimIndexes, createPortfolioClaims } from './modules/models/portfolio-claims.js';
import { createModelRepository, modelIndexes } from './modules/models/repository.js';
import { modelRoutes } from './modules/models/routes.js';
import { createModelService } from './modules/models/service.js';
import { createRebalanceRepository, rebalanceIndexes } from './modules/rebalancing/repository.js';
import { rebalanceRoutes } from './modules/rebalancing/routes.js';
import { createRebalanceService } from './modules/rebalancing/service.js';
import { createOrderRepository, orderIndexes } from './modules/orders/repository.js';
import { orderRoutes } from './modules/orders/routes.js';
import { createOrderService } from './modules/orders/service.js';
import { createCycleRepository, cycleIndexes } from './modules/scheduling/cycles.js';
import { createLease } from './modules/scheduling/lease.js';
import { cycleRoutes } from './modules/scheduling/routes.js';
import { createScheduler, type Scheduler } from './modules/scheduling/scheduler.js';
import { createOptimizerPool } from './optimizer/pool.js';
import apiGuard from './plugins/api-guard.js';
import errors, { clientErrorHandler } from './plugins/errors.js';
import health from './plugins/health.js';
import metrics from './plugins/metrics.js';
import mongo from './plugins/mongo.js';
import protection from './plugins/protection.js';
import swagger from './plugins/swagger.js';
import { createUpstreams } from './upstreams/index.js';

declare module 'fastify' {
  interface FastifyInstance {
    scheduler: Scheduler;
  }
}

export interface AppOverrides {
  readonly logger?: Logger;
  readonly clock?: Clock;
}

/** Correlation ids are echoed only when they are short and plain, so they are safe to log. */
const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const trustHops = (hops: number) => (_address: string, hop: number) => hop < hops;

export async function buildApp(config: Config, overrides: AppOverrides = {}): Promise<FastifyInstance> {
  const mongoUri = config.mongodb.uri;
  if (mongoUri === undefined) throw new Error('buildApp needs config.mongodb.uri (server.ts starts a development database when it is unset)');
  const logger = overrides.logger ?? createLogger(config);
  const clock = overrides.clock ?? systemClock;

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    genReqId: (req) => {
      const given = req.headers['x-correlation-id'];
      return typeof given === 'string' && CORRELATION_ID.test(given) ? given : randomUUID();
    },
    logController: new LogController({ requestIdLogLabel: 'correlation_id' }),
    bodyLimit: config.bodyLimitBytes,
    // A slow client must send its whole request in time; answers may take as long as the work does.
    requestTimeout: config.requestTimeoutMs,
    // Also given to http.createServer: on Node 20 a requestTimeout set after creation (what
    // Fastify does) is never enforced. Node checks it every 30 s by default; check more often.
    http:
      config.requestTimeoutMs > 0
        ? {
            requestTimeout: config.requestTimeoutMs,
            connectionsCheckingInterval: Math.max(100, Math.min(5000, Math.floor(config.requestTimeoutMs / 4))),
          }
        : {},
    clientErrorHandler: clientErrorHandler(config.requestTimeoutMs, logger as FastifyBaseLogger),
    // A hop count trusts that many proxies nearest the socket (what fastify does with a number, typed here).
    trustProxy: typeof config.trustProxy === 'number' ? trustHops(config.trustProxy) : config.trustProxy === false ? false : [...config.trustProxy],
    // Requests arriving while shutting down get the one error shape (plugins/protection.ts).
    return503OnClosing: false,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-correlation-id', request.id);
  });

  await app.register(metrics);
  await app.register(errors, { bodyLimit: config.bodyLimitBytes });
  await app.register(cors, {
    origin: config.corsOrigins.includes('*') ? '*' : [...config.corsOrigins],
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
    exposedHeaders: ['x-total-count', 'x-correlation-id', 'retry-after', 'x-order-submission'],
  });
  await app.register(swagger);
  await app.register(mongo, {
    uri: mongoUri,
    dbName: config.mongodb.dbName,
    timeoutMs: config.mongodb.timeoutMs,
    indexes: [...modelIndexes, ...claimIndexes, ...rebalanceIndexes, ...orderIndexes, ...cycleIndexes],
  });
  await app.register(health);
  await app.register(protection, config.overload);

  const upstreams = createUpstreams(config, logger, app.metrics.upstreams);
  app.metrics.watch({ circuits: () => upstreams.health(), caches: () => upstreams.quotes.stats() });
  const optimizer = createOptimizerPool({ timeoutMs: config.optimizationTimeoutMs });
  app.lifecycle.reporters.set('upstreams', () => upstreams.health());
  app.lifecycle.reporters.set('caches', () => upstreams.quotes.sizes());
  app.addHook('onClose', async () => {
    await Promise.all([upstreams.close(), optimizer.close()]);
  });

  const models = createModelRepository(app.mongo.db);
  const claims = createPortfolioClaims(app.mongo.db, models);
  const modelService = createModelService({ models, claims, clock, log: logger });
  const rebalances = createRebalanceRepository(app.mongo.db);
  const rebalanceService = createRebalanceService({
    models,
    rebalances,
    upstreams,
    optimizer,
    clock,
    log: logger,
    concurrency: config.rebalanceConcurrency,
    observer: app.metrics.rebalancing,
  });
  const orderService = createOrderService({
    rebalances,
    orders: createOrderRepository(app.mongo.db),
    upstreams,
    clock,
    log: logger,
    onOrders: app.metrics.orders,
  });
  const cycles = createCycleRepository(app.mongo.db);
  const scheduler = createScheduler({
    models,
    rebalancing: rebalanceService,
    orders: orderService,
    cycles,
    submitOrders: config.orders.submission,
    lease: createLease(app.mongo.db, clock, {
      name: 'rebalance-cycle',
      holder: config.schedule.replicaId,
      ttlMs: config.schedule.leaseTtlMs,
      skewMs: config.schedule.clockSkewMs,
    }),
    replica: config.schedule.replicaId,
    cron: config.schedule.cron,
    timeZone: config.schedule.timeZone,
    leaseTtlMs: config.schedule.leaseTtlMs,
    clock,
    log: logger,
    onCycleEnd: app.metrics.cycle,
  });
  app.decorate('scheduler', scheduler);
  // Cycles stop first (within the grace period), then the connections they use close.
  app.addHook('preClose', async () => {
    await scheduler.stop(config.shutdownGraceMs);
  });

  if (config.apiKeys.length === 0) {
    logger.warn('API_KEYS is not set: every /api/v1 route, writes included, is open to any caller');
  } else {
    logger.info({ keys: config.apiKeys.length }, 'API_KEYS is set: /api/v1 writes need a bearer key');
  }
  await app.register(
    async (api) => {
      await api.register(apiGuard, {
        apiKeys: config.apiKeys,
        rateLimitMax: config.rateLimit.max,
        rateLimitWindowMs: config.rateLimit.windowMs,
      });
      await api.register(modelRoutes, { service: modelService });
      await api.register(rebalanceRoutes, {
        service: rebalanceService,
        submit: config.orders.submission ? (id) => orderService.submit(id) : undefined,
      });
      await api.register(orderRoutes, { service: orderService });
      await api.register(cycleRoutes, { cycles });
    },
    { prefix: '/api/v1' },
  );

  return app;
}
