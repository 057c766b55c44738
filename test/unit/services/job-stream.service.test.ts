/** JobStreamService against in-memory ports: ordering, resumption, gaps, the end, slow clients. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServiceError } from '../../../src/services/errors.js';
import {
  JobStreamService,
  REPLAY_PAGE,
  type StreamSink,
} from '../../../src/services/events/job-stream.service.js';
import type {
  JobEventFeed,
  JobEventListener,
  JobEventLog,
  JobProgress,
  JobRecord,
  JobStatus,
  JobStreamEvent,
} from '../../../src/services/ports.js';

class MemoryLog implements JobEventLog {
  events: JobStreamEvent[] = [];
  reads = 0;
  failNext = false;
  append(type: JobStreamEvent['type'], data: Record<string, unknown> = {}): JobStreamEvent {
    const e = { seq: this.events.length + 1, type, at: new Date(0), data };
    this.events.push(e);
    return e;
  }
  async after(_jobId: string, afterSeq: number, limit: number) {
    this.reads++;
    if (this.failNext) throw new Error('connection lost');
    return this.events.filter((e) => e.seq > afterSeq).slice(0, limit);
  }
  async head() {
    return this.events.length;
  }
}

class MemoryFeed implements JobEventFeed {
  listeners = new Set<JobEventListener>();
  async subscribe(_jobId: string, l: JobEventListener) {
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  }
  publish(e: JobStreamEvent) {
    this.listeners.forEach((l) => l.event(e));
  }
}

class Sink implements StreamSink {
  got: string[] = [];
  ended: Error | true | null = null;
  accept = true;
  event(e: JobStreamEvent) {
    this.got.push(`${e.seq} ${e.type}`);
    return this.accept;
  }
  progress(p: JobProgress) {
    this.got.push(`- progress ${p.iteration}`);
    return this.accept;
  }
  end(err?: Error) {
    this.ended = err ?? true;
  }
}

const job = (status: JobStatus) =>
  ({
    id: 'j',
    tenantId: 't',
    status,
    currentTask: 0,
    iteration: 7,
    completedTasks: 0,
    tasksTotal: 2,
    iterationsPerTask: 10,
    etaMs: 5,
  }) as JobRecord;
const settle = () => new Promise((r) => setImmediate(r));

function setup(status: JobStatus = 'running') {
  const log = new MemoryLog();
  const feed = new MemoryFeed();
  const current = { job: job(status) };
  const service = new JobStreamService(
    { get: async (tenant, id) => (tenant === 't' && id === 'j' ? current.job : null) },
    log,
    feed,
  );
  return { log, feed, current, service, sink: new Sink() };
}

describe('JobStreamService', () => {
  it('replays the log after the position, then the current progress, then live events, and ends at the final event', async () => {
    const { log, feed, service, sink } = setup();
    log.append('job.status');
    log.append('job.status');
    log.append('job.loss');
    const stream = await service.open('t', 'j', 1);
    // Committed while the stream was opening: announced live and also in the log.
    feed.publish(log.append('job.loss'));
    stream.start(sink);
    await settle();
    feed.publish(log.append('job.task_completed'));
    stream.progress({ ...job('running'), iteration: 9 });
    feed.publish(log.append('job.status'));
    feed.publish(log.append('job.succeeded'));
    feed.publish(log.append('job.status'));
    await settle();
    assert.deepEqual(sink.got, [
      '2 job.status',
      '3 job.loss',
      '4 job.loss',
      '- progress 7',
      '5 job.task_completed',
      '- progress 9',
      '6 job.status',
      '7 job.succeeded',
    ]);
    assert.equal(sink.ended, true);
    assert.equal(feed.listeners.size, 0, 'unsubscribed');
  });

  it('reads the log again when a live event skips a number, so nothing is lost or repeated', async () => {
    const { log, feed, service, sink } = setup();
    log.append('job.status');
    const stream = await service.open('t', 'j', 0);
    stream.start(sink);
    await settle();
    log.append('job.loss'); // never announced
    feed.publish(log.append('job.loss'));
    feed.publish(log.events[2]); // announced twice
    await settle();
    assert.deepEqual(
      sink.got.filter((g) => !g.startsWith('-')),
      ['1 job.status', '2 job.loss', '3 job.loss'],
    );
    const reads = log.reads;
    stream.resync();
    await settle();
    assert.equal(log.reads, reads + 1);
    assert.deepEqual(sink.got.filter((g) => !g.startsWith('-')).length, 3);
  });

  it('ends after the replay when the job had finished, and pages through long logs', async () => {
    const { log, service, current, sink } = setup('succeeded');
    for (let i = 0; i < REPLAY_PAGE + 3; i++) log.append('job.loss');
    log.append('job.succeeded');
    current.job = job('succeeded');
    const stream = await service.open('t', 'j', 0);
    stream.start(sink);
    await settle();
    await settle();
    assert.equal(sink.got.length, REPLAY_PAGE + 4);
    assert.equal(sink.ended, true);
    const atEnd = setup('succeeded');
    atEnd.log.append('job.succeeded');
    (await atEnd.service.open('t', 'j', 1)).start(atEnd.sink);
    await settle();
    assert.deepEqual([atEnd.sink.got, atEnd.sink.ended], [[], true]);
  });

  it("refuses another tenant's job and a position beyond the log, without staying subscribed", async () => {
    const { log, feed, service } = setup();
    log.append('job.status');
    await assert.rejects(
      service.open('other', 'j', 0),
      (e: unknown) => e instanceof ServiceError && e.code === 'JOB_NOT_FOUND',
    );
    await assert.rejects(
      service.open('t', 'j', 2),
      (e: unknown) => e instanceof ServiceError && e.code === 'INVALID_EVENT_ID',
    );
    assert.equal(feed.listeners.size, 0);
  });

  it('ends a stream whose client does not keep up, or whose log read fails, and stops at close', async () => {
    const slow = setup();
    slow.log.append('job.status');
    slow.log.append('job.status');
    slow.sink.accept = false;
    (await slow.service.open('t', 'j', 0)).start(slow.sink);
    await settle();
    assert.deepEqual([slow.sink.got, slow.sink.ended], [['1 job.status'], true]);

    const broken = setup();
    broken.log.failNext = true;
    (await broken.service.open('t', 'j', 0)).start(broken.sink);
    await settle();
    assert.match(String(broken.sink.ended), /connection lost/);

    const closed = setup();
    const stream = await closed.service.open('t', 'j', 0);
    stream.start(closed.sink);
    await settle();
    stream.close();
    closed.feed.publish(closed.log.append('job.status'));
    await settle();
    assert.deepEqual(closed.sink.got, ['- progress 7']);
    assert.equal(closed.feed.listeners.size, 0);
  });
});
