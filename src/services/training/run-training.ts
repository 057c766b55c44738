/**
 * One attempt at training a job: the use case behind the queue processor. It loads the job and
 * its latest checkpoint, checks the stored spec again (a job whose spec is of another version or
 * no longer validates fails with INVALID_STORED_SPEC), trains the remaining tasks with the
 * engine, and persists through the
 * `TrainingStore` port: throttled progress, loss and validation curves, and after every task the
 * evaluation row, the checkpoint, the exports and the task embedding in one write. It knows
 * nothing about BullMQ: the processor maps the returned outcome and thrown errors to queue moves.
 *
 * Stopping: the job's status is polled (cancel from the API), and `stop` (worker shutdown) ends
 * the attempt at a safe point: right away if the current task would not finish within the grace
 * period (its progress since the last checkpoint is dropped), else after the task's checkpoint.
 *
 * Every write carries the attempt's lease. When the store refuses one because another attempt
 * has taken the job over (this worker hung past its queue lock), the attempt stops at once,
 * writes nothing more and leaves the job's status to the attempt that owns it.
 */
import {
  buildDatasetTasks,
  buildTasks,
  CancelledError,
  checkStoredSpec,
  CodedError,
  dataSeed,
  decodeSafetensors,
  EngineError,
  isPermanentCode,
  Random,
  runContinualLearning,
  tasksToExport,
  type ContinualTask,
  type PermanentErrorCode,
  type IterationEvent,
  type JobSpec,
  type LabelledDataset,
} from '../../core/index.js';
import { StaleAttemptError } from '../errors.js';
import type { DatasetLoader, MetricPointInput, TrainingStore, UploadedDatasets } from '../ports.js';

export interface TrainingSettings {
  /** Minimum time between progress writes. */
  progressThrottleMs: number;
  /** Keep every Nth loss value for the curve. */
  lossEvery: number;
  /** How often the job status is checked for a cancel. */
  cancelPollMs: number;
  /** On `stop`, finish the running task if it ends within this long. */
  shutdownGraceMs: number;
  /**
   * Within a task measured in epochs (`training.epochsPerTask`), store a checkpoint at the first
   * epoch end this long after the last checkpoint (0: every epoch end); absent: only at task ends.
   */
  epochCheckpointMs?: number;
}

export interface TrainingDeps {
  store: TrainingStore;
  loadDataset: DatasetLoader;
  /** Uploaded data sets (jobs of kind "datasets"). */
  uploadedDatasets?: UploadedDatasets;
  /** TF.js backend this process trains on (recorded with the job). */
  backend: string;
  settings: TrainingSettings;
  /** Also reported to the queue (BullMQ job progress); failures there are ignored. */
  reportProgress?: (p: {
    task: number;
    tasks: number;
    iteration: number;
    iterations: number;
    etaMs: number;
  }) => Promise<void>;
  /** Aborted when the worker shuts down. */
  stop?: AbortSignal;
  /**
   * Attempt number (1-based) and how many the queue allows, for the status history; `lease`
   * identifies the attempt to the store (the queue's lock token), which fences its writes.
   */
  attempt: { number: number; max: number; lease: string };
  log?: (msg: string) => void;
}

/** Where the attempt's wall time went, for the service-overhead benchmark. */
export interface TrainingStats {
  wallMs: number;
  /** Loading and building the data set's tasks. */
  dataMs: number;
  /** Awaited writes to the store (progress, curves, per-task results, checkpoints, exports). */
  storeMs: number;
  /** Of which the per-task writes (checkpoint, exports, embedding, result). */
  taskWritesMs: number;
  /** Engine-reported task durations (training and evaluation). */
  engineTaskMs: number;
}

