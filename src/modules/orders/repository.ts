// What was sent to the Order service for each trade of a stored rebalance,
// and what it answered: one document per order, keyed by rebalance,
// portfolio and security, so a trade is recorded once however often its
// rebalance is submitted.
import { type Collection, type Db, ObjectId } from 'mongodb';
import { pageStart } from '../../domain/paging.js';
import type { IndexSpec } from '../../plugins/mongo.js';
import type { OrderRequest } from '../../upstreams/index.js';

export const ORDER_SUBMISSIONS = 'order_submissions';
export const ORDER_BATCHES = 'order_batches';
export const orderIndexes: IndexSpec[] = [
  { collection: ORDER_SUBMISSIONS, key: { rebalance_id: 1, status: 1 }, options: { name: 'order_submissions_status' } },
  { collection: ORDER_BATCHES, key: { rebalance_id: 1 }, options: { name: 'order_batches_rebalance' } },
];

/**
 * pending: being sent now; accepted: created (order_id); rejected: refused by
 * the Order service (sent again on resubmission); failed: surely not taken
 * (sent again); unknown: may have been taken (never sent again automatically).
 */
export const ORDER_STATUSES = ['pending', 'accepted', 'rejected', 'failed', 'unknown'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

interface OrderDocument {
  _id: string;
  rebalance_id: string;
  portfolio_id: string;
  security_id: string;
  side: 'BUY' | 'SELL';
  quantity: number;
  status: OrderStatus;
  attempts: number;
  updated_at: Date;
  /** The batch whose answer (order id, message) is the latest for this order. */
  batch_id: string | null;
}

/**
 * One call to the Order service and what it answered per order. Outcomes live
 * here and orders only point at their batch: a batch is recorded in a handful
 * of writes (one per status), not one per order.
 */
interface BatchDocument {
  _id: string;
  rebalance_id: string;
  at: Date;
  results: { key: string; order_id: number | null; message: string | null }[];
}

export const orderKey = (rebalanceId: string, portfolioId: string, securityId: string) => `${rebalanceId}:${portfolioId}:${securityId}`;

export interface OrderOutcome {
  readonly order: OrderRequest;
  readonly status: OrderStatus;
  readonly orderId: number | null;
  readonly message: string | null;
}

export function createOrderRepository(db: Db) {
  const orders: Collection<OrderDocument> = db.collection<OrderDocument>(ORDER_SUBMISSIONS);

  const batches: Collection<BatchDocument> = db.collection<BatchDocument>(ORDER_BATCHES);
  const keyOf = (rebalanceId: string, o: OrderRequest) => orderKey(rebalanceId, o.portfolioId, o.securityId);

  return {
    /** Status of every order already recorded for a rebalance, by key. */
    async statuses(rebalanceId: string): Promise<Map<string, OrderStatus>> {
      const docs = await orders.find({ rebalance_id: rebalanceId }).toArray();
      return new Map(docs.map((d) => [d._id, d.status]));
    },

    /** An earlier submission that never finished left these pending: it may have sent them. */
    async pendingToUnknown(rebalanceId: string, at: Date): Promise<void> {
      await orders.updateMany(
        { rebalance_id: rebalanceId, status: 'pending' },
        { $set: { status: 'unknown', batch_id: null, updated_at: at } },
      );
    },

    /** Marks a batch as being sent: new orders inserted, retried ones updated, in two writes. */
    async markPending(
      rebalanceId: string,
      batch: readonly OrderRequest[],
      known: ReadonlyMap<string, OrderStatus>,
      at: Date,
    ): Promise<void> {
      const fresh = batch.filter((o) => !known.has(keyOf(rebalanceId, o)));
      const again = batch.filter((o) => known.has(keyOf(rebalanceId, o)));
      if (fresh.length > 0) {
        await orders.insertMany(
          fresh.map((o) => ({
            _id: keyOf(rebalanceId, o),
            rebalance_id: rebalanceId,
            portfolio_id: o.portfolioId,
            security_id: o.securityId,
            side: o.side,
            quantity: o.quantity,
            status: 'pending' as const,
            attempts: 1,
            updated_at: at,
            batch_id: null,
          })),
        );
      }
      if (again.length > 0) {
        await orders.updateMany(
          { _id: { $in: again.map((o) => keyOf(rebalanceId, o)) } },
          { $set: { status: 'pending', updated_at: at }, $inc: { attempts: 1 } },
        );
      }
    },

    /** Records a batch's answer: the batch document, then the orders' statuses, one write per status. */
    async record(rebalanceId: string, outcomes: readonly OrderOutcome[], at: Date): Promise<void> {
      if (outcomes.length === 0) return;
      const batchId = new ObjectId().toHexString();
      await batches.insertOne({
        _id: batchId,
        rebalance_id: rebalanceId,
        at,
        results: outcomes.map((o) => ({ key: keyOf(rebalanceId, o.order), order_id: o.orderId, message: o.message })),
      });
      for (const status of ORDER_STATUSES) {
        const keys = outcomes.filter((o) => o.status === status).map((o) => keyOf(rebalanceId, o.order));
        if (keys.length > 0) await orders.updateMany({ _id: { $in: keys } }, { $set: { status, batch_id: batchId, updated_at: at } });
      }
    },

    async counts(rebalanceId: string): Promise<Record<OrderStatus, number>> {
      const entries = await Promise.all(
        ORDER_STATUSES.map(async (status) => [status, await orders.countDocuments({ rebalance_id: rebalanceId, status })] as const),
      );
      return Object.fromEntries(entries) as Record<OrderStatus, number>;
    },

    async list(rebalanceId: string, status: OrderStatus | undefined, offset: number, limit: number) {
      const filter = status === undefined ? { rebalance_id: rebalanceId } : { rebalance_id: rebalanceId, status };
      const total = await orders.countDocuments(filter);
      if (pageStart(offset, total) === total) return { total, records: [] };
      const docs = await orders.find(filter).sort({ _id: 1 }).skip(offset).limit(limit).toArray();
      const batchIds = [...new Set(docs.map((d) => d.batch_id).filter((id): id is string => id !== null))];
      const answers = new Map<string, { order_id: number | null; message: string | null }>();
      for (const b of batchIds.length === 0 ? [] : await batches.find({ _id: { $in: batchIds } }).toArray()) {
        for (const r of b.results) answers.set(`${b._id}/${r.key}`, r);
      }
      return {
        total,
        records: docs.map((d) => {
          const answer = d.batch_id === null ? undefined : answers.get(`${d.batch_id}/${d._id}`);
          // As GET .../orders answers it.
          return {
            portfolio_id: d.portfolio_id,
            security_id: d.security_id,
            transaction_type: d.side,
            quantity: d.quantity,
            status: d.status,
            order_id: answer?.order_id ?? null,
            message: answer?.message ?? (d.status === 'unknown' ? 'an earlier submission stopped before the Order service answered' : null),
            attempts: d.attempts,
            updated_at: d.updated_at.toISOString(),
          };
        }),
      };
    },
  };
}

export type OrderRepository = ReturnType<typeof createOrderRepository>;
