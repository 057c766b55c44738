/**
 * POST /v1/jobs/:id/predict against a job trained by a real worker: with a task id the answer
 * equals the downloaded TF.js model's output on the same raw pixels; without one the task is
 * the one whose model's softmax has the lowest entropy, computed here from the downloaded models.
 * Bad inputs answer 4xx, and another tenant's job does not exist.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { makeRawDataset } from '../helpers/datasets.js';
import { createTestService, eventually, tinySpec, type TestService } from '../helpers/service.js';
import { expectArraysClose } from '../helpers/tensors.js';

const TASKS = 3;

describe('predictions over HTTP', () => {
  let svc: TestService;
  let auth: string;
  let jobId: string;
  let address: string;
  /** Raw 0-255 test images of the data the job trained on (the service's synthetic "mnist"). */
  let images: number[][];

  before(async () => {
    svc = await createTestService('predictions');
    auth = await svc.auth('acme');
    await svc.startWorker();
    const res = await svc.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: auth },
      payload: tinySpec({ tasks: TASKS, iterationsPerTask: 30 }),
    });
    jobId = res.json().id;
    await eventually(async () => {
      const job = (
        await svc.app.inject({ url: `/v1/jobs/${jobId}`, headers: { authorization: auth } })
      ).json();
      if (job.status === 'failed') throw new Error(`job failed: ${JSON.stringify(job.error)}`);
      return job.status === 'succeeded' ? job : undefined;
    });
    address = await svc.app.listen({ port: 0, host: '127.0.0.1' });
    const raw = makeRawDataset({ trainCount: 600, testCount: 300, seed: 5, name: 'mnist' });
    const pixels = raw.test.rows * raw.test.cols;
    images = Array.from({ length: 12 }, (_, i) =>
      Array.from(raw.test.images.subarray(i * 25 * pixels, (i * 25 + 1) * pixels)),
    );
  });
  after(async () => svc?.close());

  const predict = (body: unknown, key = auth, id = jobId) =>
    svc.app.inject({
      method: 'POST',
      url: `/v1/jobs/${id}/predict`,
      headers: { authorization: key },
      payload: body as object,
    });

  /** Softmax outputs of task t's downloaded model on raw images (the model takes x / 255). */
  async function downloadedModelProbabilities(t: number): Promise<number[][]> {
    const model = await tf.loadLayersModel(
      `${address}/v1/jobs/${jobId}/tasks/${t}/model/model.json`,
      { requestInit: { headers: { Authorization: auth } } },
    );
    const probs = tf.tidy(() =>
      tf.softmax(model.predict(tf.tensor2d(images).div(255)) as tf.Tensor2D).arraySync(),
    );
    model.dispose();
    return probs;
  }

  it("with a task id: the downloaded model's probabilities, class and global label", async () => {
    for (let t = 0; t < TASKS; t++) {
      const res = await predict({ inputs: images, task: t });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.tasksAvailable, TASKS);
      const expected = await downloadedModelProbabilities(t);
      body.predictions.forEach(
        (
          p: {
            task: number;
            inferred: boolean;
            class: number;
            probabilities: number[];
            globalLabel: number;
            className: string;
            entropies: null;
          },
          i: number,
        ) => {
          assert.equal(p.task, t);
          assert.equal(p.inferred, false);
          assert.equal(p.entropies, null);
          expectArraysClose(p.probabilities, expected[i], 1e-5, `task ${t} input ${i}`);
          assert.equal(p.class, expected[i].indexOf(Math.max(...expected[i])));
          // Split tasks of 2 classes: task t holds digits 2t and 2t + 1.
          assert.equal(p.globalLabel, 2 * t + p.class);
          assert.equal(p.className, String(p.globalLabel));
        },
      );
    }
  });

  it("without a task id: per input the task of lowest entropy, with every task's entropy", async () => {
    const res = await predict({ inputs: images });
    assert.equal(res.statusCode, 200, res.body);
    const perTask = await Promise.all(
      Array.from({ length: TASKS }, (_, t) => downloadedModelProbabilities(t)),
    );
    // Normalised by its largest value, ln K (K classes).
    const entropy = (p: number[]) =>
      -p.reduce((s, q) => s + (q > 0 ? q * Math.log(q) : 0), 0) / Math.log(p.length);
    res
      .json()
      .predictions.forEach(
        (
          p: { task: number; inferred: boolean; entropies: number[]; probabilities: number[] },
          i: number,
        ) => {
          const entropies = perTask.map((probs) => entropy(probs[i]));
          assert.equal(p.inferred, true);
          expectArraysClose(p.entropies, entropies, 1e-4, `entropies of input ${i}`);
          assert.equal(p.task, entropies.indexOf(Math.min(...entropies)), `input ${i}`);
          expectArraysClose(
            p.probabilities,
            perTask[p.task][i],
            1e-5,
            `probabilities of input ${i}`,
          );
        },
      );
  });

  it('answers 4xx for inputs that do not fit, unknown tasks, other tenants and untrained jobs', async () => {
    const cases: [
      string,
      () => Promise<{ statusCode: number; json(): { error: { code: string; message: string } } }>,
      number,
      string,
      RegExp,
    ][] = [
      [
        'a short input',
        () => predict({ inputs: [images[0], images[1].slice(0, 10)] }),
        400,
        'INVALID_INPUT',
        /inputs\[1\] has 10 values; the model takes 784/,
      ],
      ['no inputs', () => predict({ inputs: [] }), 400, 'INVALID_SPEC', /inputs/],
      [
        'a string among the numbers',
        () => predict({ inputs: [['a']] }),
        400,
        'INVALID_SPEC',
        /inputs/,
      ],
      [
        'an unknown field',
        () => predict({ inputs: [images[0]], taks: 1 }),
        400,
        'INVALID_SPEC',
        /taks/,
      ],
      [
        'a task the job does not have',
        () => predict({ inputs: [images[0]], task: TASKS }),
        404,
        'TASK_NOT_FOUND',
        /tasks 0\.\.2/,
      ],
      [
        'a job that does not exist',
        () => predict({ inputs: [images[0]] }, auth, randomUUID()),
        404,
        'JOB_NOT_FOUND',
        /does not exist/,
      ],
    ];
    const bob = await svc.auth('bob');
    cases.push([
      "another tenant's job",
      () => predict({ inputs: [images[0]] }, bob),
      404,
      'JOB_NOT_FOUND',
      /does not exist/,
    ]);
    const queued = (
      await svc.app.inject({
        method: 'POST',
        url: '/v1/jobs',
        headers: { authorization: bob },
        payload: tinySpec({ iterationsPerTask: 100_000 }),
      })
    ).json();
    cases.push([
      'a job with no trained task',
      () => predict({ inputs: [images[0]] }, bob, queued.id),
      404,
      'ARTIFACT_NOT_READY',
      /no trained task/,
    ]);
    for (const [name, send, status, code, mentions] of cases) {
      const res = await send();
      assert.equal(res.statusCode, status, `${name}: ${JSON.stringify(res.json())}`);
      assert.equal(res.json().error.code, code, name);
      assert.match(res.json().error.message, mentions, name);
    }
    await svc.app.inject({
      method: 'POST',
      url: `/v1/jobs/${queued.id}/cancel`,
      headers: { authorization: bob },
    });
  });

  it('takes a PNG file as the body: the same answer as its pixels as JSON; a wrong size or no image is 400', async () => {
    const png = (pixels: number[], side: number) =>
      sharp(Buffer.from(pixels), { raw: { width: side, height: side, channels: 1 } })
        .png()
        .toBuffer();
    const image = (body: Buffer, query = '') =>
      svc.app.inject({
        method: 'POST',
        url: `/v1/jobs/${jobId}/predict${query}`,
        headers: { authorization: auth, 'content-type': 'image/png' },
        payload: body,
      });
    for (const query of ['?task=1', '']) {
      const fromFile = await image(await png(images[3], 28), query);
      assert.equal(fromFile.statusCode, 200, fromFile.body);
      const fromJson = await predict({ inputs: [images[3]], ...(query ? { task: 1 } : {}) });
      assert.deepEqual(fromFile.json().predictions, fromJson.json().predictions);
    }
    const small = await image(await png(images[3].slice(0, 14 * 14), 14));
    assert.equal(small.statusCode, 400);
    assert.match(small.json().error.message, /14x14 pixels; the job's models take 28x28/);
    const junk = await image(Buffer.from('not a png at all'));
    assert.equal(junk.statusCode, 400);
    assert.equal(junk.json().error.code, 'INVALID_INPUT');
  });

  it('needs a key', async () => {
    const res = await svc.app.inject({
      method: 'POST',
      url: `/v1/jobs/${jobId}/predict`,
      payload: { inputs: [images[0]] },
    });
    assert.equal(res.statusCode, 401);
  });
});
