/**
 * Bearer API keys. `request.tenant` is the caller's tenant; everything below is scoped to it, so
 * another tenant's ids simply do not exist for the caller.
 *
 * Authentication belongs to the routes, not to URLs: `authenticate` runs for every route of the
 * scope that installs it, whatever form the request's URL took (absolute form, percent-encoded,
 * ...), and reading `request.tenant` on a request that was not authenticated throws UNAUTHORIZED
 * instead of handing a handler an empty tenant.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ApiKeyService } from '../../services/auth/api-key.service.js';
import { ServiceError } from '../../services/errors.js';
import type { Tenant } from '../../services/ports.js';

declare module 'fastify' {
  interface FastifyRequest {
    tenant: Tenant;
  }
  interface FastifyInstance {
    /** onRequest hook: authenticates the request's bearer key. */
    authenticate: (request: FastifyRequest) => Promise<void>;
  }
}

async function auth(app: FastifyInstance, opts: { apiKeys: ApiKeyService }) {
  const tenants = new WeakMap<FastifyRequest, Tenant>();
  app.decorateRequest('tenant', {
    getter(this: FastifyRequest) {
      const tenant = tenants.get(this);
      if (!tenant)
        throw new ServiceError(
          'UNAUTHORIZED',
          'send your API key as "Authorization: Bearer <key>"',
        );
      return tenant;
    },
  });
  app.decorate('authenticate', async (request: FastifyRequest) => {
    tenants.set(request, await opts.apiKeys.authenticate(request.headers.authorization));
  });
}

export default fp(auth, { name: 'auth', fastify: '5.x' });
