// Builds the service (routes, plugins, services) without listening: the
// server, the CLI and the tests all build the same thing here.
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import cors from '@fastify/cors';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { type Clock, systemClock } from './domain/clock.js';
import { ValidationError } from './domain/errors.js';
import { CORRELATED, createLogger, requestContext } from './logger.js';
import { driftRoutes } from './modules/drift/routes.js';
import { createDriftService } from './modules/drift/service.js';
import { createSweeper, type Sweeper } from './modules/maintenance/sweeper.js';
import { claimIndexes, createPortfolioClaims } from './modules/models/portfolio-claims.js';
import { createModelRepository, modelIndexes } from './modules/models/repository.js';
import { modelRoutes } from './modules/models/routes.js';
import { createModelService } from './modules/models/service.js';
import { createOrderRepository, orderIndexes } from './modules/orders/repository.js';
import { orderRoutes } from './modules/orders/routes.js';
import { createOrderService } from './modules/orders/service.js';
import { createJobRepository, createRebalanceJobs, jobIndexes } from './modules/rebalancing/jobs.js';
import { createProgressRegistry, type ProgressRegistry, registerProgressGauge } from './modules/rebalancing/progress.js';
import { createRebalanceRepository, rebalanceIndexes } from './modules/rebalancing/repository.js';
import { rebalanceRoutes } from './modules/rebalancing/routes.js';
import { createRebalanceService } from './modules/rebalancing/service.js';
import { createRestrictionRepository } from './modules/restrictions/repository.js';
import { restrictionRoutes } from './modules/restrictions/routes.js';
import { createCycleRepository, cycleIndexes } from './modules/scheduling/cycles.js';
import { createLease } from './modules/scheduling/lease.js';
import { cycleRoutes } from './modules/scheduling/routes.js';
import { createScheduler, type Scheduler } from './modules/scheduling/scheduler.js';
import { createOptimizerPool } from './optimizer/pool.js';
import apiGuard from './plugins/api-guard.js';
import bodies from './plugins/bodies.js';
import errors, { clientErrorHandler, frameworkErrorHandler } from './plugins/errors.js';
import health from './plugins/health.js';
import metrics from './plugins/metrics.js';
import mongo from './plugins/mongo.js';
import protection, { isProbeOrScrape } from './plugins/protection.js';
import swagger from './plugins/swagger.js';
import { telemetry } from './telemetry/state.js';
import { SERVICE_NAMES, type ServiceKey } from './upstreams/errors.js';
import { createUpstreams } from './upstreams/index.js';

declare module 'fastify' {
  interface FastifyInstance {
    scheduler: Scheduler;
    /** Removes what failed rebalances left behind (server.ts starts it; tests call `sweep`). */
    maintenance: Sweeper;
    /** The model rebalances running in this process and how far each has got (the command line's progress bar reads it). */
    rebalanceProgress: ProgressRegistry;
  }
}

export interface AppOverrides {
  readonly logger?: Logger;
  readonly clock?: Clock;
}

/** A sweep takes seconds; a replica that dies while sweeping holds the sweep back this long. */
const SWEEP_LEASE_TTL_MS = 10 * 60_000;

/** Correlation ids are echoed only when they are short and plain, so they are safe to log. */
const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Node's default limit on the request line and headers together, so no path parameter can exceed it. */
const MAX_PARAM_LENGTH = 16 * 1024;
const trustHops = (hops: number) => (_address: string, hop: number) => hop < hops;

/** Fastify's request lines, at debug for probes and scrapes, which come every few seconds (a failed one still logs its error). */
class RequestLogs extends LogController {
  override incomingRequest(request: FastifyRequest, reply: FastifyReply, metadata?: Record<string, unknown>): void {
    if (isProbeOrScrape(request)) request.log.debug({ req: request }, 'incoming request');
    else super.incomingRequest(request, reply, metadata);
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
    metadata?: Record<string, unknown>,
  ): void {
    if (!error && isProbeOrScrape(request)) reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
    else super.requestCompleted(error, request, reply, metadata);
  }
}

