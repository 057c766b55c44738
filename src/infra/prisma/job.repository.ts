import { Prisma, type PrismaClient } from '../../generated/prisma/client.js';
import type {
  CurveKind,
  CurvePoint,
  JobCursor,
  JobRecord,
  JobRepository,
  JobStatus,
  ModelArtifact,
  NewJob,
  TaskResultRecord,
} from '../../services/ports.js';
import { toJobRecord } from './mappers.js';

const isUniqueViolation = (err: unknown) => err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002';

export class PrismaJobRepository implements JobRepository {
  constructor(private readonly db: PrismaClient) {}

  async create(job: NewJob): Promise<{ job: JobRecord; created: boolean; requestHash: string | null }> {
    try {
      const row = await this.db.job.create({
        data: {
          tenantId: job.tenantId,
          name: job.name,
          metadata: (job.metadata ?? Prisma.DbNull) as Prisma.InputJsonValue,
          spec: job.spec as unknown as Prisma.InputJsonValue,
          idempotencyKey: job.idempotencyKey,
          requestHash: job.requestHash,
          tasksTotal: job.spec.benchmark.tasks,
          iterationsPerTask: job.spec.training.iterationsPerTask,
          events: { create: { status: 'queued', message: 'submitted' } },
        },
      });
      return { job: toJobRecord(row), created: true, requestHash: job.requestHash };
    } catch (err) {
      // Two requests with the same key raced; the first one won.
      if (job.idempotencyKey && isUniqueViolation(err)) {
        const existing = await this.findByIdempotencyKey(job.tenantId, job.idempotencyKey);
        if (existing) return { ...existing, created: false };
      }
      throw err;
    }
  }

  async findByIdempotencyKey(tenantId: string, key: string) {
    const row = await this.db.job.findUnique({ where: { tenantId_idempotencyKey: { tenantId, idempotencyKey: key } } });
    return row ? { job: toJobRecord(row), requestHash: row.requestHash } : null;
  }

  async delete(tenantId: string, id: string): Promise<void> {
    await this.db.job.deleteMany({ where: { tenantId, id } });
  }

  async get(tenantId: string, id: string): Promise<JobRecord | null> {
    const row = await this.db.job.findFirst({ where: { id, tenantId } });
    return row ? toJobRecord(row) : null;
  }

  async list(tenantId: string, opts: { status?: JobStatus; limit: number; after?: JobCursor }): Promise<JobRecord[]> {
    const where: Prisma.JobWhereInput = { tenantId, ...(opts.status ? { status: opts.status } : {}) };
    if (opts.after) {
      const { createdAt, id } = opts.after;
      where.OR = [{ createdAt: { lt: createdAt } }, { createdAt, id: { lt: id } }];
    }
    const rows = await this.db.job.findMany({ where, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: opts.limit });
    return rows.map(toJobRecord);
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

  async model(jobId: string, task: number): Promise<ModelArtifact | null> {
    const row = await this.db.taskArtifact.findUnique({
      where: { jobId_task: { jobId, task } },
      select: { modelJson: true, weights: true, weightsFileName: true },
    });
    return row ? { modelJson: row.modelJson as Record<string, unknown>, weights: row.weights, weightsFileName: row.weightsFileName } : null;
  }

  async events(jobId: string) {
    const rows = await this.db.jobEvent.findMany({ where: { jobId }, orderBy: { id: 'asc' } });
    return rows.map((r) => ({ status: r.status, message: r.message, at: r.at }));
  }
}
