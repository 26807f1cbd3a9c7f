// Models in MongoDB. Writes are single-document and guarded by `version`, so a
// stale writer matches nothing instead of overwriting (see plugins/mongo.ts for
// the query subset this code keeps to).
import { LRUCache } from 'lru-cache';
import { BSON, type Collection, type Db, ObjectId, type Sort } from 'mongodb';
import { fromDecimal128, toDecimal128 } from '../../domain/decimal.js';
import { ConflictError, NotFoundError } from '../../domain/errors.js';
import { toObjectId } from '../../domain/ids.js';
import type { ModelPosition } from '../../domain/model-rules.js';
import type { SortKey } from '../../domain/sorting.js';
import type { IndexHealth } from '../../plugins/index-health.js';
import { type IndexSpec, isDuplicateKey } from '../../plugins/mongo.js';
import { type ConstraintDocument, fromConstraintDocument, type ModelConstraints, toConstraintDocument } from './constraints.js';

export interface Model {
  readonly id: string;
  readonly name: string;
  readonly positions: readonly ModelPosition[];
  readonly portfolios: readonly string[];
  readonly lastRebalanceDate: Date | null;
  readonly version: number;
  readonly createdAt: Date;
  /** What a rebalance aims for (issue 18): the target ('target', the default) or the nearest band edge ('band'). */
  readonly rebalanceTo: RebalanceTo;
  /** min_cash, min_trade_value, restrictions (issue 19); always set when read from the database. */
  readonly constraints?: ModelConstraints;
}

export type RebalanceTo = 'target' | 'band';

/**
 * The fields a write may change; `lastRebalanceDate` only when the writer means to. `rebalanceTo`: left as stored
 * when undefined. `constraints`: only when the writer means to change them: absent keeps what is stored.
 */
export type ModelChanges = Pick<Model, 'name' | 'positions' | 'portfolios'> & {
  readonly [K in 'lastRebalanceDate' | 'rebalanceTo' | 'constraints']?: Model[K] | undefined;
};

interface ModelDocument extends ConstraintDocument {
  _id: ObjectId;
  name: string;
  positions: PositionDocument[];
  portfolios: string[];
  last_rebalance_date: Date | null;
  version: number;
  created_at: Date;
  updated_at: Date;
  /** Absent on models written before issue 18: 'target'. */
  rebalance_to?: RebalanceTo;
}

export const MODELS = 'models';

export const modelIndexes: IndexSpec[] = [
  { collection: MODELS, key: { name: 1 }, options: { unique: true, name: 'models_name_unique' } },
  { collection: MODELS, key: { portfolios: 1 }, options: { name: 'models_portfolios' } },
  { collection: MODELS, key: { created_at: 1, _id: 1 }, options: { name: 'models_created_order' } },
];

export type ModelSortField = 'model_id' | 'name' | 'last_rebalance_date';

const sortColumn: Record<ModelSortField, string> = {
  model_id: '_id',
  name: 'name',
  last_rebalance_date: 'last_rebalance_date',
};

function toPositionDocument(p: ModelPosition) {
  return {
    security_id: p.securityId,
    target: toDecimal128(p.target),
    high_drift: toDecimal128(p.highDrift),
    low_drift: toDecimal128(p.lowDrift),
  };
}
type PositionDocument = ReturnType<typeof toPositionDocument>;

const fromPositionDocument = (p: PositionDocument): ModelPosition => ({
  securityId: p.security_id,
  target: fromDecimal128(p.target),
  highDrift: fromDecimal128(p.high_drift),
  lowDrift: fromDecimal128(p.low_drift),
});

/** A model document as read: each position comes as its stored BSON bytes (`fieldsAsRaw`), decoded only when they changed. */
type StoredModel = Omit<ModelDocument, 'positions'> & { positions: Buffer[] };

