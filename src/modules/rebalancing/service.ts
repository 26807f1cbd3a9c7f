// The service's main job (rebalancing.md): rebalance the portfolios of a
// model, exactly, with bounded concurrency, and store the result before
// answering. A portfolio that cannot be rebalanced is reported in its own
// element; an upstream that fails after retries stops the whole request,
// and nothing of it is stored.
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Clock } from '../../domain/clock.js';
import { eachConcurrently } from '../../domain/concurrency.js';
import { compare, type Dec, isZero, mul } from '../../domain/decimal.js';
import { AppError, NotFoundError, PortfolioCannotBeValued, VersionConflictError } from '../../domain/errors.js';
import { parseSortBy } from '../../domain/sorting.js';
import type { OptimizerPool } from '../../optimizer/pool.js';
import type { OptimizerResult } from '../../optimizer/types.js';
import { isDatabaseUnavailable } from '../../plugins/mongo.js';
import { withPortfolioSpan, withSpan } from '../../telemetry/spans.js';
import { type Quote, type QuoteSession, type Upstreams, UpstreamUnavailableError } from '../../upstreams/index.js';
import { bandCheck } from '../drift/report.js';
import { inBandOutcome, type RebalanceTrigger, withObjective } from '../drift/threshold.js';
import { assertObjectiveFits } from '../models/constraints.js';
import type { Model, ModelRepository } from '../models/repository.js';
import type { SubmissionResult } from '../orders/service.js';
import type { RestrictionRepository } from '../restrictions/repository.js';
import { assertFlowsBelong, constrainInput, type RequestConstraints, type RunConstraints, withConstraintFigures } from './constraints.js';
import { optimizerInput, outcomeOf, type PortfolioOutcome, securitiesOf, unvaluedOutcome } from './outcome.js';
import type { ProgressRegistry } from './progress.js';
import { REBALANCE_SORT_FIELDS, type RebalanceHeader, type RebalanceRepository } from './repository.js';
import type { RebalanceListQuery } from './schemas.js';

export interface RebalanceServiceDeps {
  readonly models: ModelRepository;
  readonly rebalances: RebalanceRepository;
  readonly upstreams: Upstreams;
  readonly optimizer: OptimizerPool;
  /** The firm-wide restricted list (issue 19), read once per rebalance. */
  readonly restrictions: Pick<RestrictionRepository, 'read'>;
  readonly clock: Clock;
  readonly log: Logger;
  readonly concurrency: number;
  readonly observer: RebalanceObserver;
  /** Submits a stored rebalance's orders; absent when ORDER_SUBMISSION is off. */
  readonly submitOrders?: (rebalanceId: string) => Promise<SubmissionResult>;
  /** Follows each model rebalance as it goes (progress log lines, the in-flight gauge, the command line's bar). */
  readonly progress: Pick<ProgressRegistry, 'begin'>;
}

export type RebalanceKind = 'portfolio' | 'model' | 'cycle';
export type RebalanceOutcome = 'stored' | 'dry_run' | 'infeasible' | 'not_found' | 'upstream_unavailable' | 'failed';

/** Sees every rebalance, portfolio and solve (metrics); every method is optional. */
export interface RebalanceObserver {
  rebalance?(kind: RebalanceKind, outcome: RebalanceOutcome): void;
  portfolio?(status: PortfolioOutcome['status']): void;
  solved?(result: OptimizerResult['status'], ms: number): void;
  /** Before trading, per model rebalance: its portfolios out of band and their total drifts (issue 18). */
  drifted?(kind: RebalanceKind, modelId: string, outOfBand: number, totalDrifts: readonly Dec[]): void;
}

const outcomeOfFailure = (error: unknown): RebalanceOutcome =>
  error instanceof UpstreamUnavailableError
    ? 'upstream_unavailable'
    : error instanceof PortfolioCannotBeValued || error instanceof InfeasibleError
      ? 'infeasible'
      : error instanceof NotFoundError
        ? 'not_found'
        : 'failed';

