// HTTP routes of the drift reports (issue 18; docs/drift.md): read-only,
// nothing stored. Decimal figures are exact decimal strings, as everywhere.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { formatDecimal } from '../../domain/decimal.js';
import { ErrorResponse, ObjectIdString, PortfolioId, QueryInteger, SortBy } from '../../domain/schemas.js';
import type { PortfolioDriftFigures } from './report.js';
import { DRIFT_SORT_FIELDS, type DriftService, type PortfolioDrift } from './service.js';

const decimal = (description: string) => z.string().meta({ description });
const nullableDecimal = (description: string) =>
  z
    .string()
    .nullable()
    .meta({ description: `${description}; null when not valued` });

const SecurityDriftDto = z
  .object({
    security_id: z.string(),
    quantity: decimal('Current holding'),
    price: decimal('Price used'),
    market_value: decimal('quantity × price'),
    weight: decimal('market_value / portfolio market value, rounded half-up to 6 places'),
    target: z.string(),
    low_drift: z.string(),
    high_drift: z.string(),
    band_low: decimal('target − low_drift'),
    band_high: decimal('target + high_drift'),
    drift: decimal('(market_value − MV·target) / MV, rounded half-up to 6 places: positive when overweight'),
    in_band: z.boolean().meta({ description: 'band_low ≤ weight ≤ band_high, decided exactly' }),
  })
  .meta({ id: 'SecurityDriftDTO' });

const PortfolioDriftFields = {
  portfolio_id: z.string(),
  portfolio_name: z.string().nullable(),
  model_id: z.string(),
  status: z.enum(['in_band', 'out_of_band', 'unvalued']),
  reason: z.string().nullable().meta({ description: 'Why the portfolio could not be valued (status unvalued)' }),
  market_value: nullableDecimal('Cash + Σ quantity × price'),
  cash: decimal('Cash balance'),
  cash_weight: nullableDecimal('cash / market value, rounded half-up to 6 places'),
  total_drift: nullableDecimal('Σ|MV·target − quantity·price| / MV, rounded half-up to 6 places'),
  in_band: z.boolean().nullable().meta({ description: 'Every security inside its band; null when not valued' }),
  securities_out_of_band: z.int().nullable(),
};
const PortfolioDriftRow = z.object(PortfolioDriftFields).meta({ id: 'PortfolioDriftRowDTO' });
export const PortfolioDriftDto = z
  .object({ ...PortfolioDriftFields, securities: z.array(SecurityDriftDto) })
  .meta({ id: 'PortfolioDriftDTO' });

export const ModelDriftDto = z
  .object({
    model_id: z.string(),
    model_name: z.string(),
    summary: z.object({
      portfolios: z.int(),
      in_band: z.int(),
      out_of_band: z.int(),
      unvalued: z.int(),
      worst: z.array(z.object({ portfolio_id: z.string(), total_drift: z.string() })).meta({ description: 'At most 5, worst first' }),
    }),
    total: z.int().meta({ description: 'Rows that pass out_of_band_only, before paging (also in x-total-count)' }),
    portfolios: z.array(PortfolioDriftRow),
  })
  .meta({ id: 'ModelDriftDTO' });

const ModelDriftQuery = z.object({
  offset: QueryInteger.optional(),
  limit: QueryInteger.optional(),
  sort_by: SortBy(DRIFT_SORT_FIELDS, '-total_drift'),
  out_of_band_only: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .optional()
    .transform((v) => v === 'true')
    .meta({ description: 'Only portfolios out of band (and those that could not be valued, never skipped)' }),
});
export type ModelDriftQuery = z.output<typeof ModelDriftQuery>;

const securityDto = (s: PortfolioDriftFigures['securities'][number]): z.infer<typeof SecurityDriftDto> => ({
  security_id: s.securityId,
  quantity: formatDecimal(s.quantity),
  price: formatDecimal(s.price),
  market_value: formatDecimal(s.marketValue),
  weight: formatDecimal(s.weight),
  target: formatDecimal(s.target),
  low_drift: formatDecimal(s.lowDrift),
  high_drift: formatDecimal(s.highDrift),
  band_low: formatDecimal(s.bandLow),
  band_high: formatDecimal(s.bandHigh),
  drift: formatDecimal(s.drift),
  in_band: s.inBand,
});

function driftRowDto(row: PortfolioDrift, modelId: string): z.infer<typeof PortfolioDriftRow> {
  const f = row.status === 'unvalued' ? null : row.figures;
  return {
    portfolio_id: row.portfolioId,
    portfolio_name: row.portfolioName,
    model_id: modelId,
    status: row.status,
    reason: row.reason,
    market_value: row.figures === null ? null : formatDecimal(row.figures.marketValue),
    cash: formatDecimal(row.cash),
    cash_weight: f === null ? null : formatDecimal(f.cashWeight),
    total_drift: f === null ? null : formatDecimal(f.totalDrift),
    in_band: f === null ? null : f.inBand,
    securities_out_of_band: f === null ? null : f.outOfBand,
  };
}

export const driftRoutes: FastifyPluginAsyncZod<{ service: DriftService }> = async (app, { service }) => {
  const tags = ['drift'];
  const errors = { 400: ErrorResponse, 404: ErrorResponse, 503: ErrorResponse };

  app.get(
    '/portfolio/:portfolio_id/drift',
    {
      schema: {
        tags,
        summary: "A portfolio's drift against its model, without trading",
        description:
          'Same upstream reads and valuation as a rebalance; nothing is stored. Securities: the union of held and modelled, by id. ' +
          'A portfolio that cannot be valued answers 200 with status "unvalued" and the reason.',
        params: z.object({ portfolio_id: PortfolioId }),
        response: { 200: PortfolioDriftDto, ...errors },
      },
    },
    async (request) => {
      const { model, row } = await service.portfolio(request.params.portfolio_id);
      const securities = row.status === 'unvalued' || row.figures === null ? [] : row.figures.securities.map(securityDto);
      return { ...driftRowDto(row, model.id), securities };
    },
  );

  app.get(
    '/model/:model_id/drift',
    {
      schema: {
        tags,
        summary: 'The drift of every portfolio of a model, without trading',
        description:
          "One row per portfolio, in the model's portfolio order unless sort_by says otherwise (portfolio_id, total_drift, " +
          'market_value, securities_out_of_band; unvalued rows last either way); offset and limit as GET /models (neither: every row); ' +
          'x-total-count carries the rows that pass out_of_band_only. Portfolios that cannot be valued are reported with their reason.',
        params: z.object({ model_id: ObjectIdString }),
        querystring: ModelDriftQuery,
        response: { 200: ModelDriftDto, ...errors },
      },
    },
    async (request, reply) => {
      const report = await service.model(request.params.model_id, request.query);
      reply.header('x-total-count', String(report.total));
      return {
        model_id: report.model.id,
        model_name: report.model.name,
        summary: report.summary,
        total: report.total,
        portfolios: report.rows.map((row) => driftRowDto(row, report.model.id)),
      };
    },
  );
};
