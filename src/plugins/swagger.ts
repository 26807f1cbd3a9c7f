// The OpenAPI document, generated from the routes' zod schemas, at
// /openapi.json, and Swagger UI at /docs.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { SERVICE_VERSION } from '../version.js';

export default fp(
  async (app) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'GlobeCo Order Generation Service',
          description: 'Investment models and drift-minimising portfolio rebalancing. Errors share one shape (see the Error schema).',
          version: SERVICE_VERSION,
        },
        tags: [
          { name: 'models', description: 'Investment models' },
          { name: 'rebalancing', description: 'Rebalancing portfolios and stored rebalances' },
          { name: 'orders', description: 'Submitting orders to the Order service' },
          { name: 'cycles', description: 'Scheduled rebalance cycles' },
          { name: 'health', description: 'Probes' },
        ],
      },
      transform: jsonSchemaTransform,
      transformObject: jsonSchemaTransformObject,
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  },
  { name: 'swagger' },
);
