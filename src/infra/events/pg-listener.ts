/**
 * One dedicated Postgres connection that LISTENs on one channel, kept open: when it breaks (the
 * database restarted, the network dropped it, a ping timed out) it reconnects with backoff.
 * NOTIFYs sent while it was away are lost, so after every reconnection `onReconnect` tells the
 * owner to catch up from the tables.
 */
import pg from 'pg';

export interface PgListenerOptions {
  url: string;
  channel: string;
  onNotification(payload: string): void;
  onReconnect(): void;
  onError(err: Error): void;
  /** How often the connection is checked with a query (a silently dead TCP connection says nothing). */
  pingMs?: number;
  /** How long `listening()` waits for a connection that is not there. */
  waitMs?: number;
  /** Shown in pg_stat_activity. */
  applicationName?: string;
}

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 10_000;

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

export class PgListener {
  private client: pg.Client | null = null;
  private started = false;
  private closed = false;
  private retryMs = RETRY_MIN_MS;
  private retryTimer?: NodeJS.Timeout;
  private ping?: NodeJS.Timeout;
  private lastError: Error | null = null;
  /** Connections already given up on: a connection reports its end several ways (error, end, failed ping). */
  private readonly dropped = new WeakSet<pg.Client>();
  /** Waiters for the next successful LISTEN. */
  private waiters: { resolve(): void; reject(err: Error): void }[] = [];

  constructor(private readonly opts: PgListenerOptions) {}

  /** Connects in the background (idempotent). */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    void this.connect(false);
    const pingMs = this.opts.pingMs ?? 30_000;
    this.ping = setInterval(() => {
      const client = this.client;
      client?.query('SELECT 1').catch((err: Error) => this.lost(client, err));
    }, pingMs);
    this.ping.unref();
  }

  /** Resolves when the channel is listened to now; rejects when no connection comes within `waitMs`. */
  listening(): Promise<void> {
    this.start();
    if (this.client) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: () => (clearTimeout(timer), resolve()),
        reject: (err: Error) => (clearTimeout(timer), reject(err)),
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        const err = Object.assign(
          new Error(
            `not listening to Postgres notifications (${this.lastError?.message ?? 'connecting'})`,
            { cause: this.lastError },
          ),
          {
            code: 'ETIMEDOUT',
          },
        );
        reject(err);
      }, this.opts.waitMs ?? 5000);
      this.waiters.push(waiter);
    });
  }

  private async connect(reconnect: boolean): Promise<void> {
    // query_timeout: a ping on a half-open connection fails instead of waiting forever.
    const client = new pg.Client({
      connectionString: this.opts.url,
      keepAlive: true,
      query_timeout: 10_000,
      application_name: this.opts.applicationName ?? 'retain-listener',
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('Connection terminated')));
    client.on('notification', (n) => {
      if (n.channel === this.opts.channel) this.opts.onNotification(n.payload ?? '');
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdent(this.opts.channel)}`);
    } catch (err) {
      this.lost(client, err as Error);
      return;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.retryMs = RETRY_MIN_MS;
    this.lastError = null;
    for (const w of this.waiters.splice(0)) w.resolve();
    if (reconnect) this.opts.onReconnect();
  }

  private lost(client: pg.Client, err: Error): void {
    if (this.dropped.has(client)) return;
    this.dropped.add(client);
    client.end().catch(() => {});
    if (this.client === client) this.client = null;
    if (this.closed) return;
    this.lastError = err;
    this.opts.onError(err);
    this.retryTimer = setTimeout(() => void this.connect(true), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.ping);
    clearTimeout(this.retryTimer);
    for (const w of this.waiters.splice(0)) w.reject(new Error('the listener was closed'));
    const client = this.client;
    this.client = null;
    if (client) {
      this.dropped.add(client);
      await client.end().catch(() => {});
    }
  }
}
