// Asynchronous model rebalances (docs/async-rebalances.md): the same
// rebalance as the synchronous call, run in the background, with a job record
// per rebalance (`rebalance_jobs`, keyed by the rebalance id) that says where
// it is: running (with its progress), complete, failed (the error in the one
// shape), cancelled, or abandoned (its process died: the sweeper sees its
// heartbeat stop). A stored rebalance is still published with its header only
// once every portfolio is written, so readers never see one half-written. An
// asynchronous dry run keeps its portfolios under its own id, without a
// header, for REBALANCE_DRY_RUN_TTL_MS after it completes.
import { hostname } from 'node:os';
import { type Collection, type Db, type Filter, ObjectId } from 'mongodb';
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import type { Clock } from '../../domain/clock.js';
import { AppError } from '../../domain/errors.js';
import { toObjectId } from '../../domain/ids.js';
import { answerOf, errorBody } from '../../plugins/errors.js';
import type { IndexSpec } from '../../plugins/mongo.js';
import type { RebalanceHeader, RebalanceRepository } from './repository.js';
import {
  BatchedWriter,
  type OutcomeSink,
  type RebalanceOptions,
  type RebalanceService,
  ShuttingDownError,
  SubmissionAfterStoreError,
} from './service.js';

export const REBALANCE_JOBS = 'rebalance_jobs';

export const jobIndexes: IndexSpec[] = [
  { collection: REBALANCE_JOBS, key: { status: 1, heartbeat_at: 1 }, options: { name: 'rebalance_jobs_running' } },
  { collection: REBALANCE_JOBS, key: { dry_run: 1, expires_at: 1 }, options: { name: 'rebalance_jobs_expiry' } },
];

export type JobStatus = 'running' | 'complete' | 'failed' | 'cancelled' | 'abandoned';

/** The one error shape (api.md), as recorded for a failed job. */
export type JobError = ReturnType<typeof errorBody>;

interface JobDocument {
  _id: ObjectId;
  model_id: string;
  model_name: string;
  dry_run: boolean;
  status: JobStatus;
  /** Counted as the job runs, where it runs. */
  progress: { done: number; total: number; infeasible: number };
  started_at: Date;
  ended_at: Date | null;
  trade_date: string;
  error: JobError | null;
  /** A complete dry run's result is removed after this. */
  expires_at: Date | null;
  /** The replica running it. */
  replica: string;
  /** This process (replica, host and a random part): a restart is a new owner. */
  owner: string;
  heartbeat_at: Date;
  cancel_requested: boolean;
}

/** A job as its document records it (its progress a copy of its own). */
const toJob = (d: JobDocument) => ({
  id: d._id.toHexString(),
  modelId: d.model_id,
  modelName: d.model_name,
  dryRun: d.dry_run,
  status: d.status,
  progress: { done: d.progress.done, total: d.progress.total, infeasible: d.progress.infeasible },
  startedAt: d.started_at,
  endedAt: d.ended_at,
  tradeDate: d.trade_date,
  error: d.error,
  expiresAt: d.expires_at,
  replica: d.replica,
});
export type Job = Readonly<ReturnType<typeof toJob>>;

