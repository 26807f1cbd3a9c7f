// The record of every rebalance cycle: who ran it, when, and what came of it.
import { type Collection, type Db, ObjectId } from 'mongodb';
import { toObjectId } from '../../domain/ids.js';
import type { IndexSpec } from '../../plugins/mongo.js';

export const CYCLES = 'cycles';
export const cycleIndexes: IndexSpec[] = [{ collection: CYCLES, key: { started_at: -1, _id: -1 }, options: { name: 'cycles_newest' } }];

export type CycleStatus = 'running' | 'succeeded' | 'partial' | 'failed' | 'interrupted' | 'abandoned';

/** A cycle's counts before it has done anything. */
export const noCounts = () => ({
  models: 0,
  portfolios: 0,
  infeasible: 0,
  /** Portfolios left untraded in band (REBALANCE_TRIGGER=threshold). */
  inBand: 0,
  upstreamFailures: 0,
  ordersSubmitted: 0,
  ordersFailed: 0,
});
export type CycleCounts = ReturnType<typeof noCounts>;

/** How far a cycle has got: models and their portfolios done, of those it found with portfolios; as stored and answered (CycleDTO). */
export type CycleProgress = Record<'models_done' | 'models_total' | 'portfolios_done' | 'portfolios_total', number>;

interface CycleDocument extends Omit<ReturnType<typeof countFields>, 'in_band'> {
  _id: ObjectId;
  replica: string;
  trigger: 'schedule' | 'once';
  tick: Date;
  started_at: Date;
  ended_at: Date | null;
  status: CycleStatus;
  /** Absent in records written before issue 18. */
  in_band?: number;
  rebalance_ids: string[];
  errors: string[];
  progress?: CycleProgress | null;
}

function toCycle(d: CycleDocument) {
  return {
    id: d._id.toHexString(),
    replica: d.replica,
    trigger: d.trigger,
    tick: d.tick,
    startedAt: d.started_at,
    endedAt: d.ended_at,
    status: d.status,
    models: d.models,
    portfolios: d.portfolios,
    infeasible: d.infeasible,
    inBand: d.in_band ?? 0,
    upstreamFailures: d.upstream_failures,
    ordersSubmitted: d.orders_submitted,
    ordersFailed: d.orders_failed,
    rebalanceIds: d.rebalance_ids,
    errors: d.errors,
    /** As stored and answered; null until the cycle has listed its models (and for records written before progress was recorded). */
    progress: d.progress ?? null,
  };
}

export type Cycle = ReturnType<typeof toCycle>;

const countFields = (counts: CycleCounts) => ({
  models: counts.models,
  portfolios: counts.portfolios,
  infeasible: counts.infeasible,
  in_band: counts.inBand,
  upstream_failures: counts.upstreamFailures,
  orders_submitted: counts.ordersSubmitted,
  orders_failed: counts.ordersFailed,
});

export function createCycleRepository(db: Db) {
  const cycles: Collection<CycleDocument> = db.collection<CycleDocument>(CYCLES);
  /** Ends a cycle that is still running, saying why. */
  const endRunning = async (id: string, status: 'interrupted' | 'abandoned', at: Date, why: string) =>
    void (await cycles.updateOne({ _id: toObjectId(id), status: 'running' }, { $set: { status, ended_at: at, errors: [why] } }));
  return {
    newId: () => new ObjectId().toHexString(),

    async start(id: string, replica: string, trigger: 'schedule' | 'once', tick: Date, at: Date): Promise<void> {
      await cycles.insertOne({
        _id: toObjectId(id),
        replica,
        trigger,
        tick,
        started_at: at,
        ended_at: null,
        status: 'running',
        ...countFields(noCounts()),
        rebalance_ids: [],
        errors: [],
      });
    },

    /** Records the end of a cycle that is still running (a cycle marked abandoned stays so). */
    async finish(
      id: string,
      status: Exclude<CycleStatus, 'running'>,
      counts: CycleCounts,
      rebalanceIds: readonly string[],
      errors: readonly string[],
      at: Date,
    ): Promise<void> {
      await cycles.updateOne(
        { _id: toObjectId(id), status: 'running' },
        {
          $set: {
            status,
            ended_at: at,
            ...countFields(counts),
            rebalance_ids: [...rebalanceIds],
            errors: [...errors],
          },
        },
      );
    },

    interrupt: (id: string, at: Date) => endRunning(id, 'interrupted', at, 'the replica shut down before the cycle finished'),

    abandon: (id: string, at: Date) => endRunning(id, 'abandoned', at, 'its replica stopped renewing the lease (it died or was cut off)'),

    async find(id: string) {
      const d = await cycles.findOne({ _id: toObjectId(id) });
      return d === null ? null : toCycle(d);
    },

    /** Records how far a running cycle has got. */
    async progress(id: string, p: CycleProgress): Promise<void> {
      await cycles.updateOne({ _id: toObjectId(id) }, { $set: { progress: p } });
    },

    count: () => cycles.countDocuments({}),

    async list(offset: number, limit: number) {
      const docs = await cycles.find({}).sort({ started_at: -1, _id: -1 }).skip(offset).limit(limit).toArray();
      return docs.map(toCycle);
    },
  };
}

export type CycleRepository = ReturnType<typeof createCycleRepository>;
