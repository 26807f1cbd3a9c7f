// Stored rebalances: a header per rebalance and one document per portfolio
// (a 10 000-portfolio rebalance is far over MongoDB's 16 MB document limit).
// Portfolios are written first and the header last, so a reader never sees a
// rebalance half written; a failed rebalance's portfolio documents are deleted.
import { type Collection, type Db, type Decimal128, ObjectId } from 'mongodb';
import { type Dec, fromDecimal128, MAX_SAFE, mul, toDecimal128, toDecimal128s, toSharedDecimal128s } from '../../domain/decimal.js';
import { toObjectId } from '../../domain/ids.js';
import { pageStart } from '../../domain/paging.js';
import type { SortKey } from '../../domain/sorting.js';
import type { IndexSpec } from '../../plugins/mongo.js';
import { ORDER_BATCHES, ORDER_SUBMISSIONS } from '../orders/repository.js';
import { actualDriftOf, type PortfolioOutcome, type PositionOutcome } from './outcome.js';

export const REBALANCES = 'rebalances';
export const REBALANCE_PORTFOLIOS = 'rebalance_portfolios';

/** The fields `sort_by` may name on the lists of stored rebalances (api.md). */
export const REBALANCE_SORT_FIELDS = ['rebalance_date', 'model_name', 'number_of_portfolios', 'rebalance_id'] as const;
export type RebalanceSortField = (typeof REBALANCE_SORT_FIELDS)[number];

/**
 * The order of a list: the keys asked for, then the id in the direction of the
 * first key, so ties are stable and a one-field sort, either way round, walks
 * one of the indexes below (a MongoDB index serves its exact reverse too).
 * None of these fields is a Decimal128 (jongodb sorts those as text).
 */
export function listOrder(keys: readonly SortKey<RebalanceSortField>[]): Record<string, 1 | -1> {
  const sort = keys.length > 0 ? keys : [{ field: 'rebalance_date', direction: -1 } as const];
  const order: Record<string, 1 | -1> = {};
  // Every field is stored under its own name but the id.
  for (const key of sort) order[key.field === 'rebalance_id' ? '_id' : key.field] = key.direction;
  order._id ??= sort[0]!.direction;
  return order;
}

const sortIndexes = (['rebalance_date', 'model_name', 'number_of_portfolios'] as const).flatMap((field): IndexSpec[] => [
  { collection: REBALANCES, key: { [field]: 1, _id: 1 }, options: { name: `rebalances_by_${field}` } },
  // POST /rebalances/portfolios: one ordered scan per portfolio asked for, merged.
  { collection: REBALANCES, key: { portfolios: 1, [field]: 1, _id: 1 }, options: { name: `rebalances_portfolios_by_${field}` } },
]);

export const rebalanceIndexes: IndexSpec[] = [
  ...sortIndexes,
  { collection: REBALANCES, key: { portfolios: 1, _id: 1 }, options: { name: 'rebalances_portfolios_by_id' } },
  { collection: REBALANCE_PORTFOLIOS, key: { rebalance_id: 1, seq: 1 }, options: { name: 'rebalance_portfolios_order' } },
  { collection: REBALANCE_PORTFOLIOS, key: { rebalance_id: 1, portfolio_id: 1 }, options: { name: 'rebalance_portfolios_lookup' } },
];

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
  /** Null (or absent) until its orders are first submitted. */
  orders?: { accepted: number; rejected: number; failed: number; unknown: number; last_submitted_at: Date } | null;
  /** A submission in progress holds this until then (one submission of a rebalance at a time). */
  submitting_until?: Date | null;
}

type Quantity = number | Decimal128;

const toQuantity = (f: Dec): Quantity => (f.scale === 0 && f.digits <= MAX_SAFE && f.digits >= -MAX_SAFE ? Number(f.digits) : d128(f));
const fromQuantity = (q: Quantity): Dec => (typeof q === 'number' ? { digits: BigInt(q), scale: 0 } : dec(q));

const d128 = toDecimal128;
const dec = fromDecimal128;
const orNull = (value: Decimal128 | null | undefined) => (value === null || value === undefined ? null : dec(value));

