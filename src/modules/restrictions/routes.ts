// GET/PUT/DELETE /api/v1/restrictions: the firm-wide restricted list (issue 19),
// applied to every model's rebalances beside the model's own restrictions.
// Writes name who asked in the x-requested-by header (required): the service's
// API keys carry no names, and the audit must say who, not which key.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { z } from 'zod';
import { ValidationError } from '../../domain/errors.js';
import { ErrorResponse } from '../../domain/schemas.js';
import { RESTRICTION_RULES, RestrictionBody } from '../models/constraints.js';
import type { FirmRestrictions, RestrictionRepository } from './repository.js';

const RestrictionsDto = z
  .object({
    restrictions: z.array(z.object({ security_id: z.string(), rule: z.enum(RESTRICTION_RULES), set_by: z.string(), set_at: z.string() })),
    updated_by: z.string().nullable(),
    updated_at: z.string().nullable(),
  })
  .meta({ id: 'RestrictionsDTO' });

const RestrictionsBody = z.strictObject({ restrictions: z.array(RestrictionBody) }).meta({
  id: 'RestrictionsBody',
  example: { restrictions: [{ security_id: '683b69d420f302c879a5fef0', rule: 'no_buy' }] },
});

const WriterHeaders = z.object({
  'x-requested-by': z
    .string()
    .optional()
    .meta({ description: 'Who asks for the change (a person or system): recorded with the time. Required.' }),
});

const toDto = (f: FirmRestrictions): z.infer<typeof RestrictionsDto> => ({
  restrictions: f.restrictions.map((r) => ({ security_id: r.securityId, rule: r.rule, set_by: r.setBy, set_at: r.setAt.toISOString() })),
  updated_by: f.updatedBy,
  updated_at: f.updatedAt?.toISOString() ?? null,
});

const who = (headers: { 'x-requested-by'?: string | undefined }): string => {
  const by = headers['x-requested-by']?.trim() ?? '';
  if (by === '' || by.length > 200) {
    throw new ValidationError('x-requested-by must name who changes the restricted list (1 to 200 characters)', [
      { path: 'x-requested-by', message: 'must name who changes the restricted list (1 to 200 characters)' },
    ]);
  }
  return by;
};

export const restrictionRoutes: FastifyPluginAsyncZod<{ repository: RestrictionRepository; log: Logger }> = async (
  app,
  { repository, log },
) => {
  const tags = ['restrictions'];
  const errors = { 400: ErrorResponse };

  app.get(
    '/restrictions',
    {
      schema: {
        tags,
        summary: 'The firm-wide restricted list',
        description: 'Applies to every model beside its own restrictions; each entry says who set it and when.',
        response: { 200: RestrictionsDto },
      },
    },
    async () => toDto(await repository.read()),
  );

  app.put(
    '/restrictions',
    {
      schema: {
        tags,
        summary: 'Replace the firm-wide restricted list',
        description: 'Rules: no_buy, no_sell, frozen. The x-requested-by header names who asks; it is recorded with the time.',
        headers: WriterHeaders,
        body: RestrictionsBody,
        response: { 200: RestrictionsDto, ...errors },
      },
    },
    async (request) => {
      const by = who(request.headers);
      const seen = new Set<string>();
      request.body.restrictions.forEach((r, i) => {
        if (seen.has(r.security_id)) {
          throw new ValidationError(`restrictions[${i}]: security ${r.security_id} is restricted twice`, [
            { path: `restrictions.${i}.security_id`, message: `security ${r.security_id} is restricted twice` },
          ]);
        }
        seen.add(r.security_id);
      });
      const result = await repository.replace(
        request.body.restrictions.map((r) => ({ securityId: r.security_id, rule: r.rule })),
        by,
      );
      log.info({ audit: 'restrictions', by, restrictions: request.body.restrictions }, 'firm-wide restricted list replaced');
      return toDto(result);
    },
  );

  app.delete(
    '/restrictions',
    {
      schema: {
        tags,
        summary: 'Clear the firm-wide restricted list',
        headers: WriterHeaders,
        response: { 200: RestrictionsDto, ...errors },
      },
    },
    async (request) => {
      const by = who(request.headers);
      const result = await repository.clear(by);
      log.info({ audit: 'restrictions', by }, 'firm-wide restricted list cleared');
      return toDto(result);
    },
  );
};
