// The service's main job (rebalancing.md): rebalance the portfolios of a
// model, exactly, with bounded concurrency, and store the result before
// answering. A portfolio that cannot be rebalanced is reported in its own
// element; an upstream that fails after retries stops the whole request,
// and nothing of it is stored.
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import type { Clock } from '../../domain/clock.js';
import { AppError, NotFoundError, VersionConflictError } from '../../domain/errors.js';
import { pageStart } from '../../domain/paging.js';
import { parseSortBy } from '../../domain/sorting.js';
import type { OptimizerPool } from '../../optimizer/pool.js';
import type { OptimizerResult } from '../../optimizer/types.js';
import type { Model, ModelRepository } from '../models/repository.js';
import { UpstreamUnavailableError, type Quote, type Upstreams } from '../../upstreams/index.js';
import { optimizerInput, outcomeOf, securitiesOf, unvaluedOutcome, type PortfolioOutcome } from './outcome.js';
import { REBALANCE_SORT_FIELDS, type RebalanceHeader, type RebalanceRepository } from './repository.js';
import { withPortfolioSpan, withSpan } from '../../telemetry/spans.js';

export interface RebalanceServiceDeps {
  readonly models: ModelRepository;
  readonly rebalances: RebalanceRepository;
  readonly upstreams: Upstreams;
  readonly optimizer: OptimizerPool;
  readonly clock: Clock;
  readonly log: Logger;
  readonly concurrency: number;
  readonly observer?: RebalanceObserver;
}

/** A page of stored rebalances as asked for: `sort_by` as sent, offset default 0, limit default 10. */
export interface RebalanceListQuery {
  readonly offset?: number | undefined;
  readonly limit?: number | undefined;
  readonly sortBy?: string | undefined;
}

export type RebalanceKind = 'portfolio' | 'model' | 'cycle';
export type RebalanceOutcome = 'stored' | 'dry_run' | 'infeasible' | 'not_found' | 'upstream_unavailable' | 'failed';

/** Sees every rebalance, portfolio and solve (metrics); every method is optional. */
export interface RebalanceObserver {
  rebalance?(kind: RebalanceKind, outcome: RebalanceOutcome): void;
  portfolio?(status: PortfolioOutcome['status']): void;
  solved?(result: OptimizerResult['status'], ms: number): void;
}

/** A portfolio-level failure (unknown security, missing price): reported, not fatal. */
const failsOnlyThePortfolio = (error: unknown): error is AppError => error instanceof AppError && error.statusCode === 422;

const outcomeOfFailure = (error: unknown): RebalanceOutcome =>
  error instanceof UpstreamUnavailableError
    ? 'upstream_unavailable'
    : failsOnlyThePortfolio(error)
      ? 'infeasible'
      : error instanceof NotFoundError
        ? 'not_found'
        : 'failed';

export interface RebalanceRun {
  /** Null for a dry run. */
  readonly rebalanceId: string | null;
  readonly tradeDate: string;
  readonly total: number;
  readonly infeasible: number;
}

