/**
 * buildApp(deps): the whole HTTP API as a Fastify instance that never listens (tests use
 * `app.inject`, src/http/server.ts listens).
 */
import cors from '@fastify/cors';
import rateLimit, { type RateLimitPluginOptions } from '@fastify/rate-limit';
import type { Redis } from 'ioredis';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { hashKey, type ApiKeyService } from '../services/auth/api-key.service.js';
import type { DatasetService } from '../services/datasets/dataset.service.js';
import type { JobStreamService } from '../services/events/job-stream.service.js';
import type { JobService } from '../services/jobs/job.service.js';
import type { WebhookService } from '../services/webhooks/webhook.service.js';
import type { PredictionService } from '../services/predictions/prediction.service.js';
import {
  clientErrorHandler,
  errorHandler,
  installErrorHandlers,
  RequestError,
} from './error-handler.js';
import { installJsonParser } from './json-body.js';
import authPlugin from './plugins/auth.js';
import docsPlugin from './plugins/swagger.js';
import datasetsRoutes from './routes/datasets/index.js';
import { DatasetResource } from './routes/datasets/schemas.js';
import healthRoutes, { type ReadinessChecks } from './routes/health/index.js';
import jobsRoutes from './routes/jobs/index.js';
import keysRoutes from './routes/keys/index.js';
import { ApiKeyResource } from './routes/keys/schemas.js';
import { JobResource } from './routes/jobs/schemas.js';
import predictionsRoutes from './routes/predictions/index.js';
import streamsRoutes from './routes/streams/index.js';
import webhooksRoutes from './routes/webhooks/index.js';
import { WebhookResource } from './routes/webhooks/schemas.js';
import tasksRoutes from './routes/tasks/index.js';
import uiRoutes from './routes/ui/index.js';
import { ErrorResponse } from './schemas.js';
import { addSharedSchema, validatorCompiler } from './validation.js';

export interface AppDeps {
  jobs: JobService;
  streams: JobStreamService;
  webhooks: WebhookService;
  datasets: DatasetService;
  predictions: PredictionService;
  apiKeys: ApiKeyService;
  readiness: ReadinessChecks;
  logger?: FastifyServerOptions['logger'];
  bodyLimit?: number;
  /** Time between heartbeats on event streams (default 15 s). */
  streamHeartbeatMs?: number;
  /** Serve the Swagger UI at /docs (the OpenAPI generator turns it off). */
  docsUi?: boolean;
  /** Origins whose browser pages may call the API (CORS); none when empty or absent. */
  corsOrigins?: string[];
  /** Requests per API key and window, counted in Redis (so across API processes); absent or max 0: no limit. */
  rateLimit?: { max: number; windowMs: number; redis: Redis };
}

const sharedSchemas = [
  ErrorResponse,
  JobResource,
  DatasetResource,
  ApiKeyResource,
  WebhookResource,
];
sharedSchemas.forEach(addSharedSchema);

/**
 * Per API key (per address for requests without one), in Redis. Runs after authentication, so a
 * key is counted only once it is known to be valid. When Redis does not answer, requests pass:
 * an outage of the limiter must not become an outage of the API.
 */
function rateLimitOptions({
  max,
  windowMs,
  redis,
}: NonNullable<AppDeps['rateLimit']>): RateLimitPluginOptions {
  return {
    max,
    timeWindow: windowMs,
    redis,
    nameSpace: 'retain-rate-limit:',
    skipOnError: true,
    keyGenerator: (request) => {
      const token = /^Bearer\s+(\S+)/i.exec(request.headers.authorization ?? '')?.[1];
      return token ? `key:${hashKey(token)}` : `ip:${request.ip}`;
    },
    errorResponseBuilder: (_request, context) =>
      new RequestError(
        'RATE_LIMITED',
        `more than ${context.max} requests in ${context.after} with this API key; retry in ${Math.ceil(context.ttl / 1000)} s`,
      ),
  };
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const bodyLimit = deps.bodyLimit ?? 1_048_576;
  const handleError = errorHandler({ bodyLimit });
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit,
    // Requests that say nothing about their id get one; logs carry it.
    requestIdHeader: 'x-request-id',
    // Otherwise Fastify answers a URL it cannot decode in its own shape.
    frameworkErrors: (err, request, reply) => void handleError(err, request, reply),
    clientErrorHandler,
  });
  app.setValidatorCompiler(validatorCompiler);
  for (const s of sharedSchemas) app.addSchema(s);
  installErrorHandlers(app, { bodyLimit });
  // The API speaks JSON only; a text/plain body would otherwise reach validation as a string.
  app.removeContentTypeParser('text/plain');
  installJsonParser(app);

  if (deps.corsOrigins?.length) {
    // Preflights are answered here, before any route: they carry no key.
    await app.register(cors, {
      origin: deps.corsOrigins,
      methods: ['GET', 'POST', 'DELETE'],
      allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'Last-Event-ID'],
      exposedHeaders: ['Location', 'Retry-After'],
      maxAge: 600,
    });
  }
  await app.register(docsPlugin, { ui: deps.docsUi ?? true });
  await app.register(authPlugin, { apiKeys: deps.apiKeys });
  await app.register(healthRoutes, { checks: deps.readiness });
  // The dashboard's files need no key; its data calls go to /v1 with one.
  await app.register(uiRoutes);
  await app.register(async (v1) => {
    // Every route of this scope, however its URL was spelt on the wire.
    v1.addHook('onRequest', v1.authenticate);
    if (deps.rateLimit?.max) await v1.register(rateLimit, rateLimitOptions(deps.rateLimit));
    await v1.register(jobsRoutes, { jobs: deps.jobs });
    await v1.register(streamsRoutes, {
      streams: deps.streams,
      apiKeys: deps.apiKeys,
      heartbeatMs: deps.streamHeartbeatMs ?? 15_000,
    });
    await v1.register(tasksRoutes, { jobs: deps.jobs });
    await v1.register(datasetsRoutes, { datasets: deps.datasets });
    await v1.register(predictionsRoutes, { predictions: deps.predictions });
    await v1.register(keysRoutes, { apiKeys: deps.apiKeys });
    await v1.register(webhooksRoutes, { webhooks: deps.webhooks });
  });
  return app;
}
