// The MongoDB connection, shared by every repository through `app.mongo`.
//
// Query subset. Tests and `npm start` without MONGODB_URI run on jongodb, an
// embedded MongoDB-compatible server, so every query and update here stays in
// what both it and MongoDB 8 do the same way:
// - no projections (jongodb ignores them; documents come back whole);
// - updates use $set, $unset and $inc only (no $push, $pull, $addToSet with
//   arrays of documents, $currentDate, $min, $max): read, change, then write
//   back guarded by a `version` filter;
// - no drop*, no listCollections: collections appear on first write or index,
//   and each test uses a fresh database name;
// - no sorting on, or equality between, Decimal128 values (jongodb orders them
//   as text and compares them by scale, so 0.02 != 0.020);
// - conditional writes with updateOne/deleteOne and check the count: jongodb's
//   findOneAndUpdate does not apply filter and update atomically under load;
// - unique indexes only on scalar fields (jongodb indexes an array as one value,
//   and ignores partial indexes), and no reliance on transactions to detect
//   write conflicts (jongodb has none); unordered insertMany is all or nothing;
// - no pipeline updates ($$NOW) and no server time (hello has no localTime):
//   times come from the injected clock;
// - few write operations: each updateOne costs time in proportion to the data
//   (about 190 ms on a 3 000-document collection, measured), while insertMany
//   and one updateMany with $in stay fast, so bulk work is written in batches.
import fp from 'fastify-plugin';
import {
  MongoClient,
  MongoNetworkError,
  MongoServerError,
  MongoNotConnectedError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  type CreateIndexesOptions,
  type Db,
  type IndexSpecification,
} from 'mongodb';
import type { FastifyBaseLogger } from 'fastify';
import { AppError } from '../domain/errors.js';

/**
 * True when the error (or what it wraps) says MongoDB could not be reached:
 * a dropped or refused connection, no server within MONGODB_TIMEOUT_MS, a
 * client closed under a request. The error plugin answers it as a 503.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let depth = 0, e = error; depth < 4 && typeof e === 'object' && e !== null; depth++) {
    if (
      e instanceof MongoNetworkError ||
      e instanceof MongoServerSelectionError ||
      e instanceof MongoNotConnectedError ||
      e instanceof MongoTopologyClosedError
    ) {
      return true;
    }
    // A bulk write error carries the failure of its batch; a driver error its cause.
    const wrapped = e as { errorResponse?: unknown; cause?: unknown };
    e = wrapped.errorResponse instanceof Error ? wrapped.errorResponse : wrapped.cause;
  }
  return false;
}

export interface IndexSpec {
  readonly collection: string;
  readonly key: IndexSpecification;
  readonly options: CreateIndexesOptions;
}

/** A unique index that could not be created because stored documents share a value. */
export interface MissingIndex {
  readonly index: string;
  readonly collection: string;
  readonly fields: readonly string[];
  /** Some of the values held by more than one document, with how many hold each. */
  readonly duplicates: readonly { readonly value: unknown; readonly count: number }[];
  readonly message: string;
}

/**
 * The indexes the data stopped us from creating. Start-up does not fail on
 * them (a restart would find the same data): reads go on, the writes that
 * need one are refused with a 503 until a retry creates it.
 */
export interface IndexHealth {
  missing(): readonly MissingIndex[];
  /** Throws a 503 naming the index while it is missing. */
  require(index: string): void;
  /** Tries again to create the missing indexes; true when none is missing any more. */
  retry(): Promise<boolean>;
}

export interface MongoHandle {
  readonly client: MongoClient;
  readonly db: Db;
  /** Ping with a deadline; true when the server answered in time. */
  ping(timeoutMs: number): Promise<boolean>;
  readonly indexes: IndexHealth;
}

declare module 'fastify' {
  interface FastifyInstance {
    mongo: MongoHandle;
  }
}

export interface MongoPluginOptions {
  readonly uri: string;
  readonly dbName: string;
  /** Server selection timeout: how long an operation waits for a reachable server. */
  readonly timeoutMs: number;
  readonly indexes: readonly IndexSpec[];
  /** Seconds a refused write is told to wait (retry-after): how often index creation is retried. */
  readonly indexRetrySeconds: number;
}

/** Values shown per missing index. */
const DUPLICATES_SHOWN = 5;

/** DuplicateKey: existing documents violate the unique index being built. */
const isDuplicateKey = (error: unknown): boolean => error instanceof MongoServerError && error.code === 11000;

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

function createIndexHealth(db: Db, specs: readonly IndexSpec[], retryAfterSeconds: number, log: FastifyBaseLogger): IndexHealth & { create(): Promise<void> } {
  const missing = new Map<string, MissingIndex>();

  async function create(spec: IndexSpec): Promise<void> {
    const name = String(spec.options.name);
    try {
      await db.collection(spec.collection).createIndex(spec.key, spec.options);
      if (missing.delete(name)) log.info({ index: name, collection: spec.collection }, 'unique index created: the writes that need it are allowed again');
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
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
    missing: () => [...missing.values()],
    require(index) {
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
    async retry() {
      for (const spec of specs) if (missing.has(String(spec.options.name))) await create(spec);
      return missing.size === 0;
    },
  };
}

export default fp<MongoPluginOptions>(
  async (app, { uri, dbName, timeoutMs, indexes, indexRetrySeconds }) => {
    const client = new MongoClient(uri, {
      appName: 'globeco-order-generation-service',
      serverSelectionTimeoutMS: timeoutMs,
    });
    await client.connect();
    const db = client.db(dbName);
    const indexHealth = createIndexHealth(db, indexes, indexRetrySeconds, app.log);
    await indexHealth.create();

    const ping = async (timeoutMs: number): Promise<boolean> => {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      try {
        const answered = db.command({ ping: 1 }).then(
          () => true,
          () => false,
        );
        return await Promise.race([answered, deadline]);
      } finally {
        clearTimeout(timer);
      }
    };

    app.decorate('mongo', {
      client,
      db,
      ping,
      indexes: { missing: indexHealth.missing, require: indexHealth.require, retry: indexHealth.retry },
    });
    app.addHook('onClose', async () => {
      await client.close();
    });
  },
  { name: 'mongo' },
);
