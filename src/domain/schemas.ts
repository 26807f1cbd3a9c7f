// zod building blocks shared by the route schemas: ids, exact decimals, paging.
import { z } from 'zod';
import { DecimalInputError, parseBoundedDecimal } from './decimal.js';
import { EXTERNAL_ID_PATTERN, OBJECT_ID_PATTERN } from './ids.js';
import './validation.js';

/** A schema-level message that still says "is required" when the field is missing. */
const requiredOr = (issue: { input?: unknown }, message: string) => (issue.input === undefined ? 'is required' : message);

export const ObjectIdString = z.string().regex(OBJECT_ID_PATTERN, { error: 'must be 24 lowercase hexadecimal characters' });

const externalId = (example: string) => z.string().regex(EXTERNAL_ID_PATTERN, { error: 'must be 24 letters or digits' }).meta({ example });

export const PortfolioId = externalId('683b6d88a29ee10e8b499643');

export const SecurityId = externalId('683b69d420f302c879a5fef0');

/**
 * An exact decimal, sent as a JSON string or number. A number is taken at its
 * shortest decimal spelling, so 0.1 is exactly 0.1 (see domain/decimal.ts).
 */
export const DecimalInput = boundedDecimal(
  (issue) => requiredOr(issue, 'must be a decimal number (a JSON number or string)'),
  (problem) => problem,
);

/** A string or number parsed by parseBoundedDecimal: `error` for another type, `say` words a refused value's problem. */
export function boundedDecimal(error: z.core.$ZodErrorMap, say: (problem: string, value: string | number) => string) {
  return z.union([z.string(), z.number()], { error }).transform((value, ctx) => {
    try {
      return parseBoundedDecimal(value);
    } catch (problem) {
      if (!(problem instanceof DecimalInputError)) throw problem;
      ctx.issues.push({ code: 'custom', input: value, message: say(problem.message, value) });
      return z.NEVER;
    }
  });
}

/** The largest skip or limit MongoDB takes (a 32-bit integer): larger limits are clamped to it, and offsets are clamped to the total (domain/paging.ts). */
export const MAX_QUERY_INTEGER = 2_147_483_647;

/** A non-negative integer sent in a query string (an offset or a limit), exact as a JavaScript number. */
export const QueryInteger = z
  .string()
  .regex(/^\d+$/, { error: 'must be a non-negative integer' })
  .refine((text) => !/^\d+$/.test(text) || (text.replace(/^0+(?=\d)/, '').length <= 16 && Number(text) <= Number.MAX_SAFE_INTEGER), {
    error: `must be a non-negative integer no larger than ${Number.MAX_SAFE_INTEGER}`,
  })
  .transform(Number);

/** offset default 0, limit default 10 and at most 100 (stored rebalances, cycles, orders). */
export const PageQuery = z.object({
  offset: QueryInteger.optional(),
  limit: QueryInteger.pipe(
    z.number().min(1, { error: 'must be between 1 and 100' }).max(100, { error: 'must be between 1 and 100' }),
  ).optional(),
});

/** `sort_by` of a sortable list: comma-separated fields, each optionally prefixed + or - (see domain/sorting.ts). */
export const SortBy = (fields: readonly string[], example: string) =>
  z
    .string()
    .optional()
    .meta({
      description: `Comma-separated fields (${fields.join(', ')}), each optionally prefixed + (ascending) or - (descending); empty means the default order`,
      example,
    });

/** A model or rebalance version: a positive integer (in a body, or a query string). */
export const VersionNumber = z
  .int({ error: (issue) => requiredOr(issue, 'must be a positive integer') })
  .min(1, { error: 'must be a positive integer' });
export const VersionQuery = z
  .string({ error: 'is required (the version you last read)' })
  .regex(/^[1-9]\d*$/, { error: 'must be a positive integer' })
  .transform(Number)
  .refine(Number.isSafeInteger, { error: 'must be a positive integer' });

/** The one error shape of api.md, for the OpenAPI document. */
export const ErrorResponse = z
  .object({
    status_code: z.int(),
    code: z.string(),
    message: z.string(),
    detail: z.string().meta({ description: 'The same sentence as message (the field FastAPI callers read)' }),
    details: z.array(z.object({ path: z.string(), message: z.string() })),
    correlation_id: z.string(),
  })
  .meta({ id: 'Error' });
