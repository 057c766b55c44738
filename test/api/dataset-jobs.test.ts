/**
 * Jobs on uploaded data sets, end to end over HTTP against real Postgres, Redis and a worker
 * process: upload an ImageFolder archive, submit HyperMask and finetune jobs whose tasks are
 * class subsets of it, train, and check the metrics and the exported models (loaded with TF.js
 * and fed the raw pixels). Also: submission errors naming the field, the data set locked while a
 * job waits for it, and jobs whose data set was damaged or removed behind the API's back.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { resolveSpec } from '../../src/core/index.js';
import { PrismaJobRepository } from '../../src/infra/prisma/job.repository.js';
import { csv, imageFolderFiles, packTarGz } from '../helpers/dataset-builders.js';
import { expectArraysClose } from '../helpers/tensors.js';
import { createTestService, eventually, type TestService } from '../helpers/service.js';

const CLASSES = ['cat', 'dog', 'ship', 'truck'];
const SIDE = 6;

/** A learnable table: feature j of a class-c sample is c + small noise. */
function table(rows: number, features: number, classes: string[]): Buffer {
  const header = [...Array.from({ length: features }, (_, j) => `f${j}`), 'label'];
  return csv(
    header,
    Array.from({ length: rows }, (_, i) => [
      ...Array.from({ length: features }, (_, j) => (i % classes.length) + ((i * 7 + j) % 5) / 10),
      classes[i % classes.length],
    ]),
  );
}

