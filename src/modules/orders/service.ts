// Sends a stored rebalance's trades to the Order service, exactly once: each
// order is recorded before it is sent and with what the service answered;
// submitting again sends only the orders that were refused or surely not
// taken, never one that was accepted or may have been.
import type { Logger } from 'pino';
import type { Clock } from '../../domain/clock.js';
import { toNumber } from '../../domain/decimal.js';
import { ConflictError, NotFoundError } from '../../domain/errors.js';
import { type OrderRequest, type Upstreams, UpstreamUnavailableError } from '../../upstreams/index.js';
import type { RebalanceRepository } from '../rebalancing/repository.js';
import { ORDER_STATUSES, type OrderOutcome, type OrderRepository, type OrderStatus, orderKey } from './repository.js';

/** How long one submission may hold a rebalance before another may take over. */
const SUBMISSION_LOCK_MS = 10 * 60_000;
/** Orders of this attempt that did not go through, listed in the answer (the rest via GET .../orders). */
const LISTED_PROBLEMS = 1000;

export interface OrderServiceDeps {
  readonly rebalances: RebalanceRepository;
  readonly orders: OrderRepository;
  readonly upstreams: Upstreams;
  readonly clock: Clock;
  readonly log: Logger;
  /** Told how many orders of each status every batch produced (metrics). */
  readonly onOrders?: (status: OrderStatus, count: number) => void;
}

export function createOrderService({ rebalances, orders, upstreams, clock, log, onOrders }: OrderServiceDeps) {
  return {
    async submit(rebalanceId: string) {
      if ((await rebalances.findHeader(rebalanceId)) === null) throw new NotFoundError(`Rebalance ${rebalanceId} not found`);
      const started = clock.now();
      if (!(await rebalances.lockSubmission(rebalanceId, started, new Date(started.getTime() + SUBMISSION_LOCK_MS)))) {
        throw new ConflictError(`A submission of rebalance ${rebalanceId} is already in progress; try again when it has finished`);
      }
      try {
        await orders.pendingToUnknown(rebalanceId, started);
        const known = await orders.statuses(rebalanceId);
        // sent: orders sent by this submission, and what became of them; skipped: orders not sent because they
        // were accepted (or may have been) before.
        const tally = { sent: 0, accepted: 0, rejected: 0, failed: 0, unknown: 0, skipped: 0 };
        // As POST .../submit answers them.
        const problems: { portfolio_id: string; security_id: string; status: OrderStatus; message: string | null }[] = [];
        /** The upstream failure that stopped the submission, after recording what it could. */
        let stopped: UpstreamUnavailableError | null = null;

        async function send(batch: OrderRequest[]): Promise<void> {
          const now = clock.now();
          await orders.markPending(rebalanceId, batch, known, now);
          tally.sent += batch.length;
          let outcomes: OrderOutcome[];
          /** Told to the metrics even when none (an answered batch's accepted and rejected). */
          let alwaysTold: readonly OrderStatus[] = ['accepted', 'rejected'];
          try {
            const results = await upstreams.orders.submit(batch, now);
            // Orders no result line names may exist: unknown, never sent again automatically.
            outcomes = results.map((r) => ({
              order: batch[r.index]!,
              status: r.status,
              orderId: r.orderId,
              message: r.message,
            }));
          } catch (error) {
            if (!(error instanceof UpstreamUnavailableError)) throw error;
            // Orders that may have reached the service are never sent again automatically.
            const status: OrderStatus = error.mayHaveTakenEffect ? 'unknown' : 'failed';
            outcomes = batch.map((order) => ({ order, status, orderId: null, message: error.message }));
            alwaysTold = [];
            stopped = error;
          }
          await orders.record(rebalanceId, outcomes, clock.now());
          for (const { order, status, message } of outcomes) {
            tally[status as 'accepted' | 'rejected' | 'failed' | 'unknown'] += 1;
            if (status !== 'accepted' && problems.length < LISTED_PROBLEMS) {
              problems.push({ portfolio_id: order.portfolioId, security_id: order.securityId, status, message });
            }
          }
          for (const status of ORDER_STATUSES) {
            const count = outcomes.filter((o) => o.status === status).length;
            if (count > 0 || alwaysTold.includes(status)) onOrders?.(status, count);
          }
        }

        let batch: OrderRequest[] = [];
        for await (const portfolio of rebalances.portfolios(rebalanceId)) {
          for (const position of portfolio.positions) {
            if (position.trade === null) continue;
            const status = known.get(orderKey(rebalanceId, portfolio.portfolioId, position.securityId));
            if (status === 'accepted' || status === 'unknown') {
              tally.skipped += 1;
              continue;
            }
            batch.push({
              portfolioId: portfolio.portfolioId,
              securityId: position.securityId,
              side: position.trade.type,
              quantity: toNumber(position.trade.quantity),
            });
            if (batch.length === upstreams.orders.batchSize) {
              await send(batch);
              batch = [];
              if (stopped !== null) break;
            }
          }
          if (stopped !== null) break;
        }
        if (stopped === null && batch.length > 0) await send(batch);

        // Every order of the rebalance, by status, after this submission.
        const totals = await orders.counts(rebalanceId);
        const { pending: _pending, ...settled } = totals;
        if (tally.sent > 0) await rebalances.recordOrders(rebalanceId, { ...settled, lastSubmittedAt: started });
        log.info({ rebalanceId, ...tally, totals }, 'orders submitted');
        // `stopped` is set inside send, which the narrowing of `let` cannot see.
        return { rebalanceId, ...tally, totals, problems, error: stopped as UpstreamUnavailableError | null };
      } finally {
        await rebalances.unlockSubmission(rebalanceId);
      }
    },

    /** A stored rebalance's order records (404 when there is no such rebalance). */
    async list(rebalanceId: string, status: OrderStatus | undefined, offset: number, limit: number) {
      if ((await rebalances.findHeader(rebalanceId)) === null) throw new NotFoundError(`Rebalance ${rebalanceId} not found`);
      return orders.list(rebalanceId, status, offset, limit);
    },
  };
}

export type OrderService = ReturnType<typeof createOrderService>;
export type SubmissionResult = Awaited<ReturnType<OrderService['submit']>>;
