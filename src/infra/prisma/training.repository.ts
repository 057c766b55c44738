import type pg from 'pg';
import type { TaskExport } from '../../core/index.js';
import { Prisma, type PrismaClient } from '../../generated/prisma/client.js';
import { StaleAttemptError } from '../../services/errors.js';
import type {
  JobError,
  JobResult,
  JobStatus,
  MetricPointInput,
  TaskCompletion,
  TrainingStore,
} from '../../services/ports.js';
import { DEFAULT_CHUNK_BYTES, readBlobBytes, writeBlob } from '../blobs/pg-blob-store.js';
import { inTransaction } from './client.js';
import { releaseBlobs } from './job-blobs.js';
import { toJobRecord } from './mappers.js';

/**
 * Persistence of a training attempt. Transitions are conditional so a cancel always wins, and a
 * job deleted meanwhile is never written again. Every write after `markRunning` is fenced by the
 * attempt's lease: a condition on the jobs row, in the write's own statement or transaction,
 * refuses it once another attempt owns the job. Row locks order a stale write and a takeover
 * (markRunning updates that row), so never both land. `pool` is the pg pool behind `db`
 * (createPgPool), used directly for the per-task bulk write, the blob store and the metric points.
 */
export class PrismaTrainingRepository implements TrainingStore {
  constructor(
    private readonly db: PrismaClient,
    private readonly pool: pg.Pool,
    private readonly chunkBytes = DEFAULT_CHUNK_BYTES,
  ) {}

  async load(jobId: string) {
    const row = await this.db.job.findUnique({
      where: { id: jobId },
      include: { checkpoint: { select: { blobId: true } } },
    });
    if (!row) return null;
    const { checkpoint, ...job } = row;
    return {
      job: toJobRecord(job),
      checkpoint: checkpoint ? await readBlobBytes(this.pool, checkpoint.blobId) : null,
    };
  }

  async status(jobId: string): Promise<JobStatus | null> {
    const row = await this.db.job.findUnique({ where: { id: jobId }, select: { status: true } });
    return row?.status ?? null;
  }

  async markRunning(
    jobId: string,
    lease: string,
    backend: string,
    message: string,
  ): Promise<boolean> {
    return this.db.$transaction(async (tx) => {
      const now = new Date();
      const { count } = await tx.job.updateMany({
        where: { id: jobId, status: { in: ['queued', 'running'] } },
        data: {
          status: 'running',
          lease,
          backend,
          attempts: { increment: 1 },
          errorCode: null,
          errorMessage: null,
        },
      });
      if (count === 0) return false;
      await tx.job.updateMany({ where: { id: jobId, startedAt: null }, data: { startedAt: now } });
      await tx.jobEvent.create({ data: { jobId, status: 'running', message } });
      return true;
    });
  }

  async saveProgress(
    jobId: string,
    lease: string,
    p: { task: number; iteration: number; etaMs: number; firstIteration: boolean },
  ): Promise<void> {
    const { count } = await this.db.job.updateMany({
      where: { id: jobId, lease, status: 'running' },
      data: {
        currentTask: p.task,
        iteration: p.iteration,
        etaMs: Math.min(p.etaMs, 2 ** 31 - 1),
        ...(p.firstIteration ? { firstIterationAt: new Date() } : {}),
      },
    });
    if (count === 0) await this.assertLease(jobId, lease, 'progress');
  }

  async addMetricPoints(jobId: string, lease: string, points: MetricPointInput[]): Promise<void> {
    // One statement: FOR SHARE makes a takeover (markRunning updates the row) wait for it, or it
    // sees the takeover and inserts nothing. A resumed task re-records the same points;
    // ON CONFLICT keeps the first copy.
    const inserted = await this.pool.query(
      `INSERT INTO metric_points (job_id, kind, task, iteration, value, task_loss, output_reg, drift_reg)
       SELECT $1::uuid, p.kind::"MetricKind", p.task, p.iteration, p.value, p.task_loss, p.output_reg, p.drift_reg
         FROM unnest($3::text[], $4::int[], $5::int[], $6::float8[], $7::float8[], $8::float8[], $9::float8[])
              AS p(kind, task, iteration, value, task_loss, output_reg, drift_reg)
        WHERE EXISTS (SELECT 1 FROM jobs WHERE id = $1::uuid AND lease = $2 FOR SHARE)
       ON CONFLICT DO NOTHING`,
      [
        jobId,
        lease,
        points.map((p) => p.kind),
        points.map((p) => p.task),
        points.map((p) => p.iteration),
        points.map((p) => p.value),
        points.map((p) => p.taskLoss ?? null),
        points.map((p) => p.outputReg ?? null),
        points.map((p) => p.driftReg ?? null),
      ],
    );
    if (inserted.rowCount === 0) await this.assertLease(jobId, lease, 'metric points');
  }

