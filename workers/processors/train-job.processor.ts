/**
 * Thin processor of `train-job`: validate the payload, run the training use case, translate the
 * outcome into queue moves. Invalid specs and divergence fail at once (UnrecoverableError);
 * other errors are rethrown for BullMQ to retry with backoff; a worker shutdown hands the job
 * back to the queue without using up an attempt.
 */
import { randomUUID } from 'node:crypto';
import { UnrecoverableError, WaitingError, type SandboxedJob } from 'bullmq';
import { assertPayload, InvalidPayloadError, JobName } from '../../src/infra/queue/jobs.js';
import { PermanentTrainingError, runTraining } from '../../src/services/training/run-training.js';
import { getRuntime } from './runtime.js';

/** Reason the worker passes to the abort signal when it shuts down. */
export const SHUTDOWN_REASON = 'shutdown';

export async function processTrainJob(
  job: SandboxedJob,
  token: string | undefined,
  signal: AbortSignal | undefined,
): Promise<unknown> {
  try {
    assertPayload(JobName.TrainJob, job.data);
  } catch (err) {
    if (err instanceof InvalidPayloadError) throw new UnrecoverableError(err.message);
    throw err;
  }
  const rt = await getRuntime();
  // The worker aborts the processor's signal with SHUTDOWN_REASON on SIGTERM.
  const stop = new AbortController();
  const onAbort = () => stop.abort(signal?.reason);
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const outcome = await runTraining(job.data, {
      store: rt.store,
      loadDataset: rt.loadDataset,
      uploadedDatasets: rt.uploadedDatasets,
      backend: rt.backend,
      stop: stop.signal,
      // BullMQ passes the lock token it fetched the job with; the worker process fences its own writes with it too.
      attempt: {
        number: job.attemptsMade + 1,
        max: job.opts.attempts ?? 1,
        lease: token ?? randomUUID(),
      },
      settings: {
        progressThrottleMs: rt.config.PROGRESS_THROTTLE_MS,
        epochCheckpointMs: rt.config.EPOCH_CHECKPOINT_MS,
        lossEvery: rt.config.LOSS_EVERY,
        cancelPollMs: rt.config.CANCEL_POLL_MS,
        shutdownGraceMs: rt.config.SHUTDOWN_GRACE_MS,
      },
      reportProgress: (p) => job.updateProgress(p),
      log: (msg) => console.log(`[training ${process.pid}] ${msg}`),
    });
    if (outcome.outcome === 'interrupted') {
      // Back to the wait list for another worker; the next run resumes from the checkpoint.
      await job.moveToWait(token);
      // moveToWait is carried out by the parent over IPC; let it land before the job settles.
      await new Promise((r) => setTimeout(r, 300));
      throw new WaitingError();
    }
    return outcome;
  } catch (err) {
    if (err instanceof PermanentTrainingError) {
      const e = new UnrecoverableError(err.message);
      (e as unknown as { code: string }).code = err.code;
      throw e;
    }
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
