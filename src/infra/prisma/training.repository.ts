import type pg from 'pg';
import { Prisma, type PrismaClient } from '../../generated/prisma/client.js';
import type { JobError, JobResult, JobStatus, MetricPointInput, TaskCompletion, TrainingStore } from '../../services/ports.js';
import { checkout } from './client.js';
import { toJobRecord } from './mappers.js';

/**
 * Persistence of a training attempt. Transitions are conditional so a cancel always wins. `pool`
 * is the pg pool behind `db` (createPgPool), used directly for the per-task bulk write.
 */
export class PrismaTrainingRepository implements TrainingStore {
  constructor(
    private readonly db: PrismaClient,
    private readonly pool: pg.Pool,
  ) {}

  async load(jobId: string) {
    const row = await this.db.job.findUnique({ where: { id: jobId }, include: { checkpoint: true } });
    if (!row) return null;
    const { checkpoint, ...job } = row;
    return { job: toJobRecord(job), checkpoint: checkpoint?.data ?? null };
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
    // A resumed task re-records the same points; skipDuplicates keeps the first copy.
    await this.db.metricPoint.createMany({
      data: points.map((p) => ({ jobId, kind: p.kind, task: p.task, iteration: p.iteration, value: p.value, taskLoss: p.taskLoss, outputReg: p.outputReg, driftReg: p.driftReg })),
      skipDuplicates: true,
    });
  }

  /**
   * The task's result, the checkpoint, the exports of every task so far and the embedding, in
   * one transaction. Plain SQL on a pool connection: node-postgres sends Buffers as binary
   * parameters, which writes a ~50 MB checkpoint about 2.7x faster than Prisma's raw queries
   * (350 vs 900 ms measured), and training waits for this write.
   */
  async completeTask(jobId: string, c: TaskCompletion): Promise<void> {
    const buf = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
    const { client, release } = await checkout(this.pool);
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO task_results (job_id, task, accuracies, duration_ms, ms_per_iteration) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (job_id, task) DO UPDATE SET accuracies = EXCLUDED.accuracies, duration_ms = EXCLUDED.duration_ms,
           ms_per_iteration = EXCLUDED.ms_per_iteration`,
        [jobId, c.task, c.accuracies, c.durationMs, c.msPerIteration],
      );
      await client.query(
        `INSERT INTO checkpoints (job_id, completed_tasks, data, updated_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (job_id) DO UPDATE SET completed_tasks = EXCLUDED.completed_tasks, data = EXCLUDED.data, updated_at = now()`,
        [jobId, c.completedTasks, buf(c.checkpoint)],
      );
      for (const e of c.exports) {
        await client.query(
          `INSERT INTO task_artifacts (job_id, task, mask, model_json, weights, weights_file_name, model_unavailable, updated_at)
           VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, now())
           ON CONFLICT (job_id, task) DO UPDATE SET mask = EXCLUDED.mask, model_json = EXCLUDED.model_json,
             weights = EXCLUDED.weights, weights_file_name = EXCLUDED.weights_file_name,
             model_unavailable = EXCLUDED.model_unavailable, updated_at = now()`,
          [
            jobId,
            e.task,
            e.mask ? buf(e.mask) : null,
            e.model ? JSON.stringify(e.model.modelJson) : null,
            e.model ? buf(e.model.weights) : null,
            e.model?.weightsFileName ?? null,
            e.modelUnavailable,
          ],
        );
      }
      if (c.embedding) {
        await client.query(
          `INSERT INTO task_embeddings (job_id, task, "values") VALUES ($1, $2, $3)
           ON CONFLICT (job_id, task) DO UPDATE SET "values" = EXCLUDED."values"`,
          [jobId, c.task, c.embedding],
        );
      }
      await client.query('UPDATE jobs SET completed_tasks = $2, updated_at = now() WHERE id = $1', [jobId, c.completedTasks]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      release();
    }
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
