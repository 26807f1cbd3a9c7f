// Stored rebalances: a header per rebalance and one document per portfolio
// (a 10 000-portfolio rebalance is far over MongoDB's 16 MB document limit).
// Portfolios are written first and the header last, so a reader never sees a
// rebalance half written; a failed rebalance's portfolio documents are deleted.
import { ObjectId, type Collection, type Db, type Decimal128 } from 'mongodb';
import { fromDecimal128, toDecimal128 } from '../../domain/decimal.js';
import { toObjectId } from '../../domain/ids.js';
import type { IndexSpec } from '../../plugins/mongo.js';
import type { PortfolioOutcome, PositionOutcome } from './outcome.js';

export const REBALANCES = 'rebalances';
export const REBALANCE_PORTFOLIOS = 'rebalance_portfolios';

export const rebalanceIndexes: IndexSpec[] = [
  { collection: REBALANCES, key: { created_at: -1, _id: -1 }, options: { name: 'rebalances_newest' } },
  { collection: REBALANCES, key: { portfolios: 1 }, options: { name: 'rebalances_portfolios' } },
  { collection: REBALANCE_PORTFOLIOS, key: { rebalance_id: 1, seq: 1 }, options: { name: 'rebalance_portfolios_order' } },
  { collection: REBALANCE_PORTFOLIOS, key: { rebalance_id: 1, portfolio_id: 1 }, options: { name: 'rebalance_portfolios_lookup' } },
];

export interface RebalanceHeader {
  readonly id: string;
  readonly modelId: string;
  readonly modelName: string;
  readonly rebalanceDate: Date;
  readonly tradeDate: string;
  readonly numberOfPortfolios: number;
  readonly portfolios: readonly string[];
  readonly version: number;
  readonly createdAt: Date;
}

interface HeaderDocument {
  _id: ObjectId;
  model_id: ObjectId;
  model_name: string;
  rebalance_date: Date;
  trade_date: string;
  number_of_portfolios: number;
  portfolios: string[];
  version: number;
  created_at: Date;
}

interface PositionDocument {
  security_id: string;
  price: Decimal128;
  original_quantity: Decimal128;
  adjusted_quantity: Decimal128;
  original_position_market_value: Decimal128;
  adjusted_position_market_value: Decimal128;
  target: Decimal128;
  high_drift: Decimal128;
  low_drift: Decimal128;
  actual: Decimal128;
  actual_drift: Decimal128;
  transaction_type: 'BUY' | 'SELL' | null;
  trade_quantity: Decimal128 | null;
}

interface PortfolioDocument {
  _id: ObjectId;
  rebalance_id: ObjectId;
  seq: number;
  portfolio_id: string;
  portfolio_name: string | null;
  status: 'ok' | 'infeasible';
  error: { code: string; message: string } | null;
  market_value: Decimal128;
  cash_before_rebalance: Decimal128;
  cash_after_rebalance: Decimal128;
  positions: PositionDocument[];
}

const d128 = toDecimal128;
const dec = fromDecimal128;

function toPositionDocument(p: PositionOutcome): PositionDocument {
  return {
    security_id: p.securityId,
    price: d128(p.price),
    original_quantity: d128(p.original),
    adjusted_quantity: d128(p.adjusted),
    original_position_market_value: d128(p.original.times(p.price)),
    adjusted_position_market_value: d128(p.adjusted.times(p.price)),
    target: d128(p.target),
    high_drift: d128(p.highDrift),
    low_drift: d128(p.lowDrift),
    actual: d128(p.actual),
    actual_drift: d128(p.actualDrift),
    transaction_type: p.trade?.type ?? null,
    trade_quantity: p.trade === null ? null : d128(p.trade.quantity),
  };
}

function toOutcome(doc: PortfolioDocument): PortfolioOutcome {
  return {
    portfolioId: doc.portfolio_id,
    portfolioName: doc.portfolio_name,
    status: doc.status,
    error: doc.error,
    marketValue: dec(doc.market_value),
    cashBefore: dec(doc.cash_before_rebalance),
    cashAfter: dec(doc.cash_after_rebalance),
    positions: doc.positions.map((p) => ({
      securityId: p.security_id,
      price: dec(p.price),
      original: dec(p.original_quantity),
      adjusted: dec(p.adjusted_quantity),
      target: dec(p.target),
      highDrift: dec(p.high_drift),
      lowDrift: dec(p.low_drift),
      actual: dec(p.actual),
      actualDrift: dec(p.actual_drift),
      trade: p.transaction_type === null || p.trade_quantity === null ? null : { type: p.transaction_type, quantity: dec(p.trade_quantity) },
    })),
  };
}

