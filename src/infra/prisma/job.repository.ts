import { randomUUID } from 'node:crypto';
import { SPEC_VERSION, SpecError, taskCount } from '../../core/index.js';
import { Prisma, type PrismaClient } from '../../generated/prisma/client.js';
import { ServiceError } from '../../services/errors.js';
import type {
  CurveKind,
  CurvePoint,
  JobCursor,
  JobError,
  JobRecord,
  JobRepository,
  JobStatus,
  ModelArtifact,
  NewJob,
  TaskResultRecord,
} from '../../services/ports.js';
import { rawToJobRecord, toJobRecord, type RawJobRow } from './mappers.js';

const isUniqueViolation = (err: unknown) =>
  err instanceof Prisma.PrismaClientKnownRequestError && (err.code === 'P2002' || (err.code === 'P2010' && /23505|unique/i.test(err.message)));

/**
 * One statement that inserts the job and its first status event, and returns the job row: none
 * on an idempotency-key conflict, or when a data set the job names is gone. The data sets are
 * share-locked while it runs: a concurrent DELETE (which locks the row FOR UPDATE, then looks for
 * jobs using it) either finishes first, and then no job is inserted, or waits and then sees this
 * job (409).
 */
function insertJob(job: NewJob, message: string): Prisma.Sql {
  const inherited = job.continueFrom?.inheritedTasks ?? 0;
  const datasetIds = Object.keys(job.spec.benchmark.datasets ?? {});
  return Prisma.sql`
    WITH d AS (
      SELECT id FROM datasets WHERE tenant_id = ${job.tenantId}::uuid
        AND id = ANY(string_to_array(${datasetIds.join(',')}, ',')::uuid[]) FOR KEY SHARE
    ), j AS (
      INSERT INTO jobs (id, tenant_id, name, metadata, spec, spec_version, status, idempotency_key, request_hash, tasks_total, iterations_per_task,
                        completed_tasks, continue_from, inherited_tasks, updated_at)
      SELECT ${randomUUID()}::uuid, ${job.tenantId}::uuid, ${job.name}, ${job.metadata === null ? null : JSON.stringify(job.metadata)}::jsonb,
             ${JSON.stringify(job.spec)}::jsonb, ${SPEC_VERSION}, 'queued', ${job.idempotencyKey}, ${job.requestHash},
             ${taskCount(job.spec.benchmark)}, ${job.spec.training.iterationsPerTask}, ${inherited}, ${job.continueFrom?.jobId ?? null}::uuid, ${inherited}, now()
      WHERE (SELECT count(*) FROM d) = ${datasetIds.length}
      ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
      RETURNING *
    ), e AS (
      INSERT INTO job_events (job_id, status, message) SELECT id, 'queued', ${message} FROM j
    )
    SELECT * FROM j`;
}

/**
 * Throws TOO_MANY_ACTIVE_JOBS when the tenant already has `max` queued or running jobs. Locks the
 * tenant's row first (NO KEY UPDATE: the jobs' foreign-key checks still pass), so the tenant's
 * submissions take turns and each counts the jobs the previous one inserted.
 */
async function checkActiveJobs(tx: Prisma.TransactionClient, tenantId: string, max: number): Promise<void> {
  await tx.$queryRaw`SELECT id FROM tenants WHERE id = ${tenantId}::uuid FOR NO KEY UPDATE`;
  const [{ n }] = await tx.$queryRaw<{ n: number }[]>`
    SELECT count(*)::int AS n FROM jobs WHERE tenant_id = ${tenantId}::uuid AND status IN ('queued', 'running')`;
  if (n >= max) {
    throw new ServiceError('TOO_MANY_ACTIVE_JOBS', `you have ${n} queued or running jobs, the most allowed; submit again when one has finished (or cancel one)`);
  }
}

export class PrismaJobRepository implements JobRepository {
  constructor(private readonly db: PrismaClient) {}

