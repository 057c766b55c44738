/**
 * An incremental parser of `text/event-stream` (the HTML standard's "interpreting an event
 * stream"), for reading Server-Sent Events from a fetch body: EventSource cannot send an
 * Authorization header. Feed it text as it arrives; it returns the events completed so far.
 */
export interface SseEvent {
  /** The stream's last event id at this event (ids persist until the next `id:` line). */
  id: string | null;
  /** `event:` field, "message" when absent. */
  type: string;
  data: string;
}

export class SseParser {
  private buffer = '';
  private lastEventId: string | null = null;
  private type = '';
  private data: string[] = [];

  push(text: string): SseEvent[] {
    this.buffer += text;
    const events: SseEvent[] = [];
    for (;;) {
      const end = this.buffer.search(/\r\n|\r|\n/);
      // A lone CR at the end may be the first half of CRLF: wait for the next chunk.
      if (end < 0 || (end === this.buffer.length - 1 && this.buffer[end] === '\r')) break;
      const line = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + (this.buffer.startsWith('\r\n', end) ? 2 : 1));
      const event = this.line(line);
      if (event) events.push(event);
    }
    return events;
  }

  private line(line: string): SseEvent | null {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.type = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.lastEventId = value;
    return null;
  }

  private dispatch(): SseEvent | null {
    const event = this.data.length
      ? { id: this.lastEventId, type: this.type || 'message', data: this.data.join('\n') }
      : null;
    this.type = '';
    this.data = [];
    return event;
  }
}