  /**
   * The task's result, the checkpoint, the exports that changed and the embedding, in one
   * transaction; the blobs they replace are removed in it too (unless a continuing job shares
   * them), so a replaced checkpoint is garbage for vacuum, not a second live copy. Plain SQL on a
   * pool connection, with the bytes going through the blob store's binary COPY: training waits for
   * this write (rates: bench/results/blob-store.json).
   */
  async completeTask(jobId: string, lease: string, c: TaskCompletion): Promise<boolean> {
    const outcome = await inTransaction(this.pool, async (client, rollBack) => {
      // Key-share lock: a DELETE of the job waits until this write committed (and then removes
      // it too) or came first (then nothing is written); a cancel, which updates the status, does not wait.
      const job = await client.query('SELECT 1 FROM jobs WHERE id = $1 FOR KEY SHARE', [jobId]);
      if (job.rowCount === 0) {
        rollBack();
        return 'job gone';
      }
      await client.query(
        `INSERT INTO task_results (job_id, task, accuracies, running_stats_accuracies, batch_norm_stats, duration_ms, ms_per_iteration)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (job_id, task) DO UPDATE SET accuracies = EXCLUDED.accuracies,
           running_stats_accuracies = EXCLUDED.running_stats_accuracies, batch_norm_stats = EXCLUDED.batch_norm_stats,
           duration_ms = EXCLUDED.duration_ms, ms_per_iteration = EXCLUDED.ms_per_iteration`,
        [
          jobId,
          c.task,
          c.accuracies,
          c.runningStatsAccuracies ?? [],
          c.batchNormStats
            ? JSON.stringify({
                mean: c.batchNormStats.mean.map((m) => Array.from(m)),
                variance: c.batchNormStats.variance.map((v) => Array.from(v)),
              })
            : null,
          c.durationMs,
          c.msPerIteration,
        ],
      );
      const replaced: (string | null)[] = [];
      const checkpoint = await writeBlob(client, [c.checkpoint], this.chunkBytes);
      const old = await client.query<{ blob_id: string }>(
        'SELECT blob_id FROM checkpoints WHERE job_id = $1 FOR UPDATE',
        [jobId],
      );
      replaced.push(...old.rows.map((r) => r.blob_id));
      await client.query(
        `INSERT INTO checkpoints (job_id, completed_tasks, blob_id, updated_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (job_id) DO UPDATE SET completed_tasks = EXCLUDED.completed_tasks, blob_id = EXCLUDED.blob_id, updated_at = now()`,
        [jobId, c.completedTasks, checkpoint.id],
      );
      for (const e of c.exports) replaced.push(...(await this.writeExport(client, jobId, e)));
      if (c.embedding) {
        await client.query(
          `INSERT INTO task_embeddings (job_id, task, "values") VALUES ($1, $2, $3)
           ON CONFLICT (job_id, task) DO UPDATE SET "values" = EXCLUDED."values"`,
          [jobId, c.task, c.embedding],
        );
      }
      await releaseBlobs(client, replaced);
      // The fence, last: once a takeover (markRunning) has moved the lease, this matches nothing (it
      // waits for one in progress) and the whole write is rolled back, blob removals included.
      const owned = await client.query(
        'UPDATE jobs SET completed_tasks = $2, updated_at = now() WHERE id = $1 AND lease = $3',
        [jobId, c.completedTasks, lease],
      );
      if (owned.rowCount === 0) {
        rollBack();
        return 'not written';
      }
      return 'written';
    });
    if (outcome === 'not written')
      await this.assertLease(jobId, lease, 'task result, checkpoint and exports');
    return outcome === 'written';
  }

  /**
   * A checkpoint within a task: replaces the job's checkpoint (its blob released unless a
   * continuing job shares it), fenced like `completeTask`; nothing else changes.
   */
  async saveCheckpoint(
    jobId: string,
    lease: string,
    c: { completedTasks: number; checkpoint: Uint8Array },
  ): Promise<boolean> {
    const outcome = await inTransaction(this.pool, async (client, rollBack) => {
      const job = await client.query('SELECT 1 FROM jobs WHERE id = $1 FOR KEY SHARE', [jobId]);
      if (job.rowCount === 0) {
        rollBack();
        return 'job gone';
      }
      const checkpoint = await writeBlob(client, [c.checkpoint], this.chunkBytes);
      const old = await client.query<{ blob_id: string }>(
        'SELECT blob_id FROM checkpoints WHERE job_id = $1 FOR UPDATE',
        [jobId],
      );
      await client.query(
        `INSERT INTO checkpoints (job_id, completed_tasks, blob_id, updated_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (job_id) DO UPDATE SET completed_tasks = EXCLUDED.completed_tasks, blob_id = EXCLUDED.blob_id, updated_at = now()`,
        [jobId, c.completedTasks, checkpoint.id],
      );
      await releaseBlobs(
        client,
        old.rows.map((r) => r.blob_id),
      );
      const owned = await client.query(
        'UPDATE jobs SET updated_at = now() WHERE id = $1 AND lease = $2',
        [jobId, lease],
      );
      if (owned.rowCount === 0) {
        rollBack();
        return 'not written';
      }
      return 'written';
    });
    if (outcome === 'not written') await this.assertLease(jobId, lease, 'checkpoint');
    return outcome === 'written';
  }

