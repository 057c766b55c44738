import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { progressIterations, SPEC_VERSION, SpecError, taskCount } from '../../core/index.js';
import { Prisma, type PrismaClient } from '../../generated/prisma/client.js';
import { ServiceError } from '../../services/errors.js';
import { checkpointRemovedError } from '../../services/jobs/job.service.js';
import type {
  CurveKind,
  CurvePoint,
  JobCursor,
  JobError,
  JobRecord,
  JobRepository,
  JobStatus,
  NewJob,
  StoredBytes,
  StoredModel,
  TaskResultRecord,
} from '../../services/ports.js';
import { readBlob } from '../blobs/pg-blob-store.js';
import { inTransaction } from './client.js';
import { jobBlobIds, releaseBlobs } from './job-blobs.js';
import { rawToJobRecord, toJobRecord, type RawJobRow } from './mappers.js';

const isUniqueViolation = (err: unknown) =>
  err instanceof Prisma.PrismaClientKnownRequestError &&
  (err.code === 'P2002' || (err.code === 'P2010' && /23505|unique/i.test(err.message)));

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
             ${taskCount(job.spec.benchmark)}, ${job.iterationsPerTask ?? progressIterations(job.spec)}, ${inherited}, ${job.continueFrom?.jobId ?? null}::uuid, ${inherited}, now()
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
async function checkActiveJobs(
  tx: Prisma.TransactionClient,
  tenantId: string,
  max: number,
): Promise<void> {
  await tx.$queryRaw`SELECT id FROM tenants WHERE id = ${tenantId}::uuid FOR NO KEY UPDATE`;
  const [{ n }] = await tx.$queryRaw<{ n: number }[]>`
    SELECT count(*)::int AS n FROM jobs WHERE tenant_id = ${tenantId}::uuid AND status IN ('queued', 'running')`;
  if (n >= max) {
    throw new ServiceError(
      'TOO_MANY_ACTIVE_JOBS',
      `you have ${n} queued or running jobs, the most allowed; submit again when one has finished (or cancel one)`,
    );
  }
}

/** Jobs as the API reads and writes them. `pool` is the pg pool behind `db` (createPgPool), for the blob store. */
export class PrismaJobRepository implements JobRepository {
  constructor(
    private readonly db: PrismaClient,
    private readonly pool: pg.Pool,
  ) {}

  async create(
    job: NewJob,
  ): Promise<{ job: JobRecord; created: boolean; requestHash: string | null }> {
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
      if (rows.length === 1)
        return { job: rawToJobRecord(rows[0]), created: true, requestHash: job.requestHash };
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
    // Two requests with the same key raced; the first one won.
    const existing = job.idempotencyKey
      ? await this.findByIdempotencyKey(job.tenantId, job.idempotencyKey)
      : null;
    if (!existing && Object.keys(job.spec.benchmark.datasets ?? {}).length > 0) {
      throw new SpecError(
        'benchmark.tasks',
        'a data set named here was deleted while the job was being submitted',
      );
    }
    if (!existing) throw new Error('job insert returned no row');
    return { ...existing, created: false };
  }

