/**
 * Use cases of the jobs API: submit (validated, idempotent), read, list, cancel, metrics and
 * artifacts. Every call is scoped to the caller's tenant; another tenant's job is "not found".
 */
import { createHash } from 'node:crypto';
import {
  averageAccuracy,
  backwardTransfer,
  benchmarkShape,
  continuationInput,
  continuesSpec,
  forgetting,
  progressIterations,
  resolveSpec,
  SpecError,
  taskCount,
  type DatasetFacts,
} from '../../core/index.js';
import { ServiceError } from '../errors.js';
import { canonical, decodeCursor, page } from '../pagination.js';
import { findUnstorableText, UNSTORABLE_TEXT_MESSAGE } from '../text.js';
import { describeQueueFailure } from '../training/queue-failure.js';
import {
  TERMINAL_STATUSES,
  type CurveKind,
  type CurvePoint,
  type DatasetRepository,
  type JobRecord,
  type JobRepository,
  type JobStatus,
  type StoredBytes,
  type StoredModel,
  type TrainingQueue,
} from '../ports.js';

/** Largest `metadata`, as JSON text: it is stored with the job and sent back on every read of it. */
export const METADATA_MAX_BYTES = 16 * 1024;

export interface SubmitJobInput {
  /** The body as sent: spec fields plus optional `name` and `metadata`. */
  body: Record<string, unknown>;
  idempotencyKey?: string;
}

export interface JobMetrics {
  accuracyMatrix: number[][];
  averageAccuracy: number | null;
  backwardTransfer: number | null;
  forgetting: number | null;
  taskDurationsMs: number[];
  msPerIteration: number[];
  /** Task inference by lowest entropy. */
  taskInference: NonNullable<JobRecord['result']>['taskInference'] | null;
  /** Task inference by FeCAM. */
  fecamTaskInference: NonNullable<JobRecord['result']>['taskInference'] | null;
  /**
   * Targets with batch norm (ResNet): the same metrics with every task evaluated on its stored
   * running statistics (how a deployed model predicts), beside the batch-statistics ones; null
   * for other targets, or when a task was trained before the statistics existed.
   */
  runningStats: {
    accuracyMatrix: number[][];
    averageAccuracy: number;
    backwardTransfer: number | null;
    forgetting: number | null;
  } | null;
  curve: { kind: CurveKind; points: CurvePoint[]; nextCursor: string | null };
}

/** Metric points are numbered by a Postgres bigint. */
const MAX_BIGINT = 2n ** 63n - 1n;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids of uploaded data sets a spec as sent names in `benchmark.tasks` (malformed ones are left to resolveSpec). */
function namedDatasets(spec: Record<string, unknown>): string[] {
  const tasks = (spec.benchmark as { tasks?: unknown } | undefined)?.tasks;
  if (!Array.isArray(tasks)) return [];
  const ids = tasks
    .map((t) => (t as { dataset?: unknown } | null)?.dataset)
    .filter((d): d is string => typeof d === 'string' && UUID.test(d));
  return [...new Set(ids.map((d) => d.toLowerCase()))];
}

/** The 409 for continuing a job whose checkpoint retention removed at `at`. */
export function checkpointRemovedError(jobId: string, at: Date): ServiceError {
  return new ServiceError(
    'CONTINUE_FROM_CHECKPOINT_REMOVED',
    `continueFrom: the checkpoint of job ${jobId} was removed on ${at.toISOString()} (finished jobs keep theirs for a limited time); ` +
      'its results, masks and models remain, but it can no longer be continued: submit one job of all its tasks and the new ones instead',
  );
}

export class JobService {
  /** @param datasets where the caller's uploaded data sets are looked up (jobs of kind "datasets"). */
  constructor(
    private readonly jobs: JobRepository,
    private readonly queue: TrainingQueue,
    private readonly datasets: Pick<DatasetRepository, 'getMany'> = { getMany: async () => [] },
    /** Most queued plus running jobs per tenant (0: no cap). */
    private readonly maxActiveJobs = 0,
  ) {}

  /** What resolveSpec needs about the caller's data sets named in the spec; others' are simply absent. */
  private async datasetFacts(
    tenantId: string,
    spec: Record<string, unknown>,
  ): Promise<Map<string, DatasetFacts>> {
    const ids = namedDatasets(spec);
    const found = ids.length ? await this.datasets.getMany(tenantId, ids) : [];
    return new Map(
      found.map((d) => [
        d.id,
        {
          inputShape: d.inputShape,
          dtype: d.dtype,
          sha256: d.sha256,
          classNames: d.classNames,
          counts: d.counts,
        },
      ]),
    );
  }

