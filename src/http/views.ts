/** Domain records to API resources. */
import type { Static } from '@sinclair/typebox';
import type {
  ApiKeyRecord,
  DatasetRecord,
  JobProgress,
  JobRecord,
  WebhookDeliveryRecord,
  WebhookRecord,
} from '../services/ports.js';
import type { DatasetResource } from './routes/datasets/schemas.js';
import type { JobResource } from './routes/jobs/schemas.js';
import type { ApiKeyResource } from './routes/keys/schemas.js';
import type { DeliveryResource, WebhookResource } from './routes/webhooks/schemas.js';

/** Progress of a job as the API shows it (job resource, job.progress events). */
export function progressView(job: JobProgress): JobResource['progress'] {
  // After a task ends, progress may still name it until the next task's first write: count it once.
  const inTask =
    job.status === 'running' && job.currentTask === job.completedTasks && job.iteration !== null
      ? job.iteration
      : 0;
  const done = job.completedTasks * job.iterationsPerTask + inTask;
  const total = job.tasksTotal * job.iterationsPerTask;
  return {
    completedTasks: job.completedTasks,
    tasksTotal: job.tasksTotal,
    currentTask: job.status === 'running' ? job.currentTask : null,
    iteration: job.status === 'running' ? job.iteration : null,
    iterationsPerTask: job.iterationsPerTask,
    iterationsDone: Math.min(done, total),
    iterationsTotal: total,
    fraction: job.status === 'succeeded' ? 1 : total ? Math.min(done / total, 1) : 0,
    etaMs: job.status === 'running' ? job.etaMs : job.status === 'succeeded' ? 0 : null,
  };
}

export function jobView(job: JobRecord): JobResource {
  const base = `/v1/jobs/${job.id}`;
  const hasMask = job.spec.method === 'hypermask';
  return {
    id: job.id,
    name: job.name,
    metadata: job.metadata,
    status: job.status,
    spec: job.spec,
    backend: job.backend,
    progress: progressView(job),
    continueFrom: job.continueFrom,
    inheritedTasks: job.inheritedTasks,
    attempts: job.attempts,
    error: job.error,
    result: job.result
      ? {
          averageAccuracy: job.result.averageAccuracy,
          backwardTransfer: job.result.backwardTransfer,
          forgetting: job.result.forgetting,
          runningStatsAverageAccuracy: job.result.runningStatsAverageAccuracy ?? null,
        }
      : null,
    createdAt: job.createdAt.toISOString(),
    updatedAt: job.updatedAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? null,
    finishedAt: job.finishedAt?.toISOString() ?? null,
    checkpointRemovedAt: job.checkpointRemovedAt?.toISOString() ?? null,
    links: {
      self: base,
      metrics: `${base}/metrics`,
      cancel: `${base}/cancel`,
      events: `${base}/events`,
      stream: `${base}/stream`,
      tasks: Array.from({ length: job.completedTasks }, (_, t) => ({
        task: t,
        mask: hasMask ? `${base}/tasks/${t}/mask` : null,
        model: `${base}/tasks/${t}/model/model.json`,
      })),
    },
  };
}

export function datasetView(d: DatasetRecord): DatasetResource {
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return {
    id: d.id,
    name: d.name,
    format: d.format,
    status: d.status,
    sha256: d.sha256,
    sizeBytes: d.sizeBytes,
    inputShape: d.inputShape,
    dtype: d.dtype,
    classNames: d.classNames,
    counts: d.counts,
    samples: { train: sum(d.counts.train), test: sum(d.counts.test) },
    options: d.options,
    createdAt: d.createdAt.toISOString(),
    links: { self: `/v1/datasets/${d.id}` },
  };
}

export function webhookView(w: WebhookRecord): WebhookResource {
  return {
    id: w.id,
    url: w.url,
    events: w.events,
    createdAt: w.createdAt.toISOString(),
    previousSecretExpiresAt: w.previousSecretExpiresAt?.toISOString() ?? null,
    links: {
      self: `/v1/webhooks/${w.id}`,
      deliveries: `/v1/webhooks/${w.id}/deliveries`,
      rotateSecret: `/v1/webhooks/${w.id}/rotate-secret`,
    },
  };
}

export function deliveryView(d: WebhookDeliveryRecord): Static<typeof DeliveryResource> {
  return {
    id: d.id,
    jobId: d.jobId,
    eventType: d.eventType,
    eventId: d.eventSeq,
    status: d.status,
    attempts: d.attempts,
    statusCode: d.statusCode,
    lastError: d.lastError,
    createdAt: d.createdAt.toISOString(),
    lastAttemptAt: d.lastAttemptAt?.toISOString() ?? null,
    deliveredAt: d.deliveredAt?.toISOString() ?? null,
  };
}

/** An API key as its owner sees it: never the key itself (shown once, at creation). */
export function keyView(k: ApiKeyRecord): Static<typeof ApiKeyResource> {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    createdAt: k.createdAt.toISOString(),
    lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
    revokedAt: k.revokedAt?.toISOString() ?? null,
  };
}
