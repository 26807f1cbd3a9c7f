// HTTP routes of rebalancing and stored rebalances (api.md). Large answers
// are streamed from the database, so memory stays flat at any size.
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../../domain/errors.js';
import { pageStart } from '../../domain/paging.js';
import { ErrorResponse } from '../../domain/schemas.js';
import { JsonBytes } from '../../http/json-bytes.js';
import { jsonStream, mapAsync, sendJson } from '../../http/json-stream.js';
import { JsonSpool } from '../../http/spool.js';
import { ModelParams } from '../models/schemas.js';
import { ModelRebalanceBody, modelRequest, PortfolioRebalanceBody, portfolioRequest, type RequestConstraints } from './constraints.js';
import { dryRunHeader, type Job, type RebalanceJobs } from './jobs.js';
import type { RebalanceHeader } from './repository.js';
import {
  DeleteRebalanceQuery,
  errorResponses,
  ModelRebalanceQuery,
  PortfolioParams,
  PortfoliosBody,
  RebalanceDetailDto,
  RebalanceDto,
  RebalanceJobDto,
  RebalanceListQuery,
  RebalanceParams,
  RebalancePortfolioParams,
  RebalancePortfoliosQuery,
  RebalanceQuery,
  RebalanceResultDto,
  rebalanceJson,
  resultHeaderFields,
  StoredPortfolioDto,
  StoredPositionDto,
  storedPosition,
  toStoredPortfolioDto,
} from './schemas.js';
import type { RebalanceRun, RebalanceService } from './service.js';

