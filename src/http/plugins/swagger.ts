/** OpenAPI document generated from the route schemas, and a UI at /docs. */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { errorCodeTable } from '../schemas.js';

export const OPENAPI_INFO = {
  title: 'Retain API',
  description:
    'Continual learning as a service: submit HyperMask / HNET jobs, follow their progress, download per-task masks and TF.js models. ' +
    'Authenticate with "Authorization: Bearer <key>".\n\n' +
    '## Errors\n\nEvery error is `{"error": {"code", "message", "field"?}}`; codes are stable, messages say what to fix. ' +
    'Each operation lists the codes it answers with; any request may also be refused before it reaches a route ' +
    '(`HEADERS_TOO_LARGE`, `REQUEST_TIMEOUT`, `URI_TOO_LONG`, `INVALID_REQUEST` for a request that is not valid HTTP, `NOT_FOUND` for an unknown path).\n\n' +
    errorCodeTable(),
  version: '0.1.0',
  // As package.json ("private": true, "license": "UNLICENSED": npm's word for no licence granted);
  // SPDX names a licence it does not list with a LicenseRef- identifier.
  license: {
    name: 'UNLICENSED (proprietary: no licence is granted)',
    identifier: 'LicenseRef-UNLICENSED',
  },
  contact: { name: 'Retain maintainers' },
};

/** Relative: the API that serves the document (at /docs/json) or the host a client is pointed at. */
export const OPENAPI_SERVERS = [{ url: '/', description: 'this Retain API' }];

async function docs(app: FastifyInstance, opts: { ui: boolean }) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: OPENAPI_INFO,
      servers: OPENAPI_SERVERS,
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
        { name: 'webhooks', description: 'job events sent to a URL of yours, signed' },
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
