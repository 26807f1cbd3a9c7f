// Enforces "a portfolio follows at most one model" across concurrent writers.
// Each portfolio a model lists is claimed by a document whose _id is the
// portfolio id, so two models can never both insert a claim for it: the unique
// _id index decides the race atomically on MongoDB and on the embedded server
// alike (which has no multikey unique indexes and no transaction write conflicts).
import type { Collection, Db } from 'mongodb';
import { ConflictError, type ErrorDetail } from '../../domain/errors.js';
import { toObjectId } from '../../domain/ids.js';
import { type IndexSpec, inserted } from '../../plugins/mongo.js';
import type { Model, ModelRepository } from './repository.js';

/** A portfolio's claim by the write that takes `modelId` to `version` (the model version whose write lists it). */
const claimOf = (portfolioId: string, modelId: string, version: number, now: Date) => ({
  _id: portfolioId,
  model_id: toObjectId(modelId),
  model_version: version,
  claimed_at: now,
});
type ClaimDocument = ReturnType<typeof claimOf>;

export const PORTFOLIO_CLAIMS = 'portfolio_claims';
export const claimIndexes: IndexSpec[] = [
  { collection: PORTFOLIO_CLAIMS, key: { model_id: 1 }, options: { name: 'portfolio_claims_model' } },
];

/**
 * A claim whose model does not list the portfolio is left over from a write
 * that failed or crashed; it may be taken over once that write can no longer
 * land (the model moved past its version) or after this long (the model is
 * gone, or its creation never finished).
 */
const ABANDONED_AFTER_MS = 30_000;

export function createPortfolioClaims(db: Db, models: ModelRepository) {
  const claims: Collection<ClaimDocument> = db.collection<ClaimDocument>(PORTFOLIO_CLAIMS);

  function conflict(portfolioId: string, holder: Model | null): ErrorDetail {
    const owner = holder === null ? 'another model' : `model "${holder.name}" (${holder.id})`;
    return { path: 'portfolios', message: `portfolio ${portfolioId} already belongs to ${owner}` };
  }

  /** Inserts claims for fresh portfolio ids; returns the ids another writer claimed first. */
  async function insertFresh(ids: readonly string[], modelId: string, version: number, now: Date): Promise<string[]> {
    if (ids.length === 0) return [];
    if (await inserted(() => claims.insertMany(ids.map((id) => claimOf(id, modelId, version, now))))) return [];
    // Someone raced us: find out claim by claim which ones are ours.
    const lost: string[] = [];
    for (const id of ids) {
      if (await inserted(() => claims.insertOne(claimOf(id, modelId, version, now)))) continue;
      const existing = await claims.findOne({ _id: id });
      if (existing === null || !existing.model_id.equals(toObjectId(modelId))) lost.push(id);
    }
    return lost;
  }

  /** Tries to take over an existing claim; the ErrorDetail says why it could not. */
  async function takeOver(existing: ClaimDocument, modelId: string, version: number, now: Date): Promise<ErrorDetail | null> {
    if (existing.model_id.equals(toObjectId(modelId))) {
      await claims.updateOne({ _id: existing._id, model_id: existing.model_id }, { $set: { model_version: version, claimed_at: now } });
      return null;
    }
    const holder = await models.findById(existing.model_id.toHexString());
    if (holder?.portfolios.includes(existing._id)) return conflict(existing._id, holder);
    // No model yet is not proof of abandonment: a model being created claims
    // its portfolios before its document exists. Only age proves that then.
    const abandoned =
      (holder !== null && holder.version >= existing.model_version) || now.getTime() - existing.claimed_at.getTime() > ABANDONED_AFTER_MS;
    if (!abandoned) return conflict(existing._id, holder);
    const taken = await claims.updateOne(
      { _id: existing._id, model_id: existing.model_id, model_version: existing.model_version },
      { $set: { model_id: toObjectId(modelId), model_version: version, claimed_at: now } },
    );
    return taken.modifiedCount === 1 ? null : conflict(existing._id, null);
  }

  /**
   * Drops this model's claims on these portfolios, unless a later write of
   * the model (a version above `upToVersion`) has claimed them again.
   */
  async function release(modelId: string, portfolioIds: readonly string[], upToVersion: number): Promise<void> {
    if (portfolioIds.length === 0) return;
    await claims.deleteMany({
      _id: { $in: [...portfolioIds] },
      model_id: toObjectId(modelId),
      model_version: { $lte: upToVersion },
    });
  }

  return {
    release,

    /**
     * Claims `portfolioIds` for the write that takes `modelId` to `version`.
     * Throws ConflictError naming the model that has any of them; nothing
     * stays claimed then.
     */
    async claim(modelId: string, portfolioIds: readonly string[], version: number, now: Date): Promise<void> {
      if (portfolioIds.length === 0) return;
      const problems: ErrorDetail[] = [];
      // Listings are the truth: also catches a listing whose claim is missing.
      for (const holder of await models.findListingAny(portfolioIds, modelId)) {
        const listed = new Set(holder.portfolios);
        for (const id of portfolioIds) if (listed.has(id)) problems.push(conflict(id, holder));
      }
      if (problems.length > 0) throw new ConflictError(problems[0]!.message, problems);

      const existing = await claims.find({ _id: { $in: [...portfolioIds] } }).toArray();
      const existingIds = new Set(existing.map((c) => c._id));
      const fresh = portfolioIds.filter((id) => !existingIds.has(id));
      const lost = await insertFresh(fresh, modelId, version, now);
      const contested = [...existing, ...(await claims.find({ _id: { $in: lost } }).toArray())];
      for (const claim of contested) {
        const problem = await takeOver(claim, modelId, version, now);
        if (problem !== null) problems.push(problem);
      }
      if (problems.length > 0) {
        await release(modelId, portfolioIds, version);
        throw new ConflictError(problems[0]!.message, problems);
      }
    },

    async releaseAll(modelId: string): Promise<void> {
      await claims.deleteMany({ model_id: toObjectId(modelId) });
    },
  };
}

export type PortfolioClaims = ReturnType<typeof createPortfolioClaims>;
