/** In-memory implementations of the service ports, for unit tests of the use cases. */
import { randomUUID } from 'node:crypto';
import { progressIterations, SPEC_VERSION, taskCount } from '../../../src/core/index.js';
import { ServiceError, StaleAttemptError } from '../../../src/services/errors.js';
import type {
  CurveKind,
  CurvePoint,
  JobCursor,
  JobError,
  JobRecord,
  JobRepository,
  JobResult,
  JobStatus,
  MetricPointInput,
  ModelArtifact,
  NewJob,
  StoredBytes,
  TaskCompletion,
  TaskResultRecord,
  TrainingQueue,
  TrainingStore,
} from '../../../src/services/ports.js';

const stored = (bytes: Uint8Array): StoredBytes => ({
  size: bytes.byteLength,
  async *read() {
    yield bytes;
  },
});

export class MemoryJobs implements JobRepository, TrainingStore {
  jobs = new Map<
    string,
    JobRecord & { idempotencyKey: string | null; requestHash: string | null }
  >();
  eventLog: { jobId: string; status: JobStatus; message: string | null; at: Date }[] = [];
  results = new Map<string, TaskResultRecord[]>();
  points: (MetricPointInput & { jobId: string })[] = [];
  checkpoints = new Map<string, Uint8Array>();
  artifacts = new Map<
    string,
    {
      model: ModelArtifact | null;
      modelUnavailable: string | null;
      mask: Uint8Array | null;
      fecam?: Uint8Array | null;
    }
  >();
  progressWrites = 0;
  /** The lease of the attempt that owns each job (markRunning). */
  leases = new Map<string, string>();
  private clock = 0;

  private tick() {
    return new Date(Date.UTC(2026, 0, 1) + ++this.clock);
  }

