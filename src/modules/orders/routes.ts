// Submitting a stored rebalance's orders, and reading what became of them.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ErrorResponse, ObjectIdString, QueryInteger } from '../../domain/schemas.js';
import { ORDER_STATUSES } from './repository.js';
import type { OrderService } from './service.js';

const Params = z.object({ rebalance_id: ObjectIdString });
const Counts = z.object({ pending: z.int(), accepted: z.int(), rejected: z.int(), failed: z.int(), unknown: z.int() });
const SubmissionDto = z
  .object({
    rebalance_id: z.string(),
    sent: z.int(),
    ...Counts.omit({ pending: true }).shape,
    skipped: z.int().meta({ description: 'Orders not sent again: accepted before, or may have been' }),
    totals: Counts,
    problems: z.array(z.object({ portfolio_id: z.string(), security_id: z.string(), status: z.string(), message: z.string().nullable() })),
  })
  .meta({ id: 'OrderSubmissionDTO' });
const OrderDto = z.object({
  portfolio_id: z.string(),
  security_id: z.string(),
  transaction_type: z.enum(['BUY', 'SELL']),
  quantity: z.number(),
  status: z.enum(ORDER_STATUSES),
  order_id: z.int().nullable(),
  message: z.string().nullable(),
  attempts: z.int(),
  updated_at: z.string(),
});
const OrdersQuery = z.object({
  status: z.enum(ORDER_STATUSES, { error: `must be one of ${ORDER_STATUSES.join(', ')}` }).optional(),
  offset: QueryInteger.optional(),
  limit: QueryInteger.pipe(
    z.number().min(1, { error: 'must be between 1 and 1000' }).max(1000, { error: 'must be between 1 and 1000' }),
  ).optional(),
});

export const orderRoutes: FastifyPluginAsyncZod<{ service: OrderService }> = async (app, { service }) => {
  const tags = ['orders'];
  app.post(
    '/rebalance/:rebalance_id/submit',
    {
      schema: {
        tags,
        summary: "Submit a stored rebalance's orders to the Order service",
        description:
          'Exactly once: orders already accepted (or possibly taken) are never sent again; rejected and surely-not-taken ones are. ' +
          '503 when the Order service fails, after recording what it answered.',
        params: Params,
        response: { 200: SubmissionDto, 404: ErrorResponse, 409: ErrorResponse, 503: ErrorResponse },
      },
    },
    async (request) => {
      const { rebalanceId, error, ...answer } = await service.submit(request.params.rebalance_id);
      if (error !== null) throw error;
      return { rebalance_id: rebalanceId, ...answer };
    },
  );

  app.get(
    '/rebalance/:rebalance_id/orders',
    {
      schema: {
        tags,
        summary: "A stored rebalance's submitted orders and what became of them",
        description: 'Paged (offset default 0, limit default 100, at most 1000); x-total-count carries the total.',
        params: Params,
        querystring: OrdersQuery,
        response: { 200: z.array(OrderDto), 400: ErrorResponse, 404: ErrorResponse },
      },
    },
    async (request, reply) => {
      const { status, offset, limit } = request.query;
      const { total, records } = await service.list(request.params.rebalance_id, status, offset ?? 0, limit ?? 100);
      reply.header('x-total-count', String(total));
      return records;
    },
  );
};
