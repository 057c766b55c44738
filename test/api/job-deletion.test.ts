/**
 * DELETE /v1/jobs/:id over HTTP with real Postgres, Redis and workers: a job goes with all its
 * rows and bytes; other tenants get 404; a job continuing it keeps what it took over (the two
 * share blobs until the continuation writes its own), in whichever order they are deleted; a
 * running job is cancelled first and its worker stops without writing anything back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jobBlobIds } from '../../src/infra/prisma/job-blobs.js';
import {
  createTestService,
  eventually,
  tinySpec,
  type TestService,
  type WorkerHandle,
} from '../helpers/service.js';

/** Tables that hold rows of a job (besides `jobs`). */
const JOB_TABLES = [
  'job_events',
  'task_results',
  'metric_points',
  'checkpoints',
  'task_embeddings',
  'task_artifacts',
];

describe('deleting jobs', () => {
  let svc: TestService;
  let auth: string;
  let otherAuth: string;
  let worker: WorkerHandle | null = null;

  before(async () => {
    svc = await createTestService('job_deletion');
    auth = await svc.auth('acme');
    otherAuth = await svc.auth('globex');
  });
  after(async () => svc?.close());

  const request = (method: 'GET' | 'POST' | 'DELETE', url: string, as = auth, payload?: object) =>
    svc.app.inject({
      method,
      url,
      headers: { authorization: as },
      ...(payload ? { payload } : {}),
    });
  async function submit(payload: object): Promise<string> {
    const res = await request('POST', '/v1/jobs', auth, payload);
    assert.equal(res.statusCode, 201, res.body);
    return res.json().id;
  }
  async function until(
    id: string,
    done: (job: { status: string; progress: { iteration: number | null } }) => boolean,
  ) {
    return eventually(
      async () => {
        const job = (await request('GET', `/v1/jobs/${id}`)).json();
        return done(job) ? job : undefined;
      },
      100,
      300_000,
    );
  }
  const succeeded = (id: string) =>
    until(id, (j) => ['succeeded', 'failed', 'cancelled'].includes(j.status)).then((j) =>
      assert.equal(j.status, 'succeeded', JSON.stringify(j)),
    );
  const count = async (sql: string, params: unknown[]) =>
    Number((await svc.pool.query<{ n: string }>(sql, params)).rows[0].n);
  const rowsOf = async (id: string) => {
    const counts: Record<string, number> = {
      jobs: await count('SELECT count(*) AS n FROM jobs WHERE id = $1', [id]),
    };
    for (const t of JOB_TABLES)
      counts[t] = await count(`SELECT count(*) AS n FROM ${t} WHERE job_id = $1`, [id]);
    return counts;
  };
  const blobsLeft = async (ids: string[]) => ({
    blobs: await count('SELECT count(*) AS n FROM blobs WHERE id = ANY($1::uuid[])', [ids]),
    chunks: await count('SELECT count(*) AS n FROM blob_chunks WHERE blob_id = ANY($1::uuid[])', [
      ids,
    ]),
  });
  const download = async (id: string, task: number) => {
    const res = await request('GET', `/v1/jobs/${id}/tasks/${task}/mask`);
    assert.equal(res.statusCode, 200, res.body);
    return res.rawPayload;
  };
  async function withWorker<T>(fn: () => Promise<T>): Promise<T> {
    worker = await svc.startWorker();
    try {
      return await fn();
    } finally {
      worker.process.kill('SIGKILL');
      await worker.exited;
      worker = null;
    }
  }

  it('removes a finished job with every row and byte of it: 204, then 404 everywhere', async () => {
    const id = await submit(tinySpec());
    await withWorker(() => succeeded(id));
    const blobs = await jobBlobIds(svc.pool, id);
    assert.equal(blobs.length, 5, 'a checkpoint, and a mask and weights per task');
    const before = await rowsOf(id);
    for (const t of ['jobs', ...JOB_TABLES]) assert.ok(before[t] > 0, `${t} holds rows of the job`);

    assert.equal(
      (await request('DELETE', `/v1/jobs/${id}`, otherAuth)).statusCode,
      404,
      "another tenant's DELETE",
    );
    assert.equal(
      (await request('GET', `/v1/jobs/${id}`)).statusCode,
      200,
      'and the job is still there',
    );

    assert.ok(await svc.ctx.queue.queue.getJob(id), 'the queue keeps a finished job for a day');
    const res = await request('DELETE', `/v1/jobs/${id}`);
    assert.equal(res.statusCode, 204, res.body);
    assert.equal(res.body, '');
    assert.equal(await svc.ctx.queue.queue.getJob(id), undefined, 'its queue entry went too');
    for (const url of [
      `/v1/jobs/${id}`,
      `/v1/jobs/${id}/metrics`,
      `/v1/jobs/${id}/events`,
      `/v1/jobs/${id}/tasks/0/mask`,
      `/v1/jobs/${id}/tasks/1/model/weights.bin`,
    ]) {
      const gone = await request('GET', url);
      assert.equal(gone.statusCode, 404, url);
      assert.equal(gone.json().error.code, 'JOB_NOT_FOUND', url);
    }
    const again = await request('DELETE', `/v1/jobs/${id}`);
    assert.equal(again.statusCode, 404);
    assert.match(again.json().error.message, /does not exist/);
    assert.deepEqual(
      await rowsOf(id),
      Object.fromEntries(['jobs', ...JOB_TABLES].map((t) => [t, 0])),
    );
    assert.deepEqual(await blobsLeft(blobs), { blobs: 0, chunks: 0 });
    const list = (await request('GET', '/v1/jobs')).json();
    assert.ok(!list.items.some((j: { id: string }) => j.id === id), 'not listed any more');
  });

  it('a job continuing another keeps what it took over, whichever of the two is deleted first', async () => {
    const a = await submit(tinySpec({ tasks: 2 }));
    await withWorker(() => succeeded(a));
    const masksOfA = [await download(a, 0), await download(a, 1)];
    const matrixOfA = (await request('GET', `/v1/jobs/${a}/metrics`)).json().accuracyMatrix;
    // No worker: B and C point at A's checkpoint and exports, and have written nothing of their own.
    const b = await submit({ continueFrom: a, benchmark: { tasks: 1 } });
    const c = await submit({ continueFrom: a, benchmark: { tasks: 1 } });
    const shared = await jobBlobIds(svc.pool, a);
    assert.deepEqual(
      (await jobBlobIds(svc.pool, b)).sort(),
      [...shared].sort(),
      'B points at the blobs of A',
    );

    // The continuation first (queued, so it is cancelled and taken off the queue): A is intact.
    assert.equal((await request('DELETE', `/v1/jobs/${c}`)).statusCode, 204);
    assert.equal(await svc.ctx.queue.queue.getJob(c), undefined, 'C is off the queue');
    assert.deepEqual([await download(a, 0), await download(a, 1)], masksOfA);
    assert.deepEqual(await blobsLeft(shared), { blobs: shared.length, chunks: shared.length });

    // Then the source: B still downloads A's masks, and trains on from A's checkpoint.
    assert.equal((await request('DELETE', `/v1/jobs/${a}`)).statusCode, 204);
    assert.deepEqual([await download(b, 0), await download(b, 1)], masksOfA);
    await withWorker(() => succeeded(b));
    const matrixOfB = (await request('GET', `/v1/jobs/${b}/metrics`)).json().accuracyMatrix;
    assert.deepEqual(matrixOfB.slice(0, 2), matrixOfA);
    assert.equal(matrixOfB.length, 3);
    assert.equal(
      (await request('GET', `/v1/jobs/${b}`)).json().continueFrom,
      a,
      'continueFrom keeps naming the deleted source',
    );
    // B wrote its own checkpoint and (at its last task) every export: nothing of A's is left.
    assert.deepEqual(await blobsLeft(shared), { blobs: 0, chunks: 0 });

    assert.equal((await request('DELETE', `/v1/jobs/${b}`)).statusCode, 204);
    assert.equal(
      await count('SELECT count(*) AS n FROM blobs', []),
      0,
      'no blob of any deleted job is left',
    );
    assert.equal(await count('SELECT count(*) AS n FROM blob_chunks', []), 0);
  });

  it('cancels a running job first; its worker stops, writes nothing back and takes the next job', async () => {
    const id = await submit(tinySpec({ tasks: 2, iterationsPerTask: 100_000 }));
    await withWorker(async () => {
      await until(id, (j) => j.status === 'running' && (j.progress.iteration ?? 0) > 0);
      const res = await request('DELETE', `/v1/jobs/${id}`);
      assert.equal(res.statusCode, 204, res.body);
      await worker!.waitForOutput(new RegExp(`job ${id} done: .*"outcome":"(skipped|cancelled)"`));
      assert.deepEqual(
        await rowsOf(id),
        Object.fromEntries(['jobs', ...JOB_TABLES].map((t) => [t, 0])),
        'nothing was written back',
      );
      const next = await submit(tinySpec());
      await succeeded(next);
      assert.equal(worker!.process.exitCode, null, 'the worker is still up');
      assert.doesNotMatch(worker!.output(), /unhandled|uncaught|failed:/i);
    });
  });

  it('answers 400 for an id that is not a UUID', async () => {
    const res = await request('DELETE', '/v1/jobs/not-a-uuid');
    assert.equal(res.statusCode, 400);
  });
});
