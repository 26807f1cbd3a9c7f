// Reading the record of rebalance cycles.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { NotFoundError } from '../../domain/errors.js';
import { pageStart } from '../../domain/paging.js';
import { ErrorResponse, ObjectIdString, PageQuery } from '../../domain/schemas.js';
import type { Cycle, CycleRepository } from './cycles.js';

const CycleDto = z
  .object({
    cycle_id: z.string(),
    replica: z.string(),
    trigger: z.enum(['schedule', 'once']),
    tick: z.string(),
    started_at: z.string(),
    ended_at: z.string().nullable(),
    status: z.enum(['running', 'succeeded', 'partial', 'failed', 'interrupted', 'abandoned']),
    models: z.int(),
    portfolios: z.int(),
    infeasible_portfolios: z.int(),
    in_band_portfolios: z.int().meta({ description: 'Left untraded because every security was in band (REBALANCE_TRIGGER=threshold)' }),
    upstream_failures: z.int(),
    orders_submitted: z.int(),
    orders_failed: z.int(),
    rebalance_ids: z.array(z.string()),
    errors: z.array(z.string()),
    progress: z
      .object({ models_done: z.int(), models_total: z.int(), portfolios_done: z.int(), portfolios_total: z.int() })
      .nullable()
      .meta({ description: 'How far the cycle has got (recorded as it runs): models and portfolios done, of those with portfolios' }),
  })
  .meta({ id: 'CycleDTO' });

export const toCycleDto = (c: Cycle): z.infer<typeof CycleDto> => ({
  cycle_id: c.id,
  replica: c.replica,
  trigger: c.trigger,
  tick: c.tick.toISOString(),
  started_at: c.startedAt.toISOString(),
  ended_at: c.endedAt?.toISOString() ?? null,
  status: c.status,
  models: c.models,
  portfolios: c.portfolios,
  infeasible_portfolios: c.infeasible,
  in_band_portfolios: c.inBand,
  upstream_failures: c.upstreamFailures,
  orders_submitted: c.ordersSubmitted,
  orders_failed: c.ordersFailed,
  rebalance_ids: [...c.rebalanceIds],
  errors: [...c.errors],
  progress: c.progress,
});

export const cycleRoutes: FastifyPluginAsyncZod<{ cycles: CycleRepository }> = async (app, { cycles }) => {
  const tags = ['cycles'];
  app.get(
    '/cycles',
    {
      schema: {
        tags,
        summary: 'Rebalance cycles, newest first',
        description: 'offset default 0 (at or past the end: an empty page), limit default 10 (1–100); x-total-count carries the total.',
        querystring: PageQuery,
        response: { 200: z.array(CycleDto), 400: ErrorResponse },
      },
    },
    async (request, reply) => {
      const total = await cycles.count();
      const offset = pageStart(request.query.offset, total);
      reply.header('x-total-count', String(total));
      return (await cycles.list(offset, request.query.limit ?? 10)).map(toCycleDto);
    },
  );
  app.get(
    '/cycle/:cycle_id',
    {
      schema: {
        tags,
        summary: 'One rebalance cycle',
        params: z.object({ cycle_id: ObjectIdString }),
        response: { 200: CycleDto, 400: ErrorResponse, 404: ErrorResponse },
      },
    },
    async (request) => {
      const cycle = await cycles.find(request.params.cycle_id);
      if (cycle === null) throw new NotFoundError(`Cycle ${request.params.cycle_id} not found`);
      return toCycleDto(cycle);
    },
  );
};
