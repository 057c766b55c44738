/**
 * The whole life of a job through HTTP against real Postgres, Redis and a real worker process:
 * submit, follow progress, read metrics and curves, download masks and models (and load the model
 * with TF.js straight from the API), list and filter, status history.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { decodeSafetensors } from '../../src/core/index.js';
import { createTestService, eventually, tinySpec, type TestService } from '../helpers/service.js';

describe('job lifecycle over HTTP', () => {
  let svc: TestService;
  let auth: string;
  let jobId: string;

  before(async () => {
    svc = await createTestService('lifecycle');
    auth = await svc.auth('acme');
    await svc.startWorker();
  });
  after(async () => svc?.close());

  const get = (url: string) =>
    svc.app.inject({ method: 'GET', url, headers: { authorization: auth } });

  it('submits a job and answers 201 with the resolved spec', async () => {
    const res = await svc.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: auth },
      payload: { ...tinySpec(), name: 'tiny', metadata: { team: 'ml' } },
    });
    assert.equal(res.statusCode, 201, res.body);
    const job = res.json();
    jobId = job.id;
    assert.equal(res.headers.location, `/v1/jobs/${jobId}`);
    assert.equal(job.status, 'queued');
    assert.equal(job.name, 'tiny');
    assert.deepEqual(job.metadata, { team: 'ml' });
    assert.equal(job.spec.network.hidden[0], 16);
    assert.equal(job.spec.benchmark.dataset, 'mnist');
    assert.equal(job.progress.tasksTotal, 2);
    assert.equal(job.progress.iterationsTotal, 80);
  });

  it('trains to the end, recording the backend and progress', async () => {
    const job = await eventually(async () => {
      const j = (await get(`/v1/jobs/${jobId}`)).json();
      return ['succeeded', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
    });
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    assert.equal(job.backend, 'wasm');
    assert.equal(job.attempts, 1);
    assert.equal(job.progress.completedTasks, 2);
    assert.equal(job.progress.fraction, 1);
    assert.ok(job.startedAt && job.finishedAt);
    assert.equal(job.links.tasks.length, 2);
    assert.ok(job.result.averageAccuracy > 0.5, `average accuracy ${job.result.averageAccuracy}`);
  });

  it('reports the accuracy matrix, BWT, forgetting, durations and paged curves', async () => {
    const m = (await get(`/v1/jobs/${jobId}/metrics?limit=3`)).json();
    assert.equal(m.accuracyMatrix.length, 2);
    assert.equal(m.accuracyMatrix[0].length, 1);
    assert.equal(m.accuracyMatrix[1].length, 2);
    assert.equal(typeof m.backwardTransfer, 'number');
    assert.equal(typeof m.forgetting, 'number');
    assert.equal(m.taskDurationsMs.length, 2);
    assert.equal(m.curve.kind, 'loss');
    assert.equal(m.curve.points.length, 3);
    assert.ok(m.curve.nextCursor);
    // Page through the whole loss curve: every 10th iteration plus the last of each task.
    const seen = [...m.curve.points];
    let cursor = m.curve.nextCursor;
    while (cursor) {
      const page = (await get(`/v1/jobs/${jobId}/metrics?limit=3&cursor=${cursor}`)).json();
      seen.push(...page.curve.points);
      cursor = page.curve.nextCursor;
    }
    assert.deepEqual(
      seen.map((p: { task: number; iteration: number }) => `${p.task}:${p.iteration}`),
      ['0:0', '0:10', '0:20', '0:30', '0:39', '1:0', '1:10', '1:20', '1:30', '1:39'],
    );
    const v = (await get(`/v1/jobs/${jobId}/metrics?curve=validation&task=1`)).json();
    assert.deepEqual(
      v.curve.points.map((p: { iteration: number }) => p.iteration),
      [9, 19, 29, 39],
    );
    assert.ok(v.curve.points.every((p: { value: number }) => p.value >= 0 && p.value <= 1));
  });

  it('serves each task mask as safetensors', async () => {
    for (const task of [0, 1]) {
      const res = await get(`/v1/jobs/${jobId}/tasks/${task}/mask`);
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], 'application/octet-stream');
      const { tensors, metadata } = decodeSafetensors(new Uint8Array(res.rawPayload));
      assert.equal(metadata.format, 'retain-mask');
      assert.equal(metadata.task, String(task));
      // Every target tensor but the output bias is masked.
      assert.deepEqual(
        tensors.map((t) => t.shape),
        [[784, 16], [16], [16, 2]],
      );
    }
  });

  it('serves a model that tf.loadLayersModel loads straight from the API with the key in a header', async () => {
    const mj = (await get(`/v1/jobs/${jobId}/tasks/1/model/model.json`)).json();
    assert.deepEqual(mj.weightsManifest[0].paths, ['weights.bin']);
    const address = await svc.app.listen({ port: 0, host: '127.0.0.1' });
    const model = await tf.loadLayersModel(`${address}/v1/jobs/${jobId}/tasks/1/model/model.json`, {
      requestInit: { headers: { Authorization: auth } },
    });
    const out = tf.tidy(() => model.predict(tf.zeros([3, 784])) as tf.Tensor);
    assert.deepEqual(out.shape, [3, 2]);
    out.dispose();
    model.dispose();
  });

  it('lists jobs with cursor pagination and a status filter, and keeps the status history', async () => {
    const second = await svc.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: auth },
      payload: { ...tinySpec(), evaluation: { taskInference: true } },
    });
    assert.equal(second.statusCode, 201);
    const page1 = (await get('/v1/jobs?limit=1')).json();
    assert.equal(page1.items.length, 1);
    assert.equal(page1.items[0].id, second.json().id);
    const page2 = (await get(`/v1/jobs?limit=1&cursor=${page1.nextCursor}`)).json();
    assert.equal(page2.items[0].id, jobId);
    assert.equal(page2.nextCursor, null);
    const succeeded = (await get('/v1/jobs?status=succeeded')).json();
    assert.ok(succeeded.items.every((j: { status: string }) => j.status === 'succeeded'));
    assert.ok(succeeded.items.some((j: { id: string }) => j.id === jobId));
    const events = (await get(`/v1/jobs/${jobId}/events`)).json();
    assert.deepEqual(
      events.items.map((e: { status: string }) => e.status),
      ['queued', 'running', 'succeeded'],
    );
    // Let the second job finish too, so the worker is idle when the file ends.
    await eventually(async () =>
      (await get(`/v1/jobs/${second.json().id}`)).json().status === 'succeeded' ? true : undefined,
    );
    const m = (await get(`/v1/jobs/${second.json().id}/metrics`)).json();
    assert.ok(m.taskInference && m.taskInference.perTask.length === 2);
  });

  it('answers /healthz and /readyz', async () => {
    assert.equal((await svc.app.inject('/healthz')).json().status, 'ok');
    const ready = await svc.app.inject('/readyz');
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json().checks, { database: { ok: true }, redis: { ok: true } });
  });
});
