// HTTP routes of rebalancing and stored rebalances (api.md). Large answers
// are streamed from the database, so memory stays flat at any size.
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, ValidationError } from '../../domain/errors.js';
import { ErrorResponse } from '../../domain/schemas.js';
import { jsonStream, mapAsync, sendJson } from '../../http/json-stream.js';
import { JsonSpool } from '../../http/spool.js';
import { ModelRebalanceBody, modelRequest, PortfolioRebalanceBody, portfolioRequest } from './constraints.js';
import type { RebalanceHeader } from './repository.js';
import {
  DeleteRebalanceQuery,
  errorResponses,
  ModelParams,
  PortfolioParams,
  PortfoliosBody,
  RebalanceDto,
  RebalanceListQuery,
  RebalanceParams,
  RebalancePortfolioParams,
  RebalanceQuery,
  RebalanceResultDto,
  rebalanceJson,
  resultHeaderFields,
  StoredPortfolioDto,
  StoredPositionDto,
  storedPositions,
  toRebalanceDto,
  toStoredPortfolioDto,
} from './schemas.js';
import type { RebalanceRun, RebalanceService } from './service.js';

export const rebalanceRoutes: FastifyPluginAsyncZod<{
  service: RebalanceService;
  /** ORDER_SUBMISSION: `?submit=true` is refused when it is off. */
  submission: boolean;
  /** Where model rebalance answers are spooled (the system temporary directory when undefined). */
  spoolDir?: string | undefined;
}> = async (app, { service, submission, spoolDir }) => {
  const tags = ['rebalancing'];
  const listDescription =
    'offset default 0 (at or past the end: an empty page), limit default 10 (1–100); sort_by over rebalance_date ' +
    '(default -rebalance_date), model_name, number_of_portfolios, rebalance_id. x-total-count carries the total.';
  const rebalanceErrors = { ...errorResponses, 422: ErrorResponse, 503: ErrorResponse };

  /**
   * `?submit=true`: refused up front when submission is off; otherwise the
   * stored rebalance's orders go out before the answer, whose x-order-submission
   * header says what became of them. A failing Order service is a 503 that says
   * the rebalance itself is stored.
   */
  const checkSubmit = (wanted: boolean) => {
    if (wanted && !submission) {
      throw new ValidationError(
        'Order submission is off (ORDER_SUBMISSION=off): submit=true is not allowed; use POST /api/v1/rebalance/{rebalance_id}/submit',
        [{ path: 'submit', message: 'submit is not allowed while ORDER_SUBMISSION is off' }],
      );
    }
  };
  /** What the Order service made of a submission: a header, or 503 naming what is stored and how to resubmit. */
  const reportSubmission = (reply: FastifyReply, run: RebalanceRun) => {
    const r = run.submission;
    if (r === null || run.rebalanceId === null) return;
    const rebalanceId = run.rebalanceId;
    if (r.error !== null) {
      throw new AppError(
        503,
        'UPSTREAM_UNAVAILABLE',
        `${r.error.message}. Rebalance ${rebalanceId} is stored; of its orders ${r.totals.accepted} were accepted, ${r.totals.failed} failed and ${r.totals.unknown} may have been taken (see GET /api/v1/rebalance/${rebalanceId}/orders; resubmit with POST /api/v1/rebalance/${rebalanceId}/submit)`,
        [],
        r.error.retryAfterSeconds,
      );
    }
    reply.header(
      'x-order-submission',
      `sent=${r.sent}; accepted=${r.accepted}; rejected=${r.rejected}; failed=${r.failed}; unknown=${r.unknown}; skipped=${r.skipped}`,
    );
  };

  /** A stored rebalance as RebalanceResultDTO, its portfolios streamed from the database. */
  const resultPieces = (h: RebalanceHeader) => {
    const { before, after } = resultHeaderFields(h);
    return [
      `${JSON.stringify(before).slice(0, -1)},"portfolios":`,
      mapAsync(service.portfolios(h.id), (o) => toStoredPortfolioDto(o, h.tradeDate, true)),
      `,${JSON.stringify(after).slice(1)}`,
    ];
  };

  app.post(
    '/portfolio/:portfolio_id/rebalance',
    {
      schema: {
        tags,
        summary: 'Rebalance one portfolio',
        description:
          'Against the model that lists it. Stored before it answers, unless dry_run=true. An optional body brings a cash flow ' +
          '(a deposit > 0 or a withdrawal < 0) and a min_trade_value override; no body is the rebalance as before.',
        params: PortfolioParams,
        querystring: RebalanceQuery,
        body: PortfolioRebalanceBody,
        response: { 200: RebalanceDto, ...rebalanceErrors },
      },
    },
    async (request, reply) => {
      checkSubmit(request.query.submit);
      const { dry_run: dryRun, submit } = request.query;
      const constraints = portfolioRequest(request.params.portfolio_id, request.body);
      const { outcome, run } = await service.rebalancePortfolio(request.params.portfolio_id, { dryRun, submit, constraints });
      reportSubmission(reply, run);
      return toRebalanceDto(outcome, run.rebalanceId, run.tradeDate);
    },
  );

  app.post(
    '/model/:model_id/rebalance',
    {
      schema: {
        tags,
        summary: 'Rebalance every portfolio of a model',
        description:
          "One RebalanceDTO per portfolio, in the model's portfolio order. An optional body brings cash_flows per portfolio and a " +
          'min_trade_value override (no body: as before). An infeasible portfolio carries status ' +
          '"infeasible" and an error; 422 only when every portfolio is infeasible; 503 (nothing stored) when an upstream fails.',
        params: ModelParams,
        querystring: RebalanceQuery,
        body: ModelRebalanceBody,
        response: { 200: z.array(RebalanceDto), ...rebalanceErrors },
      },
    },
    async (request, reply) => {
      // Each portfolio's answer goes to a temporary file as soon as it is known and
      // is streamed from there: memory stays flat, the database is not read back.
      checkSubmit(request.query.submit);
      let spool: JsonSpool | null = null;
      let rebalanceId: string | null = null;
      let tradeDate = '';
      // A client that leaves before its answer starts releases the spool at once
      // (the rebalance itself goes on and is stored). Once streaming, the stream owns it.
      let left = false;
      const leave = () => {
        left = true;
        void (spool as JsonSpool | null)?.dispose();
      };
      reply.raw.once('close', leave);
      try {
        const { dry_run: dryRun, submit } = request.query;
        const run = await service.rebalanceModel(
          request.params.model_id,
          { dryRun, submit, constraints: modelRequest(request.body) },
          {
            async start(run) {
              spool = await JsonSpool.create(run.total, spoolDir);
              if (left) void spool.dispose();
              rebalanceId = run.rebalanceId;
              tradeDate = run.tradeDate;
            },
            outcome(seq, outcome) {
              spool!.put(seq, rebalanceJson(outcome, rebalanceId, tradeDate));
            },
          },
        );
        reportSubmission(reply, run);
      } catch (error) {
        await (spool as JsonSpool | null)?.dispose();
        throw error;
      } finally {
        reply.raw.off('close', leave);
      }
      sendJson(reply, (spool as unknown as JsonSpool).stream());
      return reply;
    },
  );

  app.get(
    '/rebalances',
    {
      schema: {
        tags,
        summary: 'Stored rebalances, newest first',
        description: listDescription,
        querystring: RebalanceListQuery,
        response: { 200: z.array(RebalanceResultDto), 400: ErrorResponse },
      },
    },
    async (request, reply) => {
      const { offset, limit, sort_by } = request.query;
      sendList(reply, await service.list({ offset, limit, sortBy: sort_by }));
      return reply;
    },
  );

  const sendList = (reply: FastifyReply, page: { headers: readonly RebalanceHeader[]; total: number }) => {
    reply.header('x-total-count', String(page.total));
    sendJson(reply, jsonStream(listPieces(page.headers)));
  };

  const listPieces = (headers: readonly RebalanceHeader[]) => {
    const pieces: (string | AsyncIterable<unknown>)[] = ['['];
    headers.forEach((h, i) => {
      pieces.push(...(i === 0 ? [] : [',']), ...resultPieces(h));
    });
    pieces.push(']');
    return pieces;
  };

  app.get(
    '/rebalance/:rebalance_id',
    {
      schema: { tags, summary: 'One stored rebalance', params: RebalanceParams, response: { 200: RebalanceResultDto, ...errorResponses } },
    },
    async (request, reply) => {
      const h = await service.header(request.params.rebalance_id);
      sendJson(reply, jsonStream(resultPieces(h)));
      return reply;
    },
  );

  app.get(
    '/rebalance/:rebalance_id/portfolios',
    {
      schema: {
        tags,
        summary: "A stored rebalance's portfolios (without positions)",
        params: RebalanceParams,
        response: { 200: z.array(StoredPortfolioDto), ...errorResponses },
      },
    },
    async (request, reply) => {
      const h = await service.header(request.params.rebalance_id);
      sendJson(reply, jsonStream([mapAsync(service.portfolios(h.id, false), (o) => toStoredPortfolioDto(o, h.tradeDate, false))]));
      return reply;
    },
  );

  app.get(
    '/rebalance/:rebalance_id/portfolio/:portfolio_id/positions',
    {
      schema: {
        tags,
        summary: "One portfolio's positions in a stored rebalance",
        params: RebalancePortfolioParams,
        response: { 200: z.array(StoredPositionDto), ...errorResponses },
      },
    },
    async (request) => {
      const { header, outcome } = await service.portfolio(request.params.rebalance_id, request.params.portfolio_id);
      return storedPositions(outcome, header.tradeDate);
    },
  );

  app.post(
    '/rebalances/portfolios',
    {
      schema: {
        tags,
        summary: 'Stored rebalances that contain any of these portfolios, newest first',
        description: listDescription,
        querystring: RebalanceListQuery,
        body: PortfoliosBody,
        response: { 200: z.array(RebalanceResultDto), 400: ErrorResponse },
      },
    },
    async (request, reply) => {
      const { offset, limit, sort_by } = request.query;
      sendList(reply, await service.list({ offset, limit, sortBy: sort_by }, request.body.portfolios));
      return reply;
    },
  );

  app.delete(
    '/rebalance/:rebalance_id',
    {
      schema: {
        tags,
        summary: 'Delete a stored rebalance and its portfolios',
        params: RebalanceParams,
        querystring: DeleteRebalanceQuery,
        response: { 200: z.object({ message: z.string() }), ...errorResponses, 409: ErrorResponse },
      },
    },
    async (request) => {
      await service.remove(request.params.rebalance_id, request.query.version);
      return { message: `Rebalance ${request.params.rebalance_id} deleted` };
    },
  );
};
