// A model's trading constraints (issue 19): `min_cash` (a weight kept in cash),
// `min_trade_value` (money: every trade zero or worth at least this much, except
// closing a whole position) and `restrictions` (per security no_buy, no_sell or
// frozen). All optional and additive: a model without them rebalances as
// before, a write that does not mention them keeps what is stored, and the
// DTO shows each only when it is set (so existing clients see the same shape).
import { z } from 'zod';
import { add, compare, type Dec, formatDecimal, fromDecimal128, sign, toDecimal128, ZERO } from '../../domain/decimal.js';
import { ValidationError } from '../../domain/errors.js';
import type { ModelPosition } from '../../domain/model-rules.js';
import { DecimalInput, SecurityId } from '../../domain/schemas.js';

export type RestrictionRule = 'no_buy' | 'no_sell' | 'frozen';
export const RESTRICTION_RULES = ['no_buy', 'no_sell', 'frozen'] as const;

export interface SecurityRestriction {
  readonly securityId: string;
  readonly rule: RestrictionRule;
}

export interface ModelConstraints {
  readonly minCash: Dec | null;
  readonly minTradeValue: Dec | null;
  readonly restrictions: readonly SecurityRestriction[];
}

export const NO_CONSTRAINTS: ModelConstraints = { minCash: null, minTradeValue: null, restrictions: [] };

export const RestrictionBody = z
  .strictObject({
    security_id: SecurityId,
    rule: z.enum(RESTRICTION_RULES, { error: 'must be one of no_buy, no_sell, frozen' }),
  })
  .meta({ id: 'RestrictionBody', example: { security_id: '683b69d420f302c879a5fef0', rule: 'no_buy' } });

/** The optional request fields, spread into the create and replace bodies. */
export const constraintFields = {
  min_cash: DecimalInput.nullable().optional().meta({
    description: 'Weight of the market value every portfolio keeps in cash (0 to 1; targets + min_cash <= 1). Null clears it.',
    example: '0.02',
  }),
  min_trade_value: DecimalInput.nullable().optional().meta({
    description: 'Money: every trade is zero or worth at least this much, except selling (closing) a whole position. Null clears it.',
    example: '500',
  }),
  restrictions: z
    .array(RestrictionBody)
    .optional()
    .meta({ description: "Per security: no_buy, no_sell or frozen (the band gives way to the rule). Replaces the model's list." }),
};

/** The optional DTO fields. */
export const constraintDtoFields = {
  min_cash: z.string().optional(),
  min_trade_value: z.string().optional(),
  restrictions: z.array(z.object({ security_id: z.string(), rule: z.enum(RESTRICTION_RULES) })).optional(),
};

/** The fields as parsed from a create or replace body. */
type ConstraintInput = z.output<z.ZodObject<typeof constraintFields>>;

/**
 * The constraints a write asks for, merged over the stored ones: a field that
 * is absent keeps its stored value, null clears it. Checked on their own and
 * against the targets (targets + min_cash <= 1).
 */
export function mergeConstraints(stored: ModelConstraints, body: ConstraintInput, positions: readonly ModelPosition[]): ModelConstraints {
  const merged: ModelConstraints = {
    minCash: body.min_cash === undefined ? stored.minCash : body.min_cash,
    minTradeValue: body.min_trade_value === undefined ? stored.minTradeValue : body.min_trade_value,
    restrictions:
      body.restrictions === undefined ? stored.restrictions : body.restrictions.map((r) => ({ securityId: r.security_id, rule: r.rule })),
  };
  const problems: { path: string; message: string }[] = [];
  if (merged.minCash !== null && (sign(merged.minCash) < 0 || compare(merged.minCash, { digits: 1n, scale: 0 }) > 0)) {
    problems.push({ path: 'min_cash', message: 'min_cash must be between 0 and 1' });
  }
  if (merged.minTradeValue !== null && sign(merged.minTradeValue) < 0) {
    problems.push({ path: 'min_trade_value', message: 'min_trade_value must be 0 or more' });
  }
  const seen = new Set<string>();
  merged.restrictions.forEach((r, i) => {
    if (seen.has(r.securityId)) {
      problems.push({ path: `restrictions.${i}.security_id`, message: `restrictions[${i}]: security ${r.securityId} is restricted twice` });
    }
    seen.add(r.securityId);
  });
  if (problems.length > 0) throw new ValidationError(problems.map((p) => p.message).join('; '), problems);
  assertMinCashFits(positions, merged.minCash);
  return merged;
}

/**
 * rebalance_to "band" and a minimum trade value do not go together (yet): the
 * least-trade objective with holes around each holding is not what the band
 * optimiser solves, and an approximate answer is not offered.
 */
export function assertObjectiveFits(rebalanceTo: 'target' | 'band', minTradeValue: Dec | null | undefined, path: string): void {
  if (rebalanceTo !== 'band' || minTradeValue === null || minTradeValue === undefined || sign(minTradeValue) <= 0) return;
  const message = 'a minimum trade value cannot be combined with rebalance_to "band": use rebalance_to "target" or no min_trade_value';
  throw new ValidationError(message, [{ path, message }]);
}

/** targets + min_cash <= 1: every target can be met with the reserve kept. */
export function assertMinCashFits(positions: readonly ModelPosition[], minCash: Dec | null): void {
  if (minCash === null) return;
  const targets = positions.reduce((sum, p) => add(sum, p.target), ZERO);
  const total = add(targets, minCash);
  if (compare(total, { digits: 1n, scale: 0 }) > 0) {
    const message = `the targets (${formatDecimal(targets)}) and min_cash (${formatDecimal(minCash)}) would sum to ${formatDecimal(total)}, above 1`;
    throw new ValidationError(message, [{ path: 'min_cash', message }]);
  }
}

/** The DTO's fields, each only when set. */
export function constraintDto(c: ModelConstraints | undefined) {
  if (c === undefined) return {};
  return {
    ...(c.minCash === null ? {} : { min_cash: formatDecimal(c.minCash) }),
    ...(c.minTradeValue === null ? {} : { min_trade_value: formatDecimal(c.minTradeValue) }),
    ...(c.restrictions.length === 0 ? {} : { restrictions: c.restrictions.map((r) => ({ security_id: r.securityId, rule: r.rule })) }),
  };
}

/** How they are stored on the model document. */
export function toConstraintDocument(c: ModelConstraints) {
  return {
    min_cash: c.minCash === null ? null : toDecimal128(c.minCash),
    min_trade_value: c.minTradeValue === null ? null : toDecimal128(c.minTradeValue),
    restrictions: c.restrictions.map((r) => ({ security_id: r.securityId, rule: r.rule })),
  };
}

/** As read from the model document (absent fields: none). */
export type ConstraintDocument = Partial<ReturnType<typeof toConstraintDocument>>;

export function fromConstraintDocument(doc: ConstraintDocument): ModelConstraints {
  return {
    minCash: doc.min_cash === undefined || doc.min_cash === null ? null : fromDecimal128(doc.min_cash),
    minTradeValue: doc.min_trade_value === undefined || doc.min_trade_value === null ? null : fromDecimal128(doc.min_trade_value),
    restrictions: (doc.restrictions ?? []).map((r) => ({ securityId: r.security_id, rule: r.rule })),
  };
}