  /** Validates and stores the job, then queues it. Throws SpecError (INVALID_SPEC) before anything is stored. */
  async submit(
    tenantId: string,
    input: SubmitJobInput,
  ): Promise<{ job: JobRecord; created: boolean }> {
    const {
      name = null,
      metadata = null,
      continueFrom,
      ...specInput
    } = input.body as {
      name?: string | null;
      metadata?: Record<string, unknown> | null;
      continueFrom?: string;
    } & Record<string, unknown>;
    if (metadata !== null) {
      const bytes = Buffer.byteLength(JSON.stringify(metadata));
      if (bytes > METADATA_MAX_BYTES)
        throw new SpecError(
          'metadata',
          `must be at most ${METADATA_MAX_BYTES} bytes as JSON (got ${bytes})`,
        );
    }
    for (const [field, value] of [
      ['name', name],
      ['metadata', metadata],
    ] as const) {
      const bad = findUnstorableText(value, field);
      if (bad) throw new SpecError(bad, UNSTORABLE_TEXT_MESSAGE);
    }
    const key = input.idempotencyKey ?? null;
    const requestHash = key
      ? createHash('sha256').update(canonical(input.body)).digest('hex')
      : null;
    if (key) {
      const existing = await this.jobs.findByIdempotencyKey(tenantId, key);
      if (existing) return { job: this.checkReplay(existing, requestHash), created: false };
    }
    const { spec, continuation, datasets } =
      continueFrom === undefined
        ? await this.newSpec(tenantId, specInput)
        : await this.continuationSpec(tenantId, continueFrom, specInput);
    const res = await this.jobs.create({
      tenantId,
      name,
      metadata,
      spec,
      iterationsPerTask: progressIterations(spec, datasets),
      idempotencyKey: key,
      requestHash,
      continueFrom: continuation,
      maxActiveJobs: this.maxActiveJobs,
    });
    if (!res.created) return { job: this.checkReplay(res, requestHash), created: false };
    try {
      await this.queue.enqueue(res.job.id);
    } catch (err) {
      await this.jobs.delete(tenantId, res.job.id);
      throw new ServiceError(
        'QUEUE_UNAVAILABLE',
        'the job queue is unreachable; nothing was stored, retry later',
        { cause: err },
      );
    }
    return { job: res.job, created: true };
  }

  /** The resolved spec of a new job, and the facts of the data sets it names. */
  private async newSpec(tenantId: string, specInput: Record<string, unknown>) {
    const datasets = await this.datasetFacts(tenantId, specInput);
    return { spec: resolveSpec(specInput, { datasets }), continuation: null, datasets };
  }

  /**
   * The spec of a job that continues job `sourceId` with the tasks in `specInput`: the source's
   * spec with the new tasks appended (see `continuationInput`). The source must be a succeeded job
   * of the tenant; another tenant's job is "no job", as an unknown id is.
   */
  private async continuationSpec(
    tenantId: string,
    sourceId: string,
    specInput: Record<string, unknown>,
  ) {
    const source = UUID.test(sourceId) ? await this.jobs.get(tenantId, sourceId) : null;
    if (!source)
      throw new SpecError('continueFrom', `no job ${sourceId} (GET /v1/jobs lists yours)`);
    if (source.status !== 'succeeded') {
      throw new ServiceError(
        'CONTINUE_FROM_NOT_SUCCEEDED',
        `continueFrom: job ${source.id} is ${source.status}; only a succeeded job can be continued${TERMINAL_STATUSES.includes(source.status) ? '' : ' (wait until it succeeds)'}`,
      );
    }
    if (source.checkpointRemovedAt)
      throw checkpointRemovedError(source.id, source.checkpointRemovedAt);
    const label = `job ${source.id}`;
    const input = continuationInput(source.spec, specInput, label);
    const datasets = await this.datasetFacts(tenantId, input);
    const spec = resolveSpec(input, { datasets });
    if (!continuesSpec(spec, source.spec)) {
      // Everything else is the source's, so only the new tasks can have changed the networks' shapes.
      const { outputSize } = benchmarkShape(source.spec.benchmark);
      throw new SpecError(
        'benchmark.tasks',
        `the new tasks do not fit the network of ${label} (${outputSize} output units); a continued job cannot grow its network, so each new task may have at most ${outputSize} classes`,
      );
    }
    return {
      spec,
      continuation: { jobId: source.id, inheritedTasks: taskCount(source.spec.benchmark) },
      datasets,
    };
  }