  /**
   * Inserts a job that continues a succeeded job, and takes over what the source's tasks left
   * (final checkpoint, task results, exports, embeddings), in one transaction: the new job has
   * its own rows, so the worker resumes it like any job, and the source is only read. Checkpoint
   * and exports are blobs, which never change: the new rows point at the source's (no bytes are
   * copied) until the new job's own replace them, and a blob outlives whichever of the two jobs
   * is deleted first (job-blobs.ts). The source row is share-locked, so it cannot change status,
   * be deleted or lose its checkpoint meanwhile.
   */
  private async createContinuation(job: NewJob, from: { jobId: string; inheritedTasks: number }) {
    const rows = await this.db
      .$transaction(async (tx) => {
        if (job.maxActiveJobs) await checkActiveJobs(tx, job.tenantId, job.maxActiveJobs);
        const source = await tx.$queryRaw<{ id: string; checkpoint_removed_at: Date | null }[]>`
        SELECT id, checkpoint_removed_at FROM jobs WHERE id = ${from.jobId}::uuid AND tenant_id = ${job.tenantId}::uuid AND status = 'succeeded'
          AND completed_tasks = ${from.inheritedTasks} FOR SHARE`;
        if (source.length === 0) {
          throw new ServiceError(
            'CONTINUE_FROM_NOT_SUCCEEDED',
            `continueFrom: job ${from.jobId} is no longer a succeeded job; nothing was stored`,
          );
        }
        const removedAt = source[0].checkpoint_removed_at;
        if (removedAt) throw checkpointRemovedError(from.jobId, new Date(removedAt));
        const inserted = await tx.$queryRaw<RawJobRow[]>(
          insertJob(
            job,
            `submitted, continuing job ${from.jobId} after its ${from.inheritedTasks} tasks`,
          ),
        );
        if (inserted.length !== 1) return inserted;
        const id = inserted[0].id;
        await tx.$executeRaw`
        INSERT INTO checkpoints (job_id, completed_tasks, blob_id, updated_at)
        SELECT ${id}::uuid, completed_tasks, blob_id, now() FROM checkpoints WHERE job_id = ${from.jobId}::uuid`;
        await tx.$executeRaw`
        INSERT INTO task_results (job_id, task, accuracies, running_stats_accuracies, batch_norm_stats, duration_ms, ms_per_iteration, completed_at)
        SELECT ${id}::uuid, task, accuracies, running_stats_accuracies, batch_norm_stats, duration_ms, ms_per_iteration, completed_at
        FROM task_results WHERE job_id = ${from.jobId}::uuid`;
        await tx.$executeRaw`
        INSERT INTO task_artifacts (job_id, task, mask_blob_id, model_json, weights_blob_id, weights_file_name, model_unavailable, fecam_blob_id, updated_at)
        SELECT ${id}::uuid, task, mask_blob_id, model_json, weights_blob_id, weights_file_name, model_unavailable, fecam_blob_id, updated_at FROM task_artifacts WHERE job_id = ${from.jobId}::uuid`;
        await tx.$executeRaw`
        INSERT INTO task_embeddings (job_id, task, "values")
        SELECT ${id}::uuid, task, "values" FROM task_embeddings WHERE job_id = ${from.jobId}::uuid`;
        return inserted;
      })
      .catch((err: unknown) => {
        if (isUniqueViolation(err)) return [];
        throw err;
      });
    if (rows.length === 1)
      return { job: rawToJobRecord(rows[0]), created: true, requestHash: job.requestHash };
    const existing = job.idempotencyKey
      ? await this.findByIdempotencyKey(job.tenantId, job.idempotencyKey)
      : null;
    if (existing) return { ...existing, created: false };
    throw new SpecError(
      'benchmark.tasks',
      'a data set named here was deleted while the job was being submitted',
    );
  }

  async findByIdempotencyKey(tenantId: string, key: string) {
    const row = await this.db.job.findUnique({
      where: { tenantId_idempotencyKey: { tenantId, idempotencyKey: key } },
    });
    return row ? { job: toJobRecord(row), requestHash: row.requestHash } : null;
  }

  /**
   * One transaction: the job row locked (a worker's per-task write in flight finishes first; a
   * continuation reading it finishes first), its blob ids collected, the row deleted (every other
   * row of the job goes with it), then the blobs no other job points at.
   */
  async delete(tenantId: string, id: string): Promise<boolean> {
    return inTransaction(this.pool, async (client, rollBack) => {
      const found = await client.query(
        'SELECT id FROM jobs WHERE id = $1 AND tenant_id = $2 FOR UPDATE',
        [id, tenantId],
      );
      if (found.rowCount === 0) {
        rollBack();
        return false;
      }
      const blobs = await jobBlobIds(client, id);
      await client.query('DELETE FROM jobs WHERE id = $1', [id]);
      await releaseBlobs(client, blobs);
      return true;
    });
  }

