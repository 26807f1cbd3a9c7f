// The cycle lease: one MongoDB document that at most one replica holds at a
// time, so that each scheduled tick runs one cycle across all replicas.
//
// - Acquire is one conditional updateOne: the lease is free (released, or
//   expired), and the tick asked for is later than the last tick run. A tick is
//   named by its nominal time from the schedule (the same on every replica,
//   whatever its clock says), so a tick cannot run twice even when a fast
//   cycle has already released the lease before a slower replica fires.
// - The holder renews it every third of its time-to-live while the cycle runs
//   and releases it at the end. A replica that dies keeps it until it expires.
// - Clock skew: expiry is written by the holder's clock and read by the
//   others' clocks, so another replica takes it over only CLOCK_SKEW_MS after
//   it expired by its own clock; differences up to that are safe. The tick
//   names need no clock agreement.
import type { Collection, Db } from 'mongodb';
import type { Clock } from '../../domain/clock.js';
import { inserted } from '../../plugins/mongo.js';

export const LEASES = 'leases';

interface LeaseDocument {
  _id: string;
  holder: string | null;
  /** The cycle running under the lease (to mark it abandoned if its holder died). */
  cycle_id: string | null;
  expires_at: Date;
  last_tick: Date;
  acquired_at: Date | null;
}

export interface LeaseSettings {
  readonly name: string;
  readonly holder: string;
  readonly ttlMs: number;
  readonly skewMs: number;
}

export function createLease(db: Db, clock: Clock, settings: LeaseSettings) {
  const leases: Collection<LeaseDocument> = db.collection<LeaseDocument>(LEASES);
  const { name, holder, ttlMs, skewMs } = settings;

  /** The lease document exists from the first acquire on (inserted once, by whichever replica is first). */
  let exists = false;
  async function ensure(): Promise<void> {
    if (exists) return;
    await inserted(() =>
      leases.insertOne({ _id: name, holder: null, cycle_id: null, expires_at: new Date(0), last_tick: new Date(0), acquired_at: null }),
    );
    exists = true;
  }

  return {
    /** Takes the lease to run `tick` as `cycleId`; null when another replica has it or the tick already ran. */
    async acquire(tick: Date, cycleId: string) {
      await ensure();
      const now = clock.now();
      const before = await leases.findOne({ _id: name });
      const free = { $or: [{ holder: null }, { expires_at: { $lt: new Date(now.getTime() - skewMs) } }] };
      const taken = await leases.updateOne(
        { _id: name, last_tick: { $lt: tick }, ...free },
        { $set: { holder, cycle_id: cycleId, expires_at: new Date(now.getTime() + ttlMs), last_tick: tick, acquired_at: now } },
      );
      if (taken.modifiedCount !== 1) return null;
      // The cycle that held the lease before and never released it (its replica died), if any.
      return { abandonedCycle: before?.holder == null ? null : before.cycle_id };
    },

    /** Extends the lease; false when it is no longer ours (taken over after expiry). */
    async renew(cycleId: string): Promise<boolean> {
      const now = clock.now();
      const result = await leases.updateOne(
        { _id: name, holder, cycle_id: cycleId },
        { $set: { expires_at: new Date(now.getTime() + ttlMs) } },
      );
      return result.matchedCount === 1;
    },

    async release(cycleId: string): Promise<void> {
      await leases.updateOne({ _id: name, holder, cycle_id: cycleId }, { $set: { holder: null, cycle_id: null, expires_at: clock.now() } });
    },
  };
}

export type Lease = ReturnType<typeof createLease>;