function toHeader(doc: HeaderDocument): RebalanceHeader {
  return {
    id: doc._id.toHexString(),
    modelId: doc.model_id.toHexString(),
    modelName: doc.model_name,
    rebalanceDate: doc.rebalance_date,
    tradeDate: doc.trade_date,
    numberOfPortfolios: doc.number_of_portfolios,
    portfolios: doc.portfolios,
    version: doc.version,
    createdAt: doc.created_at,
  };
}

const NEWEST_FIRST = { created_at: -1, _id: -1 } as const;

export function createRebalanceRepository(db: Db) {
  const headers: Collection<HeaderDocument> = db.collection<HeaderDocument>(REBALANCES);
  const portfolios: Collection<PortfolioDocument> = db.collection<PortfolioDocument>(REBALANCE_PORTFOLIOS);

  return {
    newId: () => new ObjectId().toHexString(),

    /** Stores portfolios seq.. of a rebalance that is not visible yet. */
    async writePortfolios(rebalanceId: string, firstSeq: number, outcomes: readonly PortfolioOutcome[]): Promise<void> {
      if (outcomes.length === 0) return;
      const id = toObjectId(rebalanceId);
      await portfolios.insertMany(
        outcomes.map((o, i) => ({
          _id: new ObjectId(),
          rebalance_id: id,
          seq: firstSeq + i,
          portfolio_id: o.portfolioId,
          portfolio_name: o.portfolioName,
          status: o.status,
          error: o.error,
          market_value: d128(o.marketValue),
          cash_before_rebalance: d128(o.cashBefore),
          cash_after_rebalance: d128(o.cashAfter),
          positions: o.positions.map(toPositionDocument),
        })),
      );
    },

    /** Makes a rebalance visible: its portfolios are all written. */
    async publish(header: Omit<RebalanceHeader, 'version'>): Promise<RebalanceHeader> {
      const doc: HeaderDocument = {
        _id: toObjectId(header.id),
        model_id: toObjectId(header.modelId),
        model_name: header.modelName,
        rebalance_date: header.rebalanceDate,
        trade_date: header.tradeDate,
        number_of_portfolios: header.numberOfPortfolios,
        portfolios: [...header.portfolios],
        version: 1,
        created_at: header.createdAt,
      };
      await headers.insertOne(doc);
      return toHeader(doc);
    },

    /** Removes whatever a failed rebalance wrote. */
    async discard(rebalanceId: string): Promise<void> {
      await portfolios.deleteMany({ rebalance_id: toObjectId(rebalanceId) });
    },

    async findHeader(id: string): Promise<RebalanceHeader | null> {
      const doc = await headers.findOne({ _id: toObjectId(id) });
      return doc === null ? null : toHeader(doc);
    },

    async countHeaders(portfolioIds?: readonly string[]): Promise<number> {
      return headers.countDocuments(portfolioIds === undefined ? {} : { portfolios: { $in: [...portfolioIds] } });
    },

    /** Newest first; only rebalances listing one of `portfolioIds` when given. */
    async listHeaders(offset: number, limit: number, portfolioIds?: readonly string[]): Promise<RebalanceHeader[]> {
      const filter = portfolioIds === undefined ? {} : { portfolios: { $in: [...portfolioIds] } };
      const docs = await headers.find(filter).sort(NEWEST_FIRST).skip(offset).limit(limit).toArray();
      return docs.map(toHeader);
    },

    /** A rebalance's portfolios in the model's order, one document at a time. */
    async *portfolios(rebalanceId: string): AsyncGenerator<PortfolioOutcome> {
      const cursor = portfolios.find({ rebalance_id: toObjectId(rebalanceId) }).sort({ seq: 1 }).batchSize(200);
      for await (const doc of cursor) yield toOutcome(doc);
    },

    async portfolio(rebalanceId: string, portfolioId: string): Promise<PortfolioOutcome | null> {
      const doc = await portfolios.findOne({ rebalance_id: toObjectId(rebalanceId), portfolio_id: portfolioId });
      return doc === null ? null : toOutcome(doc);
    },

    /** Deletes the rebalance (if still at `version`) and then its portfolios. */
    async deleteIfVersion(id: string, version: number): Promise<boolean> {
      const result = await headers.deleteOne({ _id: toObjectId(id), version });
      if (result.deletedCount !== 1) return false;
      await portfolios.deleteMany({ rebalance_id: toObjectId(id) });
      return true;
    },
  };
}

export type RebalanceRepository = ReturnType<typeof createRebalanceRepository>;
