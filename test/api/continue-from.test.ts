/**
 * Continuing a succeeded job with new tasks (POST /v1/jobs with continueFrom), over HTTP with real
 * Postgres, Redis and a worker: the continued job keeps the earlier tasks, trains only the new
 * ones, ends exactly like one job of all the tasks, and leaves the job it continues untouched.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeSafetensors } from '../../src/core/index.js';
import { readBlobBytes } from '../../src/infra/blobs/pg-blob-store.js';
import { csv } from '../helpers/dataset-builders.js';
import { createTestService, eventually, tinySpec, type TestService } from '../helpers/service.js';

/** A learnable table of classes a, b, c, d: feature j of a class-c sample is c + small noise. */
function table(rows: number, features: number): Buffer {
  const classes = ['a', 'b', 'c', 'd'];
  const header = [...Array.from({ length: features }, (_, j) => `f${j}`), 'label'];
  return csv(
    header,
    Array.from({ length: rows }, (_, i) => [
      ...Array.from({ length: features }, (_, j) => (i % 4) + ((i * 7 + j) % 5) / 10),
      classes[i % 4],
    ]),
  );
}

describe('continuing a job with new tasks', () => {
  let svc: TestService;
  let auth: string;
  let otherAuth: string;
  const ids: Record<string, string> = {};

  before(async () => {
    svc = await createTestService('continue_from');
    auth = await svc.auth('acme');
    otherAuth = await svc.auth('globex');
    await svc.startWorker();
  });
  after(async () => svc?.close());

  const get = (url: string) =>
    svc.app.inject({ method: 'GET', url, headers: { authorization: auth } });
  const post = (payload: object, as = auth) =>
    svc.app.inject({ method: 'POST', url: '/v1/jobs', headers: { authorization: as }, payload });
  async function submit(payload: object): Promise<string> {
    const res = await post(payload);
    assert.equal(res.statusCode, 201, res.body);
    return res.json().id;
  }
  async function finished(id: string) {
    const job = await eventually(
      async () => {
        const j = (await get(`/v1/jobs/${id}`)).json();
        return ['succeeded', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
      },
      100,
      300_000,
    );
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    return job;
  }
  const matrix = async (id: string): Promise<number[][]> =>
    (await get(`/v1/jobs/${id}/metrics`)).json().accuracyMatrix;
  const checkpoint = async (id: string): Promise<Uint8Array> =>
    readBlobBytes(
      svc.pool,
      (await svc.pool.query('SELECT blob_id FROM checkpoints WHERE job_id = $1', [id])).rows[0]
        .blob_id,
    );
  const sha = async (blobId: string | null) =>
    blobId
      ? createHash('sha256')
          .update(await readBlobBytes(svc.pool, blobId))
          .digest('hex')
      : null;

  /** Everything stored for a job, to show it does not change (bytes by their hash, read back from the blob store). */
  async function snapshot(id: string) {
    const q = async (sql: string) => (await svc.pool.query(sql, [id])).rows;
    const checkpoints = await q(
      'SELECT completed_tasks, blob_id, updated_at FROM checkpoints WHERE job_id = $1',
    );
    const artifacts = await q(
      'SELECT task, mask_blob_id, model_json, weights_blob_id, updated_at FROM task_artifacts WHERE job_id = $1 ORDER BY task',
    );
    return {
      job: await q(
        'SELECT status, spec, result, completed_tasks, tasks_total, updated_at, finished_at FROM jobs WHERE id = $1',
      ),
      results: await q(
        'SELECT task, accuracies, duration_ms, ms_per_iteration, completed_at FROM task_results WHERE job_id = $1 ORDER BY task',
      ),
      checkpoint: await Promise.all(
        checkpoints.map(async (r) => ({ ...r, data: await sha(r.blob_id) })),
      ),
      artifacts: await Promise.all(
        artifacts.map(async (r) => ({
          ...r,
          mask: await sha(r.mask_blob_id),
          weights: await sha(r.weights_blob_id),
        })),
      ),
      embeddings: await q(
        'SELECT task, "values" FROM task_embeddings WHERE job_id = $1 ORDER BY task',
      ),
    };
  }

  it('job A (2 tasks) succeeds; B continues it with a third task and C trains all 3 at once', async () => {
    ids.a = await submit(tinySpec({ tasks: 2 }));
    await finished(ids.a);
    const before = await snapshot(ids.a);

    const res = await post({ continueFrom: ids.a, benchmark: { tasks: 1 }, name: 'A + task 3' });
    assert.equal(res.statusCode, 201, res.body);
    const b = res.json();
    ids.b = b.id;
    assert.equal(b.continueFrom, ids.a);
    assert.equal(b.inheritedTasks, 2);
    assert.equal(b.progress.completedTasks, 2);
    assert.equal(b.progress.tasksTotal, 3);
    assert.equal(b.spec.benchmark.tasks, 3);
    assert.equal(b.links.tasks.length, 2, "A's exports are there at once");
    ids.c = await submit(tinySpec({ tasks: 3 }));

    const [jb, jc] = [await finished(ids.b), await finished(ids.c)];
    const [ma, mb, mc] = [await matrix(ids.a), await matrix(ids.b), await matrix(ids.c)];
    assert.equal(mb.length, 3);
    assert.deepEqual(mb.slice(0, 2), ma, "B's first two rows are A's");
    assert.deepEqual(mb, mc, 'B ends with the accuracy matrix of one job of all three tasks');
    assert.deepEqual(jb.result, jc.result);
    assert.deepEqual(
      decodeSafetensors(await checkpoint(ids.b)).tensors,
      decodeSafetensors(await checkpoint(ids.c)).tensors,
      'same weights bit for bit',
    );
    assert.equal(jb.attempts, 1);
    const events = (await get(`/v1/jobs/${ids.b}/events`))
      .json()
      .items.map((e: { message: string }) => e.message);
    assert.ok(
      events.some((m: string) => m.includes(`continuing job ${ids.a}`)),
      events.join(' | '),
    );

    // B's exports of A's tasks can be downloaded; A is exactly as it was.
    assert.equal((await get(`/v1/jobs/${ids.b}/tasks/0/model/model.json`)).statusCode, 200);
    assert.deepEqual(await snapshot(ids.a), before);
  });

  it('continues a continued job again (a chain of three jobs)', async () => {
    ids.d = await submit({ continueFrom: ids.b, benchmark: { tasks: 1 } });
    const d = await finished(ids.d);
    assert.equal(d.inheritedTasks, 3);
    assert.equal(d.spec.benchmark.tasks, 4);
    const [mb, md] = [await matrix(ids.b), await matrix(ids.d)];
    assert.equal(md.length, 4);
    assert.deepEqual(md.slice(0, 3), mb);
    assert.equal(md[3].length, 4, 'all earlier tasks re-evaluated');
  });

  it('on uploaded data: hypermask keeps the first task when continued with its labels swapped; finetune forgets it', async () => {
    const up = await svc.app.inject({
      method: 'POST',
      url: '/v1/datasets',
      headers: { authorization: auth, 'content-type': 'application/octet-stream' },
      payload: table(120, 5),
    });
    assert.equal(up.statusCode, 201, up.body);
    const data = up.json().id;
    const spec = (method: string) => ({
      method,
      benchmark: { kind: 'datasets', tasks: [{ dataset: data, classes: ['a', 'b'] }] },
      network: { hidden: [16] },
      hypernetwork: { hidden: [8], embeddingDim: 8 },
      training: {
        iterationsPerTask: 60,
        batchSize: 12,
        learningRate: 0.01,
        validationEvery: 20,
        seed: 2,
      },
      evaluation: { taskInference: false },
    });
    // Task 1 (c vs d) lies beyond task 0 (a vs b) on the same features: a network that only
    // learns where c ends and d begins calls all of task 0 "c".
    const swapped = { benchmark: { tasks: [{ dataset: data, classes: ['c', 'd'] }] } };
    const accuracies: Record<string, number[][]> = {};
    for (const method of ['hypermask', 'finetune']) {
      const first = await submit(spec(method));
      await finished(first);
      const next = await submit({ continueFrom: first, ...swapped });
      const job = await finished(next);
      assert.deepEqual(job.spec.benchmark.tasks, [
        { dataset: data, classes: ['a', 'b'] },
        { dataset: data, classes: ['c', 'd'] },
      ]);
      accuracies[method] = await matrix(next);
    }
    const [hm, ft] = [accuracies.hypermask, accuracies.finetune];
    assert.ok(hm[0][0] > 0.9 && hm[1][1] > 0.9, JSON.stringify(hm));
    assert.ok(hm[1][0] > 0.8, `hypermask task 0: ${hm[0][0]} -> ${hm[1][0]}`);
    assert.ok(ft[0][0] > 0.9 && ft[1][1] > 0.9, JSON.stringify(ft));
    assert.ok(ft[1][0] <= 0.6, `finetune task 0: ${ft[0][0]} -> ${ft[1][0]} (chance is 0.5)`);

    // Earlier tasks are evaluated again, so their data must still exist.
    assert.equal(
      (
        await svc.app.inject({
          method: 'DELETE',
          url: `/v1/datasets/${data}`,
          headers: { authorization: auth },
        })
      ).statusCode,
      204,
    );
    const gone = await post({ continueFrom: ids.a, benchmark: { tasks: 1 } });
    assert.equal(gone.statusCode, 201, 'built-in data are always there');
    await svc.app.inject({
      method: 'POST',
      url: `/v1/jobs/${gone.json().id}/cancel`,
      headers: { authorization: auth },
    });
    const res = await post({
      continueFrom: (
        await svc.pool.query(
          "SELECT id FROM jobs WHERE continue_from IS NOT NULL AND spec->'benchmark'->>'kind' = 'datasets' LIMIT 1",
        )
      ).rows[0].id,
      ...swapped,
    });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().error.field, 'benchmark.tasks[0].dataset');
    assert.match(res.json().error.message, /no data set/);
  });

  it("refuses an unknown job or another tenant's, naming continueFrom, without telling them apart", async () => {
    const unknown = await post({
      continueFrom: '00000000-0000-4000-8000-000000000000',
      benchmark: { tasks: 1 },
    });
    const foreign = await post({ continueFrom: ids.a, benchmark: { tasks: 1 } }, otherAuth);
    for (const res of [unknown, foreign]) {
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().error.field, 'continueFrom');
      assert.match(res.json().error.message, /^continueFrom: no job /);
    }
    const malformed = await post({ continueFrom: 'abc', benchmark: { tasks: 1 } });
    assert.equal(malformed.statusCode, 400);
    assert.match(malformed.body, /continueFrom/);
  });

  it('refuses a job that has not succeeded (409, naming its status)', async () => {
    const queued = await submit(tinySpec({ tasks: 1, iterationsPerTask: 2000 }));
    const res = await post({ continueFrom: queued, benchmark: { tasks: 1 } });
    assert.equal(res.statusCode, 409, res.body);
    assert.equal(res.json().error.code, 'CONTINUE_FROM_NOT_SUCCEEDED');
    assert.match(
      res.json().error.message,
      /^continueFrom: job .* is (queued|running); only a succeeded job can be continued/,
    );
    assert.equal(
      (
        await svc.app.inject({
          method: 'POST',
          url: `/v1/jobs/${queued}/cancel`,
          headers: { authorization: auth },
        })
      ).statusCode,
      200,
    );
  });

  it('refuses a conflicting method, network or setting, a missing task list and too many tasks, naming the field', async () => {
    const cases: [object, string][] = [
      [{ method: 'hnet' }, 'method'],
      [{ network: { hidden: [32] } }, 'network.hidden'],
      [{ training: { seed: 4 } }, 'training.seed'],
      [{ benchmark: { tasks: 1, dataset: 'fashion-mnist' } }, 'benchmark.dataset'],
      [{ benchmark: {} }, 'benchmark.tasks'],
      [{ benchmark: { tasks: 4 } }, 'benchmark.tasks'],
    ];
    for (const [body, field] of cases) {
      const res = await post({ continueFrom: ids.a, benchmark: { tasks: 1 }, ...body });
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
      assert.equal(res.json().error.field, field, res.body);
    }
    // The source's own values are not a conflict.
    const same = await post({
      continueFrom: ids.a,
      method: 'hypermask',
      network: { hidden: [16] },
      benchmark: { tasks: 1 },
      training: { iterationsPerTask: 2000 },
    });
    assert.equal(same.statusCode, 400, 'iterationsPerTask differs from the source (40)');
    assert.equal(same.json().error.field, 'training.iterationsPerTask');
  });
});