/**
 * A portfolio's positions, column by column (one array per field, in security
 * order): the same figures as a list of position objects, in far fewer BSON
 * elements, which the embedded development server stores several times faster.
 */
function toColumns(positions: readonly PositionOutcome[]) {
  const column = (pick: (p: PositionOutcome) => Dec, encode = toDecimal128s) => encode(positions.map(pick));
  const priced = positions.every((p) => p.price !== null);
  const maybe = (pick: (p: PositionOutcome) => Dec | null, encode = toDecimal128s) =>
    priced ? column((p) => pick(p)!, encode) : positions.map((p) => (p.price === null ? null : d128(pick(p)!)));
  return {
    security_id: positions.map((p) => p.securityId),
    // Null (and so the market values and weights) only for a security without a price in a portfolio that could not be valued.
    price: maybe((p) => p.price, toSharedDecimal128s),
    // Quantities are not money: whole ones are stored as numbers, fractional ones as Decimal128.
    original_quantity: positions.map((p) => toQuantity(p.original)),
    adjusted_quantity: positions.map((p) => toQuantity(p.adjusted)),
    original_position_market_value: maybe((p) => p.price && mul(p.original, p.price)),
    adjusted_position_market_value: maybe((p) => p.price && mul(p.adjusted, p.price)),
    // The model's figures and the quotes' prices: encoded once for the whole rebalance.
    target: column((p) => p.target, toSharedDecimal128s),
    high_drift: column((p) => p.highDrift, toSharedDecimal128s),
    low_drift: column((p) => p.lowDrift, toSharedDecimal128s),
    actual: maybe((p) => p.actual),
    actual_drift: maybe(actualDriftOf),
    transaction_type: positions.map((p) => p.trade?.type ?? null),
    trade_quantity: positions.map((p) => (p.trade === null ? null : toQuantity(p.trade.quantity))),
    // Issue 19: the restriction of each position, only in portfolios with one.
    ...(positions.some((p) => p.restriction !== undefined) ? { restriction: positions.map((p) => p.restriction ?? null) } : {}),
  };
}
type PositionColumns = ReturnType<typeof toColumns>;

function fromColumns(c: PositionColumns): PositionOutcome[] {
  return c.security_id.map((securityId, i) => {
    const type = c.transaction_type[i] ?? null;
    const quantity = c.trade_quantity[i] ?? null;
    const restriction = c.restriction?.[i] ?? null;
    return {
      ...(restriction === null ? {} : { restriction }),
      securityId,
      price: orNull(c.price[i]),
      original: fromQuantity(c.original_quantity[i]!),
      adjusted: fromQuantity(c.adjusted_quantity[i]!),
      target: dec(c.target[i]!),
      highDrift: dec(c.high_drift[i]!),
      lowDrift: dec(c.low_drift[i]!),
      actual: orNull(c.actual[i]),
      actualDrift: orNull(c.actual_drift[i]),
      trade: type === null || quantity === null ? null : { type, quantity: fromQuantity(quantity) },
    };
  });
}

/** One portfolio of a rebalance, at its place (`seq`) in the model's order. */
function toDocument(rebalanceId: ObjectId, seq: number, o: PortfolioOutcome) {
  return {
    _id: new ObjectId(),
    rebalance_id: rebalanceId,
    seq,
    portfolio_id: o.portfolioId,
    portfolio_name: o.portfolioName,
    status: o.status,
    error: o.error,
    market_value: d128(o.marketValue),
    cash_before_rebalance: d128(o.cashBefore),
    cash_after_rebalance: d128(o.cashAfter),
    // Issue 19: the deposit or withdrawal, only when there was one.
    ...(o.cashFlow === undefined ? {} : { cash_flow: d128(o.cashFlow) }),
    positions: toColumns(o.positions),
  };
}
type PortfolioDocument = ReturnType<typeof toDocument>;

function toOutcome(doc: PortfolioDocument, withPositions = true): PortfolioOutcome {
  return {
    portfolioId: doc.portfolio_id,
    portfolioName: doc.portfolio_name,
    status: doc.status,
    error: doc.error,
    marketValue: dec(doc.market_value),
    cashBefore: dec(doc.cash_before_rebalance),
    cashAfter: dec(doc.cash_after_rebalance),
    ...(doc.cash_flow === undefined ? {} : { cashFlow: dec(doc.cash_flow) }),
    positions: withPositions ? fromColumns(doc.positions) : [],
  };
}

