// The models use cases: every rule of api.md's Models section, applied on every
// write path, with writes that never lose a concurrent update.
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Clock } from '../../domain/clock.js';
import { formatDecimal, isZero } from '../../domain/decimal.js';
import { ConflictError, NotFoundError, ValidationError, VersionConflictError } from '../../domain/errors.js';
import {
  assertValidPosition,
  assertValidTotals,
  type ModelPosition,
  normalisePositions,
  samePositionValues,
} from '../../domain/model-rules.js';
import { pageStart } from '../../domain/paging.js';
import { MAX_QUERY_INTEGER } from '../../domain/schemas.js';
import { parseSortBy } from '../../domain/sorting.js';
import { assertMinCashFits, assertObjectiveFits, mergeConstraints, NO_CONSTRAINTS } from './constraints.js';
import type { PortfolioClaims } from './portfolio-claims.js';
import type { Model, ModelChanges, ModelRepository, ModelSortField } from './repository.js';
import { type CreateModelBody, type ReplaceModelBody, toModelPosition } from './schemas.js';

/** Concurrent sub-resource writers retry on a moved version; each loss means another writer won. */
const MAX_WRITE_ATTEMPTS = 100;

const SORT_FIELDS: readonly ModelSortField[] = ['model_id', 'name', 'last_rebalance_date'];

const unique = (ids: readonly string[]) => [...new Set(ids)];

export interface ModelServiceDeps {
  readonly models: ModelRepository;
  readonly claims: PortfolioClaims;
  readonly clock: Clock;
  readonly log: Logger;
}

const versionConflict = (id: string, stored: number, sent: number) =>
  new VersionConflictError(`Model ${id} is at version ${stored}, not ${sent}; reload it and try again`);