export interface RebalanceOptions {
  readonly dryRun: boolean;
  /** Submit the orders once stored (ignored for a dry run, and when submission is off). */
  readonly submit: boolean;
  /** threshold: trade only the portfolios out of band (issue 18); default calendar. */
  readonly trigger?: RebalanceTrigger;
  /** Stops the rebalance from outside (an asynchronous one cancelled); its reason, an AppError, is what the rebalance fails with. */
  readonly signal?: AbortSignal;
  /** Cash flows and a minimum-trade override of this request (issue 19). */
  readonly constraints?: RequestConstraints;
}

export interface RebalanceRun {
  /** Null for a dry run. */
  readonly rebalanceId: string | null;
  readonly tradeDate: string;
  readonly total: number;
  readonly infeasible: number;
  /** Portfolios left untraded because they were in band (trigger=threshold). */
  readonly inBand?: number;
  /** What the Order service made of the orders, when they were submitted (stored and asked for). */
  readonly submission: SubmissionResult | null;
}

/** Receives each portfolio's outcome as soon as it is known (answers are spooled, not held). */
export interface OutcomeSink {
  start(run: {
    readonly rebalanceId: string | null;
    readonly tradeDate: string;
    readonly total: number;
    readonly modelId: string;
    readonly modelName: string;
    readonly startedAt: Date;
  }): Promise<void>;
  /** Each portfolio's outcome as it comes; a promise holds the rebalance back until it settles (a writer's back-pressure). */
  outcome(seq: number, outcome: PortfolioOutcome): void | Promise<void>;
  /**
   * Once every portfolio is written, just before the header is published; a throw stops the publish and
   * discards the run (an asynchronous job another replica marked abandoned meanwhile must not publish).
   */
  beforePublish?(): Promise<void>;
}

/** A rebalance stopped because the service is shutting down and its grace period ran out. */
export class ShuttingDownError extends AppError {
  constructor() {
    super(
      503,
      'NOT_READY',
      'The service is shutting down and the rebalance did not finish within the grace period; nothing of it is stored. Send it again',
      [],
      1,
    );
  }
}

/**
 * The orders of a stored rebalance could not be submitted for a reason other
 * than the Order service (that one is reported in the submission result): the
 * answer and the cycle still say the rebalance is stored, and how to resubmit.
 */
export class SubmissionAfterStoreError extends AppError {
  constructor(
    readonly run: Omit<RebalanceRun, 'submission'> & { readonly rebalanceId: string },
    cause: unknown,
  ) {
    const id = run.rebalanceId;
    const stored = `Rebalance ${id} is stored, but submitting its orders failed`;
    const next = `see GET /api/v1/rebalance/${id}/orders; resubmit with POST /api/v1/rebalance/${id}/submit`;
    const [status, code, why] =
      cause instanceof AppError
        ? [cause.statusCode, cause.code, `: ${cause.message}`]
        : isDatabaseUnavailable(cause)
          ? [503, 'UPSTREAM_UNAVAILABLE' as const, ': MongoDB, the service database, is unavailable']
          : [500, 'INTERNAL' as const, ' (an internal error; the correlation id identifies it in the service logs)'];
    super(
      status,
      code,
      `${stored}${why}. ${next}`,
      [],
      cause instanceof AppError ? cause.retryAfterSeconds : status === 503 ? 5 : undefined,
    );
    this.cause = cause;
  }
}

export class InfeasibleError extends AppError {
  constructor(message: string) {
    super(422, 'INFEASIBLE', message);
  }
}

/** Portfolio documents are written in batches of this many, at most MAX_WRITES batches at a time. */
const WRITE_BATCH = 50;
const MAX_WRITES = 2;

/**
 * Portfolio documents written in batches while the others are computed; with
 * MAX_WRITES batches in flight every `add` waits for one to finish before it
 * takes its portfolio (memory stays flat: a wait only for the caller that
 * flushed let the other workers flush a batch each meanwhile). The first
 * failed write aborts the rebalance and is what `close` throws.
 */
export class BatchedWriter {
  private pending: { seq: number; outcome: PortfolioOutcome }[] = [];
  private readonly writes = new Set<Promise<void>>();
  failure: unknown = null;

  constructor(
    private readonly write: (batch: { seq: number; outcome: PortfolioOutcome }[]) => Promise<void>,
    private readonly cancel: AbortController,
  ) {}

