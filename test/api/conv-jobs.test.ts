/**
 * Jobs with convolutional targets over HTTP against real Postgres, Redis and a worker process:
 * specs refused with the field named, a ZenkeNet job whose downloaded models (TF.js LayersModels
 * taking [h, w, c] images) and predictions agree with the engine, and a ResNet job whose models
 * normalise with each task's running batch-norm statistics: downloaded, they score what the
 * engine's running-statistics evaluation scored, and the API predicts one input as in a batch.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { csv, encodeImage, imageFolderFiles, packTarGz } from '../helpers/dataset-builders.js';
import { expectArraysClose } from '../helpers/tensors.js';
import { createTestService, eventually, type TestService } from '../helpers/service.js';

const CLASSES = ['cat', 'dog', 'ship', 'truck'];
const SIDE = 12;

describe('jobs with convolutional targets over HTTP', () => {
  let svc: TestService;
  let alice: string;
  let images: string;
  let table: string;
  let pixels: Map<string, Uint8Array>;
  const jobs: Record<string, string> = {};
  /** The API listening on a port (tf.loadLayersModel fetches over HTTP). */
  let address: string | undefined;
  const listening = async () => (address ??= await svc.app.listen({ port: 0, host: '127.0.0.1' }));

  before(async () => {
    svc = await createTestService('conv_jobs');
    alice = await svc.auth('alice');
    const folder = await imageFolderFiles({
      classes: CLASSES,
      perClass: { train: 12, test: 5 },
      width: SIDE,
      height: SIDE,
      channels: 3,
    });
    pixels = folder.pixels;
    images = await upload(await packTarGz(folder.files), '?name=shapes&format=imagefolder');
    const header = ['f0', 'f1', 'f2', 'label'];
    table = await upload(
      csv(
        header,
        Array.from({ length: 30 }, (_, i) => [i % 2, (i * 3) % 5, 1, ['a', 'b'][i % 2]]),
      ),
    );
  });
  after(async () => svc?.close());

  async function upload(body: Buffer, query = ''): Promise<string> {
    const res = await svc.app.inject({
      method: 'POST',
      url: `/v1/datasets${query}`,
      headers: { authorization: alice, 'content-type': 'application/octet-stream' },
      payload: body,
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json().id;
  }
  const get = (url: string) =>
    svc.app.inject({ method: 'GET', url, headers: { authorization: alice } });
  const submit = (body: Record<string, unknown>) =>
    svc.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: alice },
      payload: body,
    });
  const predict = (id: string, body: object) =>
    svc.app.inject({
      method: 'POST',
      url: `/v1/jobs/${id}/predict`,
      headers: { authorization: alice },
      payload: body,
    });
  const finished = (id: string) =>
    eventually(
      async () => {
        const j = (await get(`/v1/jobs/${id}`)).json();
        return ['succeeded', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
      },
      100,
      240_000,
    );

  const tasks = () => [
    { dataset: images, classes: ['cat', 'dog'] },
    { dataset: images, classes: ['truck', 'ship'] },
  ];
  const spec = (network: Record<string, unknown>, method = 'hypermask') => ({
    method,
    benchmark: { kind: 'datasets', tasks: tasks(), normalize: true },
    network,
    hypernetwork: { hidden: [8], embeddingDim: 8 },
    training: {
      iterationsPerTask: 40,
      batchSize: 12,
      learningRate: 0.005,
      validationEvery: 20,
      seed: 2,
    },
    regularization: { sparsity: 0 },
    evaluation: { taskInference: false },
  });

  it('refuses bad specs with 400 INVALID_SPEC naming the field', async () => {
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      [
        'a ResNet on a table',
        {
          ...spec({ kind: 'resnet' }),
          benchmark: { kind: 'datasets', tasks: [{ dataset: table }] },
        },
        'network.kind',
        /needs images/,
      ],
      [
        'a ZenkeNet on permuted pixels',
        { network: { kind: 'zenkenet' }, benchmark: { kind: 'permuted' } },
        'network.kind',
        /permuted/,
      ],
      ['depth out of range', spec({ kind: 'resnet', n: 0 }), 'network.n', /between 1 and 18/],
      ['a field of another kind', spec({ kind: 'zenkenet', k: 2 }), 'network.k', /resnet/],
      ['an unknown kind', spec({ kind: 'vgg' }), 'network.kind', /"mlp", "zenkenet", "resnet"/],
      [
        'images too small for the blocks',
        spec({ kind: 'zenkenet', channels: [4, 4, 4] }),
        'network.channels',
        /too small/,
      ],
    ];
    for (const [name, body, field, message] of cases) {
      const res = await submit(body);
      assert.equal(res.statusCode, 400, `${name}: ${res.body}`);
      const { error } = res.json();
      assert.equal(error.code, 'INVALID_SPEC', name);
      assert.equal(error.field, field, `${name}: ${error.message}`);
      assert.match(error.message, message, name);
    }
  });

  it('queues a ZenkeNet and a ResNet job with their resolved networks', async () => {
    const zenke = await submit(spec({ kind: 'zenkenet', channels: [4, 8], hidden: [16] }));
    assert.equal(zenke.statusCode, 201, zenke.body);
    assert.deepEqual(zenke.json().spec.network, {
      kind: 'zenkenet',
      hidden: [16],
      activation: 'relu',
      channels: [4, 8],
      n: null,
      k: null,
      dropout: 0,
    });
    jobs.zenke = zenke.json().id;
    const resnet = await submit(spec({ kind: 'resnet', n: 1, k: 1 }));
    assert.equal(resnet.statusCode, 201, resnet.body);
    assert.deepEqual(resnet.json().spec.network, {
      kind: 'resnet',
      hidden: [],
      activation: 'relu',
      channels: null,
      n: 1,
      k: 1,
      dropout: 0,
    });
    jobs.resnet = resnet.json().id;
    await svc.startWorker();
  });

  it('trains the ZenkeNet job; its models take raw [h, w, c] images and score what the engine scored', async () => {
    const job = await finished(jobs.zenke);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    const m = (await get(`/v1/jobs/${jobs.zenke}/metrics`)).json();
    assert.equal(m.runningStats, null, 'no batch norm, no second evaluation');
    for (const a of m.accuracyMatrix.flat())
      assert.ok(a >= 0.8, `accuracy ${a} (chance 0.5): ${JSON.stringify(m.accuracyMatrix)}`);
    const address = await listening();
    for (const [task, { classes }] of tasks().entries()) {
      const model = await tf.loadLayersModel(
        `${address}/v1/jobs/${jobs.zenke}/tasks/${task}/model/model.json`,
        { requestInit: { headers: { Authorization: alice } } },
      );
      assert.deepEqual(model.inputs[0].shape, [null, SIDE, SIDE, 3]);
      const files = [...pixels.keys()].filter(
        (f) => f.startsWith('test/') && classes.includes(f.split('/')[1]),
      );
      const x = tf.tensor4d(Float32Array.from(files.flatMap((f) => Array.from(pixels.get(f)!))), [
        files.length,
        SIDE,
        SIDE,
        3,
      ]);
      const out = model.predict(x) as tf.Tensor;
      const pred = await out.argMax(1).data();
      const hits = files.filter((f, i) => classes[pred[i]] === f.split('/')[1]).length;
      assert.equal(
        hits / files.length,
        m.accuracyMatrix[1][task],
        `task ${task}: exported model ${hits}/${files.length}`,
      );
      // The API predicts with the same model, from flattened rows or from a PNG file.
      const expected = tf.tidy(() => tf.softmax(out).arraySync() as number[][]);
      const res = await predict(jobs.zenke, {
        inputs: files.map((f) => Array.from(pixels.get(f)!)),
        task,
      });
      assert.equal(res.statusCode, 200, res.body);
      res
        .json()
        .predictions.forEach((p: { probabilities: number[] }, i: number) =>
          expectArraysClose(p.probabilities, expected[i], 1e-5, `task ${task} input ${i}`),
        );
      const png = await encodeImage(
        pixels.get(files[0])!,
        { width: SIDE, height: SIDE, channels: 3 },
        'png',
      );
      const fromFile = await svc.app.inject({
        method: 'POST',
        url: `/v1/jobs/${jobs.zenke}/predict?task=${task}`,
        headers: { authorization: alice, 'content-type': 'image/png' },
        payload: png,
      });
      assert.equal(fromFile.statusCode, 200, fromFile.body);
      expectArraysClose(
        fromFile.json().predictions[0].probabilities,
        expected[0],
        1e-5,
        'from a PNG',
      );
      tf.dispose([x, out]);
      model.dispose();
    }
  });

  it("trains the ResNet job: its models normalise with each task's running statistics, and the API predicts one input as in a batch", async () => {
    const job = await finished(jobs.resnet);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    const m = (await get(`/v1/jobs/${jobs.resnet}/metrics`)).json();
    assert.deepEqual(
      m.accuracyMatrix.map((r: number[]) => r.length),
      [1, 2],
    );
    // Both evaluations: batch statistics (the reference's) and running statistics (deployment).
    assert.ok(m.runningStats, 'a ResNet job reports the running-statistics evaluation');
    assert.deepEqual(
      m.runningStats.accuracyMatrix.map((r: number[]) => r.length),
      [1, 2],
    );
    assert.equal(job.result.runningStatsAverageAccuracy, m.runningStats.averageAccuracy);
    assert.equal((await get(`/v1/jobs/${jobs.resnet}/tasks/1/mask`)).statusCode, 200);
    // Each task's statistics are stored with its results: 6n + 1 = 7 batch-norm layers for n = 1.
    const stored = await svc.pool.query<{
      running_stats_accuracies: number[];
      batch_norm_stats: { mean: number[][]; variance: number[][] } | null;
    }>(
      'SELECT running_stats_accuracies, batch_norm_stats FROM task_results WHERE job_id = $1 ORDER BY task',
      [jobs.resnet],
    );
    assert.deepEqual(
      stored.rows.map((r) => r.running_stats_accuracies),
      m.runningStats.accuracyMatrix,
    );
    assert.deepEqual(
      stored.rows.map((r) => r.batch_norm_stats?.mean.length),
      [7, 7],
    );
    const address = await listening();
    for (const [task, { classes }] of tasks().entries()) {
      const model = await tf.loadLayersModel(
        `${address}/v1/jobs/${jobs.resnet}/tasks/${task}/model/model.json`,
        { requestInit: { headers: { Authorization: alice } } },
      );
      assert.deepEqual(model.inputs[0].shape, [null, SIDE, SIDE, 3]);
      // The model holds the statistics stored with the task's results.
      const movingMean = model.getLayer('bn_1').getWeights()[2];
      expectArraysClose(
        movingMean.dataSync(),
        stored.rows[task].batch_norm_stats!.mean[0],
        0,
        `task ${task}: bn_1 moving mean`,
      );
      const files = [...pixels.keys()].filter(
        (f) => f.startsWith('test/') && classes.includes(f.split('/')[1]),
      );
      const x = tf.tensor4d(Float32Array.from(files.flatMap((f) => Array.from(pixels.get(f)!))), [
        files.length,
        SIDE,
        SIDE,
        3,
      ]);
      const out = model.predict(x) as tf.Tensor;
      const pred = await out.argMax(1).data();
      const hits = files.filter((f, i) => classes[pred[i]] === f.split('/')[1]).length;
      assert.equal(
        hits / files.length,
        m.runningStats.accuracyMatrix[1][task],
        `task ${task}: exported model ${hits}/${files.length}`,
      );
      // The API: the whole batch, then each input alone, give the model's probabilities.
      const expected = tf.tidy(() => tf.softmax(out).arraySync() as number[][]);
      const batch = await predict(jobs.resnet, {
        inputs: files.map((f) => Array.from(pixels.get(f)!)),
        task,
      });
      assert.equal(batch.statusCode, 200, batch.body);
      const inBatch = batch.json().predictions as { probabilities: number[] }[];
      for (const [i, f] of files.entries()) {
        expectArraysClose(inBatch[i].probabilities, expected[i], 1e-5, `task ${task} input ${i}`);
        const one = await predict(jobs.resnet, { inputs: [Array.from(pixels.get(f)!)], task });
        assert.equal(one.statusCode, 200, one.body);
        expectArraysClose(
          one.json().predictions[0].probabilities,
          inBatch[i].probabilities,
          1e-5,
          `task ${task} input ${i} alone`,
        );
      }
      tf.dispose([x, out]);
      model.dispose();
    }
  });
});
