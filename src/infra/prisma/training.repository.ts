import type pg from 'pg';
import type { TaskExport } from '../../core/index.js';
import { Prisma, type PrismaClient } from '../../generated/prisma/client.js';
import type { JobError, JobResult, JobStatus, MetricPointInput, TaskCompletion, TrainingStore } from '../../services/ports.js';
import { DEFAULT_CHUNK_BYTES, readBlobBytes, writeBlob } from '../blobs/pg-blob-store.js';
import { checkout } from './client.js';
import { releaseBlobs } from './job-blobs.js';
import { toJobRecord } from './mappers.js';

const isForeignKeyViolation = (err: unknown) => err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2003';

/**
 * Persistence of a training attempt. Transitions are conditional so a cancel always wins, and a
 * job deleted meanwhile is never written again. `pool` is the pg pool behind `db`
 * (createPgPool), used directly for the per-task bulk write and the blob store.
 */
export class PrismaTrainingRepository implements TrainingStore {
  constructor(
    private readonly db: PrismaClient,
    private readonly pool: pg.Pool,
    private readonly chunkBytes = DEFAULT_CHUNK_BYTES,
  ) {}

  async load(jobId: string) {
    const row = await this.db.job.findUnique({ where: { id: jobId }, include: { checkpoint: { select: { blobId: true } } } });
    if (!row) return null;
    const { checkpoint, ...job } = row;
    return { job: toJobRecord(job), checkpoint: checkpoint ? await readBlobBytes(this.pool, checkpoint.blobId) : null };
  }

  async status(jobId: string): Promise<JobStatus | null> {
    const row = await this.db.job.findUnique({ where: { id: jobId }, select: { status: true } });
    return row?.status ?? null;
  }

  async markRunning(jobId: string, backend: string, message: string): Promise<boolean> {
    return this.db.$transaction(async (tx) => {
      const now = new Date();
      const { count } = await tx.job.updateMany({
        where: { id: jobId, status: { in: ['queued', 'running'] } },
        data: { status: 'running', backend, attempts: { increment: 1 }, errorCode: null, errorMessage: null },
      });
      if (count === 0) return false;
      await tx.job.updateMany({ where: { id: jobId, startedAt: null }, data: { startedAt: now } });
      await tx.jobEvent.create({ data: { jobId, status: 'running', message } });
      return true;
    });
  }

  async saveProgress(jobId: string, p: { task: number; iteration: number; etaMs: number; firstIteration: boolean }): Promise<void> {
    await this.db.job.updateMany({
      where: { id: jobId, status: 'running' },
      data: {
        currentTask: p.task,
        iteration: p.iteration,
        etaMs: Math.min(p.etaMs, 2 ** 31 - 1),
        ...(p.firstIteration ? { firstIterationAt: new Date() } : {}),
      },
    });
  }

  async addMetricPoints(jobId: string, points: MetricPointInput[]): Promise<void> {
    try {
      // A resumed task re-records the same points; skipDuplicates keeps the first copy.
      await this.db.metricPoint.createMany({
        data: points.map((p) => ({ jobId, kind: p.kind, task: p.task, iteration: p.iteration, value: p.value, taskLoss: p.taskLoss, outputReg: p.outputReg, driftReg: p.driftReg })),
        skipDuplicates: true,
      });
    } catch (err) {
      // The job was deleted while it trained: its curves went with it, and so do these points.
      if (!isForeignKeyViolation(err)) throw err;
    }
  }

