// Migration 0001: the Python service's rebalances into this service's layout.
//
// The Python service (kasbench/globeco-order-generation-service, Beanie
// RebalanceDocument) stores a rebalance as one document in `rebalances` with
// its portfolios and their positions embedded, figures as Decimal128. This
// service stores a header in `rebalances` (the same _id) and one document per
// portfolio in `rebalance_portfolios`, positions column by column
// (modules/rebalancing/repository.ts). A legacy document is recognised by
// having no `trade_date` (every header this service writes has one).
//
// Per legacy document, in this order, each step repeatable:
//   1. the legacy document, as read, is copied to `rebalances_legacy` (same _id,
//      replaced when there): the rollback's source, and every field kept;
//   2. the portfolio documents are written under deterministic _ids (the legacy
//      id's timestamp and a hash of the legacy id and the portfolio's index),
//      after removing any a crashed run left for that rebalance;
//   3. the legacy document is replaced by the header, only while it is still
//      the legacy document at the version read: the header comes last, so a
//      crash anywhere before leaves the legacy document in place and a re-run
//      converts it again to the same documents.
// Figures are copied as the stored Decimal128 values (scale included); only
// numbers or strings (not what Beanie writes, accepted all the same) are
// converted, exactly, from their decimal spelling.
import { createHash } from 'node:crypto';
import { type Db, Decimal128, type Document, Long, ObjectId } from 'mongodb';
import { inserted } from '../../plugins/mongo.js';
import { REBALANCE_PORTFOLIOS, REBALANCES } from '../rebalancing/repository.js';
import type { StepReport } from './runner.js';

export const REBALANCES_LEGACY = 'rebalances_legacy';
/** Marks a header converted from a legacy document (the rollback restores only these). */
export const MIGRATED_FROM = 'globeco-order-generation-service (Python)';

export interface ConvertOptions {
  readonly dryRun: boolean;
  /** Portfolio documents per insertMany. */
  readonly batchSize?: number;
  /** Tests: called after each batch of portfolio documents is written (throw to simulate a crash). */
  readonly afterBatch?: (written: number) => void;
  /** Called after each batch and each legacy document, to renew a lock (a large rebalance takes a while). */
  readonly onProgress?: () => Promise<void>;
}

class LegacyFormatError extends Error {}

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function decimal(value: unknown, path: string): Decimal128 {
  if (value instanceof Decimal128) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return Decimal128.fromString(String(value));
  if (value instanceof Long) return Decimal128.fromString(value.toString());
  if (typeof value === 'string' && DECIMAL.test(value.trim())) return Decimal128.fromString(value.trim());
  throw new LegacyFormatError(`${path} is not a decimal (${value === null ? 'null' : typeof value})`);
}

/** A quantity as stored by this service: a whole JavaScript-safe number, or the Decimal128 as stored. */
function quantity(value: unknown, path: string): number | Decimal128 {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (value instanceof Long) return value.toNumber();
  return decimal(value, path);
}

function text(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new LegacyFormatError(`${path} is missing`);
  return value;
}

function date(value: unknown, path: string): Date {
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value;
  throw new LegacyFormatError(`${path} is not a date`);
}

const orNull =
  <T>(read: (value: unknown, path: string) => T) =>
  (value: unknown, path: string): T | null =>
    value === null || value === undefined ? null : read(value, path);

function transactionType(value: unknown, path: string): 'BUY' | 'SELL' {
  if (value === 'BUY' || value === 'SELL') return value;
  throw new LegacyFormatError(`${path} must be BUY, SELL or null`);
}

/** How each position field becomes a column of this service's layout (repository.ts PositionColumns), in its order. */
const COLUMNS: Record<string, (value: unknown, path: string) => unknown> = {
  security_id: text,
  price: orNull(decimal),
  original_quantity: quantity,
  adjusted_quantity: quantity,
  original_position_market_value: orNull(decimal),
  adjusted_position_market_value: orNull(decimal),
  target: decimal,
  high_drift: decimal,
  low_drift: decimal,
  actual: orNull(decimal),
  actual_drift: orNull(decimal),
  transaction_type: orNull(transactionType),
  trade_quantity: orNull(quantity),
};

