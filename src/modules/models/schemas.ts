// Request and response schemas of the models API (api.md, Models).
import { z } from 'zod';
import { formatDecimal } from '../../domain/decimal.js';
import type { ModelPosition } from '../../domain/model-rules.js';
import {
  DecimalInput,
  ErrorResponse,
  ObjectIdString,
  PortfolioId,
  QueryInteger,
  SecurityId,
  SortBy,
  VersionNumber,
  VersionQuery,
} from '../../domain/schemas.js';
import { constraintDto, constraintDtoFields, constraintFields } from './constraints.js';
import type { Model } from './repository.js';

const ModelName = z
  .string()
  .trim()
  .min(1, { error: 'must have 1 to 255 characters after trimming' })
  .max(255, { error: 'must have 1 to 255 characters after trimming' })
  .meta({ example: 'Global Balanced' });

/** The example position of the OpenAPI document. */
const POSITION_EXAMPLE = { security_id: '683b69d420f302c879a5fef0', target: '0.25', high_drift: '0.02', low_drift: '0.02' };

export const PositionBody = z
  .strictObject({
    security_id: SecurityId,
    target: DecimalInput.meta({ example: '0.25' }),
    high_drift: DecimalInput.meta({ example: '0.02' }),
    low_drift: DecimalInput.meta({ example: '0.02' }),
  })
  .meta({ id: 'PositionBody', example: POSITION_EXAMPLE });

const PortfolioList = z.array(PortfolioId);

/** Issue 18: what a rebalance aims for; optional on every write (absent on a replace: the stored value stays). */
export const RebalanceTo = z.enum(['target', 'band'], { error: 'must be "target" or "band"' }).meta({
  description:
    'target (default): the holdings nearest the targets; band: every security just inside its drift band, trading the least value',
  example: 'target',
});

export const CreateModelBody = z
  .strictObject({
    name: ModelName,
    positions: z.array(PositionBody).optional(),
    portfolios: PortfolioList.optional(),
    rebalance_to: RebalanceTo.optional(),
    ...constraintFields,
  })
  .meta({
    id: 'CreateModelBody',
    example: {
      name: 'Global Balanced',
      positions: [POSITION_EXAMPLE, { security_id: '683b69d420f302c879a5fef1', target: 0.3, high_drift: 0.03, low_drift: 0.03 }],
      portfolios: ['683b6d88a29ee10e8b499643'],
    },
  });

export const ReplaceModelBody = z
  .strictObject({
    name: ModelName,
    positions: z.array(PositionBody),
    portfolios: PortfolioList,
    last_rebalance_date: z.iso.datetime({ offset: true, error: 'must be an ISO-8601 date-time' }).nullable().optional(),
    rebalance_to: RebalanceTo.optional(),
    version: VersionNumber,
    ...constraintFields,
  })
  .meta({
    id: 'ReplaceModelBody',
    example: {
      name: 'Global Balanced',
      positions: [POSITION_EXAMPLE],
      portfolios: ['683b6d88a29ee10e8b499643'],
      version: 1,
    },
  });

export const PortfoliosBody = z
  .strictObject({ portfolios: PortfolioList })
  .meta({ id: 'PortfoliosBody', example: { portfolios: ['683b6d88a29ee10e8b499643'] } });

export const ModelParams = z.object({ model_id: ObjectIdString });

export const ListModelsQuery = z.object({
  offset: QueryInteger.optional(),
  limit: QueryInteger.optional(),
  sort_by: SortBy(['model_id', 'name', 'last_rebalance_date'], '-last_rebalance_date,name'),
});

export const DeleteModelQuery = z.object({ version: VersionQuery });

export const PositionDto = z.object({
  security_id: z.string(),
  target: z.string(),
  high_drift: z.string(),
  low_drift: z.string(),
});

export const ModelDto = z
  .object({
    model_id: z.string(),
    name: z.string(),
    positions: z.array(PositionDto),
    portfolios: z.array(z.string()),
    last_rebalance_date: z.string().nullable(),
    rebalance_to: RebalanceTo,
    version: z.int(),
    ...constraintDtoFields,
  })
  .meta({
    id: 'ModelDTO',
    example: {
      model_id: '6740f1c2a1b2c3d4e5f60718',
      name: 'Global Balanced',
      positions: [POSITION_EXAMPLE],
      portfolios: ['683b6d88a29ee10e8b499643'],
      last_rebalance_date: null,
      rebalance_to: 'target',
      version: 1,
    },
  });
export type ModelDto = z.infer<typeof ModelDto>;

export const errorResponses = {
  400: ErrorResponse,
  404: ErrorResponse,
  409: ErrorResponse,
} as const;

export function toModelPosition(body: z.output<typeof PositionBody>): ModelPosition {
  return { securityId: body.security_id, target: body.target, highDrift: body.high_drift, lowDrift: body.low_drift };
}

const positionDtos = (positions: readonly ModelPosition[]) =>
  positions.map((p) => ({
    security_id: p.securityId,
    target: formatDecimal(p.target),
    high_drift: formatDecimal(p.highDrift),
    low_drift: formatDecimal(p.lowDrift),
  }));

export function toModelDto(model: Model): ModelDto {
  return {
    model_id: model.id,
    name: model.name,
    positions: positionDtos(model.positions),
    portfolios: [...model.portfolios],
    last_rebalance_date: model.lastRebalanceDate?.toISOString() ?? null,
    rebalance_to: model.rebalanceTo,
    version: model.version,
    ...constraintDto(model.constraints),
  };
}

/** The positions' JSON, UTF-8, by positions list: the repository hands out the same list while a model's stored positions are unchanged. */
const positionsJson = new WeakMap<readonly ModelPosition[], Buffer>();

/**
 * JSON.stringify(toModelDto(model)) as UTF-8 pieces, its positions (a list of
 * 200 models is 20 000 positions) encoded once per stored state: the text
 * before them, their bytes, the text after.
 */
export function modelJsonParts(model: Model): [Buffer, Buffer, Buffer] {
  let positions = positionsJson.get(model.positions);
  if (positions === undefined) {
    positions = Buffer.from(JSON.stringify(positionDtos(model.positions)));
    positionsJson.set(model.positions, positions);
  }
  // Every other field as toModelDto spells it (so a new field cannot be missed here); the positions'
  // kept bytes in place of an empty list. The key is the first `"positions":[]` in the text: a string
  // value before it (the name) has its quotes escaped, so it cannot contain one.
  const text = JSON.stringify(toModelDto({ ...model, positions: [] }));
  const at = text.indexOf('"positions":[]');
  return [Buffer.from(text.slice(0, at + 12)), positions, Buffer.from(text.slice(at + 14))];
}

/** One model's JSON. */
export const modelJson = (model: Model): Buffer => Buffer.concat(modelJsonParts(model));

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');

/** A list of models' JSON: the pieces copied once into the answer, no text of the whole list built and encoded. */
export function modelsJson(models: readonly Model[]): Buffer {
  return Buffer.concat([
    OPEN,
    ...models.flatMap((model, i) => (i === 0 ? modelJsonParts(model) : [COMMA, ...modelJsonParts(model)])),
    CLOSE,
  ]);
}