/** Receives each portfolio's outcome as soon as it is known (answers are spooled, not held). */
export interface OutcomeSink {
  start(run: { readonly rebalanceId: string | null; readonly tradeDate: string; readonly total: number }): Promise<void>;
  outcome(seq: number, outcome: PortfolioOutcome): void;
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

export class InfeasibleError extends AppError {
  constructor(message: string) {
    super(422, 'INFEASIBLE', message);
  }
}

/** Names for many portfolios come in one call; for a few, one call each. */
const BULK_NAMES_FROM = 20;
/** Portfolio documents are written in batches of this many, at most MAX_WRITES batches at a time. */
const WRITE_BATCH = 50;
const MAX_WRITES = 2;


export function createRebalanceService(deps: RebalanceServiceDeps) {
  const { models, rebalances, upstreams, optimizer, clock, log } = deps;
  const observer = deps.observer ?? {};
  /** Rebalances being written now: never swept, whatever their age. */
  const writing = new Set<string>();
  /** Every rebalance running now, dry runs included, so that shutdown can stop them. */
  const running = new Set<AbortController>();
  /** Rebalances whose documents could not be removed when they failed: removed again on each sweep. */
  const undiscarded = new Set<string>();

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

  /** Runs a rebalance of `kind` and tells the observer how it ended. */
  async function observed(kind: RebalanceKind, dryRun: boolean, run: () => Promise<RebalanceRun>): Promise<RebalanceRun> {
    try {
      const result = await run();
      observer.rebalance?.(kind, dryRun ? 'dry_run' : 'stored');
      return result;
    } catch (error) {
      observer.rebalance?.(kind, outcomeOfFailure(error));
      throw error;
    }
  }

  /**
   * Runs one rebalance. Whatever a failed one wrote is removed, whatever
   * failed (an upstream, a write, the publish): at once when the database
   * takes it, else on the next sweep; a process that dies leaves it to the
   * sweeper's age bound.
   */
  async function rebalancePortfolios(
    model: Model,
    portfolioIds: readonly string[],
    options: { readonly dryRun: boolean; readonly sink?: OutcomeSink },
  ): Promise<RebalanceRun> {
    const now = clock.now();
    const cancel = new AbortController();
    const rebalanceId = options.dryRun ? null : rebalances.newId(now);
    running.add(cancel);
    if (rebalanceId !== null) writing.add(rebalanceId);
    try {
      return await withSpan(
        'rebalance',
        { 'rebalance.model_id': model.id, 'rebalance.id': rebalanceId ?? 'dry_run', 'rebalance.portfolios': portfolioIds.length },
        () => computeAndStore(model, portfolioIds, options, now, rebalanceId, cancel),
        (run) => ({ 'rebalance.infeasible': run.infeasible }),
      );
    } catch (error) {
      if (rebalanceId !== null) await discard(rebalanceId);
      // Stopped from outside: whatever its upstream calls made of the abort, say why.
      throw cancel.signal.reason instanceof ShuttingDownError ? cancel.signal.reason : error;
    } finally {
      running.delete(cancel);
      if (rebalanceId !== null) writing.delete(rebalanceId);
    }
  }

  async function computeAndStore(
    model: Model,
    portfolioIds: readonly string[],
    options: { readonly dryRun: boolean; readonly sink?: OutcomeSink },
    now: Date,
    rebalanceId: string | null,
    cancel: AbortController,
  ): Promise<RebalanceRun> {
    const tradeDate = now.toISOString().slice(0, 10);
    const total = portfolioIds.length;
    const signal = cancel.signal;
    // Every upstream call of the rebalance listens to it (REBALANCE_CONCURRENCY at a time).
    setMaxListeners(0, signal);
    const session = upstreams.quotes.session();
    let firstFailure: unknown = null;
    let infeasible = 0;
    /** What the first infeasible portfolio said (the whole answer when there is only one). */
    let firstInfeasible: string | null = null;

    // Portfolios are written in batches while the others are computed; with
    // more than MAX_WRITES batches in flight the workers wait (memory stays flat).
    let pending: { seq: number; outcome: PortfolioOutcome }[] = [];
    const writes = new Set<Promise<void>>();
    let writeFailure: unknown = null;
    const flush = () => {
      if (rebalanceId === null || pending.length === 0) return;
      const batch = pending;
      pending = [];
      const write: Promise<void> = rebalances.writePortfolios(rebalanceId, batch).then(
        () => {
          writes.delete(write);
        },
        (error: unknown) => {
          writes.delete(write);
          writeFailure ??= error;
          cancel.abort();
        },
      );
      writes.add(write);
    };
    const drain = async (limit: number) => {
      while (writes.size > limit) await Promise.race(writes);
    };

    await options.sink?.start({ rebalanceId, tradeDate, total });
    const modelSecurities = model.positions.map((p) => p.securityId);
    // Names are cosmetic: a failed lookup (or a cancelled one) is just no name.
    const namesInBulk = total >= BULK_NAMES_FROM ? upstreams.portfolio.names(signal).catch(() => new Map<string, string>()) : null;
    // Quotes of the model's securities, once for every portfolio (bulk when many).
    // A portfolio-level problem (unknown security) surfaces again in each portfolio.
    if (total > 0) {
      await session.resolve(modelSecurities).catch((error: unknown) => {
        if (!failsOnlyThePortfolio(error)) throw error;
      });
    }

    /** The quotes of these securities that exist (the session asked for each already, so no call is repeated). */
    async function knownQuotes(securityIds: readonly string[]): Promise<Map<string, Quote>> {
      const known = new Map<string, Quote>();
      for (const id of securityIds) {
        try {
          known.set(id, (await session.resolve([id])).get(id)!);
        } catch (error) {
          if (!failsOnlyThePortfolio(error)) throw error;
        }
      }
      return known;
    }

    async function one(portfolioId: string): Promise<PortfolioOutcome> {
      const name =
        namesInBulk === null
          ? upstreams.portfolio.name(portfolioId, signal).catch(() => null)
          : namesInBulk.then((all) => all.get(portfolioId) ?? null);
      const holdings = await upstreams.accounting.holdings(portfolioId, signal);
      const securities = securitiesOf(holdings, model.positions);
      let quotes;
      try {
        quotes = await session.resolve(securities);
      } catch (error) {
        if (!failsOnlyThePortfolio(error)) throw error;
        return unvaluedOutcome(portfolioId, await name, error.message, holdings, model.positions, await knownQuotes(securities));
      }
      const input = optimizerInput(holdings, model.positions, quotes);
      const started = performance.now();
      const result = await withSpan('rebalance.solve', {}, () => optimizer.optimize(input), (r) => ({ 'solver.status': r.status }));
      observer.solved?.(result.status, performance.now() - started);
      return outcomeOf(portfolioId, await name, input, result);
    }

    let next = 0;
    async function worker(): Promise<void> {
      while (!signal.aborted) {
        const seq = next++;
        if (seq >= total) return;
        try {
          const portfolioId = portfolioIds[seq]!;
          const outcome = await withPortfolioSpan(seq, { 'rebalance.portfolio_id': portfolioId }, () => one(portfolioId), (o) => ({ 'rebalance.portfolio.status': o.status }));
          if (signal.aborted) return;
          observer.portfolio?.(outcome.status);
          if (outcome.status === 'infeasible') {
            infeasible += 1;
            firstInfeasible ??= outcome.error?.message ?? null;
          }
          options.sink?.outcome(seq, outcome);
          if (rebalanceId === null) continue; // a dry run keeps nothing back: the sink has the answer
          pending.push({ seq, outcome });
          if (pending.length >= WRITE_BATCH) {
            flush();
            await drain(MAX_WRITES);
          }
        } catch (error) {
          // After the abort, what fails is our own cancellation, not the cause (already kept).
          if (firstFailure === null && !signal.aborted) firstFailure = error;
          cancel.abort();
          return;
        }
      }
    }

    await Promise.all(Array.from({ length: Math.min(deps.concurrency, total) }, worker));
    flush();
    await drain(0);
    firstFailure ??= writeFailure;
    if (signal.aborted) firstFailure ??= signal.reason;
    if (firstFailure === null && total > 0 && infeasible === total) {
      firstFailure = new InfeasibleError(
        total === 1
          ? (firstInfeasible ?? 'no feasible solution exists')
          : `no feasible solution exists for any of the ${total} portfolios of model ${model.id}`,
      );
    }
    if (firstFailure !== null) throw firstFailure;
    if (rebalanceId !== null) {
      await rebalances.publish({
        id: rebalanceId,
        modelId: model.id,
        modelName: model.name,
        rebalanceDate: now,
        tradeDate,
        numberOfPortfolios: total,
        portfolios: portfolioIds,
        createdAt: now,
      });
      await models.setLastRebalanceDate(model.id, now);
      log.info({ rebalanceId, modelId: model.id, portfolios: total, infeasible }, 'rebalance stored');
    }
    return { rebalanceId, tradeDate, total, infeasible };
  }

  async function loadModel(id: string): Promise<Model> {
    const model = await models.findById(id);
    if (model === null) throw new NotFoundError(`Model ${id} not found`);
    return model;
  }

  async function header(id: string): Promise<RebalanceHeader> {
    const found = await rebalances.findHeader(id);
    if (found === null) throw new NotFoundError(`Rebalance ${id} not found`);
    return found;
  }

  return {
    /** Rebalances one portfolio against the model that lists it; 422 when it cannot be. */
    async rebalancePortfolio(portfolioId: string, dryRun: boolean): Promise<{ outcome: PortfolioOutcome; run: RebalanceRun }> {
      let outcome: PortfolioOutcome | undefined;
      const sink: OutcomeSink = { start: async () => {}, outcome: (_seq, o) => (outcome = o) };
      const run = await observed('portfolio', dryRun, async () => {
        const [model] = await models.findListingAny([portfolioId]);
        if (model === undefined) throw new NotFoundError(`Portfolio ${portfolioId} is not in any model`);
        return rebalancePortfolios(model, [portfolioId], { dryRun, sink });
      });
      return { outcome: outcome!, run };
    },

    /** Rebalances every portfolio of a model, handing each outcome to `sink` as it is known. */
    rebalanceModel: (modelId: string, dryRun: boolean, sink: OutcomeSink): Promise<RebalanceRun> =>
      observed('model', dryRun, async () => {
        const model = await loadModel(modelId);
        return rebalancePortfolios(model, model.portfolios, { dryRun, sink });
      }),

    /** The same, for a model already loaded (scheduled cycles). */
    rebalanceLoadedModel: (model: Model) =>
      observed('cycle', false, () => rebalancePortfolios(model, model.portfolios, { dryRun: false })),

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

    portfolios: (rebalanceId: string, withPositions = true) => rebalances.portfolios(rebalanceId, withPositions),
    header,

    /** A page of stored rebalances in `sort_by` order, and how many there are in all. */
    async list(query: RebalanceListQuery, portfolioIds?: readonly string[]): Promise<{ headers: RebalanceHeader[]; total: number }> {
      const sort = parseSortBy(query.sortBy, REBALANCE_SORT_FIELDS);
      const ids = portfolioIds === undefined ? undefined : [...new Set(portfolioIds)];
      const total = await rebalances.countHeaders(ids);
      const start = pageStart(query.offset, total);
      if (start === total) return { headers: [], total };
      return { headers: await rebalances.listHeaders(sort, start, query.limit ?? 10, ids), total };
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
