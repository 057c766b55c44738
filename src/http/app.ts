/**
 * buildApp(deps): the whole HTTP API as a Fastify instance that never listens (tests use
 * `app.inject`, src/http/server.ts listens).
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { ApiKeyService } from '../services/auth/api-key.service.js';
import type { DatasetService } from '../services/datasets/dataset.service.js';
import type { JobStreamService } from '../services/events/job-stream.service.js';
import type { JobService } from '../services/jobs/job.service.js';
import type { WebhookService } from '../services/webhooks/webhook.service.js';
import type { PredictionService } from '../services/predictions/prediction.service.js';
import { clientErrorHandler, errorHandler, installErrorHandlers } from './error-handler.js';
import { installJsonParser } from './json-body.js';
import authPlugin from './plugins/auth.js';
import docsPlugin from './plugins/swagger.js';
import datasetsRoutes from './routes/datasets/index.js';
import { DatasetResource } from './routes/datasets/schemas.js';
import healthRoutes, { type ReadinessChecks } from './routes/health/index.js';
import jobsRoutes from './routes/jobs/index.js';
import { JobResource } from './routes/jobs/schemas.js';
import predictionsRoutes from './routes/predictions/index.js';
import streamsRoutes from './routes/streams/index.js';
import webhooksRoutes from './routes/webhooks/index.js';
import { WebhookResource } from './routes/webhooks/schemas.js';
import tasksRoutes from './routes/tasks/index.js';
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
}

const sharedSchemas = [ErrorResponse, JobResource, DatasetResource, WebhookResource];
sharedSchemas.forEach(addSharedSchema);

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const bodyLimit = deps.bodyLimit ?? 1_048_576;
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit,
    // Requests that say nothing about their id get one; logs carry it.
    requestIdHeader: 'x-request-id',
    // Otherwise Fastify answers a URL it cannot decode in its own shape.
    frameworkErrors: errorHandler({ bodyLimit }),
    clientErrorHandler,
  });
  app.setValidatorCompiler(validatorCompiler);
  for (const s of sharedSchemas) app.addSchema(s);
  installErrorHandlers(app, { bodyLimit });
  // The API speaks JSON only; a text/plain body would otherwise reach validation as a string.
  app.removeContentTypeParser('text/plain');
  installJsonParser(app);

  await app.register(docsPlugin, { ui: deps.docsUi ?? true });
  await app.register(authPlugin, { apiKeys: deps.apiKeys });
  await app.register(healthRoutes, { checks: deps.readiness });
  await app.register(async (v1) => {
    // Every route of this scope, however its URL was spelt on the wire.
    v1.addHook('onRequest', v1.authenticate);
    await v1.register(jobsRoutes, { jobs: deps.jobs });
    await v1.register(streamsRoutes, { streams: deps.streams, heartbeatMs: deps.streamHeartbeatMs ?? 15_000 });
    await v1.register(tasksRoutes, { jobs: deps.jobs });
    await v1.register(datasetsRoutes, { datasets: deps.datasets });
    await v1.register(predictionsRoutes, { predictions: deps.predictions });
    await v1.register(webhooksRoutes, { webhooks: deps.webhooks });
  });
  return app;
}