export function createJobRepository(db: Db) {
  const jobs: Collection<JobDocument> = db.collection<JobDocument>(REBALANCE_JOBS);
  const idsOf = async (filter: Filter<JobDocument>) => (await jobs.find(filter).toArray()).map((d) => d._id.toHexString());
  /** Sets fields of a job still running; false when it is not (any more). */
  const setIfRunning = async (id: string, set: Partial<JobDocument>) =>
    (await jobs.updateOne({ _id: toObjectId(id), status: 'running' }, { $set: set })).matchedCount === 1;
  return {
    insert: async (doc: JobDocument) => void (await jobs.insertOne(doc)),
    async find(id: string): Promise<Job | null> {
      const d = await jobs.findOne({ _id: toObjectId(id) });
      return d === null ? null : toJob(d);
    },
    /** Records progress and that the owner is alive; false when the job is no longer running (marked abandoned meanwhile). */
    heartbeat: (id: string, progress: JobDocument['progress'], at: Date) =>
      setIfRunning(id, { progress: { ...progress }, heartbeat_at: at }),
    async finish(id: string, set: Pick<JobDocument, 'status' | 'progress' | 'ended_at' | 'error' | 'expires_at'>): Promise<void> {
      await jobs.updateOne({ _id: toObjectId(id) }, { $set: set });
    },
    requestCancel: (id: string) => setIfRunning(id, { cancel_requested: true }),
    cancelRequested: (ids: readonly string[]) => idsOf({ _id: { $in: ids.map(toObjectId) }, cancel_requested: true }),
    /** Running jobs not heard of since `before` (the caller skips those running in this process). */
    async stale(before: Date): Promise<Job[]> {
      return (await jobs.find({ status: 'running', heartbeat_at: { $lt: before } }).toArray()).map(toJob);
    },
    /** Marks a job abandoned (or complete, when its rebalance was published before its process died) if it is still stale. */
    async settleStale(id: string, before: Date, status: 'abandoned' | 'complete', at: Date, error: JobError | null): Promise<boolean> {
      const r = await jobs.updateOne(
        { _id: toObjectId(id), status: 'running', heartbeat_at: { $lt: before } },
        { $set: { status, ended_at: at, error } },
      );
      return r.modifiedCount === 1;
    },
    expiredDryRuns: (now: Date) => idsOf({ dry_run: true, expires_at: { $lt: now } }),
    /**
     * The ids among these whose portfolio documents are not leftovers: asynchronous dry runs (no header by
     * design, removed when they expire; complete ones only) and rebalances still running on some replica (by their heartbeat).
     */
    async kept(ids: readonly string[]): Promise<Set<string>> {
      if (ids.length === 0) return new Set();
      // A failed, cancelled or abandoned dry run's documents are leftovers like any other (nothing removes them at expiry).
      return new Set(
        await idsOf({ _id: { $in: ids.map(toObjectId) }, $or: [{ dry_run: true, status: 'complete' }, { status: 'running' }] }),
      );
    },
    remove: async (id: string) => void (await jobs.deleteOne({ _id: toObjectId(id) })),
  };
}

export type JobRepository = ReturnType<typeof createJobRepository>;

/** DELETE of a running asynchronous rebalance. */
export class RebalanceCancelledError extends AppError {
  constructor(id: string) {
    super(409, 'CONFLICT', `Rebalance ${id} was cancelled (DELETE /api/v1/rebalance/${id}); nothing of it is stored`);
  }
}

/** As plugins/errors.ts answers it. */
const errorShape = (error: unknown, correlationId: string): JobError => errorBody(answerOf(error), correlationId);

/** A job running in this process, its progress counted here. */
interface LocalJob extends Job {
  readonly controller: AbortController;
  /** Its end is being recorded: no more heartbeats. */
  ending: boolean;
}

export interface JobsDeps extends Pick<Config['jobs'], 'heartbeatMs' | 'staleMs' | 'dryRunTtlMs'> {
  readonly service: RebalanceService;
  readonly jobs: JobRepository;
  readonly rebalances: RebalanceRepository;
  readonly clock: Clock;
  readonly log: Logger;
  readonly replica: string;
}

