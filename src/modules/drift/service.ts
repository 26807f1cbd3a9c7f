// Drift reports (issue 18): which portfolios of a model sit outside their
// bands, and by how much, without trading and without storing anything. The
// same upstream reads as a rebalance (the rebalance service's quote session:
// each security resolved once per request) and the same valuation
// (outcome.ts); a portfolio that cannot be valued is reported with the reason.
import { setMaxListeners } from 'node:events';
import { eachConcurrently } from '../../domain/concurrency.js';
import type { Dec } from '../../domain/decimal.js';
import { compare, formatDecimal, sign } from '../../domain/decimal.js';
import { PortfolioCannotBeValued } from '../../domain/errors.js';
import { pageStart } from '../../domain/paging.js';
import { parseSortBy } from '../../domain/sorting.js';
import { overdrawnMessage } from '../../optimizer/index.js';
import type { QuoteSession, Upstreams } from '../../upstreams/index.js';
import type { Model, ModelRepository } from '../models/repository.js';
import { optimizerInput, securitiesOf } from '../rebalancing/outcome.js';
import type { RebalanceService } from '../rebalancing/service.js';
import { driftFigures, type PortfolioDriftFigures } from './report.js';
import type { ModelDriftQuery } from './routes.js';

export interface PortfolioDrift {
  readonly portfolioId: string;
  readonly portfolioName: string | null;
  readonly status: 'in_band' | 'out_of_band' | 'unvalued';
  /** Why the portfolio could not be valued; null otherwise. */
  readonly reason: string | null;
  readonly cash: Dec;
  /** Null when the portfolio could not be valued (an unknown security or price). */
  readonly figures: PortfolioDriftFigures | null;
}

export const DRIFT_SORT_FIELDS = ['portfolio_id', 'total_drift', 'market_value', 'securities_out_of_band'] as const;
type DriftSortField = (typeof DRIFT_SORT_FIELDS)[number];

/** Sees every report (metrics). */
export interface DriftObserver {
  /** A model's report: how many of its portfolios are out of band, and each valued portfolio's total drift. */
  model?(modelId: string, outOfBand: number, totalDrifts: readonly Dec[]): void;
  portfolio?(totalDrift: Dec): void;
}

export interface DriftServiceDeps {
  readonly models: ModelRepository;
  readonly upstreams: Upstreams;
  readonly rebalancing: Pick<RebalanceService, 'quoteSession'>;
  readonly concurrency: number;
  readonly observer: DriftObserver;
}

const WORST = 5;

/** Value of a sort field, or null (unvalued rows), which sorts last in either direction. */
function sortValue(row: PortfolioDrift, field: DriftSortField): Dec | string | number | null {
  if (field === 'portfolio_id') return row.portfolioId;
  if (row.figures === null || row.status === 'unvalued') return null;
  if (field === 'total_drift') return row.figures.totalDrift;
  if (field === 'market_value') return row.figures.marketValue;
  return row.figures.outOfBand;
}

function compareValues(a: Dec | string | number, b: Dec | string | number): number {
  if (typeof a === 'string' || typeof a === 'number') return a < b ? -1 : a > b ? 1 : 0;
  return compare(a, b as Dec);
}