export type TrainingOutcome =
  | { outcome: 'succeeded'; averageAccuracy: number; completedTasks: number; stats: TrainingStats }
  | { outcome: 'cancelled'; completedTasks: number }
  | { outcome: 'skipped'; reason: string }
  | { outcome: 'interrupted'; completedTasks: number }
  /** Another attempt took the job over while this one was still training; nothing more was written. */
  | { outcome: 'superseded'; reason: string };

/** An error the queue must not retry (the engine marks its code permanent, see core/errors.ts). */
export class PermanentTrainingError extends CodedError<PermanentErrorCode> {}

/** The job's tasks: a built-in benchmark over its IDX files, or the uploaded data sets the spec names. */
async function loadTasks(spec: JobSpec, deps: TrainingDeps): Promise<ContinualTask[]> {
  const b = spec.benchmark;
  if (b.kind !== 'datasets')
    return buildTasks(
      b,
      await deps.loadDataset(b.dataset),
      new Random(dataSeed(spec.training.seed)),
    );
  if (!deps.uploadedDatasets)
    throw new EngineError('DATA_NOT_FOUND', 'this process cannot read uploaded data sets');
  const data = new Map<string, LabelledDataset>();
  for (const [id, info] of Object.entries(b.datasets ?? {}))
    data.set(id, await deps.uploadedDatasets.load(id, info.sha256));
  return buildDatasetTasks(b, data);
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function runTraining(
  data: { jobId: string },
  deps: TrainingDeps,
): Promise<TrainingOutcome> {
  try {
    return await runAttempt(data, deps);
  } catch (err) {
    if (!(err instanceof StaleAttemptError)) throw err;
    deps.log?.(`${err.message}; this attempt stops without writing anything more`);
    return { outcome: 'superseded', reason: err.message };
  }
}

async function runAttempt(data: { jobId: string }, deps: TrainingDeps): Promise<TrainingOutcome> {
  const { store, settings } = deps;
  const { lease } = deps.attempt;
  const log = deps.log ?? (() => {});
  const loaded = await store.load(data.jobId);
  if (!loaded) return { outcome: 'skipped', reason: 'job no longer exists' };
  const { job, checkpoint } = loaded;
  if (job.status !== 'queued' && job.status !== 'running')
    return { outcome: 'skipped', reason: `job is ${job.status}` };

  const resumeNote = checkpoint ? `, resuming after task ${job.completedTasks}` : '';
  const started = await store.markRunning(
    job.id,
    lease,
    deps.backend,
    `attempt ${deps.attempt.number} on ${deps.backend}${resumeNote}`,
  );
  if (!started) return { outcome: 'skipped', reason: 'job is no longer runnable' };

  const abort = new AbortController();
  let stopReason: 'cancelled' | 'shutdown' | 'deleted' | null = null;
  let stopAfterTask = false;
  let completedTasks = job.completedTasks;
  let current: { task: number; iteration: number; msPerIteration: number } | null = null;

  const onStop = () => {
    if (stopReason) return;
    const remainingMs = current
      ? (job.iterationsPerTask - current.iteration) * current.msPerIteration
      : Infinity;
    if (remainingMs <= settings.shutdownGraceMs) {
      log(`shutdown: finishing task ${current?.task} (about ${Math.round(remainingMs)} ms left)`);
      stopAfterTask = true;
    } else {
      stopReason = 'shutdown';
      abort.abort('shutdown');
    }
  };
  if (deps.stop?.aborted) onStop();
  deps.stop?.addEventListener('abort', onStop, { once: true });

  let polling = false;
  const poll = setInterval(() => {
    if (polling) return;
    polling = true;
    store
      .status(job.id)
      .then((s) => {
        if (s === 'cancelled' || s === null) {
          stopReason = s === null ? 'deleted' : 'cancelled';
          abort.abort(stopReason);
        }
      })
      .catch(() => {})
      .finally(() => {
        polling = false;
      });
  }, settings.cancelPollMs);

  let lastWrite = 0;
  let lastCheckpoint = performance.now();
  let lastYield = performance.now();
  let firstIteration = job.firstIterationAt === null;
  let pending: MetricPointInput[] = [];
  const wallStart = performance.now();
  const stats: TrainingStats = {
    wallMs: 0,
    dataMs: 0,
    storeMs: 0,
    taskWritesMs: 0,
    engineTaskMs: 0,
  };
  const timed = async <T>(p: Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await p;
    } finally {
      stats.storeMs += performance.now() - t0;
    }
  };
  const flush = async () => {
    if (pending.length === 0) return;
    const points = pending;
    pending = [];
    await timed(store.addMetricPoints(job.id, lease, points));
  };

  try {
    // Stored by an API of another release, or edited since: fail clearly rather than train on it.
    const spec = checkStoredSpec(job.spec, job.specVersion);
    const dataStart = performance.now();
    const tasks = await loadTasks(spec, deps);
    stats.dataMs = performance.now() - dataStart;
    const result = await runContinualLearning(spec, {
      tasks,
      signal: abort.signal,
      resumeFrom: checkpoint ?? undefined,
      yieldEvery: {
        iterations: 1,
        // Timers (cancel polling) and IPC (lock renewal, shutdown) need the event loop.
        fn: () =>
          performance.now() - lastYield > 25
            ? yieldToEventLoop().then(() => void (lastYield = performance.now()))
            : Promise.resolve(),
      },
      callbacks: {
        onTaskBegin: ({ task, resumed }) => {
          if (stopAfterTask && !stopReason) {
            stopReason = 'shutdown';
            abort.abort('shutdown');
          }
          current = { task, iteration: 0, msPerIteration: 0 };
          if (resumed) log(`resumed job ${job.id} at task ${task}`);
        },
        onIteration: async (e: IterationEvent) => {
          current = {
            task: e.task,
            iteration: e.iteration + 1,
            msPerIteration: current?.msPerIteration
              ? 0.9 * current.msPerIteration + 0.1 * e.ms
              : e.ms,
          };
          if (e.iteration % settings.lossEvery === 0 || e.iteration === e.iterations - 1) {
            pending.push({
              kind: 'loss',
              task: e.task,
              iteration: e.iteration,
              value: e.loss,
              taskLoss: e.taskLoss,
              outputReg: e.outputReg,
              driftReg: e.driftReg,
            });
          }
          const now = performance.now();
          if (firstIteration || now - lastWrite >= settings.progressThrottleMs) {
            lastWrite = now;
            const p = {
              task: e.task,
              iteration: e.iteration + 1,
              etaMs: Math.round(e.etaMs),
              firstIteration,
            };
            firstIteration = false;
            await timed(store.saveProgress(job.id, lease, p));
            await flush();
            await deps
              .reportProgress?.({
                task: e.task,
                tasks: e.tasks,
                iteration: e.iteration + 1,
                iterations: e.iterations,
                etaMs: p.etaMs,
              })
              .catch(() => {});
          }
        },
        onValidation: (e) => {
          pending.push({
            kind: 'validation',
            task: e.task,
            iteration: e.iteration,
            value: e.accuracy,
          });
        },
        onEpochEnd: async (e) => {
          // Only tasks measured in epochs (long by design); a checkpoint within a task holds the
          // optimiser's moments too, about 4x the model, too much to add to every job.
          const every = settings.epochCheckpointMs;
          if (
            every === undefined ||
            spec.training.epochsPerTask === null ||
            performance.now() - lastCheckpoint < every
          )
            return;
          await flush();
          const checkpoint = e.checkpoint();
          const stored = await timed(
            store.saveCheckpoint(job.id, lease, { completedTasks: e.task, checkpoint }),
          );
          if (!stored) {
            stopReason = 'deleted';
            abort.abort('deleted');
            throw new CancelledError();
          }
          lastCheckpoint = performance.now();
          log(
            `job ${job.id}: checkpoint within task ${e.task} after epoch ${e.epoch} (${(checkpoint.byteLength / 1e6).toFixed(1)} MB)`,
          );
        },
        onTaskEnd: async (e) => {
          await flush();
          const name = `hnet/embedding_${e.task}`;
          const [embedding] = decodeSafetensors(e.checkpoint, (n) => n === name).tensors;
          const writeStart = performance.now();
          const stored = await timed(
            store.completeTask(job.id, lease, {
              task: e.task,
              completedTasks: e.task + 1,
              accuracies: e.metrics.accuracyMatrix[e.task],
              runningStatsAccuracies: e.runningStatsAccuracies,
              batchNormStats: e.batchNormStats,
              durationMs: e.durationMs,
              msPerIteration: e.msPerIteration,
              checkpoint: e.checkpoint,
              // Computed one at a time as the store writes them.
              exports: (function* () {
                for (const k of tasksToExport(e)) yield e.exportTask(k);
              })(),
              embedding: embedding ? Array.from(embedding.data) : null,
            }),
          );
          if (!stored) {
            stopReason = 'deleted';
            abort.abort('deleted');
            throw new CancelledError();
          }
          const writeMs = performance.now() - writeStart;
          stats.taskWritesMs += writeMs;
          stats.engineTaskMs += e.durationMs;
          completedTasks = e.task + 1;
          lastCheckpoint = performance.now();
          log(
            `job ${job.id}: task ${e.task} done in ${Math.round(e.durationMs)} ms, stored in ${Math.round(writeMs)} ms (checkpoint ${(e.checkpoint.byteLength / 1e6).toFixed(1)} MB), accuracies ${e.metrics.accuracyMatrix[e.task].map((a) => a.toFixed(3)).join(' ')}`,
          );
        },
      },
    });
    await timed(
      store.succeed(job.id, lease, {
        averageAccuracy: result.averageAccuracy,
        backwardTransfer: result.backwardTransfer,
        forgetting: result.forgetting,
        taskInference: result.taskInference,
        fecamTaskInference: result.fecamTaskInference,
        // Only targets with batch norm have it: other jobs' results stay as they were.
        ...(result.runningStatsMetrics
          ? { runningStatsAverageAccuracy: result.runningStatsMetrics.averageAccuracy }
          : {}),
      }),
    );
    stats.wallMs = performance.now() - wallStart;
    return {
      outcome: 'succeeded',
      averageAccuracy: result.averageAccuracy,
      completedTasks: result.accuracyMatrix.length,
      stats,
    };
  } catch (err) {
    if (err instanceof StaleAttemptError) throw err;
    await flush().catch(() => {});
    if (err instanceof CancelledError || abort.signal.aborted) {
      if (stopReason === 'shutdown') {
        await store.requeue(
          job.id,
          lease,
          `worker shut down; handed back after ${completedTasks} of ${job.tasksTotal} tasks`,
        );
        return { outcome: 'interrupted', completedTasks };
      }
      if (stopReason === 'deleted')
        return { outcome: 'skipped', reason: 'job was deleted while it trained' };
      return { outcome: 'cancelled', completedTasks };
    }
    if (err instanceof EngineError && isPermanentCode(err.code)) {
      await store.fail(job.id, lease, { code: err.code, message: err.message });
      throw new PermanentTrainingError(err.code, err.message);
    }
    const message = (err as Error).message ?? String(err);
    if (deps.attempt.number >= deps.attempt.max) {
      await store.fail(job.id, lease, {
        code: 'TRAINING_FAILED',
        message: `${message} (after ${deps.attempt.max} attempts)`,
      });
    } else {
      await store.requeue(
        job.id,
        lease,
        `attempt ${deps.attempt.number} failed: ${message}; retrying`,
      );
    }
    throw err;
  } finally {
    clearInterval(poll);
    deps.stop?.removeEventListener('abort', onStop);
  }
}