/**
 * Decoded positions by model id, with the exact bytes they were decoded from:
 * a list of 200 models of 100 positions decodes 60 000 Decimal128 figures, and
 * models change rarely. A model whose stored bytes differ in any way is decoded
 * again, so nothing rests on how the document was changed.
 */
const decodedPositions = new LRUCache<string, { bytes: Buffer; positions: readonly ModelPosition[] }>({ max: 2_000 });

/** The bytes of a document's positions, one view when they lie together in the answer (as they do). */
function bytesOf(raw: readonly Buffer[]): Buffer {
  const first = raw[0];
  const last = raw[raw.length - 1];
  if (first === undefined || last === undefined) return Buffer.alloc(0);
  const together = raw.every((b, i) => b.buffer === first.buffer && (i === 0 || b.byteOffset > raw[i - 1]!.byteOffset));
  return together ? Buffer.from(first.buffer, first.byteOffset, last.byteOffset + last.length - first.byteOffset) : Buffer.concat(raw);
}

const isRaw = (positions: readonly (Buffer | PositionDocument)[]): positions is Buffer[] =>
  positions.length === 0 || Buffer.isBuffer(positions[0]);

function positionsOf(id: string, raw: readonly Buffer[]): readonly ModelPosition[] {
  const bytes = bytesOf(raw);
  const known = decodedPositions.get(id);
  if (known?.bytes.equals(bytes)) return known.positions;
  const positions = raw.map((b) => fromPositionDocument(BSON.deserialize(b) as PositionDocument));
  // A copy: the answer the view points into is not kept.
  decodedPositions.set(id, { bytes: Buffer.from(bytes), positions });
  return positions;
}

function toModel(doc: StoredModel | ModelDocument): Model {
  const id = doc._id.toHexString();
  return {
    id,
    name: doc.name,
    positions: isRaw(doc.positions) ? positionsOf(id, doc.positions) : doc.positions.map(fromPositionDocument),
    portfolios: doc.portfolios,
    lastRebalanceDate: doc.last_rebalance_date ?? null,
    version: doc.version,
    createdAt: doc.created_at,
    rebalanceTo: doc.rebalance_to ?? 'target',
    constraints: fromConstraintDocument(doc),
  };
}

function nameTaken(error: unknown, name: string): never {
  throw isDuplicateKey(error) ? new ConflictError(`A model named "${name}" already exists`) : error;
}