export const rebalanceRoutes: FastifyPluginAsyncZod<{
  service: RebalanceService;
  /** Asynchronous model rebalances (`?async=true`, `Prefer: respond-async`); absent: none (every call synchronous). */
  jobs?: RebalanceJobs;
  /** ORDER_SUBMISSION: `?submit=true` is refused when it is off. */
  submission: boolean;
  /** Where model rebalance answers are spooled (the system temporary directory when undefined). */
  spoolDir?: string | undefined;
}> = async (app, { service, jobs, submission, spoolDir }) => {
  const tags = ['rebalancing'];
  /** The two lists of stored rebalances, but their summaries and the body of the second. */
  const listSchema = {
    tags,
    description:
      'offset default 0 (at or past the end: an empty page), limit default 10 (1–100); sort_by over rebalance_date ' +
      '(default -rebalance_date), model_name, number_of_portfolios, rebalance_id. x-total-count carries the total.',
    querystring: RebalanceListQuery,
    response: { 200: z.array(RebalanceResultDto), 400: ErrorResponse },
  };
  const rebalanceErrors = { ...errorResponses, 422: ErrorResponse, 503: ErrorResponse };

  /**
   * What a rebalance query asks for, with the request's cash flows and minimum-trade override (read after the query).
   * `?submit=true`: refused up front when submission is off; otherwise the
   * stored rebalance's orders go out before the answer, whose x-order-submission
   * header says what became of them. A failing Order service is a 503 that says
   * the rebalance itself is stored.
   */
  const optionsOf = ({ dry_run: dryRun, submit, trigger }: z.output<typeof RebalanceQuery>, constraints: () => RequestConstraints) => {
    if (submit && !submission) {
      throw new ValidationError(
        'Order submission is off (ORDER_SUBMISSION=off): submit=true is not allowed; use POST /api/v1/rebalance/{rebalance_id}/submit',
        [{ path: 'submit', message: 'submit is not allowed while ORDER_SUBMISSION is off' }],
      );
    }
    return { dryRun, submit, constraints: constraints(), ...(trigger ? { trigger } : {}) };
  };
  /** What the Order service made of a submission: a header, or 503 naming what is stored and how to resubmit. */
  const reportSubmission = (reply: FastifyReply, run: RebalanceRun) => {
    const r = run.submission;
    if (r === null) return;
    if (r.error !== null) {
      throw new AppError(
        503,
        'UPSTREAM_UNAVAILABLE',
        `${r.error.message}. Rebalance ${r.rebalanceId} is stored; of its orders ${r.totals.accepted} were accepted, ${r.totals.failed} failed and ${r.totals.unknown} may have been taken (see GET /api/v1/rebalance/${r.rebalanceId}/orders; resubmit with POST /api/v1/rebalance/${r.rebalanceId}/submit)`,
        [],
        r.error.retryAfterSeconds,
      );
    }
    reply.header(
      'x-order-submission',
      `sent=${r.sent}; accepted=${r.accepted}; rejected=${r.rejected}; failed=${r.failed}; unknown=${r.unknown}; skipped=${r.skipped}`,
    );
  };

  /** A stored rebalance as RebalanceResultDTO, its portfolios streamed from the database (`extra` fields before them). */
  const resultPieces = (h: RebalanceHeader, extra: Record<string, unknown> = {}) => {
    const { before, after } = resultHeaderFields(h);
    return [
      `${JSON.stringify({ ...before, ...extra }).slice(0, -1)},"portfolios":`,
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
      const options = optionsOf(request.query, () => portfolioRequest(request.params.portfolio_id, request.body));
      const run = await service.rebalancePortfolio(request.params.portfolio_id, options);
      reportSubmission(reply, run);
      sendJson(reply, rebalanceJson(new JsonBytes(), run.outcome, run.rebalanceId, run.tradeDate).bytes);
      return reply;
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
        querystring: ModelRebalanceQuery,
        body: ModelRebalanceBody,
        headers: z.looseObject({
          prefer: z.string().optional().meta({ description: 'respond-async (RFC 7240): answer 202 at once, as async=true' }),
        }),
        response: { 200: z.array(RebalanceDto), 202: RebalanceJobDto, ...rebalanceErrors },
      },
    },
    async (request, reply) => {
      const options = optionsOf(request.query, () => modelRequest(request.body));
      if (jobs !== undefined && (request.query.async || prefersAsync(request.headers.prefer))) {
        const job = await jobs.start(request.params.model_id, options, request.id);
        reply.code(202).header('location', `/api/v1/rebalance/${job.id}`).header('preference-applied', 'respond-async');
        return toJobDto(job);
      }
      // Each portfolio's answer goes to a temporary file as soon as it is known and
      // is streamed from there: memory stays flat, the database is not read back.
      let spool: JsonSpool | null = null;
      let started: { readonly rebalanceId: string | null; readonly tradeDate: string } | null = null;
      const answer = new JsonBytes();
      // A client that leaves before its answer starts releases the spool at once
      // (the rebalance itself goes on and is stored). Once streaming, the stream owns it.
      let left = false;
      const leave = () => {
        left = true;
        void (spool as JsonSpool | null)?.dispose();
      };
      reply.raw.once('close', leave);
      try {
        const run = await service.rebalanceModel(request.params.model_id, options, {
          async start(run) {
            spool = await JsonSpool.create(run.total, spoolDir);
            if (left) void spool.dispose();
            started = run;
          },
          outcome(seq, outcome) {
            const { rebalanceId, tradeDate } = started!;
            spool!.put(seq, rebalanceJson(answer.reset(), outcome, rebalanceId, tradeDate).bytes);
          },
        });
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

  app.get('/rebalances', { schema: { ...listSchema, summary: 'Stored rebalances, newest first' } }, async (request, reply) =>
    sendList(reply, request.query),
  );

  /** A page of stored rebalances (only those listing one of `portfolioIds` when given), streamed. */
  const sendList = async (reply: FastifyReply, query: z.output<typeof RebalanceListQuery>, portfolioIds?: readonly string[]) => {
    const page = await service.list(query, portfolioIds);
    reply.header('x-total-count', String(page.total));
    sendJson(reply, jsonStream(['[', ...page.headers.flatMap((h, i) => [...(i === 0 ? [] : [',']), ...resultPieces(h)]), ']']));
    return reply;
  };

  app.get(
    '/rebalance/:rebalance_id',
    {
      schema: {
        tags,
        summary: 'One rebalance: stored (status complete), or an asynchronous one still running, failed, cancelled or abandoned',
        description:
          'A stored rebalance in full, every portfolio with its positions: for the largest ones (thousands of portfolios) read ' +
          'GET /rebalance/{id}/portfolios in pages instead. An asynchronous rebalance not stored (yet) answers its status and ' +
          'progress and no portfolios; a complete asynchronous dry run answers its result (dry_run true) until expires_at.',
        params: RebalanceParams,
        response: { 200: z.union([RebalanceDetailDto, RebalanceJobDto]), ...errorResponses },
      },
    },
    async (request, reply) => {
      const id = request.params.rebalance_id;
      const found = await storedOrJob(id);
      if ('header' in found) {
        const { header, job } = found;
        // A stored asynchronous rebalance whose orders' submission failed keeps that error on its job.
        const recorded = job ?? (await jobs?.find(id)) ?? null;
        const extra = {
          status: 'complete',
          ...(job === null ? {} : { dry_run: true, expires_at: job.expiresAt?.toISOString() }),
          ...(recorded?.error == null ? {} : { error: recorded.error }),
        };
        sendJson(reply, jsonStream(resultPieces(header, extra)));
        return reply;
      }
      return toJobDto(found.job);
    },
  );

  /** A stored rebalance, a complete asynchronous dry run (as a header, with its job), or a job not stored: 404 when none. */
  const storedOrJob = async (id: string): Promise<{ header: RebalanceHeader; job: Job | null } | { job: Job }> => {
    const h = await service.findHeader(id);
    if (h !== null) return { header: h, job: null };
    const job = (await jobs?.find(id)) ?? null;
    // A complete job without a header was deleted since (or is a dry run that expired).
    if (job === null || (job.status === 'complete' && (!job.dryRun || job.expiresAt === null)))
      throw new NotFoundError(`Rebalance ${id} not found`);
    if (job.status === 'complete') return { header: dryRunHeader(job), job };
    return { job };
  };

  app.get(
    '/rebalance/:rebalance_id/portfolios',
    {
      schema: {
        tags,
        summary: "A stored rebalance's portfolios, in the model's order, in pages",
        description:
          'Paging as GET /models: offset and limit (1–100) optional; neither given: every portfolio. x-total-count carries the ' +
          'number of portfolios. Positions only with positions=true. The way to read the largest rebalances.',
        params: RebalanceParams,
        querystring: RebalancePortfoliosQuery,
        response: { 200: z.array(StoredPortfolioDto), ...errorResponses },
      },
    },
    async (request, reply) => {
      const found = await storedOrJob(request.params.rebalance_id);
      if (!('header' in found)) {
        throw new ConflictError(
          `Rebalance ${found.job.id} is ${found.job.status}: it has no portfolios to read${found.job.status === 'running' ? ' yet' : ''}`,
        );
      }
      const h = found.header;
      const { offset, limit, positions } = request.query;
      const total = h.numberOfPortfolios;
      const page = offset === undefined && limit === undefined ? undefined : { offset: pageStart(offset, total), limit: limit ?? total };
      reply.header('x-total-count', String(total));
      const empty = page !== undefined && (page.offset >= total || page.limit === 0);
      const portfolios = empty
        ? '[]'
        : mapAsync(service.portfolios(h.id, positions, page), (o) => toStoredPortfolioDto(o, h.tradeDate, positions));
      sendJson(reply, jsonStream([portfolios]));
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
      return outcome.positions.map((p) => storedPosition(p, header.tradeDate));
    },
  );

  app.post(
    '/rebalances/portfolios',
    { schema: { ...listSchema, summary: 'Stored rebalances that contain any of these portfolios, newest first', body: PortfoliosBody } },
    async (request, reply) => sendList(reply, request.query, request.body.portfolios),
  );

  app.delete(
    '/rebalance/:rebalance_id',
    {
      schema: {
        tags,
        summary: 'Delete a stored rebalance and its portfolios, or cancel a running asynchronous one',
        description:
          'A stored rebalance needs ?version= (409 when it changed since). A running asynchronous rebalance is cancelled ' +
          '(nothing of it is stored): 200 once it has stopped here, 202 when another replica runs it (it stops within a heartbeat).',
        params: RebalanceParams,
        querystring: DeleteRebalanceQuery,
        response: { 200: z.object({ message: z.string() }), 202: z.object({ message: z.string() }), ...errorResponses, 409: ErrorResponse },
      },
    },
    async (request, reply) => {
      const id = request.params.rebalance_id;
      const job = await jobs?.find(id);
      if (job?.status === 'running') {
        const after = await jobs!.cancel(id);
        if (after?.status === 'running') {
          reply.code(202);
          return { message: `Rebalance ${id} runs on replica ${after.replica}: it is asked to stop, and stores nothing once it has` };
        }
        if (after === null || after.status === 'cancelled') return { message: `Rebalance ${id} cancelled; nothing of it is stored` };
        if (after.status !== 'complete') {
          return { message: `Rebalance ${id} had already ended (${after.status}); nothing of it is stored` };
        }
        throw new ConflictError(
          `Rebalance ${id} completed before it could be cancelled; it is stored: delete it with DELETE /api/v1/rebalance/${id}?version=1`,
        );
      }
      const { version } = request.query;
      if (version === undefined) {
        const message = 'version is required (the version you last read)';
        throw new ValidationError(message, [{ path: 'version', message }]);
      }
      await service.remove(id, version);
      return { message: `Rebalance ${id} deleted` };
    },
  );
};

/** RFC 7240: `Prefer: respond-async` (among other preferences, any case). */
const prefersAsync = (prefer: string | undefined): boolean =>
  prefer?.split(/[,;]/).some((p) => p.trim().toLowerCase() === 'respond-async') === true;

function toJobDto(job: Job): RebalanceJobDto {
  return {
    rebalance_id: job.id,
    model_id: job.modelId,
    model_name: job.modelName,
    status: job.status === 'complete' ? 'running' : job.status,
    dry_run: job.dryRun,
    progress: { ...job.progress },
    started_at: job.startedAt.toISOString(),
    ended_at: job.endedAt?.toISOString() ?? null,
    ...(job.error === null ? {} : { error: { ...job.error, details: [...job.error.details] } }),
  };
}