  /**
   * Puts back on the queue every queued or running job that the queue has lost (Redis restarted
   * without its append-only file, a flushed database): without this such a job would stay
   * "queued" forever. Jobs updated within `graceMs` are left alone, so a submission between its
   * insert and its enqueue is not raced. Adding is idempotent (the queue's job id is the job's),
   * and a re-run resumes from the job's last checkpoint. Jobs the queue has failed for good are
   * failed in Postgres too, with a code saying why. Returns the ids put back.
   */
  async reconcile(now = new Date(), graceMs = 60_000, limit = 1000): Promise<string[]> {
    const requeued: string[] = [];
    for (const id of await this.jobs.unfinished(new Date(now.getTime() - graceMs), limit)) {
      // The queue gave up on it (the training process died on every attempt, stalls exhausted)
      // and no process was left to say so in Postgres.
      const failure = await this.queue.failure(id);
      if (failure) {
        await this.jobs.failUnfinished(id, describeQueueFailure(failure.reason, failure.attempts));
        continue;
      }
      if (await this.queue.has(id)) continue;
      await this.queue.enqueue(id);
      requeued.push(id);
    }
    return requeued;
  }

  private checkReplay(
    existing: { job: JobRecord; requestHash: string | null },
    requestHash: string | null,
  ): JobRecord {
    if (existing.requestHash !== requestHash) {
      throw new ServiceError(
        'IDEMPOTENCY_KEY_REUSED',
        `Idempotency-Key was already used for job ${existing.job.id} with a different request body; use a new key for a new job`,
      );
    }
    return existing.job;
  }

  async get(tenantId: string, id: string): Promise<JobRecord> {
    const job = await this.jobs.get(tenantId, id);
    if (!job) throw new ServiceError('JOB_NOT_FOUND', `job ${id} does not exist`);
    return job;
  }

  async list(
    tenantId: string,
    opts: { status?: JobStatus; limit: number; cursor?: string },
  ): Promise<{ items: JobRecord[]; nextCursor: string | null }> {
    const after = opts.cursor ? decodeCursor(opts.cursor) : undefined;
    return page(
      await this.jobs.list(tenantId, { status: opts.status, limit: opts.limit + 1, after }),
      opts.limit,
    );
  }

  /**
   * Deletes a job of the tenant with everything stored for it: a queued or running job is
   * cancelled first (a worker training it stops at its next status check and writes nothing
   * more). Bytes a job continuing this one took over stay with that job.
   */
  async delete(tenantId: string, id: string): Promise<void> {
    const job = await this.get(tenantId, id);
    if (!TERMINAL_STATUSES.includes(job.status)) await this.jobs.cancel(tenantId, id);
    // The queue's entry holds only the id; an active one ends when its worker finds the job gone.
    await this.queue.removeIfWaiting(id).catch(() => false);
    if (!(await this.jobs.delete(tenantId, id)))
      throw new ServiceError('JOB_NOT_FOUND', `job ${id} does not exist`);
  }

  /**
   * Removes the checkpoints of jobs that finished more than `days` days before `now`, in batches,
   * keeping their results and exports; such a job can no longer be continued. Returns the ids of
   * those jobs.
   */
  async removeExpiredCheckpoints(now: Date, days: number, batch = 20): Promise<string[]> {
    const before = new Date(now.getTime() - days * 86_400_000);
    const removed: string[] = [];
    for (;;) {
      const ids = await this.jobs.removeCheckpoints(before, batch);
      removed.push(...ids);
      if (ids.length < batch) return removed;
    }
  }

  async cancel(tenantId: string, id: string): Promise<JobRecord> {
    const before = await this.get(tenantId, id);
    if (before.status === 'cancelled') return before;
    if (TERMINAL_STATUSES.includes(before.status)) {
      throw new ServiceError(
        'JOB_NOT_CANCELLABLE',
        `job ${id} already ${before.status}; only queued or running jobs can be cancelled`,
      );
    }
    const after = await this.jobs.cancel(tenantId, id);
    if (!after) throw new ServiceError('JOB_NOT_FOUND', `job ${id} does not exist`);
    if (after.status !== 'cancelled') {
      throw new ServiceError(
        'JOB_NOT_CANCELLABLE',
        `job ${id} ${after.status} before it could be cancelled`,
      );
    }
    // A running job notices the status within CANCEL_POLL_MS; a waiting one is simply dropped.
    await this.queue.removeIfWaiting(id).catch(() => false);
    return after;
  }

