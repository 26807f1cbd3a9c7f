// Kubernetes probes and the detailed health report (api.md, Health).
import { setTimeout as sleep } from 'node:timers/promises';
import fp from 'fastify-plugin';
import { AppError } from '../domain/errors.js';
import { SERVICE_VERSION } from '../version.js';
import { DEFAULT_503_RETRY_AFTER_S, sendError } from './errors.js';

export interface Lifecycle {
  /** True from the moment shutdown begins: readiness answers 503 from then on. */
  shuttingDown: boolean;
  readonly startedAt: Date;
  /** What reports on its own health in /health/health (upstreams, caches...). */
  readonly reporters: Map<string, () => Record<string, unknown>>;
  /**
   * What makes the service degraded while it lasts (an open circuit...): its problems, each naming itself and
   * saying why, are listed under `degraded` (status "degraded", still 200) next to the missing indexes.
   */
  readonly concerns: Map<string, () => readonly ({ readonly message: string } & Record<string, unknown>)[]>;
}

declare module 'fastify' {
  interface FastifyInstance {
    lifecycle: Lifecycle;
  }
}

const READY_PING_TIMEOUT_MS = 1000;

export default fp(
  async (app) => {
    const lifecycle: Lifecycle = { shuttingDown: false, startedAt: new Date(), reporters: new Map(), concerns: new Map() };
    app.decorate('lifecycle', lifecycle);

    /**
     * Missing unique indexes (duplicates in the data) do not make the service
     * unready: every replica shares the data, so none would serve even the reads.
     * Both probes name them instead, and the writes that need them answer 503.
     * Nor does a required upstream's open circuit (every replica calls the same
     * service): the concerns registered by the app are listed the same way.
     */
    const degraded = () => {
      const problems: Record<string, unknown>[] = app.mongo.indexes
        .missing()
        .map((m) => ({ index: m.index, collection: m.collection, duplicates: m.duplicates, message: m.message }));
      for (const concern of lifecycle.concerns.values()) problems.push(...concern());
      return problems.length === 0 ? {} : { degraded: problems };
    };

    async function readiness(): Promise<{ ready: boolean; reason?: string; mongodb: string }> {
      if (lifecycle.shuttingDown) return { ready: false, reason: 'The service is shutting down', mongodb: 'unknown' };
      if (app.hasDecorator('isUnderPressure') && app.isUnderPressure()) {
        return { ready: false, reason: 'The service is overloaded (event-loop delay or heap past its limit)', mongodb: 'unknown' };
      }
      // A ping with a deadline (its timer, unreferenced, is left to end when the server answers first).
      const answered = await Promise.race([
        app.mongo.db.command({ ping: 1 }).then(
          () => true,
          () => false,
        ),
        sleep(READY_PING_TIMEOUT_MS, false, { ref: false }),
      ]);
      return answered
        ? { ready: true, mongodb: 'ok' }
        : { ready: false, reason: `MongoDB did not answer a ping within ${READY_PING_TIMEOUT_MS} ms`, mongodb: 'down' };
    }

    app.get('/health/live', { schema: { tags: ['health'], summary: 'Liveness: the process answers' } }, async () => ({
      status: 'ok',
    }));

    app.get(
      '/health/ready',
      { schema: { tags: ['health'], summary: 'Readiness: MongoDB answers and the service is not shutting down' } },
      async (request, reply) => {
        const state = await readiness();
        if (!state.ready) {
          return sendError(request, reply, new AppError(503, 'NOT_READY', state.reason ?? 'The service is not ready'));
        }
        const problems = degraded();
        return { status: 'degraded' in problems ? 'degraded' : 'ready', ...problems };
      },
    );

    app.get(
      '/health/health',
      { schema: { tags: ['health'], summary: 'Detailed health: database, upstream circuits, caches, uptime' } },
      async (_request, reply) => {
        const state = await readiness();
        const components: Record<string, unknown> = {};
        for (const [name, report] of lifecycle.reporters) components[name] = report();
        const problems = degraded();
        // Every 503 says when to come back (api.md), this one too.
        if (!state.ready) reply.header('retry-after', String(DEFAULT_503_RETRY_AFTER_S));
        return reply.code(state.ready ? 200 : 503).send({
          status: !state.ready ? 'unavailable' : 'degraded' in problems ? 'degraded' : 'ok',
          ...problems,
          ...(state.reason === undefined ? {} : { reason: state.reason }),
          version: SERVICE_VERSION,
          uptime_seconds: Math.floor((Date.now() - lifecycle.startedAt.getTime()) / 1000),
          mongodb: { status: state.mongodb },
          ...components,
        });
      },
    );
  },
  { name: 'health', dependencies: ['mongo'] },
);