export function createModelService({ models, claims, clock, log }: ModelServiceDeps) {
  /**
   * Read, decide, write with the version read as the guard; on a lost race,
   * read again and decide again. `expectedVersion` (from a client) turns a
   * lost race into a 409 instead. `decide` returns null when nothing changes.
   */
  async function mutate(id: string, expectedVersion: number | undefined, decide: (current: Model) => ModelChanges | null): Promise<Model> {
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
      const current = await models.get(id);
      if (expectedVersion !== undefined && current.version !== expectedVersion) throw versionConflict(id, current.version, expectedVersion);
      const changes = decide(current);
      if (changes === null) return current;

      const now = clock.now();
      const nextVersion = current.version + 1;
      const before = new Set(current.portfolios);
      const after = new Set(changes.portfolios);
      const added = changes.portfolios.filter((p) => !before.has(p));
      const removed = current.portfolios.filter((p) => !after.has(p));
      await claims.claim(id, added, nextVersion, now);
      let updated: Model | null;
      try {
        updated = await models.updateIfVersion(current, changes, now);
      } catch (error) {
        await claims.release(id, added, nextVersion);
        throw error;
      }
      if (updated !== null) {
        await claims.release(id, removed, nextVersion);
        return updated;
      }
      await claims.release(id, added, nextVersion);
      if (expectedVersion !== undefined) throw versionConflict(id, (await models.get(id)).version, expectedVersion);
      log.debug({ modelId: id, attempt }, 'model changed concurrently; retrying the write');
    }
    throw new VersionConflictError(`Model ${id} is being changed by many clients at once; try again`);
  }

  const findPosition = (model: Model, securityId: string) => model.positions.find((p) => p.securityId === securityId);

  const keep = (model: Model, positions: readonly ModelPosition[]): ModelChanges => ({
    name: model.name,
    positions,
    portfolios: model.portfolios,
  });

  return {
    async create(input: z.output<typeof CreateModelBody>): Promise<Model> {
      const positions = normalisePositions((input.positions ?? []).map(toModelPosition));
      const portfolios = unique(input.portfolios ?? []);
      const constraints = mergeConstraints(NO_CONSTRAINTS, input, positions);
      assertObjectiveFits(input.rebalance_to ?? 'target', constraints.minTradeValue, 'min_trade_value');
      const id = models.newId();
      const now = clock.now();
      await claims.claim(id, portfolios, 1, now);
      try {
        return await models.insert(id, { name: input.name, positions, portfolios, rebalanceTo: input.rebalance_to, constraints }, now);
      } catch (error) {
        await claims.release(id, portfolios, 1);
        throw error;
      }
    },

    get: models.get,

    async list(offset: number | undefined, limit: number | undefined, sortBy: string | undefined) {
      const sort = parseSortBy(sortBy, SORT_FIELDS);
      const total = await models.count();
      const start = pageStart(offset, total);
      if (limit === 0 || start === total) return { models: [], total };
      return { models: await models.list(sort, start, limit === undefined ? undefined : Math.min(limit, MAX_QUERY_INTEGER)), total };
    },

    /** Fields not sent keep their stored values (the portal's PUT sends none of rebalance_to and the constraints). */
    async replace(id: string, input: z.output<typeof ReplaceModelBody>): Promise<Model> {
      const positions = normalisePositions(input.positions.map(toModelPosition));
      const portfolios = unique(input.portfolios);
      // Absent (undefined) keeps the stored date, null clears it.
      const lastRebalanceDate = input.last_rebalance_date == null ? input.last_rebalance_date : new Date(input.last_rebalance_date);
      return mutate(id, input.version, (current) => {
        const constraints = mergeConstraints(current.constraints ?? NO_CONSTRAINTS, input, positions);
        assertObjectiveFits(input.rebalance_to ?? current.rebalanceTo, constraints.minTradeValue, 'min_trade_value');
        return {
          name: input.name,
          positions,
          portfolios,
          constraints,
          lastRebalanceDate,
          rebalanceTo: input.rebalance_to,
        };
      });
    },

    async remove(id: string, version: number): Promise<void> {
      if (!(await models.deleteIfVersion(id, version))) {
        throw versionConflict(id, (await models.get(id)).version, version); // get: 404 when there is none
      }
      await claims.releaseAll(id);
    },

    async addPosition(id: string, position: ModelPosition): Promise<Model> {
      assertValidPosition(position);
      if (isZero(position.target)) {
        throw new ValidationError('target must be above 0 to add a position (a zero target means no position)', [
          { path: 'target', message: 'must be above 0 to add a position' },
        ]);
      }
      return mutate(id, undefined, (model) => {
        if (findPosition(model, position.securityId) !== undefined) {
          throw new ConflictError(`Security ${position.securityId} is already in model ${id}; update it instead`);
        }
        const positions = [...model.positions, position];
        assertValidTotals(positions);
        assertMinCashFits(positions, model.constraints?.minCash ?? null);
        return keep(model, positions);
      });
    },

    async updatePosition(id: string, position: ModelPosition): Promise<Model> {
      assertValidPosition(position);
      return mutate(id, undefined, (model) => {
        if (findPosition(model, position.securityId) === undefined) {
          throw new NotFoundError(`Security ${position.securityId} is not in model ${id}`);
        }
        const positions = isZero(position.target)
          ? model.positions.filter((p) => p.securityId !== position.securityId)
          : model.positions.map((p) => (p.securityId === position.securityId ? position : p));
        assertValidTotals(positions);
        assertMinCashFits(positions, model.constraints?.minCash ?? null);
        return keep(model, positions);
      });
    },

    async removePosition(id: string, position: ModelPosition): Promise<Model> {
      return mutate(id, undefined, (model) => {
        const stored = findPosition(model, position.securityId);
        if (stored === undefined) throw new NotFoundError(`Security ${position.securityId} is not in model ${id}`);
        if (!samePositionValues(stored, position)) {
          throw new ConflictError(
            `The position of security ${position.securityId} differs from the stored one ` +
              `(target ${formatDecimal(stored.target)}, high_drift ${formatDecimal(stored.highDrift)}, ` +
              `low_drift ${formatDecimal(stored.lowDrift)}); it was not removed`,
          );
        }
        const rest = model.positions.filter((p) => p.securityId !== position.securityId);
        return keep(model, rest);
      });
    },

    async addPortfolios(id: string, portfolioIds: readonly string[]): Promise<Model> {
      return mutate(id, undefined, (model) => {
        const listed = new Set(model.portfolios);
        const added = unique(portfolioIds).filter((p) => !listed.has(p));
        if (added.length === 0) return null;
        return { name: model.name, positions: model.positions, portfolios: [...model.portfolios, ...added] };
      });
    },

    async removePortfolios(id: string, portfolioIds: readonly string[]): Promise<Model> {
      const removing = new Set(portfolioIds);
      return mutate(id, undefined, (model) => {
        if (!model.portfolios.some((p) => removing.has(p))) return null;
        return { name: model.name, positions: model.positions, portfolios: model.portfolios.filter((p) => !removing.has(p)) };
      });
    },
  };
}

export type ModelService = ReturnType<typeof createModelService>;