  /**
   * The task's result, the checkpoint, the exports that changed and the embedding, in one
   * transaction; the blobs they replace are removed in it too (unless a continuing job shares
   * them), so a replaced checkpoint is garbage for vacuum, not a second live copy. Plain SQL on a
   * pool connection, with the bytes going through the blob store's binary COPY: training waits for
   * this write (rates: bench/results/blob-store.json).
   */
  async completeTask(jobId: string, c: TaskCompletion): Promise<boolean> {
    const { client, release } = await checkout(this.pool);
    try {
      await client.query('BEGIN');
      // Key-share lock: a DELETE of the job waits until this write committed (and then removes
      // it too) or came first (then nothing is written); a cancel, which updates the status, does not wait.
      const job = await client.query('SELECT 1 FROM jobs WHERE id = $1 FOR KEY SHARE', [jobId]);
      if (job.rowCount === 0) {
        await client.query('ROLLBACK');
        return false;
      }
      await client.query(
        `INSERT INTO task_results (job_id, task, accuracies, duration_ms, ms_per_iteration) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (job_id, task) DO UPDATE SET accuracies = EXCLUDED.accuracies, duration_ms = EXCLUDED.duration_ms,
           ms_per_iteration = EXCLUDED.ms_per_iteration`,
        [jobId, c.task, c.accuracies, c.durationMs, c.msPerIteration],
      );
      const replaced: (string | null)[] = [];
      const checkpoint = await writeBlob(client, [c.checkpoint], this.chunkBytes);
      const old = await client.query<{ blob_id: string }>('SELECT blob_id FROM checkpoints WHERE job_id = $1 FOR UPDATE', [jobId]);
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
      await client.query('UPDATE jobs SET completed_tasks = $2, updated_at = now() WHERE id = $1', [jobId, c.completedTasks]);
      await releaseBlobs(client, replaced);
      await client.query('COMMIT');
      return true;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      release();
    }
  }

  /** Writes one task's export (mask and weights as blobs), returning the blob ids it replaced. */
  private async writeExport(client: pg.PoolClient, jobId: string, e: TaskExport): Promise<(string | null)[]> {
    const mask = e.mask ? await writeBlob(client, [e.mask], this.chunkBytes) : null;
    const weights = await writeBlob(client, [e.model.weights], this.chunkBytes);
    const old = await client.query<{ mask_blob_id: string | null; weights_blob_id: string }>(
      'SELECT mask_blob_id, weights_blob_id FROM task_artifacts WHERE job_id = $1 AND task = $2 FOR UPDATE',
      [jobId, e.task],
    );
    await client.query(
      `INSERT INTO task_artifacts (job_id, task, mask_blob_id, model_json, weights_blob_id, weights_file_name, updated_at)
       VALUES ($1, $2, $3, $4::jsonb, $5, $6, now())
       ON CONFLICT (job_id, task) DO UPDATE SET mask_blob_id = EXCLUDED.mask_blob_id, model_json = EXCLUDED.model_json,
         weights_blob_id = EXCLUDED.weights_blob_id, weights_file_name = EXCLUDED.weights_file_name, updated_at = now()`,
      [jobId, e.task, mask?.id ?? null, JSON.stringify(e.model.modelJson), weights.id, e.model.weightsFileName],
    );
    return old.rows.flatMap((r) => [r.mask_blob_id, r.weights_blob_id]);
  }

  private async transition(jobId: string, from: JobStatus[], status: JobStatus, data: Prisma.JobUpdateManyMutationInput, message: string | null) {
    await this.db.$transaction(async (tx) => {
      const { count } = await tx.job.updateMany({ where: { id: jobId, status: { in: from } }, data: { ...data, status } });
      if (count > 0) await tx.jobEvent.create({ data: { jobId, status, message } });
    });
  }

  async succeed(jobId: string, result: JobResult): Promise<void> {
    await this.transition(
      jobId,
      ['running'],
      'succeeded',
      { result: result as unknown as Prisma.InputJsonValue, finishedAt: new Date(), currentTask: null, iteration: null, etaMs: 0 },
      `average accuracy ${result.averageAccuracy.toFixed(4)}`,
    );
  }

  async fail(jobId: string, error: JobError): Promise<void> {
    await this.transition(
      jobId,
      ['queued', 'running'],
      'failed',
      { errorCode: error.code, errorMessage: error.message, finishedAt: new Date(), currentTask: null, etaMs: null },
      `${error.code}: ${error.message}`,
    );
  }

  async requeue(jobId: string, message: string): Promise<void> {
    await this.transition(jobId, ['running'], 'queued', { currentTask: null, iteration: null, etaMs: null }, message);
  }
}
