/** OpenAPI document generated from the route schemas, and a UI at /docs. */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export const OPENAPI_INFO = {
  title: 'Retain API',
  description:
    'Continual learning as a service: submit HyperMask / HNET jobs, follow their progress, download per-task masks and TF.js models. ' +
    'Authenticate with "Authorization: Bearer <key>". Errors are {"error": {"code", "message"}} with stable codes.',
  version: '0.1.0',
};

async function docs(app: FastifyInstance, opts: { ui: boolean }) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: OPENAPI_INFO,
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description: 'an API key from `npm run apikey -- create --tenant NAME`',
          },
        },
      },
      tags: [
        { name: 'jobs', description: 'continual-learning jobs' },
        { name: 'artifacts', description: 'per-task masks and models' },
        { name: 'datasets', description: 'your own data: upload, list, delete' },
        {
          name: 'predictions',
          description: 'class predictions from trained task models, with or without a task id',
        },
        { name: 'keys', description: "your tenant's API keys: create, list, revoke" },
        { name: 'health', description: 'liveness and readiness' },
      ],
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (json.$id as string) ?? `def-${i}`,
    },
  });
  if (opts.ui) await app.register(swaggerUi, { routePrefix: '/docs' });
}

export default fp(docs, { name: 'docs', fastify: '5.x' });
