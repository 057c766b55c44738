/**
 * Fencing of training attempts, against real Postgres and Redis. A worker that hangs without dying
 * (SIGSTOP here; a frozen VM or a swap storm in life) stops renewing its queue lock, the queue
 * gives the job to another worker, and when the first resumes it still holds a training attempt
 * in memory. Every write of that attempt must be refused, so the job ends with the second
 * attempt's results only, and the first must stop quietly (no crash, no status change).
 */
import type { JobResource } from '../../src/http/routes/jobs/schemas.js';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { checkout, createPgPool } from '../../src/infra/prisma/client.js';
import { PrismaTrainingRepository } from '../../src/infra/prisma/training.repository.js';
import { StaleAttemptError } from '../../src/services/errors.js';
import type { TaskCompletion } from '../../src/services/ports.js';
import {
  childrenOf,
  createTestService,
  eventually,
  tinySpec,
  type TestService,
} from '../helpers/service.js';

describe('fencing of training attempts', () => {
  let svc: TestService;
  let auth: string;
  let store: PrismaTrainingRepository;
  /** Processes a test stopped; resumed in after() whatever happened, so none is left stopped. */
  const stopped: number[] = [];

  before(async () => {
    svc = await createTestService('fencing');
    auth = await svc.auth('acme');
    store = new PrismaTrainingRepository(svc.db, svc.pool);
  });
  after(async () => {
    for (const pid of stopped) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // already gone
      }
    }
    await svc?.close();
  });

  const submit = async (payload: object) => {
    const res = await svc.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: auth },
      payload,
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json().id as string;
  };
  const get = async (url: string) =>
    (await svc.app.inject({ url, headers: { authorization: auth } })).json();
  const until = (id: string, pred: (j: JobResource) => boolean) =>
    eventually(async () => {
      const j = await get(`/v1/jobs/${id}`);
      return pred(j) ? (j as JobResource) : undefined;
    });

  /** Everything an attempt writes, as the API and the training store read it back. */
  async function written(id: string) {
    const loaded = await store.load(id);
    return {
      job: await get(`/v1/jobs/${id}`),
      events: (await get(`/v1/jobs/${id}/events`)).items,
      metrics: await get(`/v1/jobs/${id}/metrics`),
      taskResults: await svc.db.taskResult.findMany({
        where: { jobId: id },
        orderBy: { task: 'asc' },
      }),
      metricPoints: await svc.db.metricPoint.count({ where: { jobId: id } }),
      checkpoint: loaded?.checkpoint
        ? createHash('sha256').update(loaded.checkpoint).digest('hex')
        : null,
      model: (
        await svc.app.inject({
          url: `/v1/jobs/${id}/tasks/0/model/weights.bin`,
          headers: { authorization: auth },
        })
      ).rawPayload.toString('base64'),
    };
  }

  it('the store refuses every write of an attempt that another has taken over, and changes nothing', async () => {
    const id = await submit(tinySpec());
    assert.equal(await store.markRunning(id, 'worker-a:1', 'wasm', 'attempt 1'), true);
    await store.saveProgress(id, 'worker-a:1', {
      task: 0,
      iteration: 5,
      etaMs: 100,
      firstIteration: true,
    });
    await store.addMetricPoints(id, 'worker-a:1', [
      { kind: 'loss', task: 0, iteration: 0, value: 2.3 },
    ]);
    assert.equal(await store.markRunning(id, 'worker-b:1', 'wasm', 'attempt 2'), true);
    const before = await written(id);

    const completion: TaskCompletion = {
      task: 0,
      completedTasks: 1,
      accuracies: [0.5],
      durationMs: 1,
      msPerIteration: 1,
      checkpoint: new Uint8Array([1, 2, 3]),
      embedding: [0.1],
      exports: [
        {
          task: 0,
          mask: null,
          model: {
            modelJson: { format: 'layers-model', modelTopology: {}, weightsManifest: [] },
            weights: new Uint8Array(4),
            weightsFileName: 'weights.bin',
          },
          modelUnavailable: null,
        },
      ],
    };
    const stale = 'worker-a:1';
    const writes: [string, () => Promise<unknown>][] = [
      [
        'progress',
        () =>
          store.saveProgress(id, stale, {
            task: 0,
            iteration: 9,
            etaMs: 50,
            firstIteration: false,
          }),
      ],
      [
        'metric points',
        () =>
          store.addMetricPoints(id, stale, [{ kind: 'loss', task: 0, iteration: 5, value: 1.9 }]),
      ],
      ['task result, checkpoint and exports', () => store.completeTask(id, stale, completion)],
      [
        'move to succeeded',
        () =>
          store.succeed(id, stale, {
            averageAccuracy: 0.5,
            backwardTransfer: null,
            forgetting: null,
            taskInference: null,
          }),
      ],
      ['move to failed', () => store.fail(id, stale, { code: 'TRAINING_FAILED', message: 'boom' })],
      ['move to queued', () => store.requeue(id, stale, 'retrying')],
    ];
    for (const [what, write] of writes) {
      await assert.rejects(
        write(),
        (e) =>
          e instanceof StaleAttemptError &&
          e.message ===
            `job ${id} was taken over by another attempt; this attempt's ${what} was refused`,
      );
    }
    assert.deepEqual(await written(id), before, 'a refused write changed something');

    // The attempt that owns the job writes as before.
    await store.completeTask(id, 'worker-b:1', completion);
    await store.succeed(id, 'worker-b:1', {
      averageAccuracy: 0.5,
      backwardTransfer: null,
      forgetting: null,
      taskInference: null,
    });
    const done = await get(`/v1/jobs/${id}`);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.progress.completedTasks, 1);
  });

  it('a transaction a hung training process left open is ended, so the takeover does not wait on its row lock', async () => {
    const id = await submit(tinySpec());
    const hung = createPgPool({
      url: svc.config.databaseUrl,
      schema: svc.config.databaseSchema,
      poolSize: 1,
      idleInTransactionTimeoutMs: 500,
    });
    const { client, release } = await checkout(hung);
    try {
      await client.query('BEGIN');
      await client.query('UPDATE jobs SET updated_at = now() WHERE id = $1', [id]);
      // ...and its process hangs here, holding the row lock.
      const t0 = Date.now();
      const deadline = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('markRunning still waits after 10 s')), 10_000).unref(),
      );
      assert.equal(
        await Promise.race([store.markRunning(id, 'worker-b:1', 'wasm', 'attempt 2'), deadline]),
        true,
      );
      assert.ok(Date.now() - t0 < 5_000, `the takeover waited ${Date.now() - t0} ms`);
    } finally {
      release();
      await hung.end();
    }
  });

  it('a worker stopped past its lock and resumed after another worker finished the job writes nothing', async () => {
    const id = await submit(tinySpec({ tasks: 2, iterationsPerTask: 300, seed: 7 }));
    const first = await svc.startWorker();
    await until(id, (j) => j.status === 'running' && (j.progress.iteration ?? 0) > 0);
    const children = childrenOf(first.process.pid!);
    assert.ok(children.length > 0, first.output());
    // The whole worker hangs: the process that renews the lock and its training processes.
    for (const pid of [first.process.pid!, ...children]) {
      process.kill(pid, 'SIGSTOP');
      stopped.push(pid);
    }
    const atStop = await get(`/v1/jobs/${id}`);
    assert.equal(atStop.progress.completedTasks, 0, 'stopped in the middle of task 0');

    // The lock expires (LOCK_DURATION_MS 3 s), a second worker takes the job over and finishes it.
    const second = await svc.startWorker();
    const done = await until(id, (j) => ['succeeded', 'failed', 'cancelled'].includes(j.status));
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    assert.equal(done.attempts, 2);
    const before = await written(id);
    const started = before.events
      .filter((e: { status: string }) => e.status === 'running')
      .map((e: { at: string }) => Date.parse(e.at));
    assert.equal(started.length, 2);
    for (const r of before.taskResults)
      assert.ok(
        r.completedAt.getTime() >= started[1],
        `task ${r.task} was stored by the second attempt`,
      );

    // The first worker resumes with task 0 half trained. Its next write is refused, and it stops.
    const from = first.output().length;
    for (const pid of stopped.splice(0)) process.kill(pid, 'SIGCONT');
    const resumed = await eventually(
      async () => {
        const out = first.output().slice(from);
        return /taken over by another attempt|task \d+ done/.test(out) ? out : undefined;
      },
      50,
      60_000,
    );
    assert.match(
      resumed,
      new RegExp(
        `job ${id} was taken over by another attempt; this attempt's [a-z, ]+ was refused; this attempt stops`,
      ),
    );
    assert.doesNotMatch(
      resumed,
      /task \d+ done/,
      'the first attempt finished a task after it was taken over',
    );
    assert.deepEqual(
      await written(id),
      before,
      'the first attempt changed the job after it was taken over',
    );
    assert.ok(
      first.process.exitCode === null && first.process.signalCode === null,
      'the first worker is still up',
    );
    assert.ok(
      second.process.exitCode === null && second.process.signalCode === null,
      'the second worker is still up',
    );
  });
});