describe('jobs on uploaded data sets over HTTP', () => {
  let svc: TestService;
  let alice: string;
  let bob: string;
  let cacheDir: string;
  let images: string;
  let pixels: Map<string, Uint8Array>;
  let aliceTable: string;
  let bobTable: string;
  const jobs: Record<string, string> = {};

  before(async () => {
    cacheDir = await mkdtemp(path.join(os.tmpdir(), 'retain-dataset-cache-test-'));
    svc = await createTestService('dataset_jobs', { DATASET_CACHE_DIR: cacheDir });
    alice = await svc.auth('alice');
    bob = await svc.auth('bob');
    const folder = await imageFolderFiles({
      classes: CLASSES,
      perClass: { train: 12, test: 5 },
      width: SIDE,
      height: SIDE,
      channels: 3,
    });
    pixels = folder.pixels;
    images = await upload(await packTarGz(folder.files), alice, '?name=shapes&format=imagefolder');
    aliceTable = await upload(table(40, 5, ['a', 'b']), alice);
    bobTable = await upload(table(40, 5, ['a', 'b']), bob);
  });
  after(async () => {
    await svc?.close();
    await rm(cacheDir, { recursive: true, force: true });
  });

  async function upload(body: Buffer, auth: string, query = ''): Promise<string> {
    const res = await svc.app.inject({
      method: 'POST',
      url: `/v1/datasets${query}`,
      headers: { authorization: auth, 'content-type': 'application/octet-stream' },
      payload: body,
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json().id;
  }
  const get = (url: string, auth = alice) =>
    svc.app.inject({ method: 'GET', url, headers: { authorization: auth } });
  const submit = (body: Record<string, unknown>, auth = alice) =>
    svc.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: auth },
      payload: body,
    });
  const finished = (id: string) =>
    eventually(
      async () => {
        const j = (await get(`/v1/jobs/${id}`)).json();
        return ['succeeded', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
      },
      100,
      180_000,
    );

  const spec = (tasks: unknown[], method = 'hypermask') => ({
    method,
    benchmark: { kind: 'datasets', tasks },
    network: { hidden: [24] },
    hypernetwork: { hidden: [8], embeddingDim: 8 },
    training: {
      iterationsPerTask: 60,
      batchSize: 12,
      learningRate: 0.01,
      validationEvery: 20,
      seed: 2,
    },
    regularization: { sparsity: 0 },
    evaluation: { taskInference: false },
  });
  const twoTasks = () => [
    { dataset: images, classes: ['cat', 'dog'] },
    { dataset: images, classes: ['truck', 'ship'] },
  ];

  it('refuses bad specs with 400 INVALID_SPEC naming the field', async () => {
    const cases: [string, unknown[], string, RegExp][] = [
      [
        'unknown data set',
        [{ dataset: images }, { dataset: '00000000-0000-4000-8000-000000000000' }],
        'benchmark.tasks[1].dataset',
        /no data set/,
      ],
      [
        "another tenant's data set",
        [{ dataset: bobTable }],
        'benchmark.tasks[0].dataset',
        /no data set/,
      ],
      [
        'a class the data set lacks',
        [{ dataset: images, classes: ['cat', 'horse'] }],
        'benchmark.tasks[0].classes',
        /no class "horse"/,
      ],
      [
        'different input shapes',
        [{ dataset: images }, { dataset: aliceTable }],
        'benchmark.tasks[1].dataset',
        /shape \[5\] but task 0's have \[6,6,3\]/,
      ],
      ['a malformed id', [{ dataset: 'cats' }], 'benchmark.tasks[0].dataset', /./],
    ];
    for (const [name, tasks, field, message] of cases) {
      const res = await submit(spec(tasks));
      assert.equal(res.statusCode, 400, `${name}: ${res.body}`);
      const { error } = res.json();
      assert.equal(error.code, 'INVALID_SPEC', name);
      assert.equal(error.field, field, `${name}: ${error.message}`);
      assert.match(error.message, message, name);
    }
    // Bob's own data set is fine for Bob.
    const own = await submit(
      { ...spec([{ dataset: bobTable }]), training: { iterationsPerTask: 1 } },
      bob,
    );
    assert.equal(own.statusCode, 201, own.body);
    await svc.app.inject({
      method: 'POST',
      url: `/v1/jobs/${own.json().id}/cancel`,
      headers: { authorization: bob },
    });
  });

  it('stores the resolved tasks and data set facts; the data set cannot be deleted while the job waits', async () => {
    const res = await submit(spec(twoTasks()));
    assert.equal(res.statusCode, 201, res.body);
    const job = res.json();
    jobs.hypermask = job.id;
    assert.deepEqual(job.spec.benchmark.tasks, twoTasks());
    assert.deepEqual(job.spec.benchmark.datasets[images].inputShape, [SIDE, SIDE, 3]);
    assert.equal(job.spec.benchmark.datasets[images].dtype, 'uint8');
    assert.match(job.spec.benchmark.datasets[images].sha256, /^[0-9a-f]{64}$/);
    assert.equal(job.progress.tasksTotal, 2);
    const del = await svc.app.inject({
      method: 'DELETE',
      url: `/v1/datasets/${images}`,
      headers: { authorization: alice },
    });
    assert.equal(del.statusCode, 409, del.body);
    assert.equal(del.json().error.code, 'DATASET_IN_USE');
    assert.match(del.json().error.message, new RegExp(job.id));

    const ft = await submit(
      spec(
        [
          { dataset: images, classes: ['ship', 'cat', 'dog'] },
          { dataset: images, classes: ['truck', 'dog'] },
        ],
        'finetune',
      ),
    );
    assert.equal(ft.statusCode, 201, ft.body);
    jobs.finetune = ft.json().id;
  });

  it('stores no job when a data set it names is deleted between the check and the insert', async () => {
    const gone = await upload(table(30, 5, ['g', 'h']), alice);
    const { rows } = await svc.pool.query<{ tenant_id: string; sha256: string }>(
      'SELECT tenant_id, sha256 FROM datasets WHERE id = $1',
      [gone],
    );
    const facts = {
      inputShape: [5],
      dtype: 'float32' as const,
      sha256: rows[0].sha256,
      classNames: ['g', 'h'],
      counts: { train: [12, 12], test: [3, 3] },
    };
    const resolved = resolveSpec(spec([{ dataset: gone }]), { datasets: new Map([[gone, facts]]) });
    await svc.app.inject({
      method: 'DELETE',
      url: `/v1/datasets/${gone}`,
      headers: { authorization: alice },
    });
    const repo = new PrismaJobRepository(svc.db, svc.pool);
    const before = (await svc.pool.query('SELECT count(*)::int AS n FROM jobs')).rows[0].n;
    await assert.rejects(
      repo.create({
        tenantId: rows[0].tenant_id,
        name: null,
        metadata: null,
        spec: resolved,
        idempotencyKey: null,
        requestHash: null,
      }),
      (e: Error & { code?: string }) =>
        e.code === 'INVALID_SPEC' &&
        /benchmark\.tasks: a data set named here was deleted/.test(e.message),
    );
    assert.equal((await svc.pool.query('SELECT count(*)::int AS n FROM jobs')).rows[0].n, before);
  });

  it('fails jobs whose data set was damaged or removed before they ran, with INVALID_DATA and DATA_NOT_FOUND', async () => {
    const damaged = await upload(table(30, 5, ['x', 'y']), alice);
    const removed = await upload(table(30, 5, ['u', 'v']), alice);
    jobs.damaged = (await submit(spec([{ dataset: damaged }]))).json().id;
    jobs.removed = (await submit(spec([{ dataset: removed }]))).json().id;
    // Behind the API's back: flip the first stored byte of one upload, drop the other's record.
    await svc.pool.query(
      `UPDATE blob_chunks SET data = overlay(data placing '\\x00'::bytea from 1 for 1) WHERE blob_id = (SELECT blob_id FROM datasets WHERE id = $1)`,
      [damaged],
    );
    await svc.pool.query('DELETE FROM datasets WHERE id = $1', [removed]);
  });

  it('trains the HyperMask job: a 2x2 accuracy matrix well above chance', async () => {
    await svc.startWorker();
    const job = await finished(jobs.hypermask);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    const m = (await get(`/v1/jobs/${jobs.hypermask}/metrics`)).json();
    assert.equal(m.accuracyMatrix.length, 2);
    assert.deepEqual(
      m.accuracyMatrix.map((r: number[]) => r.length),
      [1, 2],
    );
    for (const a of m.accuracyMatrix.flat())
      assert.ok(a >= 0.8, `accuracy ${a} (chance 0.5): ${JSON.stringify(m.accuracyMatrix)}`);
  });

  it('exports models that take raw 0-255 pixels, name their classes, and score what the engine scored', async () => {
    const m = (await get(`/v1/jobs/${jobs.hypermask}/metrics`)).json();
    const address = await svc.app.listen({ port: 0, host: '127.0.0.1' });
    for (const [task, classes] of twoTasks().map((t, i) => [i, t.classes] as const)) {
      const model = await tf.loadLayersModel(
        `${address}/v1/jobs/${jobs.hypermask}/tasks/${task}/model/model.json`,
        {
          requestInit: { headers: { Authorization: alice } },
        },
      );
      const meta = (await get(`/v1/jobs/${jobs.hypermask}/tasks/${task}/model/model.json`)).json()
        .userDefinedMetadata.retain;
      assert.deepEqual(meta.classNames, classes);
      assert.deepEqual(meta.globalLabels, [2 * task, 2 * task + 1]);
      assert.deepEqual(meta.input.shape, [SIDE, SIDE, 3]);
      // The raw test images of the task's classes, as uploaded (PNG is lossless).
      const files = [...pixels.keys()].filter(
        (f) => f.startsWith('test/') && classes.includes(f.split('/')[1]),
      );
      const x = tf.tensor2d(Float32Array.from(files.flatMap((f) => Array.from(pixels.get(f)!))), [
        files.length,
        SIDE * SIDE * 3,
      ]);
      const out = model.predict(x) as tf.Tensor;
      assert.deepEqual(out.shape, [files.length, 2]);
      const pred = await out.argMax(1).data();
      const hits = files.filter((f, i) => classes[pred[i]] === f.split('/')[1]).length;
      assert.equal(
        hits / files.length,
        m.accuracyMatrix[1][task],
        `task ${task}: exported model ${hits}/${files.length}`,
      );
      tf.dispose([x, out]);
      model.dispose();
    }
    const mask = await get(`/v1/jobs/${jobs.hypermask}/tasks/0/mask`);
    assert.equal(mask.statusCode, 200);
  });

  it('predicts on raw uploaded pixels with class names: with a task id as the downloaded model, without by lowest entropy', async () => {
    const files = [...pixels.keys()].filter((f) => f.startsWith('test/')).slice(0, 12);
    const inputs = files.map((f) => Array.from(pixels.get(f)!));
    const predict = (body: object) =>
      svc.app.inject({
        method: 'POST',
        url: `/v1/jobs/${jobs.hypermask}/predict`,
        headers: { authorization: alice },
        payload: body,
      });
    const address = `http://127.0.0.1:${(svc.app.server.address() as { port: number }).port}`;
    const tasks = twoTasks();
    const probabilities: number[][][] = [];
    for (const [task, { classes }] of tasks.entries()) {
      const model = await tf.loadLayersModel(
        `${address}/v1/jobs/${jobs.hypermask}/tasks/${task}/model/model.json`,
        { requestInit: { headers: { Authorization: alice } } },
      );
      const expected = tf.tidy(() =>
        tf.softmax(model.predict(tf.tensor2d(inputs)) as tf.Tensor2D).arraySync(),
      );
      model.dispose();
      probabilities.push(expected);
      const res = await predict({ inputs, task });
      assert.equal(res.statusCode, 200, res.body);
      res
        .json()
        .predictions.forEach(
          (p: { class: number; className: string; probabilities: number[] }, i: number) => {
            expectArraysClose(p.probabilities, expected[i], 1e-5, `task ${task} input ${i}`);
            assert.equal(p.className, classes[p.class]);
          },
        );
    }
    const inferred = await predict({ inputs });
    assert.equal(inferred.statusCode, 200, inferred.body);
    inferred
      .json()
      .predictions.forEach(
        (p: { task: number; className: string; entropies: number[] }, i: number) => {
          // Normalised by ln K: these tasks have different class counts.
          const entropies = probabilities.map(
            (probs) =>
              -probs[i].reduce((acc, q) => acc + (q > 0 ? q * Math.log(q) : 0), 0) /
              Math.log(probs[i].length),
          );
          assert.equal(p.task, entropies.indexOf(Math.min(...entropies)), `input ${i}`);
          assert.ok(tasks[p.task].classes.includes(p.className));
        },
      );
  });

  it('trains the finetune job, whose tasks have 3 and 2 classes', async () => {
    const job = await finished(jobs.finetune);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    const m = (await get(`/v1/jobs/${jobs.finetune}/metrics`)).json();
    assert.deepEqual(
      m.accuracyMatrix.map((r: number[]) => r.length),
      [1, 2],
    );
    assert.ok(m.accuracyMatrix[0][0] > 0.6, `task 0 (chance 1/3): ${m.accuracyMatrix[0][0]}`);
    assert.ok(m.accuracyMatrix[1][1] > 0.75, `task 1 (chance 1/2): ${m.accuracyMatrix[1][1]}`);
    const meta = (await get(`/v1/jobs/${jobs.finetune}/tasks/1/model/model.json`)).json();
    assert.deepEqual(meta.userDefinedMetadata.retain.classNames, ['truck', 'dog']);
    assert.deepEqual(meta.userDefinedMetadata.retain.globalLabels, [3, 4]);
    assert.deepEqual(meta.weightsManifest[0].weights.at(-1).shape, [2]);
  });

  it('failed the jobs on damaged and removed data sets at once, saying why', async () => {
    const damaged = await finished(jobs.damaged);
    assert.equal(damaged.status, 'failed');
    assert.equal(damaged.error.code, 'INVALID_DATA');
    assert.match(damaged.error.message, /damaged/);
    assert.equal(damaged.attempts, 1);
    const removed = await finished(jobs.removed);
    assert.equal(removed.status, 'failed');
    assert.equal(removed.error.code, 'DATA_NOT_FOUND');
    assert.match(removed.error.message, /no longer exists/);
    // The data set is free again once its jobs are done.
    const del = await svc.app.inject({
      method: 'DELETE',
      url: `/v1/datasets/${images}`,
      headers: { authorization: alice },
    });
    assert.equal(del.statusCode, 204, del.body);
  });
});
