/**
 * Live job events for one API process: one LISTEN connection (PgListener) on the schema's channel,
 * fanned out in memory to the streams of each job, so 500 open streams cost one connection. The
 * triggers of migration 20261203000000_job_stream send the NOTIFYs, whichever process wrote the
 * rows (this API, another one, a worker on another machine).
 *
 * Progress is throttled here, per job, to one event per `progressIntervalMs`; the latest value
 * always goes out (trailing edge), so a stream never ends on stale progress.
 */
import type {
  JobEventFeed,
  JobEventListener,
  JobProgress,
  JobStreamEvent,
} from '../../services/ports.js';
import { eventChannel } from './channels.js';
import { PgListener } from './pg-listener.js';

/**
 * A NOTIFY payload: a stored event (j, s, t, at, d; d missing when it was too large), job.progress
 * (j, t, d) or job.deleted (j, t).
 */
interface Notification {
  j: string;
  t: string;
  s?: number;
  at?: string;
  d?: Record<string, unknown>;
}

interface Throttle {
  sentAt: number;
  pending: JobProgress | null;
  timer: NodeJS.Timeout | null;
}

export interface PgJobEventHubOptions {
  url: string;
  schema: string;
  progressIntervalMs: number;
  onError?: (err: Error) => void;
  /** How long a subscription waits for the LISTEN connection when it is down (default 5 s). */
  listenWaitMs?: number;
}

export class PgJobEventHub implements JobEventFeed {
  private readonly listeners = new Map<string, Set<JobEventListener>>();
  private readonly throttles = new Map<string, Throttle>();
  private readonly pg: PgListener;

  constructor(private readonly opts: PgJobEventHubOptions) {
    this.pg = new PgListener({
      url: opts.url,
      channel: eventChannel(opts.schema),
      onNotification: (payload) => this.route(payload),
      onReconnect: () => this.each((l) => l.resync()),
      onError: opts.onError ?? (() => {}),
      waitMs: opts.listenWaitMs,
      applicationName: 'retain-job-events',
    });
  }

  /** Connects now rather than at the first subscription. */
  start(): void {
    this.pg.start();
  }

  /** Open subscriptions (streams) in this process. */
  get size(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }

  async subscribe(jobId: string, listener: JobEventListener): Promise<() => void> {
    let set = this.listeners.get(jobId);
    if (!set) this.listeners.set(jobId, (set = new Set()));
    set.add(listener);
    const unsubscribe = () => {
      const current = this.listeners.get(jobId);
      if (!current?.delete(listener) || current.size > 0) return;
      this.listeners.delete(jobId);
      const t = this.throttles.get(jobId);
      if (t?.timer) clearTimeout(t.timer);
      this.throttles.delete(jobId);
    };
    try {
      await this.pg.listening();
    } catch (err) {
      unsubscribe();
      throw err;
    }
    return unsubscribe;
  }

  private route(payload: string): void {
    let n: Notification;
    try {
      n = JSON.parse(payload) as Notification;
    } catch {
      return;
    }
    const set = this.listeners.get(n.j);
    if (!set) return;
    const listeners = [...set];
    if (n.t === 'job.progress') return this.progress(n.j, n.d as unknown as JobProgress);
    if (n.t === 'job.deleted') return listeners.forEach((l) => l.gone());
    if (n.d === undefined || n.s === undefined) return listeners.forEach((l) => l.resync());
    // The trigger sends a timestamp without time zone; the database keeps UTC (as Prisma does).
    const event: JobStreamEvent = {
      seq: n.s,
      type: n.t as JobStreamEvent['type'],
      at: new Date(`${n.at}Z`),
      data: n.d,
    };
    for (const l of listeners) l.event(event);
  }

  private progress(jobId: string, p: JobProgress): void {
    let t = this.throttles.get(jobId);
    if (!t) this.throttles.set(jobId, (t = { sentAt: -Infinity, pending: null, timer: null }));
    const wait = t.sentAt + this.opts.progressIntervalMs - Date.now();
    if (wait <= 0 && !t.timer) return this.sendProgress(jobId, t, p);
    t.pending = p;
    const throttle = t;
    t.timer ??= setTimeout(
      () => {
        throttle.timer = null;
        if (throttle.pending) this.sendProgress(jobId, throttle, throttle.pending);
      },
      Math.max(wait, 0),
    );
  }

  private sendProgress(jobId: string, t: Throttle, p: JobProgress): void {
    t.sentAt = Date.now();
    t.pending = null;
    for (const l of [...(this.listeners.get(jobId) ?? [])]) l.progress(p);
  }

  private each(fn: (l: JobEventListener) => void): void {
    for (const set of [...this.listeners.values()]) for (const l of [...set]) fn(l);
  }

  async close(): Promise<void> {
    for (const t of this.throttles.values()) if (t.timer) clearTimeout(t.timer);
    this.throttles.clear();
    await this.pg.close();
  }
}
