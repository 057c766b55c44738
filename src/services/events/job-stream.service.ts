/**
 * A job's live event stream for one client (GET /v1/jobs/:id/stream): the stored events after
 * the client's position, read from the log, then live ones from the feed, each exactly once and
 * in order, then the end at the job's final event.
 *
 * Why it cannot miss or repeat an event: a job's events are numbered 1, 2, 3, ... in commit order
 * without gaps (see JobStreamEvent), and the stream subscribes to the feed before it reads the
 * log. An event committed before the read is in the log; one committed after reaches the
 * subscription. Live events at or below the position are dropped; one beyond the next number
 * means something was missed (a feed reconnection, an event too large to announce), and the
 * stream reads the log again from its position. A client that reconnects with the last number it
 * saw continues the same way, in any API process.
 *
 * Progress (job.progress) is state, not history: it carries no number, is sent live, and a
 * (re)connecting client gets the current value once it has caught up.
 */
import { ServiceError } from '../errors.js';
import {
  FINAL_EVENT_TYPES,
  TERMINAL_STATUSES,
  type JobEventFeed,
  type JobEventListener,
  type JobEventLog,
  type JobProgress,
  type JobRecord,
  type JobRepository,
  type JobStreamEvent,
} from '../ports.js';

/** Events read from the log per query while catching up. */
export const REPLAY_PAGE = 500;

/** Where a stream's events go (an SSE response). */
export interface StreamSink {
  /** False when the client is not keeping up: the stream then ends, and the client resumes from its position. */
  event(e: JobStreamEvent): boolean;
  progress(p: JobProgress): boolean;
  /**
   * No more events: the final one was sent, the job was deleted, the client fell behind or the log
   * could not be read (`err`).
   */
  end(err?: Error): void;
}

type Queued = { event: JobStreamEvent } | { progress: JobProgress };

export class JobStream implements JobEventListener {
  private sink: StreamSink | null = null;
  private readonly queue: Queued[] = [];
  private catchUp = true;
  private pumping = false;
  private done = false;
  private finalAtOpen = false;
  private unsubscribe: () => void = () => {};

  constructor(
    readonly jobId: string,
    /** Number of the last event the client has. */
    private last: number,
    private readonly log: JobEventLog,
  ) {}

  /** The job as read after subscribing: a job that was final then has all its events in the log. */
  prepare(job: JobRecord, unsubscribe: () => void): void {
    this.unsubscribe = unsubscribe;
    this.finalAtOpen = TERMINAL_STATUSES.includes(job.status);
    if (job.status === 'running') {
      const {
        status,
        currentTask,
        iteration,
        completedTasks,
        tasksTotal,
        iterationsPerTask,
        etaMs,
      } = job;
      this.queue.push({
        progress: {
          status,
          currentTask,
          iteration,
          completedTasks,
          tasksTotal,
          iterationsPerTask,
          etaMs,
        },
      });
    }
  }

  /** Starts sending: the log after the client's position, then live events. */
  start(sink: StreamSink): void {
    this.sink = sink;
    void this.pump();
  }

  /** The client went away. */
  close(): void {
    if (this.done) return;
    this.done = true;
    this.unsubscribe();
  }

  event(e: JobStreamEvent): void {
    if (this.done) return;
    this.queue.push({ event: e });
    this.kick();
  }

  progress(p: JobProgress): void {
    if (this.done) return;
    // Only the latest progress matters: a stream that is catching up keeps one.
    const tail = this.queue[this.queue.length - 1];
    if (tail && 'progress' in tail) tail.progress = p;
    else this.queue.push({ progress: p });
    this.kick();
  }

  resync(): void {
    this.catchUp = true;
    this.kick();
  }

  gone(): void {
    this.finish();
  }

  private kick(): void {
    if (this.sink && !this.pumping && !this.done) void this.pump();
  }

  /** Sends what is due, one item at a time; the only place that writes to the sink. */
  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (!this.done) {
        if (this.catchUp) {
          this.catchUp = false;
          const page = await this.log.after(this.jobId, this.last, REPLAY_PAGE);
          for (const e of page) if (!this.done) this.send(e);
          if (page.length === REPLAY_PAGE) this.catchUp = true;
          else if (this.finalAtOpen) this.finish();
          continue;
        }
        const item = this.queue.shift();
        if (!item) break;
        if ('progress' in item) {
          if (!this.sink!.progress(item.progress)) this.finish();
        } else if (item.event.seq > this.last + 1) {
          // Something between was not announced to us; the log has it (and this one).
          this.catchUp = true;
        } else if (item.event.seq === this.last + 1) {
          this.send(item.event);
        }
      }
    } catch (err) {
      this.finish(err as Error);
    } finally {
      this.pumping = false;
    }
  }

  private send(e: JobStreamEvent): void {
    this.last = e.seq;
    const ok = this.sink!.event(e);
    if (FINAL_EVENT_TYPES.includes(e.type) || !ok) this.finish();
  }

  private finish(err?: Error): void {
    if (this.done) return;
    this.done = true;
    this.unsubscribe();
    this.sink?.end(err);
  }
}

export class JobStreamService {
  constructor(
    private readonly jobs: Pick<JobRepository, 'get'>,
    private readonly log: JobEventLog,
    private readonly feed: JobEventFeed,
  ) {}

  /**
   * A stream of the tenant's job `jobId` after event `afterSeq` (0: from the start). Nothing is
   * sent until `start`; JOB_NOT_FOUND (also for another tenant's job) and INVALID_EVENT_ID are
   * thrown before that.
   */
  async open(tenantId: string, jobId: string, afterSeq: number): Promise<JobStream> {
    const stream = new JobStream(jobId, afterSeq, this.log);
    // Subscribe first: whatever commits after the reads below reaches the stream live.
    const unsubscribe = await this.feed.subscribe(jobId, stream);
    try {
      const job = await this.jobs.get(tenantId, jobId);
      if (!job) throw new ServiceError('JOB_NOT_FOUND', `job ${jobId} does not exist`);
      const head = (await this.log.head(jobId)) ?? 0;
      if (afterSeq > head) {
        throw new ServiceError(
          'INVALID_EVENT_ID',
          `Last-Event-ID ${afterSeq} is beyond the last event of job ${jobId} (${head}); send an id this stream sent, or none to start from the beginning`,
        );
      }
      stream.prepare(job, unsubscribe);
      return stream;
    } catch (err) {
      unsubscribe();
      throw err;
    }
  }
}
