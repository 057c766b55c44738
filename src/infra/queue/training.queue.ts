/** The API's side of the queue: adds and removes training jobs (the `TrainingQueue` port). */
import { once } from 'node:events';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { TrainingQueue } from '../../services/ports.js';
import { assertPayload, JobName, type JobPayload } from './jobs.js';

/** How long a request may wait for Redis to come (back) before the queue counts as unavailable. */
const READY_WAIT_MS = 2000;

export interface QueueSettings {
  name: string;
  prefix: string;
  attempts: number;
  backoffMs: number;
}

export class BullTrainingQueue implements TrainingQueue {
  readonly queue: Queue;
  private readyWait?: Promise<unknown>;

  constructor(
    readonly connection: Redis,
    private readonly settings: QueueSettings,
    onError: (err: Error) => void = () => {},
  ) {
    this.queue = new Queue(settings.name, { connection, prefix: settings.prefix });
    this.queue.on('error', onError);
  }

  async enqueue(jobId: string): Promise<void> {
    await this.connected();
    const data: JobPayload<JobName.TrainJob> = { jobId };
    assertPayload(JobName.TrainJob, data);
    await this.queue.add(JobName.TrainJob, data, {
      // The BullMQ id is the job's id: adding the same job twice is a no-op.
      jobId,
      attempts: this.settings.attempts,
      backoff: { type: 'exponential', delay: this.settings.backoffMs },
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    });
  }

  async removeIfWaiting(jobId: string): Promise<boolean> {
    await this.connected();
    const job = await this.queue.getJob(jobId);
    if (!job) return true;
    const state = await job.getState();
    if (state === 'active') return false;
    try {
      await job.remove();
      return true;
    } catch {
      return false; // taken by a worker in between; it will see the cancelled status
    }
  }

  async has(jobId: string): Promise<boolean> {
    await this.connected();
    return (await this.queue.getJob(jobId)) !== undefined;
  }

  async failure(jobId: string): Promise<{ reason: string; attempts: number } | null> {
    await this.connected();
    const job = await this.queue.getJob(jobId);
    if (!job || (await job.getState()) !== 'failed') return null;
    return { reason: job.failedReason ?? 'unknown', attempts: job.attemptsMade };
  }

  /**
   * Waits at most READY_WAIT_MS for Redis. Commands fail at once while it is away (no offline
   * queue), but BullMQ first waits for a connection that has never been ready, and would wait
   * forever; this also covers the first moments after start, before the connection is up.
   */
  private async connected(): Promise<void> {
    if (this.connection.status === 'ready') return;
    // One wait shared by all callers, so that an outage under load does not pile listeners on the
    // connection. It also ends at the connection's next 'error' (a refused reconnect).
    this.readyWait ??= once(this.connection, 'ready', {
      signal: AbortSignal.timeout(READY_WAIT_MS),
    }).finally(() => (this.readyWait = undefined));
    try {
      await this.readyWait;
    } catch (err) {
      throw new Error(`Redis is not reachable (connection ${this.connection.status})`, {
        cause: err,
      });
    }
  }

  async ping(): Promise<boolean> {
    return (await this.connection.ping()) === 'PONG';
  }

  async close(): Promise<void> {
    await this.queue.close();
    this.connection.disconnect();
  }
}