  async metrics(
    tenantId: string,
    id: string,
    opts: { curve: CurveKind; task?: number; limit: number; cursor?: string },
  ): Promise<JobMetrics> {
    const job = await this.get(tenantId, id);
    const results = await this.jobs.taskResults(job.id);
    const matrix = results.map((r) => r.accuracies);
    const runningMatrix = results.map((r) => r.runningStatsAccuracies ?? []);
    const hasRunning =
      runningMatrix.length > 0 && runningMatrix.every((row, k) => row.length === k + 1);
    if (
      opts.cursor !== undefined &&
      !(/^\d{1,19}$/.test(opts.cursor) && BigInt(opts.cursor) <= MAX_BIGINT)
    ) {
      throw new ServiceError(
        'INVALID_CURSOR',
        'cursor: not a cursor returned by this API (use curve.nextCursor from the previous page)',
      );
    }
    const rows = await this.jobs.curve(job.id, opts.curve, {
      task: opts.task,
      limit: opts.limit + 1,
      afterSeq: opts.cursor,
    });
    const points = rows.slice(0, opts.limit);
    return {
      accuracyMatrix: matrix,
      averageAccuracy: matrix.length ? averageAccuracy(matrix) : null,
      backwardTransfer: matrix.length ? backwardTransfer(matrix) : null,
      forgetting: matrix.length ? forgetting(matrix) : null,
      taskDurationsMs: results.map((r) => r.durationMs),
      msPerIteration: results.map((r) => r.msPerIteration),
      taskInference: job.result?.taskInference ?? null,
      fecamTaskInference: job.result?.fecamTaskInference ?? null,
      runningStats: hasRunning
        ? {
            accuracyMatrix: runningMatrix,
            averageAccuracy: averageAccuracy(runningMatrix),
            backwardTransfer: backwardTransfer(runningMatrix),
            forgetting: forgetting(runningMatrix),
          }
        : null,
      curve: {
        kind: opts.curve,
        points,
        nextCursor: rows.length > opts.limit ? points[points.length - 1].seq : null,
      },
    };
  }

  private async checkTask(tenantId: string, id: string, task: number): Promise<JobRecord> {
    const job = await this.get(tenantId, id);
    if (task >= job.tasksTotal) {
      throw new ServiceError(
        'TASK_NOT_FOUND',
        `task ${task} does not exist; job ${id} has tasks 0..${job.tasksTotal - 1}`,
      );
    }
    return job;
  }

  async mask(tenantId: string, id: string, task: number): Promise<StoredBytes> {
    const job = await this.checkTask(tenantId, id, task);
    const res = await this.jobs.mask(job.id, task);
    if (!res.found)
      throw new ServiceError(
        'ARTIFACT_NOT_READY',
        `task ${task} of job ${id} has not been trained yet (${job.completedTasks} of ${job.tasksTotal} done)`,
      );
    if (!res.mask)
      throw new ServiceError(
        'MASK_NOT_AVAILABLE',
        `method "${job.spec.method}" learns no masks; download the model instead (.../tasks/${task}/model/model.json)`,
      );
    return res.mask;
  }

  /** The task's FeCAM statistics file (see core/inference/fecam.ts). */
  async fecam(tenantId: string, id: string, task: number): Promise<StoredBytes> {
    const job = await this.checkTask(tenantId, id, task);
    const found = await this.jobs.fecam(job.id, task);
    if (found) return found;
    if (task >= job.completedTasks)
      throw new ServiceError(
        'ARTIFACT_NOT_READY',
        `task ${task} of job ${id} has not been trained yet (${job.completedTasks} of ${job.tasksTotal} done)`,
      );
    throw new ServiceError(
      'FECAM_NOT_AVAILABLE',
      `job ${id} keeps no FeCAM statistics (its spec's evaluation.taskInference is "${job.spec.evaluation.taskInference}", or its method or network has none; see docs/job-spec.md)`,
    );
  }

  async model(tenantId: string, id: string, task: number): Promise<StoredModel> {
    const job = await this.checkTask(tenantId, id, task);
    const model = await this.jobs.model(job.id, task);
    if (!model) throw await this.noModel(job, task);
    return model;
  }

  async modelJson(tenantId: string, id: string, task: number): Promise<Record<string, unknown>> {
    const job = await this.checkTask(tenantId, id, task);
    const json = await this.jobs.modelJson(job.id, task);
    if (!json) throw await this.noModel(job, task);
    return json;
  }

  /** Why a task has no model: its target has no LayersModel export, or it has not been trained yet. */
  private async noModel(job: JobRecord, task: number): Promise<ServiceError> {
    const reason = await this.jobs.modelUnavailable(job.id, task);
    if (reason)
      return new ServiceError(
        'MODEL_NOT_AVAILABLE',
        `task ${task} of job ${job.id} has no TF.js model: ${reason}`,
      );
    return new ServiceError(
      'ARTIFACT_NOT_READY',
      `task ${task} of job ${job.id} has not been trained yet (${job.completedTasks} of ${job.tasksTotal} done)`,
    );
  }

  async events(tenantId: string, id: string) {
    const job = await this.get(tenantId, id);
    return this.jobs.events(job.id);
  }
}