/** `indexes` refuses (503) while an index a write relies on is missing (plugins/mongo.ts). */
export function createModelRepository(db: Db, indexes: Pick<IndexHealth, 'require'> = { require: () => undefined }) {
  const models: Collection<ModelDocument> = db.collection<ModelDocument>(MODELS);
  const stored = db.collection<StoredModel>(MODELS, { fieldsAsRaw: { positions: true } });
  // Without the unique index a new or renamed model could take a name twice.
  const nameIsUnique = () => indexes.require('models_name_unique');
  async function findListingAny(portfolioIds: readonly string[], exceptId?: string): Promise<Model[]> {
    const filter = { portfolios: { $in: [...portfolioIds] } };
    const docs = await stored.find(exceptId === undefined ? filter : { ...filter, _id: { $ne: toObjectId(exceptId) } }).toArray();
    return docs.map(toModel);
  }

  const findById = async (id: string): Promise<Model | null> => {
    const doc = await stored.findOne({ _id: toObjectId(id) });
    return doc === null ? null : toModel(doc);
  };

  return {
    newId(): string {
      return new ObjectId().toHexString();
    },

    /** Inserts a new model at version 1; a taken name is a ConflictError. */
    async insert(id: string, changes: ModelChanges, now: Date): Promise<Model> {
      nameIsUnique();
      const doc: ModelDocument = {
        _id: toObjectId(id),
        name: changes.name,
        positions: changes.positions.map(toPositionDocument),
        portfolios: [...changes.portfolios],
        last_rebalance_date: changes.lastRebalanceDate ?? null,
        version: 1,
        created_at: now,
        updated_at: now,
        rebalance_to: changes.rebalanceTo ?? 'target',
        ...(changes.constraints === undefined ? {} : toConstraintDocument(changes.constraints)),
      };
      try {
        await models.insertOne(doc);
      } catch (error) {
        nameTaken(error, changes.name);
      }
      return toModel(doc);
    },

    findById,

    /** The model, or a 404 when there is none. */
    async get(id: string): Promise<Model> {
      const model = await findById(id);
      if (model === null) throw new NotFoundError(`Model ${id} not found`);
      return model;
    },

    /** Models other than `exceptId` that list any of these portfolios. */
    findListingAny,

    /** The model that lists this portfolio, or a 404 when none does. */
    async listing(portfolioId: string): Promise<Model> {
      const [model] = await findListingAny([portfolioId]);
      if (model === undefined) throw new NotFoundError(`Portfolio ${portfolioId} is not in any model`);
      return model;
    },

    async count(): Promise<number> {
      return models.countDocuments({});
    },

    async list(sort: readonly SortKey<ModelSortField>[], offset: number, limit: number | undefined): Promise<Model[]> {
      const order: Record<string, 1 | -1> = {};
      for (const key of sort) order[sortColumn[key.field]] = key.direction;
      // Ties are broken by creation order so that paging is stable between calls.
      if (order.created_at === undefined) order.created_at = 1;
      if (order._id === undefined) order._id = 1;
      let cursor = stored
        .find({})
        .sort(order as Sort)
        .skip(offset);
      if (limit !== undefined) cursor = cursor.limit(limit);
      return (await cursor.toArray()).map(toModel);
    },

    /**
     * Applies `changes` if the stored version is still `current.version`, and
     * bumps it. Null when the version moved on (or the model is gone).
     */
    async updateIfVersion(current: Model, changes: ModelChanges, now: Date): Promise<Model | null> {
      if (changes.name !== current.name) nameIsUnique();
      const version = current.version + 1;
      const set: Partial<ModelDocument> = {
        name: changes.name,
        positions: changes.positions.map(toPositionDocument),
        portfolios: [...changes.portfolios],
        version,
        updated_at: now,
      };
      if (changes.lastRebalanceDate !== undefined) set.last_rebalance_date = changes.lastRebalanceDate;
      if (changes.rebalanceTo !== undefined) set.rebalance_to = changes.rebalanceTo;
      if (changes.constraints !== undefined) Object.assign(set, toConstraintDocument(changes.constraints));
      try {
        // updateOne, not findOneAndUpdate: the embedded server applies only the former atomically.
        const result = await models.updateOne({ _id: toObjectId(current.id), version: current.version }, { $set: set });
        if (result.modifiedCount !== 1) return null;
      } catch (error) {
        nameTaken(error, changes.name);
      }
      return {
        ...current,
        name: changes.name,
        positions: changes.positions,
        portfolios: changes.portfolios,
        lastRebalanceDate: changes.lastRebalanceDate === undefined ? current.lastRebalanceDate : changes.lastRebalanceDate,
        rebalanceTo: changes.rebalanceTo ?? current.rebalanceTo,
        version,
        ...(changes.constraints === undefined ? {} : { constraints: changes.constraints }),
      };
    },

    async deleteIfVersion(id: string, version: number): Promise<boolean> {
      const result = await models.deleteOne({ _id: toObjectId(id), version });
      return result.deletedCount === 1;
    },

    /**
     * Records a rebalance; deliberately leaves `version` alone (api.md). Only
     * moves the date forward: a rebalance that started earlier but finished
     * later leaves the later date (a filter, not `$max`, which jongodb lacks).
     */
    async setLastRebalanceDate(id: string, date: Date): Promise<void> {
      await models.updateOne(
        { _id: toObjectId(id), $or: [{ last_rebalance_date: null }, { last_rebalance_date: { $lt: date } }] },
        { $set: { last_rebalance_date: date } },
      );
    },
  };
}

export type ModelRepository = ReturnType<typeof createModelRepository>;
