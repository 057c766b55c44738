/**
 * The API's live feed (PgJobEventHub) against real Postgres: events fanned out per job,
 * progress throttled with the latest value kept, and a lost LISTEN connection replaced, with the
 * subscribers told to catch up from the log.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { resolveSpec } from '../../src/core/index.js';
import { PgJobEventHub } from '../../src/infra/events/pg-event-hub.js';
import { PrismaJobRepository } from '../../src/infra/prisma/job.repository.js';
import { isDatabaseUnavailable } from '../../src/http/unavailable.js';
import type { JobEventListener, JobProgress, JobStreamEvent } from '../../src/services/ports.js';
import {
  createTestService,
  eventually,
  sleep,
  tinySpec,
  type TestService,
} from '../helpers/service.js';

class Recorder implements JobEventListener {
  events: JobStreamEvent[] = [];
  progresses: JobProgress[] = [];
  resyncs = 0;
  gones = 0;
  event(e: JobStreamEvent) {
    this.events.push(e);
  }
  progress(p: JobProgress) {
    this.progresses.push(p);
  }
  resync() {
    this.resyncs++;
  }
  gone() {
    this.gones++;
  }
}

describe('PgJobEventHub', () => {
  let svc: TestService;
  let hub: PgJobEventHub;
  let jobs: PrismaJobRepository;
  let tenantId: string;

  const newJob = async () => {
    const { job } = await jobs.create({
      tenantId,
      name: null,
      metadata: null,
      spec: resolveSpec(tinySpec()),
      idempotencyKey: null,
      requestHash: null,
    });
    return job.id;
  };

  before(async () => {
    svc = await createTestService('hub');
    await svc.auth('acme');
    tenantId = (await svc.db.tenant.findFirstOrThrow()).id;
    jobs = new PrismaJobRepository(svc.db, svc.pool);
    hub = new PgJobEventHub({
      url: svc.config.databaseUrl,
      schema: svc.config.databaseSchema,
      progressIntervalMs: 400,
    });
  });
  after(async () => {
    await hub?.close();
    await svc?.close();
  });

  it('sends each job its own events, and throttles progress keeping the latest value', async () => {
    const [a, b] = [await newJob(), await newJob()];
    const ra = new Recorder();
    const rb = new Recorder();
    const unsubscribe = await hub.subscribe(a, ra);
    await hub.subscribe(b, rb);
    await svc.pool.query(`UPDATE jobs SET status = 'running' WHERE id = $1`, [a]);
    for (let i = 1; i <= 10; i++)
      await svc.pool.query('UPDATE jobs SET iteration = $2 WHERE id = $1', [a, i]);
    await svc.pool.query(`INSERT INTO job_events (job_id, status) VALUES ($1, 'running')`, [b]);
    await eventually(
      async () => (ra.progresses.at(-1)?.iteration === 10 ? true : undefined),
      20,
      5000,
    );
    await sleep(500);
    assert.equal(ra.progresses[0].iteration, 1, 'the first progress goes out at once');
    assert.ok(ra.progresses.length <= 3, `throttled: ${ra.progresses.map((p) => p.iteration)}`);
    assert.equal(ra.progresses.at(-1)!.iteration, 10, 'the latest progress is not lost');
    await eventually(async () => (rb.events.length === 1 ? true : undefined), 20, 5000);
    assert.deepEqual([ra.events.length, rb.events[0].seq, rb.events[0].type], [0, 2, 'job.status']);
    assert.equal(hub.size, 2);
    unsubscribe();
    assert.equal(hub.size, 1);
  });

  it('replaces a LISTEN connection that was killed and tells subscribers to catch up', async () => {
    const id = await newJob();
    const r = new Recorder();
    await hub.subscribe(id, r);
    const { rowCount } = await svc.pool.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'retain-job-events' AND query LIKE 'LISTEN "retain_events:${svc.config.databaseSchema}"'`,
    );
    assert.equal(rowCount, 1);
    await eventually(async () => (r.resyncs > 0 ? true : undefined), 50, 10_000);
    await svc.pool.query(`INSERT INTO job_events (job_id, status) VALUES ($1, 'running')`, [id]);
    await eventually(async () => (r.events.some((e) => e.seq === 2) ? true : undefined), 20, 5000);
  });

  it('refuses a subscription, as the database being unavailable, when it cannot listen', async () => {
    const url = new URL(svc.config.databaseUrl);
    url.port = '1';
    const dead = new PgJobEventHub({
      url: url.toString(),
      schema: 'x',
      progressIntervalMs: 0,
      listenWaitMs: 300,
    });
    try {
      const err = await hub.subscribe('x', new Recorder()).then(
        () => null,
        (e: unknown) => e,
      );
      assert.equal(err, null, 'the live hub still subscribes');
      const refused = await dead.subscribe('x', new Recorder()).then(
        () => assert.fail('subscribed'),
        (e: unknown) => e,
      );
      assert.ok(isDatabaseUnavailable(refused), String(refused));
      assert.equal(dead.size, 0);
    } finally {
      await dead.close();
    }
  });
});
