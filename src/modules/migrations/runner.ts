// Versioned migrations of the database: a list of numbered steps, a record per
// applied step in `migrations`, and a lock so one process at a time runs them
// (the replica that starts first, or `order-generation migrate`).
//
// The lock is a document with a fixed _id in `migrations`, taken with insertOne
// (the unique _id makes two takers mutually exclusive on any server), renewed
// while the holder works, released with a deleteOne naming its holder. A holder
// that died leaves it; it is taken over once it expired by more than the clock
// skew allowed (a conditional deleteOne of that exact lock, then insertOne).
// Each step is idempotent and resumable, so a step cut short by a crash is
// simply run again by the next holder.
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import { type Clock, systemClock } from '../../domain/clock.js';
import { inserted } from '../../plugins/mongo.js';
import { type ConvertOptions, convertLegacyRebalances, restoreLegacyRebalances } from './legacy-rebalances.js';

export const MIGRATIONS = 'migrations';
const LOCK_ID = 'lock';

export interface MigrationContext {
  readonly db: Db;
  readonly dryRun: boolean;
  /** Keeps the lock while a long step works. */
  readonly renew: () => Promise<void>;
  readonly testHooks?: Pick<ConvertOptions, 'afterBatch' | 'batchSize'> | undefined;
}

/** What a step did (or, in a dry run, would do); `failed` non-empty keeps the step pending. */
export type StepReport = Record<string, unknown> & { readonly failed: readonly unknown[] };

export const migrations = [
  {
    id: '0001-legacy-rebalances',
    description:
      "converts the Python service's rebalances (portfolios and positions embedded) into a header and one document per portfolio",
    run: ({ db, dryRun, renew, testHooks }: MigrationContext) => convertLegacyRebalances(db, { dryRun, onProgress: renew, ...testHooks }),
  },
];

export interface MigrationSettings {
  readonly holder: string;
  readonly clock: Clock;
  readonly log: Logger;
  readonly skewMs?: number;
}

export function createMigrator(db: Db, settings: MigrationSettings) {
  const { holder, clock, log } = settings;
  const ttlMs = 60_000;
  const skewMs = settings.skewMs ?? 5_000;
  /** The lock and the applied steps share the collection (each keyed by its _id). */
  const records = db.collection<{ _id: string } & Record<string, unknown>>(MIGRATIONS);

  async function acquire(): Promise<boolean> {
    const now = clock.now();
    const lock = { _id: LOCK_ID, holder, acquired_at: now, expires_at: new Date(now.getTime() + ttlMs) };
    if (await inserted(() => records.insertOne(lock))) return true;
    const held = (await records.findOne({ _id: LOCK_ID })) as typeof lock | null;
    if (held !== null && held.expires_at.getTime() + skewMs >= now.getTime()) return false;
    // Expired: remove exactly that lock (another taker may have done it first), then try once more.
    if (held !== null) await records.deleteOne({ _id: LOCK_ID, holder: held.holder, expires_at: held.expires_at });
    log.warn({ previous_holder: held?.holder }, 'migration lock expired: taking it over');
    return inserted(() => records.insertOne(lock));
  }

  let lastRenew = 0;
  async function renew(): Promise<void> {
    const now = clock.now();
    if (now.getTime() - lastRenew < ttlMs / 3) return;
    lastRenew = now.getTime();
    const result = await records.updateOne({ _id: LOCK_ID, holder }, { $set: { expires_at: new Date(now.getTime() + ttlMs) } });
    if (result.matchedCount !== 1)
      throw new Error('the migration lock was taken over by another process (this one stalled past its expiry)');
  }

  async function release(): Promise<void> {
    await records.deleteOne({ _id: LOCK_ID, holder });
  }

  return {
    /** Runs (or, dry, reports) every step not applied yet. A dry run takes no lock and writes nothing. */
    async run(options: { dryRun?: boolean; testHooks?: MigrationContext['testHooks'] } = {}) {
      const dryRun = options.dryRun === true;
      // locked: false when another process held the lock: nothing was done.
      if (!dryRun && !(await acquire())) return { locked: false, dryRun, steps: [], ok: true };
      lastRenew = clock.now().getTime();
      const outcomes: { id: string; status: 'applied' | 'already applied' | 'pending' | 'failed'; report?: StepReport }[] = [];
      let ok = true;
      try {
        for (const step of migrations) {
          // A step after a failed one stays pending.
          const applied = (await records.findOne({ _id: step.id })) !== null;
          if (applied || !ok) {
            outcomes.push({ id: step.id, status: applied ? 'already applied' : 'pending' });
            continue;
          }
          const started = clock.now();
          const report = await step.run({
            db,
            dryRun,
            renew,
            testHooks: options.testHooks,
          });
          const failed = report.failed.length > 0;
          if (failed && !dryRun) {
            log.error({ migration: step.id, report }, 'migration step left documents it could not convert; it stays pending');
          }
          if (dryRun || failed) {
            outcomes.push({ id: step.id, status: failed ? 'failed' : 'pending', report });
            ok &&= !failed;
            continue;
          }
          const duration = clock.now().getTime() - started.getTime();
          await records.insertOne({
            _id: step.id,
            description: step.description,
            applied_at: clock.now(),
            duration_ms: duration,
            applied_by: holder,
            report,
          });
          log.info({ migration: step.id, duration_ms: duration, report }, 'migration applied');
          outcomes.push({ id: step.id, status: 'applied', report });
        }
      } finally {
        if (!dryRun) await release();
      }
      return { locked: true, dryRun, steps: outcomes, ok };
    },

    /** Puts the converted rebalances back in the Python service's format and marks migration 0001 pending again. */
    async rollback() {
      if (!(await acquire())) return { locked: false };
      try {
        const report = await restoreLegacyRebalances(db);
        await records.deleteOne({ _id: '0001-legacy-rebalances' });
        log.info({ report }, 'legacy rebalances restored');
        return { locked: true, report };
      } finally {
        await release();
      }
    },
  };
}

/** The migrator of a service process (the server, the command line): its replica holds the lock, allowing the configured clock skew. */
export const configuredMigrator = (db: Db, config: Config, log: Logger) =>
  createMigrator(db, { holder: config.schedule.replicaId, clock: systemClock, log, skewMs: config.schedule.clockSkewMs });