  /**
   * A batch per transaction: the jobs' rows locked (SKIP LOCKED: one being continued or deleted
   * right now is left for the next run), their checkpoints deleted and the time recorded on the
   * job, then the blobs no other job points at.
   */
  async removeCheckpoints(finishedBefore: Date, limit: number): Promise<string[]> {
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<{ job_id: string; blob_id: string }>(
        `WITH expired AS (
           SELECT j.id FROM jobs j JOIN checkpoints c ON c.job_id = j.id
           WHERE j.status IN ('succeeded', 'failed', 'cancelled') AND j.finished_at < $1
           ORDER BY j.finished_at LIMIT $2 FOR UPDATE OF j SKIP LOCKED
         ), marked AS (
           UPDATE jobs j SET checkpoint_removed_at = now() FROM expired e WHERE j.id = e.id
         )
         DELETE FROM checkpoints c USING expired e WHERE c.job_id = e.id RETURNING c.job_id, c.blob_id`,
        [finishedBefore, limit],
      );
      await releaseBlobs(
        client,
        rows.map((r) => r.blob_id),
      );
      return rows.map((r) => r.job_id);
    });
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
        data: {
          status: 'failed',
          errorCode: error.code,
          errorMessage: error.message,
          finishedAt: new Date(),
          currentTask: null,
          etaMs: null,
        },
      });
      if (count > 0)
        await tx.jobEvent.create({
          data: { jobId: id, status: 'failed', message: `${error.code}: ${error.message}` },
        });
    });
  }

  // Reads on the polling path use plain SQL: Prisma's query planning costs more than the query.
  async get(tenantId: string, id: string): Promise<JobRecord | null> {
    const rows = await this.db.$queryRaw<
      RawJobRow[]
    >`SELECT * FROM jobs WHERE id = ${id}::uuid AND tenant_id = ${tenantId}::uuid`;
    return rows.length ? rawToJobRecord(rows[0]) : null;
  }

  async list(
    tenantId: string,
    opts: { status?: JobStatus; limit: number; after?: JobCursor },
  ): Promise<JobRecord[]> {
    const status = opts.status
      ? Prisma.sql`AND status = ${opts.status}::"JobStatus"`
      : Prisma.empty;
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
      if (count > 0)
        await tx.jobEvent.create({
          data: { jobId: id, status: 'cancelled', message: 'cancelled by the client' },
        });
      const row = await tx.job.findFirst({ where: { id, tenantId } });
      return row ? toJobRecord(row) : null;
    });
  }

  async taskResults(jobId: string): Promise<TaskResultRecord[]> {
    const rows = await this.db.taskResult.findMany({
      where: { jobId },
      orderBy: { task: 'asc' },
      // The statistics themselves are in the checkpoint and the exports; results need not read them.
      omit: { batchNormStats: true },
    });
    return rows.map((r) => ({
      task: r.task,
      accuracies: r.accuracies,
      runningStatsAccuracies: r.runningStatsAccuracies ?? [],
      durationMs: r.durationMs,
      msPerIteration: r.msPerIteration,
    }));
  }

  async curve(
    jobId: string,
    kind: CurveKind,
    opts: { task?: number; limit: number; afterSeq?: string },
  ): Promise<CurvePoint[]> {
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

  /** A blob as bytes a caller streams when it wants them (downloads never hold a whole export). */
  private stored(blob: { id: string; size: bigint }): StoredBytes {
    return { size: Number(blob.size), read: () => readBlob(this.pool, blob.id) };
  }

  async mask(jobId: string, task: number): Promise<{ found: boolean; mask: StoredBytes | null }> {
    const row = await this.db.taskArtifact.findUnique({
      where: { jobId_task: { jobId, task } },
      select: { maskBlob: { select: { id: true, size: true } } },
    });
    return { found: row !== null, mask: row?.maskBlob ? this.stored(row.maskBlob) : null };
  }

  async artifactVersions(jobId: string): Promise<{ task: number; version: string }[]> {
    // Blobs never change, so the weights' blob id names this version of the model (a task without a
    // model has no weights: its export's time does).
    const rows = await this.db.taskArtifact.findMany({
      where: { jobId },
      select: { task: true, weightsBlobId: true, updatedAt: true },
      orderBy: { task: 'asc' },
    });
    return rows.map((r) => ({
      task: r.task,
      version: r.weightsBlobId ?? r.updatedAt.toISOString(),
    }));
  }

  async modelJson(jobId: string, task: number): Promise<Record<string, unknown> | null> {
    const row = await this.db.taskArtifact.findUnique({
      where: { jobId_task: { jobId, task } },
      select: { modelJson: true },
    });
    return (row?.modelJson as Record<string, unknown> | null | undefined) ?? null;
  }

  async model(jobId: string, task: number): Promise<StoredModel | null> {
    const row = await this.db.taskArtifact.findUnique({
      where: { jobId_task: { jobId, task } },
      select: {
        modelJson: true,
        weightsBlob: { select: { id: true, size: true } },
        weightsFileName: true,
      },
    });
    if (!row?.modelJson || !row.weightsBlob || !row.weightsFileName) return null;
    return {
      modelJson: row.modelJson as Record<string, unknown>,
      weights: this.stored(row.weightsBlob),
      weightsFileName: row.weightsFileName,
    };
  }

  async fecam(jobId: string, task: number): Promise<StoredBytes | null> {
    const row = await this.db.taskArtifact.findUnique({
      where: { jobId_task: { jobId, task } },
      select: { fecamBlob: { select: { id: true, size: true } } },
    });
    return row?.fecamBlob ? this.stored(row.fecamBlob) : null;
  }

  async modelUnavailable(jobId: string, task: number): Promise<string | null> {
    const row = await this.db.taskArtifact.findUnique({
      where: { jobId_task: { jobId, task } },
      select: { modelUnavailable: true },
    });
    return row?.modelUnavailable ?? null;
  }

  async events(jobId: string) {
    const rows = await this.db.jobEvent.findMany({ where: { jobId }, orderBy: { id: 'asc' } });
    return rows.map((r) => ({ status: r.status, message: r.message, at: r.at }));
  }
}