  async create(job: NewJob) {
    const existing = job.idempotencyKey
      ? await this.findByIdempotencyKey(job.tenantId, job.idempotencyKey)
      : null;
    if (existing) return { ...existing, created: false };
    const source = job.continueFrom ? this.jobs.get(job.continueFrom.jobId) : undefined;
    if (job.continueFrom && (source?.tenantId !== job.tenantId || source.status !== 'succeeded')) {
      throw new ServiceError(
        'CONTINUE_FROM_NOT_SUCCEEDED',
        `continueFrom: job ${job.continueFrom.jobId} is not a succeeded job`,
      );
    }
    if (source && !this.checkpoints.has(source.id)) {
      throw new ServiceError(
        'CONTINUE_FROM_CHECKPOINT_REMOVED',
        `continueFrom: the checkpoint of job ${source.id} was removed`,
      );
    }
    const now = this.tick();
    const rec = {
      id: randomUUID(),
      tenantId: job.tenantId,
      name: job.name,
      metadata: job.metadata,
      spec: job.spec,
      specVersion: SPEC_VERSION,
      status: 'queued' as JobStatus,
      backend: null,
      tasksTotal: taskCount(job.spec.benchmark),
      iterationsPerTask: job.iterationsPerTask ?? progressIterations(job.spec),
      currentTask: null,
      iteration: null,
      completedTasks: job.continueFrom?.inheritedTasks ?? 0,
      etaMs: null,
      attempts: 0,
      error: null,
      result: null,
      createdAt: now,
      updatedAt: now,
      startedAt: null,
      firstIterationAt: null,
      finishedAt: null,
      continueFrom: job.continueFrom?.jobId ?? null,
      inheritedTasks: job.continueFrom?.inheritedTasks ?? 0,
      checkpointRemovedAt: null,
      idempotencyKey: job.idempotencyKey,
      requestHash: job.requestHash,
    };
    this.jobs.set(rec.id, rec);
    if (source) {
      const checkpoint = this.checkpoints.get(source.id);
      if (checkpoint) this.checkpoints.set(rec.id, checkpoint);
      this.results.set(rec.id, [...(this.results.get(source.id) ?? [])]);
      for (let t = 0; t < rec.inheritedTasks; t++) {
        const a = this.artifacts.get(`${source.id}/${t}`);
        if (a) this.artifacts.set(`${rec.id}/${t}`, a);
      }
    }
    this.eventLog.push({ jobId: rec.id, status: 'queued', message: 'submitted', at: now });
    return { job: rec, created: true, requestHash: job.requestHash };
  }
  async findByIdempotencyKey(tenantId: string, key: string) {
    const j = [...this.jobs.values()].find(
      (x) => x.tenantId === tenantId && x.idempotencyKey === key,
    );
    return j ? { job: j, requestHash: j.requestHash } : null;
  }
  async delete(tenantId: string, id: string) {
    if (this.jobs.get(id)?.tenantId !== tenantId) return false;
    this.jobs.delete(id);
    this.checkpoints.delete(id);
    this.results.delete(id);
    for (const key of [...this.artifacts.keys()])
      if (key.startsWith(`${id}/`)) this.artifacts.delete(key);
    return true;
  }
  async removeCheckpoints(finishedBefore: Date, limit: number) {
    const expired = [...this.jobs.values()]
      .filter((j) => j.finishedAt && j.finishedAt < finishedBefore && this.checkpoints.has(j.id))
      .slice(0, limit);
    for (const j of expired) {
      this.checkpoints.delete(j.id);
      j.checkpointRemovedAt = this.tick();
    }
    return expired.map((j) => j.id);
  }
  async get(tenantId: string, id: string) {
    const j = this.jobs.get(id);
    return j && j.tenantId === tenantId ? j : null;
  }
  async list(tenantId: string, opts: { status?: JobStatus; limit: number; after?: JobCursor }) {
    return [...this.jobs.values()]
      .filter((j) => j.tenantId === tenantId && (!opts.status || j.status === opts.status))
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))
      .filter(
        (j) =>
          !opts.after ||
          j.createdAt < opts.after.createdAt ||
          (j.createdAt.getTime() === opts.after.createdAt.getTime() && j.id < opts.after.id),
      )
      .slice(0, opts.limit);
  }
  private transition(
    id: string,
    from: JobStatus[],
    status: JobStatus,
    patch: Partial<JobRecord>,
    message: string | null,
  ) {
    const j = this.jobs.get(id);
    if (!j || !from.includes(j.status)) return false;
    Object.assign(j, patch, { status, updatedAt: this.tick() });
    this.eventLog.push({ jobId: id, status, message, at: j.updatedAt });
    return true;
  }
  async cancel(tenantId: string, id: string) {
    if (this.jobs.get(id)?.tenantId !== tenantId) return null;
    this.transition(
      id,
      ['queued', 'running'],
      'cancelled',
      { finishedAt: this.tick() },
      'cancelled by the client',
    );
    return this.jobs.get(id)!;
  }
  async taskResults(jobId: string) {
    return this.results.get(jobId) ?? [];
  }
  async curve(
    jobId: string,
    kind: CurveKind,
    opts: { task?: number; limit: number; afterSeq?: string },
  ): Promise<CurvePoint[]> {
    return this.points
      .map((p, i) => ({ ...p, seq: String(i + 1) }))
      .filter(
        (p) =>
          p.jobId === jobId &&
          p.kind === kind &&
          (opts.task === undefined || p.task === opts.task) &&
          (!opts.afterSeq || Number(p.seq) > Number(opts.afterSeq)),
      )
      .slice(0, opts.limit)
      .map((p) => ({
        seq: p.seq,
        task: p.task,
        iteration: p.iteration,
        value: p.value,
        taskLoss: p.taskLoss ?? null,
        outputReg: p.outputReg ?? null,
        driftReg: p.driftReg ?? null,
      }));
  }
  async mask(jobId: string, task: number) {
    const a = this.artifacts.get(`${jobId}/${task}`);
    return { found: !!a, mask: a?.mask ? stored(a.mask) : null };
  }
  async model(jobId: string, task: number) {
    const model = this.artifacts.get(`${jobId}/${task}`)?.model;
    return model ? { ...model, weights: stored(model.weights) } : null;
  }
  async fecam(jobId: string, task: number) {
    const f = this.artifacts.get(`${jobId}/${task}`)?.fecam;
    return f ? stored(f) : null;
  }
  async modelUnavailable(jobId: string, task: number) {
    return this.artifacts.get(`${jobId}/${task}`)?.modelUnavailable ?? null;
  }
  async modelJson(jobId: string, task: number) {
    return this.artifacts.get(`${jobId}/${task}`)?.model?.modelJson ?? null;
  }
  async artifactVersions(jobId: string) {
    return [...this.artifacts.keys()]
      .filter((k) => k.startsWith(`${jobId}/`))
      .map((k) => ({ task: Number(k.split('/')[1]), version: '1' }))
      .sort((a, b) => a.task - b.task);
  }
  async events(jobId: string) {
    return this.eventLog.filter((e) => e.jobId === jobId);
  }
  async unfinished(before: Date, limit: number) {
    return [...this.jobs.values()]
      .filter((j) => (j.status === 'queued' || j.status === 'running') && j.updatedAt < before)
      .sort((a, b) => a.updatedAt.getTime() - b.updatedAt.getTime())
      .slice(0, limit)
      .map((j) => j.id);
  }

  // TrainingStore
  async load(jobId: string) {
    const job = this.jobs.get(jobId);
    return job ? { job, checkpoint: this.checkpoints.get(jobId) ?? null } : null;
  }
  async status(jobId: string) {
    return this.jobs.get(jobId)?.status ?? null;
  }
  async markRunning(jobId: string, lease: string, backend: string, message: string) {
    const j = this.jobs.get(jobId);
    const ok = this.transition(
      jobId,
      ['queued', 'running'],
      'running',
      { backend, attempts: (j?.attempts ?? 0) + 1 },
      message,
    );
    if (ok) this.leases.set(jobId, lease);
    return ok;
  }
  /** Like the repository: a write of an attempt that no longer owns the job is refused. */
  private fence(jobId: string, lease: string, write: string) {
    if (this.jobs.has(jobId) && this.leases.get(jobId) !== lease)
      throw new StaleAttemptError(jobId, write);
  }
  async saveProgress(
    jobId: string,
    lease: string,
    p: { task: number; iteration: number; etaMs: number; firstIteration: boolean },
  ) {
    this.progressWrites++;
    this.fence(jobId, lease, 'progress');
    const j = this.jobs.get(jobId)!;
    if (j.status === 'running')
      Object.assign(j, { currentTask: p.task, iteration: p.iteration, etaMs: p.etaMs });
  }
  async addMetricPoints(jobId: string, lease: string, points: MetricPointInput[]) {
    this.fence(jobId, lease, 'metric points');
    this.points.push(...points.map((p) => ({ ...p, jobId })));
  }
  async completeTask(jobId: string, lease: string, c: TaskCompletion) {
    if (!this.jobs.has(jobId)) return false;
    this.fence(jobId, lease, 'task result, checkpoint and exports');
    const rows = (this.results.get(jobId) ?? []).filter((r) => r.task !== c.task);
    rows.push({
      task: c.task,
      accuracies: c.accuracies,
      runningStatsAccuracies: c.runningStatsAccuracies ?? [],
      durationMs: c.durationMs,
      msPerIteration: c.msPerIteration,
    });
    this.results.set(
      jobId,
      rows.sort((a, b) => a.task - b.task),
    );
    this.checkpoints.set(jobId, c.checkpoint);
    for (const e of c.exports)
      this.artifacts.set(`${jobId}/${e.task}`, {
        model: e.model,
        modelUnavailable: e.modelUnavailable,
        mask: e.mask,
        fecam: e.fecam ?? null,
      });
    this.jobs.get(jobId)!.completedTasks = c.completedTasks;
    return true;
  }
  async saveCheckpoint(
    jobId: string,
    lease: string,
    c: { completedTasks: number; checkpoint: Uint8Array },
  ) {
    if (!this.jobs.has(jobId)) return false;
    this.fence(jobId, lease, 'checkpoint');
    this.checkpoints.set(jobId, c.checkpoint);
    return true;
  }
  async succeed(jobId: string, lease: string, result: JobResult) {
    this.fence(jobId, lease, 'move to succeeded');
    this.transition(jobId, ['running'], 'succeeded', { result, finishedAt: this.tick() }, null);
  }
  async fail(jobId: string, lease: string, error: JobError) {
    this.fence(jobId, lease, 'move to failed');
    this.transition(
      jobId,
      ['queued', 'running'],
      'failed',
      { error, finishedAt: this.tick() },
      error.message,
    );
  }
  async failUnfinished(jobId: string, error: JobError) {
    this.transition(
      jobId,
      ['queued', 'running'],
      'failed',
      { error, finishedAt: this.tick() },
      error.message,
    );
  }
  async requeue(jobId: string, lease: string, message: string) {
    this.fence(jobId, lease, 'move to queued');
    this.transition(jobId, ['running'], 'queued', { currentTask: null, iteration: null }, message);
  }
}

export class MemoryQueue implements TrainingQueue {
  queued: string[] = [];
  down = false;
  async enqueue(jobId: string) {
    if (this.down) throw new Error('connection refused');
    if (!this.queued.includes(jobId)) this.queued.push(jobId);
  }
  async removeIfWaiting(jobId: string) {
    this.queued = this.queued.filter((id) => id !== jobId);
    return true;
  }
  /** Jobs the queue gave up on, with the reason BullMQ would record. */
  failed = new Map<string, { reason: string; attempts: number }>();
  async has(jobId: string) {
    return this.queued.includes(jobId) || this.failed.has(jobId);
  }
  async failure(jobId: string) {
    return this.failed.get(jobId) ?? null;
  }
}
