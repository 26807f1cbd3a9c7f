// The firm-wide restricted list (issue 19): one document, replaced or cleared
// as a whole, each change audited with who asked (the x-requested-by header)
// and when (the injected clock). Every entry also keeps who set its rule and
// when, so a reader sees how long a restriction has stood.
import type { Collection, Db } from 'mongodb';
import type { Clock } from '../../domain/clock.js';
import type { RestrictionRule, SecurityRestriction } from '../models/constraints.js';

interface RestrictionsDocument {
  _id: string;
  restrictions: { security_id: string; rule: RestrictionRule; set_by: string; set_at: Date }[];
  updated_by: string;
  updated_at: Date;
}

export const RESTRICTIONS = 'restrictions';
const FIRM = 'firm';

export function createRestrictionRepository(db: Db, clock: Clock) {
  const collection: Collection<RestrictionsDocument> = db.collection<RestrictionsDocument>(RESTRICTIONS);

  /** Each entry with who set its rule and when; updatedBy and updatedAt: the last change, null before the first. */
  const read = async () => {
    const doc = await collection.findOne({ _id: FIRM });
    if (doc === null) return { restrictions: [], updatedBy: null, updatedAt: null };
    return {
      restrictions: doc.restrictions.map((r) => ({ securityId: r.security_id, rule: r.rule, setBy: r.set_by, setAt: r.set_at })),
      updatedBy: doc.updated_by,
      updatedAt: doc.updated_at,
    };
  };

  /** Replaces the list; an entry whose rule is unchanged keeps who set it and when. */
  const replace = async (restrictions: readonly SecurityRestriction[], by: string) => {
    const now = clock.now();
    const before = new Map((await read()).restrictions.map((r) => [r.securityId, r]));
    const entries = restrictions.map((r) => {
      const kept = before.get(r.securityId);
      const same = kept !== undefined && kept.rule === r.rule;
      return { security_id: r.securityId, rule: r.rule, set_by: same ? kept.setBy : by, set_at: same ? kept.setAt : now };
    });
    await collection.updateOne({ _id: FIRM }, { $set: { restrictions: entries, updated_by: by, updated_at: now } }, { upsert: true });
    return read();
  };

  return { read, replace, clear: (by: string) => replace([], by) };
}

export type RestrictionRepository = ReturnType<typeof createRestrictionRepository>;
export type FirmRestrictions = Awaited<ReturnType<RestrictionRepository['read']>>;
