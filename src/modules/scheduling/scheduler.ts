// Scheduled rebalance cycles (operations.md): a cron schedule fires ticks; a
// tick runs a cycle only if this replica is not already running one and it
// wins the cycle lease for that tick (lease.ts), so each tick runs once across
// replicas and cycles never overlap. `runOnce` is the CLI's `--once`.
import cron, { type ScheduledTask } from 'node-cron';
import type { Config } from '../../config.js';
import type { Clock } from '../../domain/clock.js';
import type { ProgressRegistry } from '../rebalancing/progress.js';
import { type CycleDeps, runCycleModels } from './cycle.js';
import { type Cycle, type CycleProgress, type CycleRepository, type CycleStatus, noCounts } from './cycles.js';
import type { Lease } from './lease.js';

export interface SchedulerDeps extends CycleDeps, Pick<Config['schedule'], 'cron' | 'timeZone' | 'leaseTtlMs'> {
  readonly cycles: CycleRepository;
  readonly lease: Lease;
  readonly replica: string;
  readonly clock: Clock;
  /** Told how each cycle this replica ran ended (metrics). */
  readonly onCycleEnd: (status: CycleStatus) => void;
  /** The rebalances running here: the running cycle's progress is recorded every `progressEveryMs` from it. */
  readonly progress: ProgressRegistry;
  readonly progressEveryMs: number;
}

export function createScheduler(deps: SchedulerDeps) {
  const { cycles, lease, replica, clock, log } = deps;
  let task: ScheduledTask | null = null;
  let running: Promise<Cycle | null> | null = null;
  let currentId: string | null = null;
  /** No new ticks once closing; a running cycle stops at its next model once stopping. */
  let closing = false;
  let stopping = false;

  /** Runs one cycle for `tick` if the lease allows; null when another replica has it (or the tick already ran). */
  async function cycle(tick: Date, trigger: 'schedule' | 'once'): Promise<Cycle | null> {
    const id = cycles.newId();
    const acquired = await lease.acquire(tick, id);
    if (acquired === null) {
      log.debug({ tick, replica }, 'cycle lease held elsewhere or tick already run: skipping');
      return null;
    }
    const started = clock.now();
    if (acquired.abandonedCycle !== null) {
      await cycles.abandon(acquired.abandonedCycle, started);
      log.warn({ abandoned: acquired.abandonedCycle }, 'took over the cycle lease from a replica that stopped renewing it');
    }
    await cycles.start(id, replica, trigger, tick, started);
    currentId = id;
    log.info({ cycleId: id, tick, replica }, 'rebalance cycle started');
    let lost = false;
    const renew = () =>
      lease.renew(id).then(
        (held) => {
          if (!held) lost = true;
        },
        (error: unknown) => log.warn({ err: error }, 'cycle lease renewal failed'),
      );
    const renewal = setInterval(renew, Math.max(100, Math.floor(deps.leaseTtlMs / 3)));
    // Progress: recorded as each model begins and ends, and in between from the model's rebalance under way.
    let reached: CycleProgress | null = null;
    let currentModel: string | null = null;
    /** Progress writes, one after the other (the last one lands last). */
    let writes: Promise<void> = Promise.resolve();
    const recordProgress = () => {
      if (reached === null) return;
      // The cycle's own rebalance of the model: a caller may be rebalancing the same model beside it.
      const under = deps.progress.running().find((p) => p.cycle && p.modelId === currentModel);
      const p = { ...reached, portfolios_done: reached.portfolios_done + (under?.done ?? 0) };
      writes = writes.then(() =>
        cycles.progress(id, p).catch((error: unknown) => log.warn({ err: error, cycleId: id }, 'could not record the cycle progress')),
      );
    };
    const progressTimer = deps.progressEveryMs > 0 ? setInterval(recordProgress, deps.progressEveryMs).unref() : null;
    try {
      const outcome = await runCycleModels(
        deps,
        () => stopping || lost,
        (p, current) => {
          reached = p;
          currentModel = current;
          recordProgress();
        },
      );
      await writes;
      const status = lost ? 'failed' : outcome.status;
      const errors = lost ? [...outcome.errors, 'the cycle lease was lost: another replica took over'] : outcome.errors;
      await cycles.finish(id, status, outcome.counts, outcome.rebalanceIds, errors, clock.now());
      deps.onCycleEnd(status);
      log.info({ cycleId: id, status, ...outcome.counts }, 'rebalance cycle ended');
    } catch (error) {
      await cycles.finish(id, 'failed', noCounts(), [], [error instanceof Error ? error.message : String(error)], clock.now());
      deps.onCycleEnd('failed');
      log.error({ err: error, cycleId: id }, 'rebalance cycle failed');
    } finally {
      if (progressTimer !== null) clearInterval(progressTimer);
      clearInterval(renewal);
      currentId = null;
      await lease.release(id).catch((error: unknown) => log.warn({ err: error }, 'cycle lease release failed'));
    }
    return cycles.find(id);
  }

  /**
   * A tick: skipped (null) while this replica still runs the previous cycle
   * (never overlapping); otherwise the cycle, or null when another replica has
   * the tick. The cron task calls it; tests call it directly with named ticks.
   */
  function onTick(tick: Date): Promise<Cycle | null> {
    if (running !== null || closing) {
      log.info({ tick }, 'previous cycle still running on this replica: skipping the tick');
      return Promise.resolve(null);
    }
    running = cycle(tick, 'schedule')
      .catch((error: unknown) => {
        log.error({ err: error }, 'rebalance cycle could not run');
        return null;
      })
      .finally(() => {
        running = null;
      });
    return running;
  }

  return {
    start(): void {
      if (deps.cron === undefined || task !== null) return;
      task = cron.schedule(deps.cron, (context) => void onTick(context.date), { timezone: deps.timeZone, name: 'rebalance-cycle' });
      log.info({ schedule: deps.cron, timeZone: deps.timeZone, replica }, 'rebalance cycles scheduled');
    },

    /** One cycle now (the CLI's --once), named by the current second as its tick. */
    async runOnce(): Promise<Cycle | null> {
      const now = clock.now();
      return cycle(new Date(Math.floor(now.getTime() / 1000) * 1000), 'once');
    },

    /**
     * Stops ticking and lets a running cycle finish within `graceMs`; past it
     * the cycle is recorded as interrupted and its lease released at once, so
     * the next tick on any replica can run.
     */
    async stop(graceMs: number): Promise<void> {
      closing = true;
      await task?.stop();
      task = null;
      const current = running;
      if (current === null) return;
      const late = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), graceMs).unref());
      if ((await Promise.race([current, late])) !== 'late') return;
      stopping = true;
      const id = currentId;
      if (id === null) return;
      await cycles.interrupt(id, clock.now());
      await lease.release(id);
      log.warn({ cycleId: id, graceMs }, 'shutdown: the running cycle did not finish in time and is recorded as interrupted');
    },

    /** Fires the tick named `tick` now, as the schedule would (no cron needed). */
    tick: onTick,

    isRunning: () => running !== null,
  };
}

export type Scheduler = ReturnType<typeof createScheduler>;