  /** Writes one task's export (mask, weights and FeCAM statistics as blobs), returning the blob ids it replaced. */
  private async writeExport(
    client: pg.PoolClient,
    jobId: string,
    e: TaskExport,
  ): Promise<(string | null)[]> {
    const mask = e.mask ? await writeBlob(client, [e.mask], this.chunkBytes) : null;
    const weights = e.model ? await writeBlob(client, [e.model.weights], this.chunkBytes) : null;
    const fecam = e.fecam ? await writeBlob(client, [e.fecam], this.chunkBytes) : null;
    const old = await client.query<{
      mask_blob_id: string | null;
      weights_blob_id: string | null;
      fecam_blob_id: string | null;
    }>(
      'SELECT mask_blob_id, weights_blob_id, fecam_blob_id FROM task_artifacts WHERE job_id = $1 AND task = $2 FOR UPDATE',
      [jobId, e.task],
    );
    await client.query(
      `INSERT INTO task_artifacts (job_id, task, mask_blob_id, model_json, weights_blob_id, weights_file_name, model_unavailable, fecam_blob_id, updated_at)
       VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, now())
       ON CONFLICT (job_id, task) DO UPDATE SET mask_blob_id = EXCLUDED.mask_blob_id, model_json = EXCLUDED.model_json,
         weights_blob_id = EXCLUDED.weights_blob_id, weights_file_name = EXCLUDED.weights_file_name,
         model_unavailable = EXCLUDED.model_unavailable, fecam_blob_id = EXCLUDED.fecam_blob_id, updated_at = now()`,
      [
        jobId,
        e.task,
        mask?.id ?? null,
        e.model ? JSON.stringify(e.model.modelJson) : null,
        weights?.id ?? null,
        e.model?.weightsFileName ?? null,
        e.modelUnavailable,
        fecam?.id ?? null,
      ],
    );
    return old.rows.flatMap((r) => [r.mask_blob_id, r.weights_blob_id, r.fecam_blob_id]);
  }

  /**
   * Throws StaleAttemptError when a write of `lease` matched no row because another attempt owns
   * the job; a write refused by the job's status (or a job deleted meanwhile) stays silent.
   */
  private async assertLease(jobId: string, lease: string, write: string): Promise<void> {
    const job = await this.db.job.findUnique({ where: { id: jobId }, select: { lease: true } });
    if (job && job.lease !== lease) throw new StaleAttemptError(jobId, write);
  }

  private async transition(
    jobId: string,
    lease: string,
    from: JobStatus[],
    status: JobStatus,
    data: Prisma.JobUpdateManyMutationInput,
    message: string | null,
  ) {
    const count = await this.db.$transaction(async (tx) => {
      const { count } = await tx.job.updateMany({
        where: { id: jobId, lease, status: { in: from } },
        data: { ...data, status },
      });
      if (count > 0) await tx.jobEvent.create({ data: { jobId, status, message } });
      return count;
    });
    if (count === 0) await this.assertLease(jobId, lease, `move to ${status}`);
  }

  async succeed(jobId: string, lease: string, result: JobResult): Promise<void> {
    await this.transition(
      jobId,
      lease,
      ['running'],
      'succeeded',
      {
        result: result as unknown as Prisma.InputJsonValue,
        finishedAt: new Date(),
        currentTask: null,
        iteration: null,
        etaMs: 0,
      },
      `average accuracy ${result.averageAccuracy.toFixed(4)}`,
    );
  }

  async fail(jobId: string, lease: string, error: JobError): Promise<void> {
    await this.transition(
      jobId,
      lease,
      ['queued', 'running'],
      'failed',
      {
        errorCode: error.code,
        errorMessage: error.message,
        finishedAt: new Date(),
        currentTask: null,
        etaMs: null,
      },
      `${error.code}: ${error.message}`,
    );
  }

  async requeue(jobId: string, lease: string, message: string): Promise<void> {
    await this.transition(
      jobId,
      lease,
      ['running'],
      'queued',
      { currentTask: null, iteration: null, etaMs: null },
      message,
    );
  }
}
