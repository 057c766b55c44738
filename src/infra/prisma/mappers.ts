/** Maps Prisma rows to domain records; Prisma types stop here. */
import type { JobSpec } from '../../core/index.js';
import type { Job } from '../../generated/prisma/client.js';
import type { JobRecord, JobResult } from '../../services/ports.js';

export function toJobRecord(row: Job): JobRecord {
  return {
    id: row.id,
    tenantId: row.tenantId,
    name: row.name,
    metadata: (row.metadata as Record<string, unknown> | null) ?? null,
    spec: row.spec as unknown as JobSpec,
    status: row.status,
    backend: row.backend,
    tasksTotal: row.tasksTotal,
    iterationsPerTask: row.iterationsPerTask,
    currentTask: row.currentTask,
    iteration: row.iteration,
    completedTasks: row.completedTasks,
    etaMs: row.etaMs,
    attempts: row.attempts,
    error: row.errorCode ? { code: row.errorCode, message: row.errorMessage ?? '' } : null,
    result: (row.result as unknown as JobResult | null) ?? null,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    startedAt: row.startedAt,
    firstIterationAt: row.firstIterationAt,
    finishedAt: row.finishedAt,
  };
}
