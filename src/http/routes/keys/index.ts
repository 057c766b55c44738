/** API keys of the caller's tenant: create, list, revoke. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ApiKeyService } from '../../../services/auth/api-key.service.js';
import { errors } from '../../schemas.js';
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
        summary: 'Create an API key for your tenant',
        description:
          'The answer holds the key itself, this once; store it. Only its SHA-256 is kept.',
        body: CreateKeyBody,
        response: { 201: CreatedApiKey, ...errors(400, 401) },
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
        summary: "List your tenant's API keys, newest first (revoked ones included)",
        response: { 200: KeyList, ...errors(401) },
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
        summary: 'Revoke an API key',
        description:
          'The key stops authenticating at once on this API process and within API_KEY_CACHE_MS (2 s by default) on the others. Revoking a revoked key changes nothing. You may revoke the key you call with.',
        params: KeyParams,
        response: { 200: Type.Ref(ApiKeyResource), ...errors(400, 401, 404) },
      },
    },
    async (request) => keyView(await apiKeys.revoke(request.tenant, request.params.id)),
  );
};

export default keysRoutes;
