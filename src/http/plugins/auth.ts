/**
 * Bearer API keys. Decorates `request.tenant` on every /v1 route; everything below is scoped to
 * that tenant, so another tenant's ids simply do not exist for the caller.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ApiKeyService } from '../../services/auth/api-key.service.js';
import type { Tenant } from '../../services/ports.js';

declare module 'fastify' {
  interface FastifyRequest {
    tenant: Tenant;
  }
}

async function auth(app: FastifyInstance, opts: { apiKeys: ApiKeyService }) {
  app.decorateRequest('tenant', null as unknown as Tenant);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    if (!request.url.startsWith('/v1/')) return;
    request.tenant = await opts.apiKeys.authenticate(request.headers.authorization);
  });
}

export default fp(auth, { name: 'auth', fastify: '5.x' });
