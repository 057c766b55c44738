/**
 * Live updates of one job: from its event stream (GET /v1/jobs/:id/stream, Server-Sent Events)
 * when the API has one (`job.links.stream`), read with fetch so the key can be sent, resumed with
 * Last-Event-ID after a dropped connection; otherwise, or when the stream keeps failing, by
 * polling GET /v1/jobs/:id every 2 s.
 */
import { ApiError, apiFetch, getJson } from '../api/client.js';
import {
  FINAL_STATUSES,
  type CurveKind,
  type CurvePoint,
  type Job,
  type JobProgress,
  type JobStatus,
} from '../api/types.js';
import { SseParser, type SseEvent } from './sse-parser.js';

export const POLL_MS = 2000;
const RECONNECT_MS = 1000;
/** Connections in a row that end without a single event before the stream is given up for polling. */
const MAX_STREAM_FAILURES = 3;

export type LiveMode = 'stream' | 'polling';

export interface JobFeed {
  mode(mode: LiveMode): void;
  /** The whole resource, read again (every poll; after a task or the job ends on the stream). */
  job(job: Job): void;
  progress(progress: JobProgress): void;
  status(status: JobStatus): void;
  /** A loss or validation point as it happens (stream only). */
  point(kind: CurveKind, point: CurvePoint): void;
  /** Something the metrics endpoint reports has changed: a task ended, the job ended, or (polling) training went on. */
  changed(): void;
}

/** Follows the job until it ends or the returned function is called. */
export function followJob(job: Job, feed: JobFeed): () => void {
  const controller = new AbortController();
  const follow = job.links.stream ? followStream : poll;
  void follow(job, feed, controller.signal);
  return () => controller.abort();
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}

async function poll(job: Job, feed: JobFeed, signal: AbortSignal): Promise<void> {
  feed.mode('polling');
  let seen = '';
  while (!signal.aborted) {
    try {
      const current = await getJson<Job>(job.links.self, { signal });
      if (signal.aborted) return;
      feed.job(current);
      const state = `${current.status} ${current.progress.completedTasks} ${current.progress.iterationsDone}`;
      if (state !== seen) feed.changed();
      seen = state;
      if (FINAL_STATUSES.has(current.status)) return;
    } catch {
      // A failed poll is retried at the next tick; the page keeps showing the last answer.
    }
    await sleep(POLL_MS, signal);
  }
}

async function followStream(job: Job, feed: JobFeed, signal: AbortSignal): Promise<void> {
  feed.mode('stream');
  let lastEventId: string | null = null;
  let failures = 0;
  while (!signal.aborted && failures < MAX_STREAM_FAILURES) {
    let received = false;
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (lastEventId !== null) headers['last-event-id'] = lastEventId;
      const res = await apiFetch(job.links.stream, { headers, signal });
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      const parser = new SseParser();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const event of parser.push(value)) {
          received = true;
          if (event.id !== null) lastEventId = event.id;
          if (await dispatch(job, event, feed, signal)) return;
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      // A refusal (the key, the job gone) will not get better by asking again.
      if (err instanceof ApiError && err.status < 500 && err.status !== 429) break;
    }
    failures = received ? 0 : failures + 1;
    await sleep(RECONNECT_MS, signal);
  }
  if (!signal.aborted) await poll(job, feed, signal);
}

/** Applies one stream event; true when it was the job's last. */
async function dispatch(
  job: Job,
  event: SseEvent,
  feed: JobFeed,
  signal: AbortSignal,
): Promise<boolean> {
  const data = JSON.parse(event.data) as Record<string, unknown>;
  switch (event.type) {
    case 'job.status':
      feed.status(data.status as JobStatus);
      return false;
    case 'job.progress':
      feed.progress(data as unknown as JobProgress);
      return false;
    case 'job.loss':
      feed.point('loss', {
        task: data.task as number,
        iteration: data.iteration as number,
        value: data.loss as number,
      });
      return false;
    case 'job.validation':
      feed.point('validation', {
        task: data.task as number,
        iteration: data.iteration as number,
        value: data.accuracy as number,
      });
      return false;
    case 'job.task_completed':
    case 'job.succeeded':
    case 'job.failed':
    case 'job.cancelled': {
      // Downloads, the accuracy matrix and the result come from the resources themselves.
      const current = await getJson<Job>(job.links.self, { signal }).catch(() => null);
      if (current && !signal.aborted) feed.job(current);
      feed.changed();
      return event.type !== 'job.task_completed';
    }
    default:
      return false;
  }
}
