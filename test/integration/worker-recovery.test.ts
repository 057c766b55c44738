/**
 * Crash safety of the real worker process (workers/training.worker.ts with its sandboxed training
 * child) against real Postgres and Redis: SIGKILL in the middle of the second task, cancel in the
 * middle of a task, SIGTERM handing the job back, and unrecoverable errors (a corrupt checkpoint,
 * a stored spec the worker cannot read) failing at once.
 */
import type { JobResource } from '../../src/http/routes/jobs/schemas.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestService, eventually, tinySpec, type TestService } from '../helpers/service.js';
import { storeBlob } from '../helpers/blobs.js';

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('worker crash safety', () => {
  let svc: TestService;
  let auth: string;

  before(async () => {
    svc = await createTestService('recovery');
    auth = await svc.auth('acme');
  });
  after(async () => svc?.close());

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
  const job = async (id: string) =>
    (await svc.app.inject({ url: `/v1/jobs/${id}`, headers: { authorization: auth } })).json();
  const until = (id: string, pred: (j: JobResource) => boolean) =>
    eventually(async () => {
      const j = await job(id);
      return pred(j) ? (j as JobResource) : undefined;
    });
  const rows = async (id: string) =>
    (await svc.db.taskResult.findMany({ where: { jobId: id }, orderBy: { task: 'asc' } })).map(
      (r) => r.accuracies,
    );

  it('SIGKILL mid second task: a new worker resumes after task 1 and ends with the uninterrupted results', async () => {
    const spec = tinySpec({ tasks: 3, iterationsPerTask: 200, seed: 11 });
    const id = await submit(spec);
    const first = await svc.startWorker();
    await until(id, (j) => j.progress.completedTasks >= 1);
    // The training child logs its pid just after storing task 1; on a busy machine the line can
    // trail the stored progress through the worker's output, so wait for it before the kill.
    const trainingPid = Number(
      await eventually(async () => /\[training (\d+)\]/.exec(first.output())?.[1]),
    );
    first.process.kill('SIGKILL');
    await first.exited;
    // The orphaned training child notices its parent is gone and exits.
    await eventually(async () => (isAlive(trainingPid) ? undefined : true));
    const interrupted = await job(id);
    assert.equal(interrupted.status, 'running');
    assert.equal(interrupted.progress.completedTasks, 1, 'killed during the second task');

    const second = await svc.startWorker();
    const done = await until(id, (j) => ['succeeded', 'failed', 'cancelled'].includes(j.status));
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    assert.equal(done.attempts, 2);
    const events = (
      await svc.app.inject({ url: `/v1/jobs/${id}/events`, headers: { authorization: auth } })
    ).json().items;
    assert.ok(
      events.some((e: { message: string }) => /resuming after task 1/.test(e.message ?? '')),
      JSON.stringify(events),
    );

    // The same spec without interruption gives the same per-task results.
    const reference = await submit(spec);
    const refDone = await until(reference, (j) => ['succeeded', 'failed'].includes(j.status));
    assert.equal(refDone.status, 'succeeded');
    assert.equal(refDone.attempts, 1);
    assert.deepEqual(await rows(id), await rows(reference));
    second.process.kill('SIGKILL');
    await second.exited;
  });

  it('cancel in the middle of a task stops training and frees the worker', async () => {
    const worker = await svc.startWorker();
    const id = await submit(tinySpec({ iterationsPerTask: 200_000 }));
    await until(id, (j) => j.status === 'running' && (j.progress.iteration ?? 0) > 0);
    const res = await svc.app.inject({
      method: 'POST',
      url: `/v1/jobs/${id}/cancel`,
      headers: { authorization: auth },
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().status, 'cancelled');
    await worker.waitForOutput(new RegExp(`job ${id} done: \\{"outcome":"cancelled"`));
    const after = await job(id);
    assert.equal(after.status, 'cancelled');
    assert.equal(after.progress.completedTasks, 0);
    // The worker is free again: a small job now trains to the end.
    const next = await submit(tinySpec());
    assert.equal(
      (await until(next, (j) => ['succeeded', 'failed'].includes(j.status))).status,
      'succeeded',
    );
    worker.process.kill('SIGKILL');
    await worker.exited;
  });

  it('SIGTERM hands the running job back to the queue, and another worker takes it', async () => {
    const worker = await svc.startWorker();
    const id = await submit(tinySpec({ iterationsPerTask: 200_000 }));
    await until(id, (j) => j.status === 'running' && (j.progress.iteration ?? 0) > 0);
    worker.process.kill('SIGTERM');
    const exit = await worker.exited;
    assert.equal(exit.code, 0, worker.output());
    const handedBack = await job(id);
    assert.equal(handedBack.status, 'queued');
    assert.equal(
      (await svc.ctx.queue.queue.getJob(id))?.attemptsMade ?? 0,
      0,
      'a handback uses no attempt',
    );
    assert.equal(await (await svc.ctx.queue.queue.getJob(id))!.getState(), 'waiting');

    const next = await svc.startWorker();
    await until(id, (j) => j.status === 'running' && j.attempts === 2);
    await svc.app.inject({
      method: 'POST',
      url: `/v1/jobs/${id}/cancel`,
      headers: { authorization: auth },
    });
    await next.waitForOutput(new RegExp(`job ${id} done`));
    next.process.kill('SIGKILL');
    await next.exited;
  });

  it('an unrecoverable error (corrupt checkpoint) fails the job at once with its code', async () => {
    const id = await submit(tinySpec());
    const blobId = await storeBlob(svc.pool, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]));
    await svc.db.checkpoint.create({ data: { jobId: id, completedTasks: 1, blobId } });
    const worker = await svc.startWorker();
    const failed = await until(id, (j) => ['succeeded', 'failed'].includes(j.status));
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error?.code, 'INVALID_CHECKPOINT');
    assert.equal(failed.attempts, 1, 'no retries');
    // Postgres records the failure before BullMQ moves the entry; give the queue up to 10 s.
    const queued = (await svc.ctx.queue.queue.getJob(id))!;
    let state = await queued.getState();
    for (let i = 0; i < 100 && state === 'active'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      state = await queued.getState();
    }
    assert.equal(state, 'failed');
    worker.process.kill('SIGKILL');
    await worker.exited;
  });

  it('a job whose stored spec is of another version or no longer validates fails at once, untrained, with INVALID_STORED_SPEC', async () => {
    const newer = await submit(tinySpec());
    await svc.db.job.update({ where: { id: newer }, data: { specVersion: 6 } });
    const broken = await submit(tinySpec());
    const stored = (await svc.db.job.findUniqueOrThrow({ where: { id: broken } })).spec as {
      training: Record<string, unknown>;
    };
    await svc.db.job.update({
      where: { id: broken },
      // batchSize rather than iterationsPerTask: a value outside a nullable field's union (such as
      // iterationsPerTask: 0) matches no branch of the response schema, and GET answers 500.
      data: { spec: { ...stored, training: { ...stored.training, batchSize: 0 } } },
    });
    const worker = await svc.startWorker();
    for (const [id, says] of [
      [newer, /^the job's spec was stored as version 6 and this worker reads version 5/],
      [
        broken,
        /^the job's stored spec no longer passes validation \(training.batchSize: must be an integer between 1 and 4096 \(got 0\)\)/,
      ],
    ] as const) {
      const failed = await until(id, (j) => ['succeeded', 'failed'].includes(j.status));
      assert.equal(failed.status, 'failed');
      assert.equal(failed.error?.code, 'INVALID_STORED_SPEC');
      assert.match(failed.error?.message ?? '', says);
      assert.equal(failed.attempts, 1, 'no retries');
      assert.equal(failed.progress.iterationsDone, 0, 'nothing was trained');
    }
    worker.process.kill('SIGKILL');
    await worker.exited;
  });

  it('a job stored as spec version 1 (before network kinds) reads back, and trains, as the MLP it described', async () => {
    const older = await submit(tinySpec());
    const stored = (await svc.db.job.findUniqueOrThrow({ where: { id: older } })).spec as {
      network: Record<string, unknown>;
    };
    const { kind, channels, n, k, dropout, ...network } = stored.network;
    assert.deepEqual([kind, channels, n, k, dropout], ['mlp', null, null, null, 0]);
    assert.equal(
      (await svc.db.job.findUniqueOrThrow({ where: { id: older } })).specVersion,
      5,
      'new jobs are stored as version 5',
    );
    // As version 1 stored it: no network kind, and task inference a boolean.
    await svc.db.job.update({
      where: { id: older },
      data: {
        // tsc needs the cast (Prisma's JSON input type); the lint rule misreads it as unnecessary.
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
        spec: { ...stored, network, evaluation: { taskInference: false } } as object,
        specVersion: 1,
      },
    });
    const shown = (await job(older)).spec;
    assert.equal(shown.network.kind, 'mlp', 'the API shows the spec as of version 5');
    assert.equal(shown.evaluation.taskInference, 'none');
    const worker = await svc.startWorker();
    const done = await until(older, (j) => ['succeeded', 'failed'].includes(j.status));
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    worker.process.kill('SIGKILL');
    await worker.exited;
  });
});