export async function buildApp(config: Config, overrides: AppOverrides = {}): Promise<FastifyInstance> {
  const mongoUri = config.mongodb.uri;
  if (mongoUri === undefined)
    throw new Error('buildApp needs config.mongodb.uri (server.ts starts a development database when it is unset)');
  const logger = overrides.logger ?? createLogger(config);
  const clock = overrides.clock ?? systemClock;

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    genReqId: (req) => {
      const given = req.headers['x-correlation-id'];
      return typeof given === 'string' && CORRELATION_ID.test(given) ? given : randomUUID();
    },
    logController: new RequestLogs({ requestIdLogLabel: 'correlation_id' }),
    // The request's logger binds correlation_id itself: mark it so the logger's mixin does not add it twice.
    childLoggerFactory: (parent, bindings, options) => Object.assign(parent.child(bindings, options), { [CORRELATED]: true }),
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
    // A bad URL or an over-long path parameter in the one error shape, not Fastify's raw body.
    frameworkErrors: frameworkErrorHandler,
    // Any path parameter reaches its schema, which names it: Node refuses request lines
    // above its 16 KiB header limit before the router, so nothing longer gets here.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // A hop count trusts that many proxies nearest the socket (what fastify does with a number, typed here).
    trustProxy:
      typeof config.trustProxy === 'number' ? trustHops(config.trustProxy) : config.trustProxy === false ? false : [...config.trustProxy],
    // Requests arriving while shutting down get the one error shape (plugins/protection.ts).
    return503OnClosing: false,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // Every answer carries its correlation id, and so does every line logged for the request,
  // whichever logger writes it (upstream retries, the services' own lines): the request runs in its
  // context. Entered again before the handler, as reading the body may resume outside it.
  const inContext = (request: FastifyRequest, _reply: unknown, done: () => void) => requestContext.run({ correlationId: request.id }, done);
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-correlation-id', request.id);
    inContext(request, reply, done);
  });
  app.addHook('preHandler', inContext);

  await app.register(metrics);
  // The telemetry the process started (if any): OTLP metric exports read this registry, and closing sends what is buffered.
  telemetry.registry = app.metrics.registry;
  app.addHook('onClose', async () => {
    await telemetry.stop?.();
  });
  await app.register(errors, { bodyLimit: config.bodyLimitBytes });
  await app.register(bodies);
  // A preflight without its headers in the one error shape (before @fastify/cors answers it in plain text).
  app.addHook('onRequest', async (request) => {
    if (request.method === 'OPTIONS' && (!request.headers.origin || !request.headers['access-control-request-method'])) {
      throw new ValidationError('A CORS preflight (OPTIONS) needs the Origin and Access-Control-Request-Method headers', [
        { path: 'headers', message: 'Origin and Access-Control-Request-Method are required on OPTIONS' },
      ]);
    }
  });
  await app.register(cors, {
    origin: config.corsOrigins.includes('*') ? '*' : [...config.corsOrigins],
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
    exposedHeaders: ['x-total-count', 'x-correlation-id', 'retry-after', 'x-order-submission'],
  });
  await app.register(swagger);
  await app.register(mongo, {
    ...config.mongodb,
    uri: mongoUri,
    indexes: [...modelIndexes, ...claimIndexes, ...rebalanceIndexes, ...jobIndexes, ...orderIndexes, ...cycleIndexes],
    indexRetrySeconds: Math.ceil(config.maintenance.repairIntervalMs / 1000),
  });
  await app.register(health);
  await app.register(protection, config.overload);

  const upstreams = createUpstreams(config, logger, app.metrics.upstreams);
  app.metrics.watch(upstreams);
  const optimizer = createOptimizerPool({ timeoutMs: config.optimizationTimeoutMs });
  app.lifecycle.reporters.set('upstreams', () => upstreams.health());
  app.lifecycle.reporters.set('caches', () => upstreams.quotes.sizes());
  // A rebalance needs these services; the Portfolio service only names portfolios, and the
  // Order service matters only when orders are submitted.
  const required: readonly ServiceKey[] = ['accounting', 'security', 'pricing', ...(config.orders.submission ? (['order'] as const) : [])];
  app.lifecycle.concerns.set('upstreams', () => {
    const circuits = upstreams.health();
    return required
      .filter((service) => circuits[service].circuit !== 'closed')
      .map((service) => ({
        upstream: service,
        circuit: circuits[service].circuit,
        message: `The ${SERVICE_NAMES[service]} service's circuit is ${circuits[service].circuit.replace('_', '-')}: calls to it fail fast`,
      }));
  });
  app.addHook('onClose', async () => {
    await Promise.all([upstreams.close(), optimizer.close()]);
  });

  // What every service is made with.
  const shared = { clock, log: logger };
  const models = createModelRepository(app.mongo.db, app.mongo.indexes);
  const claims = createPortfolioClaims(app.mongo.db, models);
  const modelService = createModelService({ models, claims, ...shared });
  const rebalances = createRebalanceRepository(app.mongo.db);
  const restrictions = createRestrictionRepository(app.mongo.db, clock);
  const orderService = createOrderService({
    rebalances,
    orders: createOrderRepository(app.mongo.db),
    upstreams,
    ...shared,
    onOrders: app.metrics.orders,
  });
  const progress = createProgressRegistry();
  registerProgressGauge(app.metrics.registry, progress);
  progress.startLogging(logger, config.jobs.progressLogMs);
  app.decorate('rebalanceProgress', progress);
  const rebalanceService = createRebalanceService({
    models,
    rebalances,
    upstreams,
    optimizer,
    restrictions,
    ...shared,
    concurrency: config.rebalanceConcurrency,
    observer: app.metrics.rebalancing,
    progress,
    ...(config.orders.submission ? { submitOrders: (id: string) => orderService.submit(id) } : {}),
  });
  const driftService = createDriftService({
    models,
    upstreams,
    rebalancing: rebalanceService,
    concurrency: config.rebalanceConcurrency,
    observer: app.metrics.drift,
  });
  const jobs = createRebalanceJobs({
    service: rebalanceService,
    jobs: createJobRepository(app.mongo.db),
    rebalances,
    ...shared,
    replica: config.schedule.replicaId,
    ...config.jobs,
  });
  const cycles = createCycleRepository(app.mongo.db);
  const lease = (name: string, ttlMs: number) =>
    createLease(app.mongo.db, clock, { name, holder: config.schedule.replicaId, ttlMs, skewMs: config.schedule.clockSkewMs });
  const scheduler = createScheduler({
    models,
    rebalancing: rebalanceService,
    cycles,
    lease: lease('rebalance-cycle', config.schedule.leaseTtlMs),
    replica: config.schedule.replicaId,
    ...config.schedule,
    ...shared,
    onCycleEnd: app.metrics.cycle,
    progress,
    progressEveryMs: config.jobs.heartbeatMs,
  });
  app.decorate('scheduler', scheduler);
  const spoolDir = config.maintenance.spoolDir ?? tmpdir();
  await mkdir(spoolDir, { recursive: true });
  const maintenance = createSweeper({
    ...config.maintenance,
    rebalances,
    rebalancing: rebalanceService,
    jobs,
    indexes: app.mongo.indexes,
    lease: lease('maintenance-sweep', SWEEP_LEASE_TTL_MS),
    spoolDir,
    ...shared,
  });
  app.decorate('maintenance', maintenance);
  // Cycles stop first (within the grace period), then the connections they use close.
  app.addHook('preClose', async () => {
    // Rebalances still running when the grace period ends stop, remove what they wrote and answer 503.
    setTimeout(() => rebalanceService.stopAll(), config.shutdownGraceMs).unref();
    await Promise.all([scheduler.stop(config.shutdownGraceMs), maintenance.stop(), jobs.stop()]);
    progress.stop();
  });

  if (config.apiKeys.length === 0) {
    logger.warn('API_KEYS is not set: every /api/v1 route, writes included, is open to any caller');
  } else {
    logger.info({ keys: config.apiKeys.length }, 'API_KEYS is set: /api/v1 writes need a bearer key');
  }
  await app.register(
    async (api) => {
      await api.register(apiGuard, { apiKeys: config.apiKeys, rateLimit: config.rateLimit });
      await api.register(modelRoutes, { service: modelService });
      await api.register(rebalanceRoutes, {
        service: rebalanceService,
        jobs,
        submission: config.orders.submission,
        spoolDir,
      });
      await api.register(orderRoutes, { service: orderService });
      await api.register(driftRoutes, { service: driftService });
      await api.register(cycleRoutes, { cycles });
      await api.register(restrictionRoutes, { repository: restrictions, log: logger });
    },
    { prefix: '/api/v1' },
  );

  return app;
}
