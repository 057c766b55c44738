/**
 * Tenant isolation on every route (another tenant's job answers 404 JOB_NOT_FOUND, exactly like a
 * job that does not exist) and Idempotency-Key semantics. No worker runs here: trained artifacts
 * are written through the training repository, as a worker would.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PrismaTrainingRepository } from '../../src/infra/prisma/training.repository.js';
import { createTestService, tinySpec, type TestService } from '../helpers/service.js';

describe('tenant isolation', () => {
  let svc: TestService;
  let alice: string;
  let bob: string;
  let jobId: string;

  before(async () => {
    svc = await createTestService('tenants');
    alice = await svc.auth('alice');
    bob = await svc.auth('bob');
    const res = await svc.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: alice },
      payload: tinySpec(),
    });
    jobId = res.json().id;
    // Pretend a worker trained task 0 so that the artifact routes have something to hide.
    const store = new PrismaTrainingRepository(svc.db, svc.pool);
    await store.markRunning(jobId, 'test-lease', 'wasm', 'test');
    await store.completeTask(jobId, 'test-lease', {
      task: 0,
      completedTasks: 1,
      accuracies: [0.9],
      durationMs: 1,
      msPerIteration: 1,
      checkpoint: new Uint8Array([1, 2, 3]),
      embedding: [0.1, 0.2],
      exports: [
        {
          task: 0,
          mask: new Uint8Array([9, 9]),
          model: {
            modelJson: {
              format: 'layers-model',
              generatedBy: 'test',
              convertedBy: null,
              modelTopology: {},
              weightsManifest: [{ paths: ['w'], weights: [] }],
              userDefinedMetadata: {},
            },
            weights: new Uint8Array(8),
            weightsFileName: 'w',
          },
          modelUnavailable: null,
        },
      ],
    });
  });
  after(async () => svc?.close());

  const routes = (id: string): [string, string][] => [
    ['GET', `/v1/jobs/${id}`],
    ['GET', `/v1/jobs/${id}/metrics`],
    ['GET', `/v1/jobs/${id}/events`],
    ['GET', `/v1/jobs/${id}/tasks/0/mask`],
    ['GET', `/v1/jobs/${id}/tasks/0/model/model.json`],
    ['GET', `/v1/jobs/${id}/tasks/0/model/weights.bin`],
    ['POST', `/v1/jobs/${id}/cancel`],
  ];

  it('the owner can reach every route', async () => {
    for (const [method, url] of routes(jobId).filter(([m]) => m === 'GET')) {
      const res = await svc.app.inject({
        method: method as 'GET',
        url,
        headers: { authorization: alice },
      });
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
    }
  });

  it("another tenant's job answers 404 JOB_NOT_FOUND on every route, like a missing job", async () => {
    for (const [method, url] of routes(jobId)) {
      const res = await svc.app.inject({
        method: method as 'GET',
        url,
        headers: { authorization: bob },
      });
      assert.equal(res.statusCode, 404, `${method} ${url}: ${res.body}`);
      assert.equal(res.json().error.code, 'JOB_NOT_FOUND');
      const missing = await svc.app.inject({
        method: method as 'GET',
        url: url.replace(jobId, '00000000-0000-4000-8000-000000000001'),
        headers: { authorization: bob },
      });
      assert.equal(missing.json().error.code, 'JOB_NOT_FOUND');
    }
  });

  it("another tenant's jobs are not listed and the cancel did not happen", async () => {
    const list = (
      await svc.app.inject({ url: '/v1/jobs', headers: { authorization: bob } })
    ).json();
    assert.deepEqual(list.items, []);
    const job = (
      await svc.app.inject({ url: `/v1/jobs/${jobId}`, headers: { authorization: alice } })
    ).json();
    assert.equal(job.status, 'running');
    assert.equal(
      (await svc.app.inject({ url: '/v1/jobs', headers: { authorization: alice } })).json().items
        .length,
      1,
    );
  });

  it('the owner sees artifacts of untrained tasks as not ready, and cancel works', async () => {
    const notReady = await svc.app.inject({
      url: `/v1/jobs/${jobId}/tasks/1/mask`,
      headers: { authorization: alice },
    });
    assert.equal(notReady.json().error.code, 'ARTIFACT_NOT_READY');
    const noTask = await svc.app.inject({
      url: `/v1/jobs/${jobId}/tasks/7/mask`,
      headers: { authorization: alice },
    });
    assert.equal(noTask.json().error.code, 'TASK_NOT_FOUND');
    const cancel = await svc.app.inject({
      method: 'POST',
      url: `/v1/jobs/${jobId}/cancel`,
      headers: { authorization: alice },
    });
    assert.equal(cancel.statusCode, 200);
    assert.equal(cancel.json().status, 'cancelled');
    const again = await svc.app.inject({
      method: 'POST',
      url: `/v1/jobs/${jobId}/cancel`,
      headers: { authorization: alice },
    });
    assert.equal(again.json().status, 'cancelled');
  });
});

describe('idempotency', () => {
  let svc: TestService;
  let auth: string;
  before(async () => {
    svc = await createTestService('idem');
    auth = await svc.auth('acme');
  });
  after(async () => svc?.close());

  const post = (headers: Record<string, string>, payload: object) =>
    svc.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: auth, ...headers },
      payload,
    });

  it('a repeated key returns the same job (200) and queues it once', async () => {
    const first = await post({ 'idempotency-key': 'k-1' }, tinySpec());
    assert.equal(first.statusCode, 201);
    const second = await post({ 'idempotency-key': 'k-1' }, tinySpec());
    assert.equal(second.statusCode, 200);
    assert.equal(second.json().id, first.json().id);
    assert.equal(await svc.ctx.queue.queue.count(), 1);
  });

  it('the same body with keys in another order is the same request', async () => {
    const a = await post(
      { 'idempotency-key': 'k-order' },
      { network: { hidden: [16], activation: 'relu' }, method: 'hnet' },
    );
    const b = await post(
      { 'idempotency-key': 'k-order' },
      { method: 'hnet', network: { activation: 'relu', hidden: [16] } },
    );
    assert.equal(b.statusCode, 200);
    assert.equal(b.json().id, a.json().id);
  });

  it('a repeated key with another body is refused with 409', async () => {
    const res = await post({ 'idempotency-key': 'k-1' }, tinySpec({ seed: 9 }));
    assert.equal(res.statusCode, 409);
    assert.equal(res.json().error.code, 'IDEMPOTENCY_KEY_REUSED');
  });

  it('concurrent requests with one key create one job', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, () => post({ 'idempotency-key': 'k-race' }, tinySpec())),
    );
    const ids = new Set(results.map((r) => r.json().id));
    assert.equal(ids.size, 1);
    assert.deepEqual(
      results.map((r) => r.statusCode).sort(),
      [200, 200, 200, 200, 200, 200, 200, 201],
    );
  });

  it('keys are per tenant, and requests without a key always create a job', async () => {
    const other = await svc.auth('other');
    const mine = await post({ 'idempotency-key': 'shared' }, tinySpec());
    const theirs = await svc.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: other, 'idempotency-key': 'shared' },
      payload: tinySpec(),
    });
    assert.equal(theirs.statusCode, 201);
    assert.notEqual(theirs.json().id, mine.json().id);
    const x = await post({}, tinySpec());
    const y = await post({}, tinySpec());
    assert.notEqual(x.json().id, y.json().id);
  });
});
