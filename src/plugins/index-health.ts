// Indexes that the data keeps from being created. A unique index cannot be
// built while documents already share a value (a database restored without
// its indexes, say); failing start-up would fail every restart the same way.
// Instead the service starts, names the index and the values, serves reads,
// and refuses the writes that need the index with a 503 until a retry
// creates it.
import type { FastifyBaseLogger } from 'fastify';
import type { Db } from 'mongodb';
import { AppError } from '../domain/errors.js';
import { type IndexSpec, isDuplicateKey } from './mongo.js';

/** A unique index that could not be created because stored documents share a value. */
export interface MissingIndex {
  readonly index: string;
  readonly collection: string;
  readonly fields: readonly string[];
  /** Some of the values held by more than one document, with how many hold each. */
  readonly duplicates: readonly { readonly value: unknown; readonly count: number }[];
  readonly message: string;
}

/** The indexes the data stopped us from creating, and the guard of the writes that need them. */
export type IndexHealth = Omit<ReturnType<typeof createIndexHealth>, 'create'>;

/** Values shown per missing index. */
const DUPLICATES_SHOWN = 5;

async function duplicatesOf(db: Db, spec: IndexSpec, fields: readonly string[]): Promise<MissingIndex['duplicates']> {
  // One field grouped by its path (jongodb does not evaluate a document of paths).
  const group = fields.length === 1 ? `$${fields[0]}` : Object.fromEntries(fields.map((f) => [f.replaceAll('.', '_'), `$${f}`]));
  const rows = await db
    .collection(spec.collection)
    .aggregate<{ _id: unknown; count: number }>([
      { $group: { _id: group, count: { $sum: 1 } } },
      { $match: { count: { $gt: 1 } } },
      { $limit: DUPLICATES_SHOWN },
    ])
    .toArray();
  return rows.map((r) => ({ value: r._id, count: r.count }));
}

/** Creates the indexes (`create`, at start-up) and keeps track of those that could not be. */
export function createIndexHealth(db: Db, specs: readonly IndexSpec[], retryAfterSeconds: number, log: FastifyBaseLogger) {
  const missing = new Map<string, MissingIndex>();

  async function create(spec: IndexSpec): Promise<void> {
    const name = String(spec.options.name);
    try {
      await db.collection(spec.collection).createIndex(spec.key, spec.options);
      if (missing.delete(name))
        log.info({ index: name, collection: spec.collection }, 'unique index created: the writes that need it are allowed again');
    } catch (error) {
      if (!isDuplicateKey(error)) throw error; // existing documents violate the unique index being built
      const fields = Object.keys(spec.key as Record<string, unknown>);
      const duplicates = await duplicatesOf(db, spec, fields).catch(() => []);
      const shown = duplicates.map((d) => `${JSON.stringify(d.value)} (${d.count} documents)`).join(', ');
      const message =
        `The unique index ${name} on ${spec.collection} (${fields.join(', ')}) cannot be created: ` +
        `documents share the same value${shown === '' ? '' : `: ${shown}`}. Remove or rename the duplicates; ` +
        `the index is retried every ${retryAfterSeconds} s`;
      missing.set(name, { index: name, collection: spec.collection, fields, duplicates, message });
      log.error({ index: name, collection: spec.collection, duplicates }, message);
    }
  }

  return {
    async create() {
      for (const spec of specs) await create(spec);
    },
    missing: (): readonly MissingIndex[] => [...missing.values()],
    /** Throws a 503 naming the index while it is missing. */
    require(index: string): void {
      const problem = missing.get(index);
      if (problem === undefined) return;
      throw new AppError(
        503,
        'UPSTREAM_UNAVAILABLE',
        `MongoDB cannot take this write safely: ${problem.message}`,
        [{ path: problem.fields.join(','), message: `index ${index} is missing` }],
        retryAfterSeconds,
      );
    },
    /** Tries again to create the missing indexes; true when none is missing any more. */
    async retry() {
      for (const spec of specs) if (missing.has(String(spec.options.name))) await create(spec);
      return missing.size === 0;
    },
  };
}
