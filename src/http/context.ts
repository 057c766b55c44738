/**
 * Wires the API's adapters from configuration (one PrismaClient, one Redis connection per process
 * and one more for the rate limiter).
 */
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../config/env.js';
import { createPgPool, createPrismaClient } from '../infra/prisma/client.js';
import { PrismaApiKeyRepository } from '../infra/prisma/api-key.repository.js';
import { PrismaJobRepository } from '../infra/prisma/job.repository.js';
import { limiterConnection, producerConnection } from '../infra/queue/connection.js';
import { BullTrainingQueue } from '../infra/queue/training.queue.js';
import { ThreadDatasetInspector } from '../infra/datasets/thread-inspector.js';
import { PrismaDatasetRepository } from '../infra/prisma/dataset.repository.js';
import { FileUploadSpool } from '../infra/uploads/file-spool.js';
import { ApiKeyService } from '../services/auth/api-key.service.js';
import { DatasetService } from '../services/datasets/dataset.service.js';
import { PredictionService } from '../services/predictions/prediction.service.js';
import { SharpImageDecoder } from '../infra/predictions/sharp-image-decoder.js';
import { ThreadPredictor } from '../infra/predictions/thread-predictor.js';
import { JobService } from '../services/jobs/job.service.js';
import { PgJobEventHub } from '../infra/events/pg-event-hub.js';
import { PrismaJobEventLog } from '../infra/prisma/job-stream.repository.js';
import { JobStreamService } from '../services/events/job-stream.service.js';
import { PrismaWebhookRepository } from '../infra/prisma/webhook.repository.js';
import { parseNetworks, WebhookAddressPolicy } from '../infra/webhooks/address-policy.js';
import { WebhookService } from '../services/webhooks/webhook.service.js';
import type { AppDeps } from './app.js';

export interface ApiContext {
  deps: AppDeps;
  queue: BullTrainingQueue;
  /** Starts the upload inspection and prediction threads now instead of at the first request. */
  warm(): void;
  close(): Promise<void>;
}

export function createApiContext(
  config: Config,
  onError: (err: Error) => void = () => {},
): ApiContext {
  const pool = createPgPool({
    url: config.databaseUrl,
    schema: config.databaseSchema,
    poolSize: config.DATABASE_POOL_SIZE,
  });
  const db = createPrismaClient({ url: config.databaseUrl, schema: config.databaseSchema, pool });
  const redis = producerConnection(config.REDIS_URL);
  redis.on('error', onError);
  const limiter = config.RATE_LIMIT_MAX > 0 ? limiterConnection(config.REDIS_URL) : null;
  limiter?.on('error', onError);
  const queue = new BullTrainingQueue(
    redis,
    {
      name: config.QUEUE_NAME,
      prefix: config.QUEUE_PREFIX,
      attempts: config.JOB_ATTEMPTS,
      backoffMs: config.JOB_BACKOFF_MS,
    },
    onError,
  );
  const apiKeys = new ApiKeyService(new PrismaApiKeyRepository(db), {
    cacheMs: config.API_KEY_CACHE_MS,
    onTouchError: (err) => onError(err as Error),
  });
  const datasetRepository = new PrismaDatasetRepository(db, pool, config.BLOB_CHUNK_BYTES);
  const jobRepository = new PrismaJobRepository(db, pool);
  const jobs = new JobService(
    jobRepository,
    queue,
    datasetRepository,
    config.MAX_ACTIVE_JOBS_PER_TENANT,
  );
  // One LISTEN connection per API process, shared by all its streams.
  const hub = new PgJobEventHub({
    url: config.databaseUrl,
    schema: config.databaseSchema,
    progressIntervalMs: config.STREAM_PROGRESS_MS,
    onError,
  });
  const streams = new JobStreamService(jobRepository, new PrismaJobEventLog(db), hub);
  const webhooks = new WebhookService(
    new PrismaWebhookRepository(db),
    new WebhookAddressPolicy(parseNetworks(config.WEBHOOK_ALLOWED_NETWORKS)),
  );
  const predictor = new ThreadPredictor({
    backend: config.PREDICT_BACKEND,
    cacheModels: config.PREDICT_CACHE_MODELS,
    timeoutMs: config.PREDICT_TIMEOUT_MS,
  });
  const predictions = new PredictionService(jobRepository, predictor, new SharpImageDecoder());
  const inspector = new ThreadDatasetInspector({
    concurrency: config.DATASET_INSPECT_CONCURRENCY,
    timeoutMs: config.DATASET_INSPECT_TIMEOUT_MS,
  });
  const datasets = new DatasetService(
    datasetRepository,
    new FileUploadSpool(config.UPLOAD_DIR || path.join(os.tmpdir(), 'retain-uploads')),
    inspector,
    {
      maxUploadBytes: config.DATASET_MAX_UPLOAD_BYTES,
      maxExpandedBytes: config.DATASET_MAX_EXPANDED_BYTES,
    },
  );
  return {
    deps: {
      jobs,
      streams,
      webhooks,
      datasets,
      predictions,
      apiKeys,
      bodyLimit: config.API_RATE_BODY_LIMIT,
      streamHeartbeatMs: config.STREAM_HEARTBEAT_MS,
      corsOrigins: config.CORS_ORIGINS.split(',')
        .map((o) => o.trim())
        .filter(Boolean),
      ...(limiter
        ? {
            rateLimit: {
              max: config.RATE_LIMIT_MAX,
              windowMs: config.RATE_LIMIT_WINDOW_MS,
              redis: limiter,
            },
          }
        : {}),
      readiness: {
        database: async () => {
          await db.$queryRaw`SELECT 1`;
        },
        redis: async () => {
          if (!(await queue.ping())) throw new Error('Redis did not answer PONG');
        },
      },
    },
    queue,
    warm: () => {
      hub.start();
      inspector.warm();
      predictor.warm();
    },
    async close() {
      await queue.close().catch(() => {});
      await hub.close();
      limiter?.disconnect();
      await predictor.close();
      await inspector.close();
      await db.$disconnect();
      await pool.end();
    },
  };
}