export function createDriftService(deps: DriftServiceDeps) {
  const { models, upstreams, rebalancing, observer } = deps;

  /** One portfolio's report: its holdings, the quotes of the session, the figures. */
  async function driftOne(
    model: Model,
    portfolioId: string,
    name: Promise<string | null>,
    session: QuoteSession,
    signal: AbortSignal,
    perSecurity: boolean,
  ) {
    const holdings = await upstreams.accounting.holdings(portfolioId, signal);
    const securities = securitiesOf(holdings, model.positions);
    const base = { portfolioId, cash: holdings.cash };
    let quotes;
    try {
      quotes = await session.resolve(securities);
    } catch (error) {
      if (!(error instanceof PortfolioCannotBeValued)) throw error;
      return { ...base, portfolioName: await name, status: 'unvalued', reason: error.message, figures: null } satisfies PortfolioDrift;
    }
    const figures = driftFigures(optimizerInput(holdings, model.positions, quotes), perSecurity);
    // Why a valued portfolio has no drift to report: it is overdrawn (in the optimiser's words).
    const overdrawn = sign(figures.marketValue) < 0 ? overdrawnMessage(figures.marketValue) : null;
    const status = overdrawn !== null ? 'unvalued' : figures.inBand ? 'in_band' : 'out_of_band';
    return { ...base, portfolioName: await name, status, reason: overdrawn, figures } satisfies PortfolioDrift;
  }

  /** Every portfolio of the model, `concurrency` at a time; the first upstream failure stops the rest and is thrown. */
  async function driftAll(model: Model): Promise<PortfolioDrift[]> {
    const ids = model.portfolios;
    const cancel = new AbortController();
    setMaxListeners(0, cancel.signal);
    const { signal } = cancel;
    const nameOf = upstreams.portfolio.lookup(ids.length, signal);
    const session = ids.length === 0 ? upstreams.quotes.session() : await rebalancing.quoteSession(model);
    const rows: PortfolioDrift[] = new Array<PortfolioDrift>(ids.length);
    const failure = await eachConcurrently(ids.length, deps.concurrency, cancel, async (i) => {
      rows[i] = await driftOne(model, ids[i]!, nameOf(ids[i]!), session, signal, false);
    });
    if (failure !== null) throw failure;
    return rows;
  }

  return {
    /** GET /portfolio/{id}/drift: against the model that lists the portfolio. */
    async portfolio(portfolioId: string): Promise<{ model: Model; row: PortfolioDrift }> {
      const model = await models.listing(portfolioId);
      const signal = new AbortController().signal;
      const name = upstreams.portfolio.name(portfolioId, signal).catch(() => null);
      const row = await driftOne(model, portfolioId, name, await rebalancing.quoteSession(model), signal, true);
      if (row.figures !== null && row.status !== 'unvalued') observer.portfolio?.(row.figures.totalDrift);
      return { model, row };
    },

    /** GET /model/{id}/drift: every portfolio, summarised, filtered, sorted and paged. */
    async model(modelId: string, query: ModelDriftQuery) {
      const sort = parseSortBy(query.sort_by, DRIFT_SORT_FIELDS);
      const model = await models.get(modelId);
      const all = await driftAll(model);
      const valued = all.filter((r) => r.status !== 'unvalued' && r.figures !== null);
      const outOfBand = all.filter((r) => r.status === 'out_of_band').length;
      observer.model?.(
        model.id,
        outOfBand,
        valued.map((r) => r.figures!.totalDrift),
      );
      // As answered; `worst`: the largest total drifts, worst first (ties by portfolio id), at most WORST.
      const summary = {
        portfolios: all.length,
        in_band: all.filter((r) => r.status === 'in_band').length,
        out_of_band: outOfBand,
        unvalued: all.length - valued.length,
        worst: [...valued]
          .sort((a, b) => compare(b.figures!.totalDrift, a.figures!.totalDrift) || compareValues(a.portfolioId, b.portfolioId))
          .slice(0, WORST)
          .map((r) => ({ portfolio_id: r.portfolioId, total_drift: formatDecimal(r.figures!.totalDrift) })),
      };
      // Never skipped: an unvalued portfolio is not known to be in band, so out_of_band_only keeps it.
      const filtered = query.out_of_band_only ? all.filter((r) => r.status !== 'in_band') : all;
      // The rows are in the model's portfolio order, which a stable sort keeps among ties.
      const sorted = [...filtered].sort((a, b) => {
        for (const key of sort) {
          const x = sortValue(a, key.field);
          const y = sortValue(b, key.field);
          if (x === null || y === null) {
            if (x !== y) return x === null ? 1 : -1;
            continue;
          }
          const c = compareValues(x, y) * key.direction;
          if (c !== 0) return c;
        }
        return 0;
      });
      const start = pageStart(query.offset, sorted.length);
      const rows = sorted.slice(start, query.limit === undefined ? undefined : start + query.limit);
      // total: the rows that pass the filter, before paging.
      return { model, summary, total: sorted.length, rows };
    },
  };
}

export type DriftService = ReturnType<typeof createDriftService>;