/** The rebalance's portfolio `index` in our layout: a stable _id, the same on every run. */
export function portfolioDocumentId(legacyId: ObjectId, index: number): ObjectId {
  const bytes = Buffer.alloc(12);
  Buffer.from(legacyId.id).copy(bytes, 0, 0, 4);
  createHash('sha256').update(`${legacyId.toHexString()}:${index}`).digest().copy(bytes, 4, 0, 8);
  return new ObjectId(bytes);
}

/** The header and portfolio documents of one legacy document; throws LegacyFormatError on what cannot be read. */
export function convertLegacy(legacy: Document) {
  const id = legacy._id;
  if (!(id instanceof ObjectId)) throw new LegacyFormatError('_id is not an ObjectId');
  // An ObjectId, or its hexadecimal spelling.
  if (!ObjectId.isValid(String(legacy.model_id))) throw new LegacyFormatError('model_id is not an ObjectId');
  const modelId = new ObjectId(String(legacy.model_id));
  const rebalanceDate = date(legacy.rebalance_date, 'rebalance_date');
  const embedded: unknown = legacy.portfolios ?? [];
  if (!Array.isArray(embedded)) throw new LegacyFormatError('portfolios is not a list');

  let tradeDate: Date | null = null;
  let positions = 0;
  const portfolios = embedded.map((item: unknown, index): Document => {
    const at = `portfolios[${index}]`;
    if (typeof item !== 'object' || item === null) throw new LegacyFormatError(`${at} is not a document`);
    const p = item as Record<string, unknown>;
    const list: unknown = p.positions ?? [];
    if (!Array.isArray(list)) throw new LegacyFormatError(`${at}.positions is not a list`);
    const rows = list.map((row: unknown, j) => {
      if (typeof row !== 'object' || row === null) throw new LegacyFormatError(`${at}.positions[${j}] is not a document`);
      return row as Record<string, unknown>;
    });
    positions += rows.length;
    const column = (field: string, read: (value: unknown, path: string) => unknown) =>
      rows.map((row, j) => read(row[field], `${at}.positions[${j}].${field}`));
    const tradeDates = column('trade_date', orNull(date)) as (Date | null)[];
    tradeDate ??= tradeDates.find((d) => d !== null) ?? null;
    return {
      _id: portfolioDocumentId(id, index),
      rebalance_id: id,
      seq: index,
      portfolio_id: text(p.portfolio_id, `${at}.portfolio_id`),
      portfolio_name: null,
      status: 'ok',
      error: null,
      market_value: decimal(p.market_value, `${at}.market_value`),
      cash_before_rebalance: decimal(p.cash_before_rebalance, `${at}.cash_before_rebalance`),
      cash_after_rebalance: decimal(p.cash_after_rebalance, `${at}.cash_after_rebalance`),
      positions: {
        ...Object.fromEntries(Object.entries(COLUMNS).map(([field, read]) => [field, column(field, read)])),
        // Not read by this service (a rebalance has one trade date, below): kept as the Python service wrote it.
        trade_date: tradeDates,
      },
    };
  });
  const ids = portfolios.map((p) => p.portfolio_id as string);
  if (new Set(ids).size !== ids.length) throw new LegacyFormatError('a portfolio appears twice');

  const header: Document = {
    _id: id,
    model_id: modelId,
    model_name: text(legacy.model_name, 'model_name'),
    rebalance_date: rebalanceDate,
    // The trade date of its positions (the Python service gives every trade the same date), else the rebalance's date.
    trade_date: ((tradeDate as Date | null) ?? rebalanceDate).toISOString().slice(0, 10),
    number_of_portfolios: typeof legacy.number_of_portfolios === 'number' ? legacy.number_of_portfolios : portfolios.length,
    portfolios: ids,
    version: typeof legacy.version === 'number' && legacy.version >= 1 ? legacy.version : 1,
    created_at: legacy.created_at instanceof Date ? legacy.created_at : rebalanceDate,
    orders: null,
    migrated_from: MIGRATED_FROM,
  };
  return { header, portfolios, positions };
}

/**
 * Converts every legacy rebalance (or, in a dry run, counts and checks them, writing nothing). The report counts
 * the legacy documents found (dry run: to convert; run: converted or failed).
 */