type OrdersDocument = NonNullable<HeaderDocument['orders']>;
// Named field by field: a field a stored document may carry beyond these never reaches an answer.
const ordersOf = ({ accepted, rejected, failed, unknown, last_submitted_at }: OrdersDocument) => ({
  accepted,
  rejected,
  failed,
  unknown,
  lastSubmittedAt: last_submitted_at,
});
/** What the Order service has made of this rebalance's orders, as last recorded. */
export type OrderSummary = ReturnType<typeof ordersOf>;

function toHeader(doc: HeaderDocument) {
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
    orders: doc.orders === undefined || doc.orders === null ? null : ordersOf(doc.orders),
  };
}
export type RebalanceHeader = Readonly<ReturnType<typeof toHeader>>;

/** Rebalance ids per query of a sweep. */
const SWEEP_CHUNK = 500;

export function createRebalanceRepository(db: Db) {
  const headers: Collection<HeaderDocument> = db.collection<HeaderDocument>(REBALANCES);
  const portfolios: Collection<PortfolioDocument> = db.collection<PortfolioDocument>(REBALANCE_PORTFOLIOS);

  return {
    /** A new rebalance id; its timestamp, when the rebalance started, is what the sweeper ages it by. */
    newId: (startedAt: Date) => new ObjectId(ObjectId.generate(Math.floor(startedAt.getTime() / 1000))).toHexString(),

    /** Stores portfolios (each with its place in the model's order) of a rebalance that is not visible yet. */
    async writePortfolios(rebalanceId: string, items: readonly { seq: number; outcome: PortfolioOutcome }[]): Promise<void> {
      if (items.length === 0) return; // the driver refuses an empty insertMany
      const id = toObjectId(rebalanceId);
      await portfolios.insertMany(items.map(({ seq, outcome }) => toDocument(id, seq, outcome)));
    },

    /** Makes a rebalance visible: its portfolios are all written. */
    async publish(header: Omit<RebalanceHeader, 'version' | 'orders'>): Promise<void> {
      await headers.insertOne({
        orders: null,
        _id: toObjectId(header.id),
        model_id: toObjectId(header.modelId),
        model_name: header.modelName,
        rebalance_date: header.rebalanceDate,
        trade_date: header.tradeDate,
        number_of_portfolios: header.numberOfPortfolios,
        portfolios: header.portfolios,
        version: 1,
        created_at: header.createdAt,
      });
    },

    /** Removes what a failed rebalance wrote: its header first (a publish whose last step failed), then its portfolios. */
    async discard(rebalanceId: string): Promise<void> {
      await headers.deleteOne({ _id: toObjectId(rebalanceId) });
      await portfolios.deleteMany({ rebalance_id: toObjectId(rebalanceId) });
    },

    /**
     * Rebalances started before `startedBefore` (by their id's timestamp) that
     * have portfolio documents but no header: never published, or deleted
     * half-way. A distinct scan of the `rebalance_portfolios_order` index.
     */
    async unpublishedBefore(startedBefore: Date): Promise<string[]> {
      const bound = ObjectId.createFromTime(Math.floor(startedBefore.getTime() / 1000));
      const ids: ObjectId[] = await portfolios.distinct('rebalance_id', { rebalance_id: { $lt: bound } });
      const unpublished: string[] = [];
      for (let i = 0; i < ids.length; i += SWEEP_CHUNK) {
        const chunk = ids.slice(i, i + SWEEP_CHUNK);
        const published = new Set((await headers.find({ _id: { $in: chunk } }).toArray()).map((h) => h._id.toHexString()));
        for (const id of chunk) if (!published.has(id.toHexString())) unpublished.push(id.toHexString());
      }
      return unpublished;
    },

    /** Deletes the portfolio documents of these (unpublished) rebalances; how many went. */
    async discardMany(rebalanceIds: readonly string[]): Promise<number> {
      let deleted = 0;
      for (let i = 0; i < rebalanceIds.length; i += SWEEP_CHUNK) {
        const chunk = rebalanceIds.slice(i, i + SWEEP_CHUNK).map(toObjectId);
        deleted += (await portfolios.deleteMany({ rebalance_id: { $in: chunk } })).deletedCount;
      }
      return deleted;
    },

    async findHeader(id: string): Promise<RebalanceHeader | null> {
      const doc = await headers.findOne({ _id: toObjectId(id) });
      return doc === null ? null : toHeader(doc);
    },

    /** In `sort_by` order (newest first by default), a page and the total; only rebalances listing one of `portfolioIds` when given. */
    async listHeaders(
      sort: readonly SortKey<RebalanceSortField>[],
      offset: number | undefined,
      limit: number,
      portfolioIds?: readonly string[],
    ): Promise<{ headers: RebalanceHeader[]; total: number }> {
      const filter = portfolioIds === undefined ? {} : { portfolios: { $in: [...portfolioIds] } };
      const total = await headers.countDocuments(filter);
      const start = pageStart(offset, total);
      if (start === total) return { headers: [], total };
      const docs = await headers.find(filter).sort(listOrder(sort)).skip(start).limit(limit).toArray();
      return { headers: docs.map(toHeader), total };
    },

    /**
     * A rebalance's portfolios in the model's order, one document at a time (positions left out when not wanted);
     * a page of them when asked (`seq` is the place in the model's order, from 0: a closed index range, no skipping;
     * the embedded database reads every document an open range matches before it limits).
     */
    async *portfolios(
      rebalanceId: string,
      withPositions = true,
      page?: { offset: number; limit: number },
    ): AsyncGenerator<PortfolioOutcome> {
      const options = withPositions ? {} : { projection: { positions: 0 } };
      const filter =
        page === undefined
          ? { rebalance_id: toObjectId(rebalanceId) }
          : { rebalance_id: toObjectId(rebalanceId), seq: { $gte: page.offset, $lt: page.offset + page.limit } };
      let cursor = portfolios.find(filter, options).sort({ seq: 1 }).batchSize(200);
      if (page !== undefined) cursor = cursor.limit(page.limit);
      for await (const doc of cursor) yield toOutcome(doc, withPositions);
    },

    async portfolio(rebalanceId: string, portfolioId: string): Promise<PortfolioOutcome | null> {
      const doc = await portfolios.findOne({ rebalance_id: toObjectId(rebalanceId), portfolio_id: portfolioId });
      return doc === null ? null : toOutcome(doc);
    },

    /** Deletes the rebalance (if still at `version`) and then its portfolios and order records. */
    async deleteIfVersion(id: string, version: number): Promise<boolean> {
      const result = await headers.deleteOne({ _id: toObjectId(id), version });
      if (result.deletedCount !== 1) return false;
      await portfolios.deleteMany({ rebalance_id: toObjectId(id) });
      await db.collection(ORDER_SUBMISSIONS).deleteMany({ rebalance_id: id });
      await db.collection(ORDER_BATCHES).deleteMany({ rebalance_id: id });
      return true;
    },

    /** Takes the right to submit this rebalance's orders until `until`; false while another submission holds it. */
    async lockSubmission(id: string, now: Date, until: Date): Promise<boolean> {
      const result = await headers.updateOne(
        {
          _id: toObjectId(id),
          $or: [{ submitting_until: { $exists: false } }, { submitting_until: null }, { submitting_until: { $lt: now } }],
        },
        { $set: { submitting_until: until } },
      );
      return result.modifiedCount === 1;
    },

    async unlockSubmission(id: string): Promise<void> {
      await headers.updateOne({ _id: toObjectId(id) }, { $set: { submitting_until: null } });
    },

    /** Records what the Order service made of the orders; the rebalance changed, so its version goes up. */
    async recordOrders(id: string, { lastSubmittedAt, ...counts }: OrderSummary): Promise<void> {
      const orders: OrdersDocument = { ...counts, last_submitted_at: lastSubmittedAt };
      await headers.updateOne({ _id: toObjectId(id) }, { $set: { orders }, $inc: { version: 1 } });
    },
  };
}

export type RebalanceRepository = ReturnType<typeof createRebalanceRepository>;
