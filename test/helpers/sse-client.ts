/**
 * A Server-Sent Events client over a real socket (node:http), for tests and benchmarks: it keeps
 * every event and comment it receives, and every wait has a deadline.
 */
import http from 'node:http';

export interface SseEvent {
  id: number | null;
  event: string;
  data: Record<string, unknown>;
  /** performance.now() when it arrived. */
  receivedAt: number;
}

export class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  /** Resolves when the server ends the response (or the socket closes). */
  readonly ended: Promise<void>;
  private waiters: (() => void)[] = [];
  private buffer = '';
  private fields: { id?: string; event?: string; data: string[] } = { data: [] };
  private isEnded = false;

  private constructor(
    private readonly req: http.ClientRequest,
    readonly res: http.IncomingMessage,
    private readonly onEvent?: (e: SseEvent) => void,
  ) {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => this.feed(chunk));
    this.ended = new Promise((resolve) => {
      const done = () => {
        this.isEnded = true;
        this.notify();
        resolve();
      };
      res.on('end', done);
      res.on('close', done);
      res.on('error', done);
    });
  }

  /**
   * Opens a stream; resolves once the 200 headers arrived. A non-200 answer rejects with
   * `{ status, body }` (the error's `answer`).
   */
  static connect(
    url: string,
    headers: Record<string, string>,
    opts: { agent?: http.Agent; onEvent?: (e: SseEvent) => void; timeoutMs?: number } = {},
  ): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = http.get(url, {
        headers: { accept: 'text/event-stream', ...headers },
        agent: opts.agent ?? false,
      });
      const timer = setTimeout(
        () => req.destroy(new Error(`no answer from ${url} within ${opts.timeoutMs ?? 10_000} ms`)),
        opts.timeoutMs ?? 10_000,
      );
      req.on('error', (err) => (clearTimeout(timer), reject(err)));
      req.on('response', (res) => {
        clearTimeout(timer);
        if (res.statusCode === 200) return resolve(new SseClient(req, res, opts.onEvent));
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () =>
          reject(
            Object.assign(new Error(`HTTP ${res.statusCode}: ${body}`), {
              answer: { status: res.statusCode, body: JSON.parse(body || 'null') },
            }),
          ),
        );
      });
    });
  }

  /** Events that carry an id (stored events), in arrival order. */
  get stored(): SseEvent[] {
    return this.events.filter((e) => e.id !== null);
  }

  get lastId(): number | null {
    const s = this.stored;
    return s.length ? s[s.length - 1].id : null;
  }

  /**
   * Resolves with the first received event matching `pred`; rejects after `timeoutMs` or when the
   * stream ends first.
   */
  async waitFor(pred: (e: SseEvent) => boolean, timeoutMs = 60_000): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(pred);
      if (found) return found;
      if (this.isEnded)
        throw new Error(`the stream ended without the awaited event; got ${this.describe()}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no awaited event within ${timeoutMs} ms; got ${this.describe()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => (clearTimeout(t), resolve()));
      });
    }
  }

  /** Resolves when the server has ended the stream; rejects after `timeoutMs`. */
  async waitForEnd(timeoutMs = 60_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.ended,
      new Promise(
        (_, reject) =>
          (timer = setTimeout(
            () =>
              reject(
                new Error(`the stream did not end within ${timeoutMs} ms; got ${this.describe()}`),
              ),
            timeoutMs,
          )),
      ),
    ]).finally(() => clearTimeout(timer));
  }

  /** Drops the connection, as a client that goes away does. */
  close(): void {
    this.req.destroy();
  }

  describe(): string {
    return this.events.map((e) => `${e.id ?? '-'}:${e.event}`).join(' ') || '(nothing)';
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') {
      const f = this.fields;
      this.fields = { data: [] };
      if (f.data.length === 0) return;
      const e: SseEvent = {
        id: f.id === undefined ? null : Number(f.id),
        event: f.event ?? 'message',
        data: JSON.parse(f.data.join('\n')),
        receivedAt: performance.now(),
      };
      this.events.push(e);
      this.onEvent?.(e);
      this.notify();
      return;
    }
    if (line.startsWith(':')) {
      this.comments.push(line.slice(1).trim());
      return;
    }
    const colon = line.indexOf(':');
    const name = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (name === 'id') this.fields.id = value;
    else if (name === 'event') this.fields.event = value;
    else if (name === 'data') this.fields.data.push(value);
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
