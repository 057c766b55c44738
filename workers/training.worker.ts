/**
 * Worker entry point (`npm run start:worker`). Holds the BullMQ Worker; training itself runs in
 * sandboxed child processes (training.sandbox.ts), so this process's event loop stays free to
 * renew job locks while the CPU or GPU is busy. Each child selects its TF.js backend once.
 *
 * SIGTERM/SIGINT: running jobs are asked to stop at the next safe point (see run-training.ts)
 * and are handed back to the queue; the process exits when they have.
 */
import { fileURLToPath } from 'node:url';
import { Worker } from 'bullmq';
import { loadEnv } from '../src/config/env.js';
import { entryFile } from '../src/infra/entry-file.js';
import { createPgPool, createPrismaClient } from '../src/infra/prisma/client.js';
import { PrismaTrainingRepository } from '../src/infra/prisma/training.repository.js';
import { workerConnection } from '../src/infra/queue/connection.js';
import type { JobName, JobPayload } from '../src/infra/queue/jobs.js';
import { describeQueueFailure } from '../src/services/training/queue-failure.js';
import { assertRegistryComplete, loadProcessors } from './registry.js';
import { SHUTDOWN_REASON } from './processors/train-job.processor.js';

const config = loadEnv();
// Compiled: the child runs training.sandbox.js; under tsx, the shim that loads training.sandbox.ts.
const sandbox = fileURLToPath(
  entryFile(import.meta.url, './training.sandbox.mjs', './training.sandbox.js'),
);
const log = (msg: string) => console.log(`[worker ${process.pid}] ${msg}`);

// Fail fast at boot if a job name has no processor (the child checks again).
assertRegistryComplete(await loadProcessors());

const connection = workerConnection(config.REDIS_URL);
connection.on('error', (err) => log(`redis: ${err.message}`));
const worker = new Worker<JobPayload<JobName.TrainJob>>(config.QUEUE_NAME, sandbox, {
  connection,
  prefix: config.QUEUE_PREFIX,
  concurrency: config.WORKER_CONCURRENCY,
  lockDuration: config.LOCK_DURATION_MS,
  stalledInterval: config.STALLED_INTERVAL_MS,
  maxStalledCount: config.MAX_STALLED_COUNT,
  useWorkerThreads: false,
});
worker.on('error', (err) => log(`error: ${err.message}`));
worker.on('active', (job) => log(`job ${job.id} started (attempt ${job.attemptsMade + 1})`));
worker.on('completed', (job, result) => log(`job ${job.id} done: ${JSON.stringify(result)}`));
// The training child records its own failures, but not its death (out of memory, a native crash,
// a kill) nor the queue giving up: say so in Postgres here, so the API never shows such a job
// "running" forever (the API's reconciler is the backstop when this process is gone too).
const dbOptions = {
  url: config.databaseUrl,
  schema: config.databaseSchema,
  poolSize: 1,
  idleInTransactionTimeoutMs: config.LOCK_DURATION_MS,
};
const pool = createPgPool(dbOptions);
pool.on('error', (err) => log(`postgres: ${err.message}`));
const store = new PrismaTrainingRepository(createPrismaClient({ ...dbOptions, pool }), pool);
// The write is fenced by the lock token the attempt ran under (its lease in Postgres), so it never
// touches an attempt that has started since (the retry may already be running elsewhere).
worker.on('failed', (job, err) => {
  log(`job ${job?.id} failed: ${err.message}`);
  if (!job?.token || err.name === 'WaitingError') return;
  const attempts = job.attemptsMade;
  const final = err.name === 'UnrecoverableError' || attempts >= (job.opts.attempts ?? 1);
  const error = describeQueueFailure(err.message, attempts);
  const write = final
    ? store.fail(job.data.jobId, job.token, error)
    : store.requeue(
        job.data.jobId,
        job.token,
        `attempt ${attempts} failed (${error.code}): ${error.message}; retrying`,
      );
  write.catch((e: Error) => log(`did not record the failure of job ${job.id}: ${e.message}`));
});
worker.on('stalled', (jobId) => log(`job ${jobId} stalled (its worker died); it will be resumed`));
await worker.waitUntilReady();
log(
  `ready: queue "${config.QUEUE_NAME}", concurrency ${config.WORKER_CONCURRENCY}, lock ${config.LOCK_DURATION_MS} ms`,
);

let closing = false;
async function shutdown(signal: string) {
  if (closing) return;
  closing = true;
  log(`${signal}: stopping running jobs at the next safe point and handing them back`);
  const force = setTimeout(() => {
    log('grace period over; exiting');
    process.exit(1);
  }, config.SHUTDOWN_GRACE_MS + 15_000);
  force.unref();
  worker.cancelAllJobs(SHUTDOWN_REASON);
  await worker.close();
  connection.disconnect();
  log('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
