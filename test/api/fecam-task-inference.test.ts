/**
 * A tiny 2-task job with evaluation.taskInference "both", trained by a real worker: its metrics
 * report the task-inference accuracies of entropy and of FeCAM, each task's FeCAM statistics can be
 * downloaded, and a prediction without a task id says FeCAM chose the task, with distances equal
 * to those computed here from the downloaded model and statistics.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { decodeFecam, FecamScorer, TaskModel } from '../../src/core/index.js';
import { makeRawDataset } from '../helpers/datasets.js';
import { createTestService, eventually, tinySpec, type TestService } from '../helpers/service.js';
import { expectArraysClose } from '../helpers/tensors.js';

const TASKS = 2;

describe('FeCAM task inference over HTTP', () => {
  let svc: TestService;
  let auth: string;
  let jobId: string;
  let images: number[][];

  const get = (url: string) => svc.app.inject({ url, headers: { authorization: auth } });
  const predict = (body: object) =>
    svc.app.inject({
      method: 'POST',
      url: `/v1/jobs/${jobId}/predict`,
      headers: { authorization: auth },
      payload: body,
    });

  before(async () => {
    svc = await createTestService('fecam');
    auth = await svc.auth('acme');
    await svc.startWorker();
    const res = await svc.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: auth },
      payload: {
        ...tinySpec({ tasks: TASKS, iterationsPerTask: 30 }),
        evaluation: { taskInference: 'both' },
      },
    });
    assert.equal(res.statusCode, 201, res.body);
    jobId = res.json().id;
    await eventually(async () => {
      const job = (await get(`/v1/jobs/${jobId}`)).json();
      if (job.status === 'failed') throw new Error(`job failed: ${JSON.stringify(job.error)}`);
      return job.status === 'succeeded' ? job : undefined;
    });
    const raw = makeRawDataset({ trainCount: 600, testCount: 300, seed: 5, name: 'mnist' });
    const pixels = raw.test.rows * raw.test.cols;
    // Digits 0-3 (tasks 0 and 1), a few of each.
    images = Array.from({ length: 8 }, (_, i) =>
      Array.from(raw.test.images.subarray(i * pixels, (i + 1) * pixels)),
    ).filter((_, i) => raw.test.labels[i] < 4);
  });
  after(async () => svc?.close());

  it('reports both task-inference accuracies', async () => {
    const job = (await get(`/v1/jobs/${jobId}`)).json();
    assert.equal(job.spec.evaluation.taskInference, 'both');
    const m = (await get(`/v1/jobs/${jobId}/metrics`)).json();
    for (const r of [m.taskInference, m.fecamTaskInference]) {
      assert.ok(r, JSON.stringify(m));
      assert.equal(r.perTask.length, TASKS);
      assert.ok(r.taskAccuracy >= 0 && r.taskAccuracy <= 1);
      assert.ok(r.classAccuracy >= 0 && r.classAccuracy <= r.taskAccuracy);
    }
  });

  it('predicts without a task id by FeCAM, and says so', async () => {
    assert.ok(images.length >= 4);
    const res = await predict({ inputs: images });
    assert.equal(res.statusCode, 200, res.body);
    // What the service must have computed: the downloaded models' features, the downloaded statistics.
    const local: { distance: Float32Array; cls: Int32Array }[] = [];
    for (let t = 0; t < TASKS; t++) {
      const json = (await get(`/v1/jobs/${jobId}/tasks/${t}/model/model.json`)).json();
      const weights = (await get(`/v1/jobs/${jobId}/tasks/${t}/model/weights.bin`)).rawPayload;
      const stats = await get(`/v1/jobs/${jobId}/tasks/${t}/fecam`);
      assert.equal(stats.statusCode, 200);
      const model = TaskModel.fromExport(json, new Uint8Array(weights));
      const scorer = new FecamScorer(decodeFecam(new Uint8Array(stats.rawPayload)));
      assert.ok(scorer.stats.distanceScale! > 0, `task ${t}'s file holds its distance scale`);
      // The service scales raw inputs as the model's metadata says (pixels / 255).
      const scale = (model.metadata.input as { rawScale?: number } | undefined)?.rawScale ?? 1;
      const x = tf.tensor2d(
        images.flat().map((v) => v * scale),
        [images.length, model.inputSize],
      );
      const features = model.features(x);
      // Every task has its distance scale: the service compares calibrated distances.
      local.push(scorer.nearest(features, true));
      tf.dispose([x, features]);
      model.dispose();
      scorer.dispose();
    }
    res.json().predictions.forEach(
      (
        p: {
          task: number;
          class: number;
          inferred: boolean;
          rule: string;
          distances: number[];
          entropies: null;
        },
        i: number,
      ) => {
        assert.equal(p.inferred, true);
        assert.equal(p.rule, 'fecam');
        assert.equal(p.entropies, null);
        // Relative to their size: calibrated distances run to the hundreds (float32 rounding).
        const expected = local.map((d) => d.distance[i]);
        expectArraysClose(
          p.distances.map((v, k) => v / expected[k]),
          expected.map(() => 1),
          1e-5,
          `input ${i}: ${p.distances.join(', ')} against ${expected.join(', ')}`,
        );
        const best = p.distances.indexOf(Math.min(...p.distances));
        assert.equal(p.task, best);
        assert.equal(p.class, local[best].cls[i]);
      },
    );
    const given = (await predict({ inputs: images, task: 1 })).json();
    assert.ok(given.predictions.every((p: { rule: string }) => p.rule === 'given'));
  });
});