export async function convertLegacyRebalances(db: Db, options: ConvertOptions): Promise<StepReport> {
  const headers = db.collection<Document>(REBALANCES);
  const portfolioDocs = db.collection<Document>(REBALANCE_PORTFOLIOS);
  const backup = db.collection<Document>(REBALANCES_LEGACY);
  const batchSize = options.batchSize ?? 100;
  const counts = { legacyDocuments: 0, converted: 0, portfolios: 0, positions: 0 };
  const failed: { rebalance_id: string; reason: string }[] = [];
  let written = 0;
  // Legacy documents in _id order, one query read a few documents at a time
  // (each may be large). A document converted while the cursor is open no longer
  // matches; one seen again after its conversion is skipped here.
  for await (const legacy of headers
    .find({ trade_date: { $exists: false } })
    .sort({ _id: 1 })
    .batchSize(8)) {
    if (legacy.trade_date !== undefined) continue;
    counts.legacyDocuments += 1;
    let converted: ReturnType<typeof convertLegacy>;
    try {
      converted = convertLegacy(legacy);
    } catch (error) {
      if (!(error instanceof LegacyFormatError)) throw error;
      failed.push({ rebalance_id: String(legacy._id), reason: error.message });
      continue;
    }
    if (!options.dryRun) {
      const id = legacy._id as ObjectId;
      // Inserts first; replaces (or clears, then inserts) only what a cut-short run left behind (a duplicate _id).
      if (!(await inserted(() => backup.insertOne(legacy)))) await backup.replaceOne({ _id: id }, legacy);
      for (let i = 0; i < converted.portfolios.length; i += batchSize) {
        const batch = converted.portfolios.slice(i, i + batchSize);
        if (!(await inserted(() => portfolioDocs.insertMany(batch)))) {
          await portfolioDocs.deleteMany({ rebalance_id: id, seq: { $gte: i } });
          await portfolioDocs.insertMany(batch);
        }
        written += batch.length;
        options.afterBatch?.(written);
        await options.onProgress?.();
      }
      const replaced = await headers.replaceOne({ _id: id, trade_date: { $exists: false }, version: legacy.version }, converted.header);
      if (replaced.matchedCount !== 1) {
        // The Python service changed or deleted it meanwhile: what was written goes, the next run sees it again.
        await portfolioDocs.deleteMany({ rebalance_id: id });
        failed.push({ rebalance_id: id.toHexString(), reason: 'changed while being converted; run the migration again' });
        continue;
      }
      await options.onProgress?.();
    }
    counts.converted += 1;
    counts.portfolios += converted.portfolios.length;
    counts.positions += converted.positions;
  }
  return {
    legacy_documents: counts.legacyDocuments,
    [options.dryRun ? 'to_convert' : 'converted']: counts.converted,
    portfolios: counts.portfolios,
    positions: counts.positions,
    failed,
  };
}

/** Puts every converted rebalance back as the Python service stored it (from `rebalances_legacy`). */
export async function restoreLegacyRebalances(db: Db) {
  const headers = db.collection<Document>(REBALANCES);
  const portfolioDocs = db.collection<Document>(REBALANCE_PORTFOLIOS);
  const backup = db.collection<Document>(REBALANCES_LEGACY);
  const counts = {
    /** Converted rebalances put back in the Python service's format. */
    restored: 0,
    /** Backed-up rebalances that were already legacy (a rollback run before, or never converted). */
    alreadyLegacy: 0,
    /** Backed-up rebalances deleted through this service since: not restored. */
    deletedSince: 0,
    /** Rebalances this service created: the Python service cannot read them (docs/coming-from-python.md). */
    createdByThisService: 0,
  };
  // The backup is not written during a rollback: one cursor over it.
  for await (const legacy of backup.find().sort({ _id: 1 }).batchSize(8)) {
    const id = legacy._id as ObjectId;
    const current = await headers.findOne({ _id: id });
    if (current === null) counts.deletedSince += 1;
    else if (current.trade_date === undefined) counts.alreadyLegacy += 1;
    else {
      const result = await headers.replaceOne({ _id: id, migrated_from: MIGRATED_FROM }, legacy);
      if (result.matchedCount === 1) counts.restored += 1;
    }
    // The legacy document (or nothing) is in place now: its converted portfolios go.
    await portfolioDocs.deleteMany({ rebalance_id: id });
  }
  counts.createdByThisService = await headers.countDocuments({ trade_date: { $exists: true }, migrated_from: { $exists: false } });
  return counts;
}
