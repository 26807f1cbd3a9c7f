// Removes what failed work left behind, at start-up and then periodically:
// portfolio documents of rebalances that were never published (a process
// killed mid-write, a database that stalled through the clean-up) and spool
// files of requests no process serves any more. It also retries unique
// indexes that duplicates in the data kept from being created.
//
// - Documents: on one replica at a time, under a lease document of its own.
//   A rebalance is unpublished when it has portfolio documents and no header;
//   it is removed once it started more than SWEEP_MIN_AGE_MS ago (by its id's
//   timestamp), so a rebalance still running on another replica is safe as
//   long as the bound is above the longest rebalance. This process's own
//   failed rebalances whose clean-up could not run are removed at once, and
//   its running rebalances never, whatever the bound.
// - Asynchronous rebalances (rebalancing/jobs.ts): on every replica (each
//   change is conditional), at each sweep and repair tick: a running one whose
//   process stopped recording progress for REBALANCE_JOB_STALE_MS is marked
//   abandoned and what it wrote removed; a complete dry run past its time is
//   removed; a dry run's portfolio documents (never published, by design) are
//   left alone until then, and so are those of an asynchronous rebalance still
//   running on any replica, whatever its age.
// - Spool files and indexes: on every replica (each has its own files, and
//   its own view of which indexes exist).
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import type { Clock } from '../../domain/clock.js';
import { sweepSpools } from '../../http/spool.js';
import type { IndexHealth } from '../../plugins/index-health.js';
import type { RebalanceJobs } from '../rebalancing/jobs.js';
import type { RebalanceRepository } from '../rebalancing/repository.js';
import type { RebalanceService } from '../rebalancing/service.js';
import type { Lease } from '../scheduling/lease.js';

export interface SweeperDeps extends Pick<Config['maintenance'], 'sweepIntervalMs' | 'sweepMinAgeMs' | 'repairIntervalMs'> {
  readonly rebalances: RebalanceRepository;
  readonly rebalancing: Pick<RebalanceService, 'inFlight' | 'retryDiscards'>;
  /** Asynchronous rebalances: abandoned ones marked, expired dry runs removed. */
  readonly jobs: Pick<RebalanceJobs, 'sweep' | 'kept' | 'running'>;
  readonly indexes: IndexHealth;
  readonly lease: Lease;
  readonly spoolDir: string;
  readonly clock: Clock;
  readonly log: Logger;
}

export function createSweeper(deps: SweeperDeps) {
  const { rebalances, rebalancing, indexes, lease, clock, log } = deps;
  let sweeps = 0;
  /** The lease runs a tick once: this process's ticks always move on, even under a clock that stands still. */
  let lastTick = 0;
  let running: ReturnType<typeof sweepOnce> | null = null;
  const timers: NodeJS.Timeout[] = [];

  async function unpublished(): Promise<{ leased: boolean; rebalances: number; portfolioDocuments: number }> {
    const sweepId = `sweep-${++sweeps}`;
    lastTick = Math.max(clock.now().getTime(), lastTick + 1);
    if ((await lease.acquire(new Date(lastTick), sweepId)) === null) return { leased: false, rebalances: 0, portfolioDocuments: 0 };
    try {
      const before = new Date(clock.now().getTime() - deps.sweepMinAgeMs);
      const live = rebalancing.inFlight();
      const jobsHere = deps.jobs.running();
      let ids = (await rebalances.unpublishedBefore(before)).filter((id) => !live.has(id) && !jobsHere.has(id));
      const kept = await deps.jobs.kept(ids);
      ids = ids.filter((id) => !kept.has(id));
      const portfolioDocuments = await rebalances.discardMany(ids);
      return { leased: true, rebalances: ids.length, portfolioDocuments };
    } finally {
      await lease.release(sweepId);
    }
  }

  async function sweepOnce() {
    // Files first: they need no database.
    const spoolFiles = await sweepSpools(deps.spoolDir, clock.now(), deps.sweepMinAgeMs);
    await indexes.retry();
    const own = await rebalancing.retryDiscards();
    const jobs = await deps.jobs.sweep();
    const documents = await unpublished();
    const report = {
      /** False when another replica held the sweep lease (documents were not swept by age). */
      leased: documents.leased,
      /** Unpublished rebalances whose portfolio documents were removed, and how many documents. */
      rebalances: documents.rebalances + own,
      portfolioDocuments: documents.portfolioDocuments,
      spoolFiles,
      /** Asynchronous rebalances marked abandoned (their process stopped), and expired dry-run results removed. */
      abandonedRebalances: jobs.abandoned,
      expiredDryRuns: jobs.expired,
      missingIndexes: indexes.missing().map((m) => m.index),
    };
    const level = report.rebalances + report.spoolFiles + report.abandonedRebalances > 0 ? 'warn' : 'info';
    log[level](report, 'sweep finished');
    return report;
  }

  /** One sweep now (a sweep already running is joined, not doubled). */
  function sweep() {
    running ??= sweepOnce().finally(() => {
      running = null;
    });
    return running;
  }

  const quietly = (what: string, work: () => Promise<unknown>) => () =>
    void work().catch((error: unknown) => log.error({ err: error }, `${what} failed; it runs again on the next tick`));

  return {
    sweep,

    /** Sweeps now, then every interval; retries missing indexes and failed clean-ups more often. */
    start(): void {
      quietly('start-up sweep', sweep)();
      if (deps.sweepIntervalMs > 0) timers.push(setInterval(quietly('sweep', sweep), deps.sweepIntervalMs).unref());
      const repair = quietly('repair', async () => {
        if (indexes.missing().length > 0) await indexes.retry();
        await rebalancing.retryDiscards();
        await deps.jobs.sweep();
      });
      timers.push(setInterval(repair, deps.repairIntervalMs).unref());
    },

    /** Stops the timers and waits for a sweep in progress. */
    async stop(): Promise<void> {
      for (const timer of timers.splice(0)) clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}

export type Sweeper = ReturnType<typeof createSweeper>;
