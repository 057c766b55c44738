/**
 * The job event stream as Postgres writes it (migration 20261203000000_job_stream): the
 * repositories the API and workers use write their rows as always, and triggers turn them into
 * numbered events and NOTIFYs. What the stream's resumption relies on: a job's events are
 * numbered 1, 2, 3, ... in commit order, without gaps, and announced in that order.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { resolveSpec } from '../../src/core/index.js';
import { PrismaJobEventLog } from '../../src/infra/prisma/job-stream.repository.js';
import { PrismaJobRepository } from '../../src/infra/prisma/job.repository.js';
import { PrismaTrainingRepository } from '../../src/infra/prisma/training.repository.js';
import { createTestService, eventually, tinySpec, type TestService } from '../helpers/service.js';

/** The attempt that writes (fencing: every training write names its lease). */
const LEASE = 'attempt-1';

interface Notification {
  j: string;
  t: string;
  s?: number;
  d?: Record<string, unknown>;
}

describe('job stream log (Postgres triggers)', () => {
  let svc: TestService;
  let tenantId: string;
  let jobs: PrismaJobRepository;
  let training: PrismaTrainingRepository;
  let log: PrismaJobEventLog;
  let listener: pg.Client;
  const heard: Notification[] = [];

  const client = async () => {
    const c = new pg.Client({
      connectionString: svc.config.databaseUrl,
      options: `-c search_path="${svc.config.databaseSchema}"`,
    });
    await c.connect();
    return c;
  };
  const newJob = async (tasks = 2) => {
    const { job } = await jobs.create({
      tenantId,
      name: null,
      metadata: null,
      spec: resolveSpec(tinySpec({ tasks })),
      idempotencyKey: null,
      requestHash: null,
    });
    return job.id;
  };
  const types = async (jobId: string) =>
    (await log.after(jobId, 0, 1000)).map((e) => `${e.seq} ${e.type}`);
  const heardFor = (jobId: string) => heard.filter((n) => n.j === jobId);

  before(async () => {
    svc = await createTestService('streamlog');
    const auth = await svc.auth('acme');
    const res = await svc.app.inject({
      method: 'GET',
      url: '/v1/jobs',
      headers: { authorization: auth },
    });
    assert.equal(res.statusCode, 200);
    tenantId = (await svc.db.tenant.findFirstOrThrow()).id;
    jobs = new PrismaJobRepository(svc.db, svc.pool);
    training = new PrismaTrainingRepository(svc.db, svc.pool);
    log = new PrismaJobEventLog(svc.db);
    listener = await client();
    listener.on('notification', (n) => heard.push(JSON.parse(n.payload!)));
    await listener.query(`LISTEN "retain_events:${svc.config.databaseSchema}"`);
  });
  after(async () => {
    await listener?.end();
    await svc?.close();
  });

  it('a task completed with running batch-norm statistics carries that row too (migration 20261220000000)', async () => {
    const id = await newJob();
    assert.ok(await training.markRunning(id, LEASE, 'cpu', 'attempt 1'));
    const stats = { mean: [Float32Array.of(0.5, -1)], variance: [Float32Array.of(2, 0.25)] };
    await training.completeTask(id, LEASE, {
      task: 0,
      completedTasks: 1,
      accuracies: [0.9],
      runningStatsAccuracies: [0.85],
      batchNormStats: stats,
      durationMs: 10,
      msPerIteration: 1,
      checkpoint: new Uint8Array([1]),
      exports: [],
      embedding: null,
    });
    const events = await log.after(id, 0, 100);
    assert.deepEqual(events.at(-1)?.data, {
      jobId: id,
      task: 0,
      accuracies: [0.9],
      runningStatsAccuracies: [0.85],
      durationMs: 10,
      msPerIteration: 1,
    });
    // The statistics themselves are stored with the task's result.
    const row = await svc.pool.query<{ batch_norm_stats: unknown }>(
      'SELECT batch_norm_stats FROM task_results WHERE job_id = $1',
      [id],
    );
    assert.deepEqual(row.rows[0].batch_norm_stats, { mean: [[0.5, -1]], variance: [[2, 0.25]] });
    assert.deepEqual(
      (await jobs.taskResults(id)).map((r) => r.runningStatsAccuracies),
      [[0.85]],
    );
  });

  it('numbers a job life 1, 2, 3, ... and ends it with the final metrics', async () => {
    const id = await newJob();
    assert.deepEqual(
      await types(id),
      ['1 job.status'],
      'the submission (one CTE statement) is event 1',
    );
    assert.ok(await training.markRunning(id, LEASE, 'cpu', 'attempt 1'));
    await training.addMetricPoints(id, LEASE, [
      {
        kind: 'loss',
        task: 0,
        iteration: 0,
        value: 0.7,
        taskLoss: 0.6,
        outputReg: 0.1,
        driftReg: 0,
      },
      { kind: 'validation', task: 0, iteration: 9, value: 0.5 },
    ]);
    // A resumed task records the same point again: no event.
    await training.addMetricPoints(id, LEASE, [
      { kind: 'loss', task: 0, iteration: 0, value: 0.7 },
    ]);
    for (const task of [0, 1]) {
      await training.completeTask(id, LEASE, {
        task,
        completedTasks: task + 1,
        accuracies: task === 0 ? [0.9] : [0.8, 0.95],
        durationMs: 10,
        msPerIteration: 1,
        checkpoint: new Uint8Array([1]),
        exports: [],
        embedding: null,
      });
    }
    await training.succeed(id, LEASE, {
      averageAccuracy: 0.875,
      backwardTransfer: -0.1,
      forgetting: 0.1,
      taskInference: null,
    });
    assert.deepEqual(await types(id), [
      '1 job.status',
      '2 job.status',
      '3 job.loss',
      '4 job.validation',
      '5 job.task_completed',
      '6 job.task_completed',
      '7 job.status',
      '8 job.succeeded',
    ]);
    const events = await log.after(id, 0, 100);
    assert.deepEqual(events[2].data, {
      jobId: id,
      task: 0,
      iteration: 0,
      loss: 0.7,
      taskLoss: 0.6,
      outputReg: 0.1,
      driftReg: 0,
    });
    assert.deepEqual(events[5].data, {
      jobId: id,
      task: 1,
      accuracies: [0.8, 0.95],
      durationMs: 10,
      msPerIteration: 1,
    });
    assert.deepEqual(events[7].data, {
      jobId: id,
      averageAccuracy: 0.875,
      backwardTransfer: -0.1,
      forgetting: 0.1,
      taskInference: null,
      accuracyMatrix: [[0.9], [0.8, 0.95]],
    });
    assert.equal(await log.head(id), 8);
    assert.deepEqual(
      (await log.after(id, 6, 1)).map((e) => e.seq),
      [7],
    );
    // Every stored event was announced, in order, with its data.
    const announced = await eventually(
      async () => {
        const n = heardFor(id).filter((x) => x.s !== undefined);
        return n.length === 8 ? n : undefined;
      },
      20,
      5000,
    );
    assert.deepEqual(
      announced.map((n) => n.s),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    assert.deepEqual(announced[7].d, events[7].data);
  });

  it('numbers events in commit order when two transactions write one job, and a rollback leaves no gap', async () => {
    const id = await newJob();
    const [a, b] = [await client(), await client()];
    try {
      await a.query('BEGIN');
      await a.query(
        `INSERT INTO metric_points (job_id, kind, task, iteration, value) VALUES ($1, 'loss', 0, 0, 1)`,
        [id],
      );
      // b starts later and commits first: its event must come first.
      await b.query('BEGIN');
      await b.query(
        `INSERT INTO job_events (job_id, status, message) VALUES ($1, 'running', 'b')`,
        [id],
      );
      await b.query('COMMIT');
      await a.query('COMMIT');
      await a.query('BEGIN');
      await a.query(
        `INSERT INTO metric_points (job_id, kind, task, iteration, value) VALUES ($1, 'loss', 0, 10, 1)`,
        [id],
      );
      await a.query('ROLLBACK');
      await b.query(
        `INSERT INTO metric_points (job_id, kind, task, iteration, value) VALUES ($1, 'loss', 0, 20, 1)`,
        [id],
      );
    } finally {
      await a.end();
      await b.end();
    }
    const events = await log.after(id, 0, 100);
    assert.deepEqual(
      events.map((e) => `${e.seq} ${e.type} ${String(e.data.iteration ?? e.data.message)}`),
      ['1 job.status submitted', '2 job.status b', '3 job.loss 0', '4 job.loss 20'],
    );
    const announced = await eventually(
      async () => {
        const n = heardFor(id);
        return n.length === 4 ? n : undefined;
      },
      20,
      5000,
    );
    assert.deepEqual(
      announced.map((n) => n.s),
      [1, 2, 3, 4],
    );
  });

  it('announces progress of a running job without numbering it, and failures and cancels as final events', async () => {
    const failing = await newJob();
    await training.markRunning(failing, LEASE, 'cpu', 'attempt 1');
    await training.saveProgress(failing, LEASE, {
      task: 0,
      iteration: 5,
      etaMs: 1234,
      firstIteration: true,
    });
    await training.fail(failing, LEASE, { code: 'DIVERGED', message: 'loss is NaN' });
    const failed = await log.after(failing, 0, 100);
    assert.deepEqual(
      failed.map((e) => e.type),
      ['job.status', 'job.status', 'job.status', 'job.failed'],
    );
    assert.deepEqual(failed[3].data, {
      jobId: failing,
      error: { code: 'DIVERGED', message: 'loss is NaN' },
    });
    const progress = await eventually(
      async () => heardFor(failing).find((n) => n.t === 'job.progress'),
      20,
      5000,
    );
    assert.equal(progress.s, undefined);
    assert.deepEqual(progress.d, {
      status: 'running',
      currentTask: 0,
      iteration: 5,
      completedTasks: 0,
      tasksTotal: 2,
      iterationsPerTask: 40,
      etaMs: 1234,
    });

    const cancelled = await newJob();
    await jobs.cancel(tenantId, cancelled);
    assert.deepEqual(
      (await log.after(cancelled, 0, 100)).map(
        (e) => `${e.type} ${String(e.data.status ?? e.data.message)}`,
      ),
      ['job.status queued', 'job.status cancelled', 'job.cancelled cancelled by the client'],
    );
  });

  it('leaves out the task results a continuation copies, and announces a large event without its data', async () => {
    const source = await newJob(1);
    await training.markRunning(source, LEASE, 'cpu', 'attempt 1');
    // Accuracies of 900 tasks: the succeeded event is too large for a NOTIFY payload.
    const accuracies = Array.from({ length: 900 }, (_, i) => i / 997);
    await training.completeTask(source, LEASE, {
      task: 0,
      completedTasks: 1,
      accuracies,
      durationMs: 1,
      msPerIteration: 1,
      checkpoint: new Uint8Array([1]),
      exports: [],
      embedding: null,
    });
    await training.succeed(source, LEASE, {
      averageAccuracy: 0.5,
      backwardTransfer: null,
      forgetting: null,
      taskInference: null,
    });
    const big = await eventually(
      async () => heardFor(source).find((n) => n.t === 'job.succeeded'),
      20,
      5000,
    );
    assert.equal(big.d, undefined);
    assert.equal(big.s, 5);
    assert.deepEqual((await log.after(source, 4, 1))[0].data.accuracyMatrix, [accuracies]);

    const spec = resolveSpec({ ...tinySpec({ tasks: 2 }) });
    const { job } = await jobs.create({
      tenantId,
      name: null,
      metadata: null,
      spec,
      idempotencyKey: null,
      requestHash: null,
      continueFrom: { jobId: source, inheritedTasks: 1 },
    });
    assert.deepEqual(await types(job.id), ['1 job.status']);
  });

  it('tells listeners that a job was deleted', async () => {
    const id = await newJob();
    await jobs.delete(tenantId, id);
    await eventually(async () => heardFor(id).find((n) => n.t === 'job.deleted'), 20, 5000);
    assert.equal(await log.head(id), null);
  });
});
