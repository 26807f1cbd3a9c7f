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
  type CreateIndexesOptions,
  type Db,
  type IndexSpecification,
  MongoClient,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';
import type { Config } from '../config.js';
import { createIndexHealth, type IndexHealth } from './index-health.js';

/** A duplicate key (E11000): a unique index refused the write. */
export function isDuplicateKey(error: unknown): boolean {
  return error instanceof MongoServerError && error.code === 11000;
}

/** Runs an insert; false when a unique index refused it (a document with its key is there already). */
export async function inserted(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (error) {
    if (isDuplicateKey(error)) return false;
    throw error;
  }
}

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

/** A client of the service's database; operations wait `timeoutMs` for a reachable server (MONGODB_TIMEOUT_MS). */
export const mongoClient = (uri: string, timeoutMs: number) =>
  new MongoClient(uri, { appName: 'globeco-order-generation-service', serverSelectionTimeoutMS: timeoutMs });

export interface IndexSpec {
  readonly collection: string;
  readonly key: IndexSpecification;
  readonly options: CreateIndexesOptions;
}

declare module 'fastify' {
  interface FastifyInstance {
    mongo: { readonly client: MongoClient; readonly db: Db; readonly indexes: IndexHealth };
  }
}

/** The MONGODB_* settings (the uri given), the indexes, and how often (s) those the data refuses are retried: a refused write's retry-after. */
type MongoPluginOptions = Config['mongodb'] & {
  readonly uri: string;
  readonly indexes: readonly IndexSpec[];
  readonly indexRetrySeconds: number;
};

export default fp<MongoPluginOptions>(
  async (app, { uri, dbName, timeoutMs, indexes, indexRetrySeconds }) => {
    const client = mongoClient(uri, timeoutMs);
    await client.connect();
    const db = client.db(dbName);
    const indexHealth = createIndexHealth(db, indexes, indexRetrySeconds, app.log);
    await indexHealth.create();

    app.decorate('mongo', { client, db, indexes: indexHealth });
    app.addHook('onClose', async () => {
      await client.close();
    });
  },
  { name: 'mongo' },
);
