// HTTP routes of the models API (api.md, Models): schema in, one service call, status out.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { sendJson } from '../../http/json-stream.js';
import {
  CreateModelBody,
  DeleteModelQuery,
  errorResponses,
  ListModelsQuery,
  ModelDto,
  ModelParams,
  modelJson,
  modelsJson,
  PortfoliosBody,
  PositionBody,
  ReplaceModelBody,
  toModelDto,
  toModelPosition,
} from './schemas.js';
import type { ModelService } from './service.js';

export const modelRoutes: FastifyPluginAsyncZod<{ service: ModelService }> = async (app, { service }) => {
  // Reads send modelJson's bytes (toModelDto's JSON), which Fastify does not serialise
  // (200 models of 100 positions are 20 000 objects): no field-by-field check again.
  const tags = ['models'];

  app.get(
    '/models',
    {
      schema: {
        tags,
        summary: 'List models',
        description: 'All models, or a page of them with offset and limit. The x-total-count header carries the total number of models.',
        querystring: ListModelsQuery,
        response: { 200: z.array(ModelDto), 400: errorResponses[400] },
      },
    },
    async (request, reply) => {
      const { offset, limit, sort_by } = request.query;
      const page = await service.list(offset, limit, sort_by);
      reply.header('x-total-count', String(page.total));
      sendJson(reply, modelsJson(page.models));
      return reply;
    },
  );

  app.get(
    '/model/:model_id',
    {
      schema: {
        tags,
        summary: 'Get one model',
        params: ModelParams,
        response: { 200: ModelDto, 400: errorResponses[400], 404: errorResponses[404] },
      },
    },
    async (request, reply) => {
      sendJson(reply, modelJson(await service.get(request.params.model_id)));
      return reply;
    },
  );

  app.post(
    '/models',
    {
      schema: {
        tags,
        summary: 'Create a model',
        body: CreateModelBody,
        response: { 201: ModelDto, 400: errorResponses[400], 409: errorResponses[409] },
      },
    },
    async (request, reply) => reply.code(201).send(toModelDto(await service.create(request.body))),
  );

  app.put(
    '/model/:model_id',
    {
      schema: {
        tags,
        summary: 'Replace a model',
        description:
          'Replaces name, positions and portfolios. min_cash, min_trade_value and restrictions are replaced only when sent ' +
          '(absent: the stored values stay; null clears min_cash or min_trade_value). 409 VERSION_CONFLICT when version is not the stored one.',
        params: ModelParams,
        body: ReplaceModelBody,
        response: { 200: ModelDto, ...errorResponses },
      },
    },
    async (request) => toModelDto(await service.replace(request.params.model_id, request.body)),
  );

  app.delete(
    '/model/:model_id',
    {
      schema: {
        tags,
        summary: 'Delete a model',
        params: ModelParams,
        querystring: DeleteModelQuery,
        response: { 204: z.undefined(), ...errorResponses },
      },
    },
    async (request, reply) => {
      await service.remove(request.params.model_id, request.query.version);
      return reply.code(204).send();
    },
  );

  const positionRoute = {
    tags,
    params: ModelParams,
    body: PositionBody,
    response: { 200: ModelDto, ...errorResponses },
  };

  app.post(
    '/model/:model_id/position',
    { schema: { ...positionRoute, summary: 'Add a position', description: '409 if the security is already in the model.' } },
    async (request) => toModelDto(await service.addPosition(request.params.model_id, toModelPosition(request.body))),
  );

  app.put(
    '/model/:model_id/position',
    { schema: { ...positionRoute, summary: 'Update a position', description: 'A target of 0 removes the position.' } },
    async (request) => toModelDto(await service.updatePosition(request.params.model_id, toModelPosition(request.body))),
  );

  app.delete(
    '/model/:model_id/position',
    {
      schema: {
        ...positionRoute,
        summary: 'Remove a position',
        description: 'Removes it only if the stored target and drifts equal the body as decimals (0.02 equals "0.020").',
      },
    },
    async (request) => toModelDto(await service.removePosition(request.params.model_id, toModelPosition(request.body))),
  );

  const portfolioRoute = { tags, params: ModelParams, body: PortfoliosBody, response: { 200: ModelDto, ...errorResponses } };

  app.post(
    '/model/:model_id/portfolio',
    { schema: { ...portfolioRoute, summary: 'Add portfolios', description: 'Ids already present are ignored.' } },
    async (request) => toModelDto(await service.addPortfolios(request.params.model_id, request.body.portfolios)),
  );

  app.delete(
    '/model/:model_id/portfolio',
    { schema: { ...portfolioRoute, summary: 'Remove portfolios', description: 'Ids not present are ignored.' } },
    async (request) => toModelDto(await service.removePortfolios(request.params.model_id, request.body.portfolios)),
  );
};