export function createRebalanceJobs(deps: JobsDeps) {
  const { service, jobs, rebalances, clock, log } = deps;
  const owner = `${deps.replica}@${hostname()}#${new ObjectId().toHexString()}`;
  const local = new Map<string, LocalJob>();
  let timer: NodeJS.Timeout | null = null;
  /** How each started job settles (its end recorded), by its controller. */
  const settledBy = new WeakMap<AbortController, Promise<void>>();

  const finish = (j: LocalJob, status: JobStatus, error: JobError | null, expiresAt: Date | null) =>
    jobs.finish(j.id, { status, progress: { ...j.progress }, ended_at: clock.now(), error, expires_at: expiresAt });

  async function beat(): Promise<void> {
    const now = clock.now();
    const ids = [...local.keys()];
    for (const j of local.values()) {
      if (j.ending) continue;
      if (!(await jobs.heartbeat(j.id, j.progress, now)) && !j.ending) {
        log.warn({ rebalanceId: j.id }, 'an asynchronous rebalance was marked abandoned while it ran here: stopping it');
        j.controller.abort(new ShuttingDownError());
      }
    }
    // A cancellation asked of another replica reaches this one here.
    for (const id of await jobs.cancelRequested(ids)) local.get(id)?.controller.abort(new RebalanceCancelledError(id));
  }

  return {
    /**
     * Starts a model rebalance in the background; settles once it has started
     * (its job recorded), or with the error when it cannot start at all
     * (no such model: the caller answers that at once).
     */
    start(modelId: string, options: Omit<RebalanceOptions, 'signal'>, correlationId: string): Promise<Job> {
      const controller = new AbortController();
      let job: LocalJob | null = null;
      /** An asynchronous dry run's portfolios, kept under its id (batched, with back-pressure, as a stored run's). */
      let writer: BatchedWriter | null = null;
      return new Promise<Job>((resolve, reject) => {
        const sink: OutcomeSink = {
          async start(run) {
            const id = run.rebalanceId ?? rebalances.newId(run.startedAt);
            const doc: JobDocument = {
              _id: toObjectId(id),
              model_id: run.modelId,
              model_name: run.modelName,
              dry_run: options.dryRun,
              status: 'running',
              progress: { done: 0, total: run.total, infeasible: 0 },
              started_at: run.startedAt,
              ended_at: null,
              trade_date: run.tradeDate,
              error: null,
              expires_at: null,
              replica: deps.replica,
              owner,
              heartbeat_at: clock.now(),
              cancel_requested: false,
            };
            await jobs.insert(doc);
            const j: LocalJob = { ...toJob(doc), controller, ending: false };
            job = j;
            if (options.dryRun) writer = new BatchedWriter((batch) => rebalances.writePortfolios(id, batch), controller);
            local.set(id, j);
            // Heartbeats while a job runs here; the timer stops once none is left.
            timer ??= setInterval(() => {
              if (local.size === 0) {
                clearInterval(timer!);
                timer = null;
                return;
              }
              beat().catch((error: unknown) => log.warn({ err: error }, 'could not record the progress of asynchronous rebalances'));
            }, deps.heartbeatMs).unref();
            log.info(
              { rebalanceId: id, modelId: run.modelId, portfolios: run.total, dryRun: options.dryRun },
              'asynchronous rebalance started',
            );
            resolve(j);
          },
          async beforePublish() {
            // A fresh heartbeat, and proof the job is still running: a replica that found it stale (its
            // heartbeats held up) has marked it abandoned and removed its documents; publishing now would
            // make a rebalance with portfolios missing.
            const j = job!;
            if (!(await jobs.heartbeat(j.id, j.progress, clock.now()))) {
              log.warn({ rebalanceId: j.id }, 'an asynchronous rebalance was marked abandoned while it ran here: not publishing it');
              throw new ShuttingDownError();
            }
          },
          outcome(seq, outcome) {
            const j = job!;
            j.progress.done += 1;
            if (outcome.status === 'infeasible') j.progress.infeasible += 1;
            return writer?.add(seq, outcome);
          },
        };
        const run = service.rebalanceModel(modelId, { ...options, signal: controller.signal }, sink).then(async () => {
          await writer?.close();
          if (writer !== null && writer.failure !== null) throw writer.failure;
        });
        const settled = run.then(
          async () => {
            const j = job!;
            j.ending = true;
            await finish(j, 'complete', null, j.dryRun ? new Date(clock.now().getTime() + deps.dryRunTtlMs) : null);
            log.info({ rebalanceId: j.id, ...j.progress }, 'asynchronous rebalance complete');
          },
          async (failure: unknown) => {
            let error = failure;
            const j = job;
            if (j === null) {
              reject(error);
              return;
            }
            j.ending = true;
            if (writer !== null) {
              await writer.close();
              // A failed write stopped the rebalance: the failure is what it says, not the cancellation it caused.
              error = writer.failure ?? error;
              await rebalances.discard(j.id).catch(() => undefined); // else the sweeper's age bound removes them
            }
            const reason = controller.signal.reason;
            // Stored, and only the orders' submission failed: the rebalance is complete, its error says how to resubmit.
            const status: JobStatus =
              error instanceof SubmissionAfterStoreError
                ? 'complete'
                : reason instanceof RebalanceCancelledError
                  ? 'cancelled'
                  : error instanceof ShuttingDownError
                    ? 'abandoned'
                    : 'failed';
            await finish(j, status, errorShape(error, correlationId), null);
            const level = status === 'cancelled' || status === 'abandoned' ? 'info' : error instanceof AppError ? 'warn' : 'error';
            log[level]({ rebalanceId: j.id, status, err: error, correlation_id: correlationId }, `asynchronous rebalance ${status}`);
          },
        );
        const tracked = settled
          .catch((error: unknown) => log.error({ err: error }, 'could not record the end of an asynchronous rebalance'))
          .finally(() => {
            if (job !== null) local.delete(job.id);
          });
        settledBy.set(controller, tracked);
      });
    },

    /** The job as this process knows it (running here), else as recorded; null when there is none. */
    async find(id: string): Promise<Job | null> {
      return local.get(id) ?? jobs.find(id);
    },

    /**
     * Cancels a running job: here at once (settles when it has stopped and
     * removed what it wrote), or asks the replica running it (it stops at its
     * next heartbeat). Null when no job of that id is running.
     */
    async cancel(id: string): Promise<Job | null> {
      const j = local.get(id);
      if (j !== undefined) {
        j.controller.abort(new RebalanceCancelledError(id));
        await settledBy.get(j.controller);
      } else if (!(await jobs.requestCancel(id))) return null;
      return jobs.find(id);
    },

    /**
     * The sweeper's part: running jobs whose process stopped recording progress
     * are marked abandoned (what they wrote removed), or complete when their
     * rebalance was published; complete dry runs past their time are removed.
     */
    async sweep(): Promise<{ abandoned: number; expired: number }> {
      const now = clock.now();
      const before = new Date(now.getTime() - deps.staleMs);
      let abandoned = 0;
      for (const stale of await jobs.stale(before)) {
        if (local.has(stale.id)) continue;
        const published = !stale.dryRun && (await rebalances.findHeader(stale.id)) !== null;
        const error = published
          ? null
          : errorShape(
              new AppError(
                503,
                'UPSTREAM_UNAVAILABLE',
                `The process running rebalance ${stale.id} (replica ${stale.replica}) stopped before it finished; nothing of it is stored. Send it again`,
              ),
              stale.id,
            );
        if (!(await jobs.settleStale(stale.id, before, published ? 'complete' : 'abandoned', now, error))) continue;
        if (!published) {
          await rebalances.discard(stale.id);
          abandoned += 1;
          log.warn({ rebalanceId: stale.id, replica: stale.replica }, 'asynchronous rebalance abandoned: its process stopped');
        }
      }
      let expired = 0;
      for (const id of await jobs.expiredDryRuns(now)) {
        await rebalances.discard(id);
        await jobs.remove(id);
        expired += 1;
      }
      return { abandoned, expired };
    },

    /** Among these ids of portfolio documents without a header, those to keep: dry runs until they expire, running rebalances. */
    kept: jobs.kept,

    /** Ids of the jobs running in this process. */
    running: (): ReadonlySet<string> => new Set(local.keys()),

    /**
     * Shutdown: waits until every job running here has ended and recorded how
     * (the service stops them when the grace period ends: they are recorded abandoned).
     */
    async stop(): Promise<void> {
      await Promise.all([...local.values()].map((j) => settledBy.get(j.controller)));
      if (timer !== null) clearInterval(timer);
      timer = null;
    },
  };
}

export type RebalanceJobs = ReturnType<typeof createRebalanceJobs>;

/** A header-like view of a complete asynchronous dry run, so its result reads like a stored rebalance. */
export function dryRunHeader(job: Job): RebalanceHeader {
  return {
    id: job.id,
    modelId: job.modelId,
    modelName: job.modelName,
    rebalanceDate: job.startedAt,
    tradeDate: job.tradeDate,
    numberOfPortfolios: job.progress.total,
    portfolios: [],
    version: 1,
    createdAt: job.startedAt,
    orders: null,
  };
}
