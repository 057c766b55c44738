import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SseParser, type SseEvent } from '../../../ui/src/live/sse-parser.js';

const STREAM =
  ': heartbeat\n' +
  'id: 1\nevent: job.status\ndata: {"status":"running"}\n\n' +
  'event: job.progress\ndata: {"fraction":0.5}\n\n' +
  'id: 2\r\nevent: job.loss\r\ndata: {"task":0,\r\ndata: "loss":0.7}\r\n\r\n' +
  'data:no space\rid: 3\r\r' +
  'id\n\n';

describe('SseParser', () => {
  const expected: SseEvent[] = [
    { id: '1', type: 'job.status', data: '{"status":"running"}' },
    // Ids persist: an event without an id line carries the last one.
    { id: '1', type: 'job.progress', data: '{"fraction":0.5}' },
    { id: '2', type: 'job.loss', data: '{"task":0,\n"loss":0.7}' },
    { id: '3', type: 'message', data: 'no space' },
  ];

  it('reads events, comments, ids and multi-line data with any line ending', () => {
    assert.deepEqual(new SseParser().push(STREAM), expected);
  });

  it('gives the same events whatever the chunks, including a CRLF split in two', () => {
    for (const size of [1, 2, 3, 7, 16]) {
      const parser = new SseParser();
      const events: SseEvent[] = [];
      for (let i = 0; i < STREAM.length; i += size)
        events.push(...parser.push(STREAM.slice(i, i + size)));
      assert.deepEqual(events, expected, `chunks of ${size}`);
    }
  });

  it('holds back an event until its blank line arrives', () => {
    const parser = new SseParser();
    assert.deepEqual(parser.push('id: 9\nevent: job.succeeded\ndata: {}\n'), []);
    assert.deepEqual(parser.push('\n'), [{ id: '9', type: 'job.succeeded', data: '{}' }]);
  });
});
