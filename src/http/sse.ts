/**
 * Server-Sent Events on a raw Node response (https://html.spec.whatwg.org/multipage/server-sent-events.html):
 * `id:`, `event:` and one `data:` line of JSON per event, comment lines as heartbeats.
 */
import type { ServerResponse } from 'node:http';

/** How long browsers' EventSource waits before reconnecting (sent as `retry:`). */
export const SSE_RETRY_MS = 2000;

export class SseResponse {
  private constructor(
    private readonly res: ServerResponse,
    private readonly maxBufferedBytes: number,
  ) {}

  /** Sends the headers and the retry delay. `maxBufferedBytes`: more unsent than this and `send` says stop. */
  static open(res: ServerResponse, maxBufferedBytes: number): SseResponse {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      // Proxies such as nginx would otherwise buffer the stream.
      'x-accel-buffering': 'no',
    });
    res.write(`retry: ${SSE_RETRY_MS}\n\n`);
    return new SseResponse(res, maxBufferedBytes);
  }

  /** Writes one event (no id: the client's Last-Event-ID stays as it was). False when the client is not reading. */
  send(id: number | null, type: string, data: unknown): boolean {
    // JSON.stringify never emits a line break, so one data line is always enough.
    this.res.write(
      `${id === null ? '' : `id: ${id}\n`}event: ${type}\ndata: ${JSON.stringify(data)}\n\n`,
    );
    return this.res.writableLength <= this.maxBufferedBytes;
  }

  comment(text: string): void {
    if (!this.res.writableEnded) this.res.write(`: ${text}\n\n`);
  }

  end(): void {
    if (!this.res.writableEnded) this.res.end();
  }
}
