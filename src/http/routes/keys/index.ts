/** API keys of the caller's tenant: create, list, revoke. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ApiKeyService } from '../../../services/auth/api-key.service.js';
import { Described, errors, JSON_BODY_ERRORS } from '../../schemas.js';
import { keyView } from '../../views.js';
import { ApiKeyResource, CreatedApiKey, CreateKeyBody, KeyList, KeyParams } from './schemas.js';

const tags = ['keys'];
const security = [{ bearerAuth: [] }];

const keysRoutes: FastifyPluginAsyncTypebox<{ apiKeys: ApiKeyService }> = async (
  app,
  { apiKeys },
) => {
  app.post(
    '/v1/keys',
    {
      schema: {
        tags,
        security,
        operationId: 'createApiKey',
        summary: 'Create an API key for your tenant',
        description:
          'The answer holds the key itself, this once; store it. Only its SHA-256 is kept.',
        body: CreateKeyBody,
        response: {
          201: CreatedApiKey,
          ...errors(['INVALID_SPEC', 'INVALID_INPUT', ...JSON_BODY_ERRORS]),
        },
      },
    },
    async (request, reply) => {
      const { key, record } = await apiKeys.createFor(request.tenant, request.body.name ?? null);
      return reply.code(201).send({ ...keyView(record), key });
    },
  );

  app.get(
    '/v1/keys',
    {
      schema: {
        tags,
        security,
        operationId: 'listApiKeys',
        summary: "List your tenant's API keys, newest first (revoked ones included)",
        description:
          'Names, prefixes (the first 10 characters of each key), creation, last use and revocation times; never the keys themselves.',
        response: { 200: Described(KeyList, "your tenant's keys"), ...errors([]) },
      },
    },
    async (request) => ({ items: (await apiKeys.list(request.tenant)).map(keyView) }),
  );

  app.delete(
    '/v1/keys/:id',
    {
      schema: {
        tags,
        security,
        operationId: 'revokeApiKey',
        summary: 'Revoke an API key',
        description:
          'The key stops authenticating at once on this API process and within API_KEY_CACHE_MS (2 s by default) on the others. Revoking a revoked key changes nothing. You may revoke the key you call with.',
        params: KeyParams,
        response: {
          200: Type.Ref(ApiKeyResource),
          ...errors(['INVALID_REQUEST', 'API_KEY_NOT_FOUND']),
        },
      },
    },
    async (request) => keyView(await apiKeys.revoke(request.tenant, request.params.id)),
  );
};

export default keysRoutes;
