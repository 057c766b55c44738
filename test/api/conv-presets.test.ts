/**
 * A convolutional preset over HTTP against real Postgres, Redis and a worker process: a job names
 * "split-cifar100-zenkenet" and one uploaded image data set, the preset cuts it into tasks of 10
 * classes and fills its settings (epochs, plateau rate, best-validation model, per-channel
 * normalisation, augmentation), overrides make it tiny, and it trains to the end with progress
 * counted in the epochs' iterations.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { imageFolderFiles, packTarGz } from '../helpers/dataset-builders.js';
import { createTestService, eventually, type TestService } from '../helpers/service.js';

const CLASSES = Array.from({ length: 20 }, (_, c) => `class${String(c).padStart(2, '0')}`);
const SIDE = 12;

describe('a convolutional preset over HTTP', () => {
  let svc: TestService;
  let alice: string;
  let images: string;

  before(async () => {
    svc = await createTestService('conv_presets');
    alice = await svc.auth('alice');
    const folder = await imageFolderFiles({
      classes: CLASSES,
      perClass: { train: 8, test: 3 },
      width: SIDE,
      height: SIDE,
      channels: 3,
    });
    const res = await svc.app.inject({
      method: 'POST',
      url: '/v1/datasets?name=tiny-cifar&format=imagefolder',
      headers: { authorization: alice, 'content-type': 'application/octet-stream' },
      payload: await packTarGz(folder.files),
    });
    assert.equal(res.statusCode, 201, res.body);
    images = res.json().id;
  });
  after(async () => svc?.close());

  const get = (url: string) =>
    svc.app.inject({ method: 'GET', url, headers: { authorization: alice } });

  it('trains a job named by the preset, with tiny overrides, to the end', async () => {
    const submitted = await svc.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: alice },
      payload: {
        preset: 'split-cifar100-zenkenet',
        benchmark: { kind: 'datasets', tasks: [{ dataset: images }], validationSize: 20 },
        network: { channels: [4, 8], hidden: [16] },
        hypernetwork: { hidden: [8], embeddingDim: 8 },
        training: { epochsPerTask: 2, batchSize: 16 },
        evaluation: { taskInference: false },
      },
    });
    assert.equal(submitted.statusCode, 201, submitted.body);
    const job = submitted.json();
    const s = job.spec;
    assert.equal(s.preset, 'split-cifar100-zenkenet');
    assert.deepEqual(
      s.benchmark.tasks.map((t: { classes: string[] }) => t.classes),
      [CLASSES.slice(0, 10), CLASSES.slice(10)],
    );
    assert.deepEqual(
      [s.benchmark.normalize, s.benchmark.augment, s.benchmark.validationSize],
      ['per-channel', true, 20],
    );
    assert.deepEqual(
      [s.training.epochsPerTask, s.training.iterationsPerTask, s.training.batchSize],
      [2, null, 16],
    );
    assert.deepEqual(
      [s.training.lrSchedule, s.training.modelSelection, s.training.learningRate],
      ['plateau', 'best-validation', 1e-3],
    );
    assert.deepEqual(
      [s.regularization.beta, s.regularization.lambda, s.regularization.sparsity],
      [0.01, 0.01, 0],
    );
    assert.deepEqual(
      [s.network.kind, s.network.channels, s.network.hidden],
      ['zenkenet', [4, 8], [16]],
    );
    // 10 classes x 8 images, 20 held out: 60 to train on, 4 batches of 16 per epoch, 2 epochs.
    assert.equal(job.progress.iterationsPerTask, 8);
    assert.equal(job.progress.iterationsTotal, 16);

    await svc.startWorker();
    const done = await eventually(
      async () => {
        const j = (await get(`/v1/jobs/${job.id}`)).json();
        return ['succeeded', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
      },
      100,
      240_000,
    );
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    assert.equal(done.progress.iterationsDone, 16);
    const m = (await get(`/v1/jobs/${job.id}/metrics?curve=validation`)).json();
    assert.deepEqual(
      m.accuracyMatrix.map((r: number[]) => r.length),
      [1, 2],
    );
    // Validation at each epoch end (iterations 3 and 7 of each task), where the preset's rules look.
    const points = m.curve.points as { task: number; iteration: number }[];
    assert.deepEqual(
      points.map((p) => [p.task, p.iteration]),
      [
        [0, 3],
        [0, 7],
        [1, 3],
        [1, 7],
      ],
    );
    // The ZenkeNet's model downloads, with the per-channel standardisation in front.
    const model = await get(`/v1/jobs/${job.id}/tasks/1/model/model.json`);
    assert.equal(model.statusCode, 200, model.body);
    assert.equal(model.json().modelTopology.config.layers[0].class_name, 'DepthwiseConv2D');
  });
});