  async create(job: NewJob): Promise<{ job: JobRecord; created: boolean; requestHash: string | null }> {
    if (job.continueFrom) return this.createContinuation(job, job.continueFrom);
    try {
      // One statement (one round trip) without a cap: submission is the API's hottest write. ON
      // CONFLICT leaves a concurrent twin with the same idempotency key alone, and the caller then
      // reads the winner.
      const rows = job.maxActiveJobs
        ? await this.db.$transaction(async (tx) => {
            await checkActiveJobs(tx, job.tenantId, job.maxActiveJobs!);
            return tx.$queryRaw<RawJobRow[]>(insertJob(job, 'submitted'));
          })
        : await this.db.$queryRaw<RawJobRow[]>(insertJob(job, 'submitted'));
      if (rows.length === 1) return { job: rawToJobRecord(rows[0]), created: true, requestHash: job.requestHash };
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
    // Two requests with the same key raced; the first one won.
    const existing = job.idempotencyKey ? await this.findByIdempotencyKey(job.tenantId, job.idempotencyKey) : null;
    if (!existing && Object.keys(job.spec.benchmark.datasets ?? {}).length > 0) {
      throw new SpecError('benchmark.tasks', 'a data set named here was deleted while the job was being submitted');
    }
    if (!existing) throw new Error('job insert returned no row');
    return { ...existing, created: false };
  }

  /**
   * Inserts a job that continues a succeeded job, and copies what the source's tasks left (final
   * checkpoint, task results, exports, embeddings) to it, in one transaction: the new job owns
   * its copy, so the worker resumes it like any job, and the source is only read. The copy runs
   * inside Postgres (INSERT ... SELECT), so the checkpoint never travels through this process.
   * The source row is share-locked, so it cannot change status meanwhile.
   */
  private async createContinuation(job: NewJob, from: { jobId: string; inheritedTasks: number }) {
    const rows = await this.db.$transaction(async (tx) => {
      if (job.maxActiveJobs) await checkActiveJobs(tx, job.tenantId, job.maxActiveJobs);
      const source = await tx.$queryRaw<{ id: string }[]>`
        SELECT id FROM jobs WHERE id = ${from.jobId}::uuid AND tenant_id = ${job.tenantId}::uuid AND status = 'succeeded'
          AND completed_tasks = ${from.inheritedTasks} FOR SHARE`;
      if (source.length === 0) {
        throw new ServiceError('CONTINUE_FROM_NOT_SUCCEEDED', `continueFrom: job ${from.jobId} is no longer a succeeded job; nothing was stored`);
      }
      const inserted = await tx.$queryRaw<RawJobRow[]>(insertJob(job, `submitted, continuing job ${from.jobId} after its ${from.inheritedTasks} tasks`));
      if (inserted.length !== 1) return inserted;
      const id = inserted[0].id;
      await tx.$executeRaw`
        INSERT INTO checkpoints (job_id, completed_tasks, data, updated_at)
        SELECT ${id}::uuid, completed_tasks, data, now() FROM checkpoints WHERE job_id = ${from.jobId}::uuid`;
      await tx.$executeRaw`
        INSERT INTO task_results (job_id, task, accuracies, duration_ms, ms_per_iteration, completed_at)
        SELECT ${id}::uuid, task, accuracies, duration_ms, ms_per_iteration, completed_at FROM task_results WHERE job_id = ${from.jobId}::uuid`;
      await tx.$executeRaw`
        INSERT INTO task_artifacts (job_id, task, mask, model_json, weights, weights_file_name, model_unavailable, updated_at)
        SELECT ${id}::uuid, task, mask, model_json, weights, weights_file_name, model_unavailable, updated_at FROM task_artifacts WHERE job_id = ${from.jobId}::uuid`;
      await tx.$executeRaw`
        INSERT INTO task_embeddings (job_id, task, "values")
        SELECT ${id}::uuid, task, "values" FROM task_embeddings WHERE job_id = ${from.jobId}::uuid`;
      return inserted;
      // The copy of a large checkpoint (hundreds of MB for the biggest presets) outlasts Prisma's 5 s default.
    }, { timeout: 120_000 }).catch((err: unknown) => {
      if (isUniqueViolation(err)) return [];
      throw err;
    });
    if (rows.length === 1) return { job: rawToJobRecord(rows[0]), created: true, requestHash: job.requestHash };
    const existing = job.idempotencyKey ? await this.findByIdempotencyKey(job.tenantId, job.idempotencyKey) : null;
    if (existing) return { ...existing, created: false };
    throw new SpecError('benchmark.tasks', 'a data set named here was deleted while the job was being submitted');
  }

  async findByIdempotencyKey(tenantId: string, key: string) {
    const row = await this.db.job.findUnique({ where: { tenantId_idempotencyKey: { tenantId, idempotencyKey: key } } });
    return row ? { job: toJobRecord(row), requestHash: row.requestHash } : null;
  }

  async delete(tenantId: string, id: string): Promise<void> {
    await this.db.job.deleteMany({ where: { tenantId, id } });
  }

  async unfinished(before: Date, limit: number): Promise<string[]> {
    const rows = await this.db.job.findMany({
      where: { status: { in: ['queued', 'running'] }, updatedAt: { lt: before } },
      orderBy: { updatedAt: 'asc' },
      take: limit,
      select: { id: true },
    });
    return rows.map((r) => r.id);
  }

  async failUnfinished(id: string, error: JobError): Promise<void> {
    await this.db.$transaction(async (tx) => {
      const { count } = await tx.job.updateMany({
        where: { id, status: { in: ['queued', 'running'] } },
        data: { status: 'failed', errorCode: error.code, errorMessage: error.message, finishedAt: new Date(), currentTask: null, etaMs: null },
      });
      if (count > 0) await tx.jobEvent.create({ data: { jobId: id, status: 'failed', message: `${error.code}: ${error.message}` } });
    });
  }

  // Reads on the polling path use plain SQL: Prisma's query planning costs more than the query.
  async get(tenantId: string, id: string): Promise<JobRecord | null> {
    const rows = await this.db.$queryRaw<RawJobRow[]>`SELECT * FROM jobs WHERE id = ${id}::uuid AND tenant_id = ${tenantId}::uuid`;
    return rows.length ? rawToJobRecord(rows[0]) : null;
  }

  async list(tenantId: string, opts: { status?: JobStatus; limit: number; after?: JobCursor }): Promise<JobRecord[]> {
    const status = opts.status ? Prisma.sql`AND status = ${opts.status}::"JobStatus"` : Prisma.empty;
    const after = opts.after
      ? Prisma.sql`AND (created_at, id) < (${opts.after.createdAt}::timestamp, ${opts.after.id}::uuid)`
      : Prisma.empty;
    const rows = await this.db.$queryRaw<RawJobRow[]>`
      SELECT * FROM jobs WHERE tenant_id = ${tenantId}::uuid ${status} ${after}
      ORDER BY created_at DESC, id DESC LIMIT ${opts.limit}`;
    return rows.map(rawToJobRecord);
  }

  async cancel(tenantId: string, id: string): Promise<JobRecord | null> {
    return this.db.$transaction(async (tx) => {
      const { count } = await tx.job.updateMany({
        where: { id, tenantId, status: { in: ['queued', 'running'] } },
        data: { status: 'cancelled', finishedAt: new Date(), currentTask: null, etaMs: null },
      });
      if (count > 0) await tx.jobEvent.create({ data: { jobId: id, status: 'cancelled', message: 'cancelled by the client' } });
      const row = await tx.job.findFirst({ where: { id, tenantId } });
      return row ? toJobRecord(row) : null;
    });
  }

  async taskResults(jobId: string): Promise<TaskResultRecord[]> {
    const rows = await this.db.taskResult.findMany({ where: { jobId }, orderBy: { task: 'asc' } });
    return rows.map((r) => ({ task: r.task, accuracies: r.accuracies, durationMs: r.durationMs, msPerIteration: r.msPerIteration }));
  }

  async curve(jobId: string, kind: CurveKind, opts: { task?: number; limit: number; afterSeq?: string }): Promise<CurvePoint[]> {
    const rows = await this.db.metricPoint.findMany({
      where: {
        jobId,
        kind,
        ...(opts.task !== undefined ? { task: opts.task } : {}),
        ...(opts.afterSeq !== undefined ? { id: { gt: BigInt(opts.afterSeq) } } : {}),
      },
      orderBy: { id: 'asc' },
      take: opts.limit,
    });
    return rows.map((r) => ({
      seq: r.id.toString(),
      task: r.task,
      iteration: r.iteration,
      value: r.value,
      taskLoss: r.taskLoss,
      outputReg: r.outputReg,
      driftReg: r.driftReg,
    }));
  }

  async mask(jobId: string, task: number): Promise<{ found: boolean; mask: Uint8Array | null }> {
    const row = await this.db.taskArtifact.findUnique({ where: { jobId_task: { jobId, task } }, select: { mask: true } });
    return { found: row !== null, mask: row?.mask ?? null };
  }

  async artifactVersions(jobId: string): Promise<{ task: number; version: string }[]> {
    const rows = await this.db.taskArtifact.findMany({ where: { jobId }, select: { task: true, updatedAt: true }, orderBy: { task: 'asc' } });
    return rows.map((r) => ({ task: r.task, version: r.updatedAt.toISOString() }));
  }

  async modelJson(jobId: string, task: number): Promise<Record<string, unknown> | null> {
    const row = await this.db.taskArtifact.findUnique({ where: { jobId_task: { jobId, task } }, select: { modelJson: true } });
    return (row?.modelJson as Record<string, unknown> | null | undefined) ?? null;
  }

  async model(jobId: string, task: number): Promise<ModelArtifact | null> {
    const row = await this.db.taskArtifact.findUnique({
      where: { jobId_task: { jobId, task } },
      select: { modelJson: true, weights: true, weightsFileName: true },
    });
    if (!row?.modelJson || !row.weights || !row.weightsFileName) return null;
    return { modelJson: row.modelJson as Record<string, unknown>, weights: row.weights, weightsFileName: row.weightsFileName };
  }

  async modelUnavailable(jobId: string, task: number): Promise<string | null> {
    const row = await this.db.taskArtifact.findUnique({ where: { jobId_task: { jobId, task } }, select: { modelUnavailable: true } });
    return row?.modelUnavailable ?? null;
  }

  async events(jobId: string) {
    const rows = await this.db.jobEvent.findMany({ where: { jobId }, orderBy: { id: 'asc' } });
    return rows.map((r) => ({ status: r.status, message: r.message, at: r.at }));
  }
}
