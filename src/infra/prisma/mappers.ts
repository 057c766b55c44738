/** Maps Prisma rows to domain records; Prisma types stop here. */
import { upgradeStoredSpec, type JobSpec } from '../../core/index.js';
import type { Job } from '../../generated/prisma/client.js';
import type { JobRecord, JobResult } from '../../services/ports.js';

export function toJobRecord(row: Job): JobRecord {
  return {
    id: row.id,
    tenantId: row.tenantId,
    name: row.name,
    metadata: (row.metadata as Record<string, unknown> | null) ?? null,
    spec: upgradeStoredSpec(row.spec as unknown as JobSpec, row.specVersion),
    specVersion: row.specVersion,
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
    continueFrom: row.continueFrom,
    inheritedTasks: row.inheritedTasks,
    checkpointRemovedAt: row.checkpointRemovedAt,
  };
}

/** A `jobs` row as raw SQL returns it (column names, not field names). */
export interface RawJobRow {
  id: string;
  tenant_id: string;
  name: string | null;
  metadata: unknown;
  spec: unknown;
  spec_version: number;
  status: JobRecord['status'];
  backend: string | null;
  tasks_total: number;
  iterations_per_task: number;
  current_task: number | null;
  iteration: number | null;
  completed_tasks: number;
  eta_ms: number | null;
  attempts: number;
  error_code: string | null;
  error_message: string | null;
  result: unknown;
  created_at: Date;
  updated_at: Date;
  started_at: Date | null;
  first_iteration_at: Date | null;
  finished_at: Date | null;
  continue_from: string | null;
  inherited_tasks: number;
  checkpoint_removed_at: Date | null;
}

export function rawToJobRecord(r: RawJobRow): JobRecord {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    metadata: (r.metadata as Record<string, unknown> | null) ?? null,
    spec: upgradeStoredSpec(r.spec as JobSpec, r.spec_version),
    specVersion: r.spec_version,
    status: r.status,
    backend: r.backend,
    tasksTotal: r.tasks_total,
    iterationsPerTask: r.iterations_per_task,
    currentTask: r.current_task,
    iteration: r.iteration,
    completedTasks: r.completed_tasks,
    etaMs: r.eta_ms,
    attempts: r.attempts,
    error: r.error_code ? { code: r.error_code, message: r.error_message ?? '' } : null,
    result: (r.result as JobResult | null) ?? null,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
    startedAt: r.started_at ? new Date(r.started_at) : null,
    firstIterationAt: r.first_iteration_at ? new Date(r.first_iteration_at) : null,
    finishedAt: r.finished_at ? new Date(r.finished_at) : null,
    continueFrom: r.continue_from,
    inheritedTasks: r.inherited_tasks,
    checkpointRemovedAt: r.checkpoint_removed_at ? new Date(r.checkpoint_removed_at) : null,
  };
}