  async add(seq: number, outcome: PortfolioOutcome): Promise<void> {
    while (this.writes.size >= MAX_WRITES) await Promise.race(this.writes);
    this.pending.push({ seq, outcome });
    if (this.pending.length >= WRITE_BATCH) this.flush();
  }

  /** Writes what is pending and waits for every write. */
  async close(): Promise<void> {
    this.flush();
    while (this.writes.size > 0) await Promise.race(this.writes);
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const write: Promise<void> = this.write(batch).then(
      () => void this.writes.delete(write),
      (error: unknown) => {
        this.writes.delete(write);
        this.failure ??= error;
        this.cancel.abort();
      },
    );
    this.writes.add(write);
  }
}

export function createRebalanceService(deps: RebalanceServiceDeps) {
  const { models, rebalances, upstreams, optimizer, clock, log, observer } = deps;
  /** Rebalances being written now: never swept, whatever their age. */
  const writing = new Set<string>();
  /** Every rebalance running now, dry runs included, so that shutdown can stop them. */
  const running = new Set<AbortController>();
  /** Rebalances whose documents could not be removed when they failed: removed again on each sweep. */
  const undiscarded = new Set<string>();

  /** One rebalance under way: its id (null for a dry run), its date, and how it is stopped. */
  const startRun = (kind: RebalanceKind, options: RebalanceOptions, firm: RunConstraints['firm'], now: Date) => ({
    now,
    tradeDate: now.toISOString().slice(0, 10),
    rebalanceId: options.dryRun ? null : rebalances.newId(now),
    cancel: new AbortController(),
    trigger: options.trigger ?? 'calendar',
    kind,
    constraints: { request: options.constraints ?? {}, firm },
  });
  type Run = Readonly<ReturnType<typeof startRun>>;

  /** Best effort: a failed rebalance's documents go now, or on the next sweep when the database cannot take it. */
  async function discard(rebalanceId: string): Promise<void> {
    try {
      await rebalances.discard(rebalanceId);
      undiscarded.delete(rebalanceId);
    } catch (error) {
      undiscarded.add(rebalanceId);
      log.warn({ err: error, rebalanceId }, 'could not remove the documents of a failed rebalance; the next sweep will');
    }
  }

  /**
   * Runs one rebalance of `kind`, then (stored, and asked for) submits its
   * orders: the one place the routes and the cycles go through. Whatever a
   * failed rebalance wrote is removed, whatever failed (an upstream, a write,
   * the publish): at once when the database takes it, else on the next sweep;
   * a process that dies leaves it to the sweeper's age bound.
   */
  async function rebalanceAndSubmit<Done extends Omit<RebalanceRun, 'submission'>>(
    kind: RebalanceKind,
    options: RebalanceOptions,
    load: () => Promise<Model>,
    body: (model: Model, run: Run) => Promise<Done>,
  ): Promise<Done & RebalanceRun> {
    let model: Model;
    let firm: RunConstraints['firm'];
    try {
      model = await load();
      // What the request asks must fit the model before anything runs.
      assertFlowsBelong(model, options.constraints ?? {});
      assertObjectiveFits(model.rebalanceTo, options.constraints?.minTradeValue, 'min_trade_value');
      firm = (await deps.restrictions.read()).restrictions;
    } catch (error) {
      observer.rebalance?.(kind, outcomeOfFailure(error));
      throw error;
    }
    const run = startRun(kind, options, firm, clock.now());
    // Every upstream call of the rebalance listens to it (REBALANCE_CONCURRENCY at a time).
    setMaxListeners(0, run.cancel.signal);
    const outside = options.signal;
    const stopFromOutside = () => run.cancel.abort(outside?.reason);
    // A listener added to a signal already aborted never runs.
    if (outside?.aborted) stopFromOutside();
    outside?.addEventListener('abort', stopFromOutside, { once: true });
    running.add(run.cancel);
    if (run.rebalanceId !== null) writing.add(run.rebalanceId);
    let done;
    try {
      done = await withSpan(
        'rebalance',
        { 'rebalance.model_id': model.id, 'rebalance.id': run.rebalanceId ?? 'dry_run' },
        () => body(model, run),
        (result) => ({ 'rebalance.portfolios': result.total, 'rebalance.infeasible': result.infeasible }),
      );
      observer.rebalance?.(kind, options.dryRun ? 'dry_run' : 'stored');
    } catch (failure) {
      if (run.rebalanceId !== null) await discard(run.rebalanceId);
      // Stopped from outside: whatever its upstream calls made of the abort, say why.
      const error = run.cancel.signal.reason instanceof AppError ? run.cancel.signal.reason : failure;
      observer.rebalance?.(kind, outcomeOfFailure(error));
      throw error;
    } finally {
      outside?.removeEventListener('abort', stopFromOutside);
      running.delete(run.cancel);
      if (run.rebalanceId !== null) writing.delete(run.rebalanceId);
    }
    const submit = deps.submitOrders;
    const storedId = done.rebalanceId;
    if (!options.submit || submit === undefined || storedId === null) return { ...done, submission: null };
    try {
      return { ...done, submission: await submit(storedId) };
    } catch (error) {
      log.error({ err: error, rebalanceId: storedId }, 'submitting the orders of a stored rebalance failed');
      throw new SubmissionAfterStoreError({ ...done, rebalanceId: storedId }, error);
    }
  }

  /** Quotes of the model's securities, once for every portfolio (bulk when many); a portfolio-level problem surfaces again in each portfolio. */
  async function quoteSession(model: Model): Promise<QuoteSession> {
    const session = upstreams.quotes.session();
    await session.resolve(model.positions.map((p) => p.securityId)).catch((error: unknown) => {
      if (!(error instanceof PortfolioCannotBeValued)) throw error;
    });
    return session;
  }

  /** The quotes of these securities that exist (the session asked for each already, so no call is repeated). */
  async function knownQuotes(session: QuoteSession, securityIds: readonly string[]): Promise<Map<string, Quote>> {
    const known = new Map<string, Quote>();
    for (const id of securityIds) {
      try {
        known.set(id, (await session.resolve([id])).get(id)!);
      } catch (error) {
        if (!(error instanceof PortfolioCannotBeValued)) throw error;
      }
    }
    return known;
  }

  /** One portfolio, from its holdings and the quotes to its outcome (the optimiser; no writes, the caller observes it); `seen` is told its drift. */
  async function rebalanceOne(
    model: Model,
    portfolioId: string,
    name: Promise<string | null>,
    session: QuoteSession,
    run: Run,
    seen?: (outOfBand: boolean, totalDrift: Dec) => void,
  ) {
    const { signal } = run.cancel;
    const { constraints } = run;
    const holdings = await upstreams.accounting.holdings(portfolioId, signal);
    const securities = securitiesOf(holdings, model.positions);
    let quotes;
    try {
      quotes = await session.resolve(securities);
    } catch (error) {
      if (!(error instanceof PortfolioCannotBeValued)) throw error;
      const unvalued = unvaluedOutcome(
        portfolioId,
        await name,
        error.message,
        holdings,
        model.positions,
        await knownQuotes(session, securities),
      );
      // The flow it was given is part of what was asked, valued or not.
      const flow = constraints.request.cashFlows?.get(portfolioId);
      return flow === undefined ? unvalued : { ...unvalued, cashFlow: flow };
    }
    const input = constrainInput(withObjective(optimizerInput(holdings, model.positions, quotes), model), model, portfolioId, constraints);
    const check = bandCheck(input);
    if (check.marketValue.digits >= 0n) seen?.(!check.inBand, check.totalDrift);
    // A portfolio with a cash flow to invest or raise, or with less cash than its reserve, trades whatever its drift.
    const flow = input.cashFlow !== undefined && !isZero(input.cashFlow);
    const short = input.minCash !== undefined && compare(input.cash, mul(check.marketValue, input.minCash)) < 0;
    if (run.trigger === 'threshold' && check.inBand && !flow && !short) {
      return withConstraintFigures(inBandOutcome(portfolioId, await name, input, check.marketValue), input);
    }
    const started = performance.now();
    const result = await withSpan(
      'rebalance.solve',
      {},
      () => optimizer.optimize(input),
      (r) => ({ 'solver.status': r.status }),
    );
    observer.solved?.(result.status, performance.now() - started);
    return withConstraintFigures(outcomeOf(portfolioId, await name, input, result), input);
  }

  /** A stored rebalance made visible: its header, and the model's last rebalance date. */
  async function publish(model: Model, run: Run, portfolioIds: readonly string[], infeasible: number): Promise<void> {
    if (run.rebalanceId === null) return;
    await rebalances.publish({
      id: run.rebalanceId,
      modelId: model.id,
      modelName: model.name,
      rebalanceDate: run.now,
      tradeDate: run.tradeDate,
      numberOfPortfolios: portfolioIds.length,
      portfolios: [...portfolioIds],
      createdAt: run.now,
    });
    await models.setLastRebalanceDate(model.id, run.now);
    log.info({ rebalanceId: run.rebalanceId, modelId: model.id, portfolios: portfolioIds.length, infeasible }, 'rebalance stored');
  }

  /** Every portfolio of a model, REBALANCE_CONCURRENCY at a time, each outcome to the sink and to the writer. */
  async function rebalanceMany(model: Model, run: Run, sink: OutcomeSink | undefined) {
    const { rebalanceId, tradeDate, now: startedAt, cancel } = run;
    const { signal } = cancel;
    const portfolioIds = model.portfolios;
    const total = portfolioIds.length;
    await sink?.start({ rebalanceId, tradeDate, total, modelId: model.id, modelName: model.name, startedAt });
    const progress = deps.progress.begin({ rebalanceId, modelId: model.id, total, cycle: run.kind === 'cycle' });
    try {
      const nameOf = upstreams.portfolio.lookup(total, signal);
      // A model without portfolios needs no quote (and must not fail for want of one).
      const session = total === 0 ? upstreams.quotes.session() : await quoteSession(model);
      const writer = rebalanceId === null ? null : new BatchedWriter((batch) => rebalances.writePortfolios(rebalanceId, batch), cancel);
      let infeasible = 0;
      let inBand = 0;
      let outOfBand = 0;
      const totalDrifts: Dec[] = [];
      const seen = (out: boolean, totalDrift: Dec) => {
        if (out) outOfBand += 1;
        totalDrifts.push(totalDrift);
      };
      /** What the first infeasible portfolio said. */
      let firstInfeasible: string | null = null;
      let firstFailure = await eachConcurrently(total, deps.concurrency, cancel, async (seq) => {
        const portfolioId = portfolioIds[seq]!;
        progress.started();
        const outcome = await withPortfolioSpan(
          seq,
          { 'rebalance.portfolio_id': portfolioId },
          () => rebalanceOne(model, portfolioId, nameOf(portfolioId), session, run, seen),
          (o) => ({ 'rebalance.portfolio.status': o.status }),
        ).finally(() => progress.finished());
        observer.portfolio?.(outcome.status);
        if (signal.aborted) return;
        if (outcome.status === 'infeasible') {
          infeasible += 1;
          firstInfeasible ??= outcome.error?.message ?? null;
        }
        if (outcome.status === 'in_band') inBand += 1;
        await sink?.outcome(seq, outcome);
        await writer?.add(seq, outcome); // a dry run keeps nothing back: the sink has the answer
      });
      await writer?.close();
      firstFailure ??= writer?.failure ?? null;
      if (signal.aborted) firstFailure ??= signal.reason;
      if (firstFailure === null && total > 0 && infeasible === total) {
        firstFailure = new InfeasibleError(
          total === 1
            ? (firstInfeasible ?? 'no feasible solution exists')
            : `no feasible solution exists for any of the ${total} portfolios of model ${model.id}`,
        );
      }
      if (firstFailure !== null) throw firstFailure;
      observer.drifted?.(run.kind, model.id, outOfBand, totalDrifts);
      await sink?.beforePublish?.();
      await publish(model, run, portfolioIds, infeasible);
      return { rebalanceId, tradeDate, total, infeasible, inBand };
    } finally {
      progress.end();
    }
  }

  async function header(id: string): Promise<RebalanceHeader> {
    const found = await rebalances.findHeader(id);
    if (found === null) throw new NotFoundError(`Rebalance ${id} not found`);
    return found;
  }

  return {
    /** Rebalances one portfolio against the model that lists it (no batches, no workers); 422 when it cannot be. */
    rebalancePortfolio: (portfolioId: string, options: RebalanceOptions): Promise<RebalanceRun & { outcome: PortfolioOutcome }> =>
      rebalanceAndSubmit(
        'portfolio',
        options,
        () => models.listing(portfolioId),
        async (model, run) => {
          const { signal } = run.cancel;
          const name = upstreams.portfolio.name(portfolioId, signal).catch(() => null);
          const outcome = await rebalanceOne(model, portfolioId, name, await quoteSession(model), run);
          observer.portfolio?.(outcome.status);
          if (signal.aborted) throw signal.reason;
          if (outcome.status === 'infeasible') throw new InfeasibleError(outcome.error?.message ?? 'no feasible solution exists');
          if (run.rebalanceId !== null) await rebalances.writePortfolios(run.rebalanceId, [{ seq: 0, outcome }]);
          await publish(model, run, [portfolioId], 0);
          return { rebalanceId: run.rebalanceId, tradeDate: run.tradeDate, total: 1, infeasible: 0, outcome };
        },
      ),

    /** Rebalances every portfolio of a model, handing each outcome to `sink` as it is known. */
    rebalanceModel: (modelId: string, options: RebalanceOptions, sink: OutcomeSink): Promise<RebalanceRun> =>
      rebalanceAndSubmit(
        'model',
        options,
        () => models.get(modelId),
        (model, run) => rebalanceMany(model, run, sink),
      ),

    /** The same, for a model already loaded (scheduled cycles): stored, and submitted when submission is on. */
    rebalanceLoadedModel: (model: Model, trigger: RebalanceTrigger) =>
      rebalanceAndSubmit(
        'cycle',
        { dryRun: false, submit: true, trigger },
        async () => model,
        (m, run) => rebalanceMany(m, run, undefined),
      ),

    /** Stops every running rebalance (shutdown past its grace period): each answers 503 and removes what it wrote. */
    stopAll(): void {
      for (const cancel of running) cancel.abort(new ShuttingDownError());
    },

    /** Rebalances this process is writing now (the sweeper leaves them alone). */
    inFlight: (): ReadonlySet<string> => writing,

    /** Tries again to remove what failed rebalances wrote when the database could not take it; how many it removed. */
    async retryDiscards(): Promise<number> {
      const ids = [...undiscarded];
      await Promise.all(ids.map(discard));
      return ids.filter((id) => !undiscarded.has(id)).length;
    },

    portfolios: rebalances.portfolios,
    /** A stored rebalance's header; null when there is none. */
    findHeader: rebalances.findHeader,
    // The same upstream reads for drift reports (modules/drift).
    quoteSession,

    /** A page of stored rebalances in `sort_by` order (`sort_by` as sent, offset default 0, limit default 10), and how many there are in all. */
    list(query: z.output<typeof RebalanceListQuery>, portfolioIds?: readonly string[]) {
      const sort = parseSortBy(query.sort_by, REBALANCE_SORT_FIELDS);
      const ids = portfolioIds === undefined ? undefined : [...new Set(portfolioIds)];
      return rebalances.listHeaders(sort, query.offset, query.limit ?? 10, ids);
    },

    /** One portfolio of a stored rebalance, with the rebalance it belongs to. */
    async portfolio(rebalanceId: string, portfolioId: string): Promise<{ header: RebalanceHeader; outcome: PortfolioOutcome }> {
      const found = await header(rebalanceId);
      const outcome = await rebalances.portfolio(rebalanceId, portfolioId);
      if (outcome === null) throw new NotFoundError(`Portfolio ${portfolioId} is not in rebalance ${rebalanceId}`);
      return { header: found, outcome };
    },

    async remove(id: string, version: number): Promise<void> {
      if (await rebalances.deleteIfVersion(id, version)) return;
      const current = await header(id); // 404 when there is none
      throw new VersionConflictError(`Rebalance ${id} is at version ${current.version}, not ${version}; reload it and try again`);
    },
  };
}

export type RebalanceService = ReturnType<typeof createRebalanceService>;
