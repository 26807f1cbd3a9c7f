// What was sent to the Order service for each trade of a stored rebalance,
// and what it answered: one document per order, keyed by rebalance,
// portfolio and security, so a trade is recorded once however often its
// rebalance is submitted.
import type { AnyBulkWriteOperation, Collection, Db } from 'mongodb';
import type { IndexSpec } from '../../plugins/mongo.js';

export const ORDER_SUBMISSIONS = 'order_submissions';
export const orderIndexes: IndexSpec[] = [
  { collection: ORDER_SUBMISSIONS, key: { rebalance_id: 1, status: 1 }, options: { name: 'order_submissions_status' } },
];

/**
 * pending: being sent now; accepted: created (order_id); rejected: refused by
 * the Order service (sent again on resubmission); failed: surely not taken
 * (sent again); unknown: may have been taken (never sent again automatically).
 */
export type OrderStatus = 'pending' | 'accepted' | 'rejected' | 'failed' | 'unknown';
export const ORDER_STATUSES: readonly OrderStatus[] = ['pending', 'accepted', 'rejected', 'failed', 'unknown'];

export interface OrderRecord {
  readonly rebalanceId: string;
  readonly portfolioId: string;
  readonly securityId: string;
  readonly side: 'BUY' | 'SELL';
  readonly quantity: number;
  readonly status: OrderStatus;
  readonly orderId: number | null;
  readonly message: string | null;
  readonly attempts: number;
  readonly updatedAt: Date;
}

interface OrderDocument {
  _id: string;
  rebalance_id: string;
  portfolio_id: string;
  security_id: string;
  side: 'BUY' | 'SELL';
  quantity: number;
  status: OrderStatus;
  order_id: number | null;
  message: string | null;
  attempts: number;
  updated_at: Date;
}

export const orderKey = (rebalanceId: string, portfolioId: string, securityId: string) => `${rebalanceId}:${portfolioId}:${securityId}`;

const toRecord = (d: OrderDocument): OrderRecord => ({
  rebalanceId: d.rebalance_id,
  portfolioId: d.portfolio_id,
  securityId: d.security_id,
  side: d.side,
  quantity: d.quantity,
  status: d.status,
  orderId: d.order_id,
  message: d.message,
  attempts: d.attempts,
  updatedAt: d.updated_at,
});

export interface OrderToSend {
  readonly portfolioId: string;
  readonly securityId: string;
  readonly side: 'BUY' | 'SELL';
  readonly quantity: number;
}

export function createOrderRepository(db: Db) {
  const orders: Collection<OrderDocument> = db.collection<OrderDocument>(ORDER_SUBMISSIONS);

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
        { $set: { status: 'unknown', message: 'an earlier submission stopped before the Order service answered', updated_at: at } },
      );
    },

    /** Marks a batch as being sent (new orders are inserted, retried ones updated). */
    async markPending(rebalanceId: string, batch: readonly OrderToSend[], known: ReadonlyMap<string, OrderStatus>, at: Date): Promise<void> {
      const ops: AnyBulkWriteOperation<OrderDocument>[] = batch.map((o) => {
        const _id = orderKey(rebalanceId, o.portfolioId, o.securityId);
        return known.has(_id)
          ? { updateOne: { filter: { _id }, update: { $set: { status: 'pending', updated_at: at, side: o.side, quantity: o.quantity }, $inc: { attempts: 1 } } } }
          : {
              insertOne: {
                document: {
                  _id,
                  rebalance_id: rebalanceId,
                  portfolio_id: o.portfolioId,
                  security_id: o.securityId,
                  side: o.side,
                  quantity: o.quantity,
                  status: 'pending',
                  order_id: null,
                  message: null,
                  attempts: 1,
                  updated_at: at,
                },
              },
            };
      });
      if (ops.length > 0) await orders.bulkWrite(ops, { ordered: true });
    },

    async record(
      rebalanceId: string,
      outcomes: readonly { order: OrderToSend; status: OrderStatus; orderId: number | null; message: string | null }[],
      at: Date,
    ): Promise<void> {
      const ops: AnyBulkWriteOperation<OrderDocument>[] = outcomes.map(({ order, status, orderId, message }) => ({
        updateOne: {
          filter: { _id: orderKey(rebalanceId, order.portfolioId, order.securityId) },
          update: { $set: { status, order_id: orderId, message, updated_at: at } },
        },
      }));
      if (ops.length > 0) await orders.bulkWrite(ops, { ordered: true });
    },

    async counts(rebalanceId: string): Promise<Record<OrderStatus, number>> {
      const entries = await Promise.all(
        ORDER_STATUSES.map(async (status) => [status, await orders.countDocuments({ rebalance_id: rebalanceId, status })] as const),
      );
      return Object.fromEntries(entries) as Record<OrderStatus, number>;
    },

    async list(rebalanceId: string, status: OrderStatus | undefined, offset: number, limit: number): Promise<{ total: number; records: OrderRecord[] }> {
      const filter = status === undefined ? { rebalance_id: rebalanceId } : { rebalance_id: rebalanceId, status };
      const total = await orders.countDocuments(filter);
      const docs = await orders.find(filter).sort({ _id: 1 }).skip(offset).limit(limit).toArray();
      return { total, records: docs.map(toRecord) };
    },

    async removeFor(rebalanceId: string): Promise<void> {
      await orders.deleteMany({ rebalance_id: rebalanceId });
    },
  };
}

export type OrderRepository = ReturnType<typeof createOrderRepository>;
