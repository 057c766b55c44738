import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SpecError } from '../../../src/core/index.js';
import { ServiceError } from '../../../src/services/errors.js';
import { JobService } from '../../../src/services/jobs/job.service.js';
import { decodeCursor, encodeCursor } from '../../../src/services/pagination.js';
import type { DatasetRecord } from '../../../src/services/ports.js';
import { readAll } from '../../../src/services/stored-bytes.js';
import { MemoryJobs, MemoryQueue } from '../../helpers/fakes/in-memory.js';

const spec = { benchmark: { dataset: 'mnist', tasks: 2 }, training: { iterationsPerTask: 5 } };

function setup() {
  const jobs = new MemoryJobs();
  const queue = new MemoryQueue();
  return { jobs, queue, service: new JobService(jobs, queue) };
}

describe('JobService', () => {
  it('resolves the spec before storing anything, and queues the job by id', async () => {
    const { service, jobs, queue } = setup();
    await assert.rejects(service.submit('t1', { body: { benchmark: { tasks: 9 } } }), SpecError);
    assert.equal(jobs.jobs.size, 0);
    const { job, created } = await service.submit('t1', {
      body: { ...spec, name: 'n', metadata: { a: 1 } },
    });
    assert.ok(created);
    assert.equal(job.name, 'n');
    assert.deepEqual(job.metadata, { a: 1 });
    assert.equal(job.spec.training.iterationsPerTask, 5);
    assert.deepEqual(queue.queued, [job.id]);
  });

  it('reconcile fails in Postgres the jobs the queue gave up on, saying why, and re-queues lost ones', async () => {
    const { service, jobs, queue } = setup();
    const died = (await service.submit('t1', { body: spec })).job.id;
    const stalled = (await service.submit('t1', { body: spec })).job.id;
    const lost = (await service.submit('t1', { body: spec })).job.id;
    await jobs.markRunning(died, 'lease', 'wasm', 'test');
    queue.queued = [];
    queue.failed.set(died, { reason: 'Unexpected exit code: null signal: SIGKILL', attempts: 3 });
    queue.failed.set(stalled, { reason: 'job stalled more than allowable limit', attempts: 1 });
    const later = new Date(Date.now() + 3_600_000);
    assert.deepEqual(await service.reconcile(later, 60_000), [lost]);
    const a = await service.get('t1', died);
    assert.equal(a.status, 'failed');
    assert.equal(a.error?.code, 'TRAINING_PROCESS_DIED');
    assert.match(a.error.message, /killed by SIGKILL \(3 attempts\).*memory/);
    assert.equal((await service.get('t1', stalled)).error?.code, 'WORKER_LOST');
    assert.deepEqual(await service.reconcile(later, 60_000), [], 'nothing left to do');
  });

  it('removes the job again when the queue is down, so the same key can be retried', async () => {
    const { service, jobs, queue } = setup();
    queue.down = true;
    await assert.rejects(
      service.submit('t1', { body: spec, idempotencyKey: 'k' }),
      (e: ServiceError) => e.code === 'QUEUE_UNAVAILABLE',
    );
    assert.equal(jobs.jobs.size, 0);
    queue.down = false;
    assert.ok((await service.submit('t1', { body: spec, idempotencyKey: 'k' })).created);
  });

  it('replays an idempotency key only for the same body (key order does not matter)', async () => {
    const { service } = setup();
    const a = await service.submit('t1', {
      body: { training: { iterationsPerTask: 5 }, benchmark: { tasks: 2, dataset: 'mnist' } },
      idempotencyKey: 'k',
    });
    const b = await service.submit('t1', { body: spec, idempotencyKey: 'k' });
    assert.equal(b.created, false);
    assert.equal(b.job.id, a.job.id);
    await assert.rejects(
      service.submit('t1', { body: { ...spec, name: 'other' }, idempotencyKey: 'k' }),
      (e: ServiceError) => e.code === 'IDEMPOTENCY_KEY_REUSED',
    );
    assert.ok(
      (await service.submit('t2', { body: spec, idempotencyKey: 'k' })).created,
      'keys are per tenant',
    );
  });

  it('pages with opaque cursors and rejects forged ones', async () => {
    const { service } = setup();
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await service.submit('t1', { body: spec })).job.id);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await service.list('t1', { limit: 2, cursor });
      seen.push(...page.items.map((j) => j.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    assert.deepEqual(seen, [...ids].reverse());
    const c = encodeCursor({ createdAt: new Date('2026-01-01T00:00:00Z'), id: ids[0] });
    assert.equal(decodeCursor(c).id, ids[0]);
    assert.throws(
      () => decodeCursor('bm9wZQ'),
      (e: ServiceError) => e.code === 'INVALID_CURSOR',
    );
  });

  it('cancels queued and running jobs, repeats harmlessly, refuses finished ones', async () => {
    const { service, jobs, queue } = setup();
    const { job } = await service.submit('t1', { body: spec });
    assert.equal((await service.cancel('t1', job.id)).status, 'cancelled');
    assert.deepEqual(queue.queued, []);
    assert.equal((await service.cancel('t1', job.id)).status, 'cancelled');
    const done = (await service.submit('t1', { body: spec })).job;
    jobs.jobs.get(done.id)!.status = 'succeeded';
    await assert.rejects(
      service.cancel('t1', done.id),
      (e: ServiceError) => e.code === 'JOB_NOT_CANCELLABLE',
    );
    await assert.rejects(
      service.cancel('t2', done.id),
      (e: ServiceError) => e.code === 'JOB_NOT_FOUND',
    );
  });

  it('computes metrics from the stored rows and tells missing artifacts apart', async () => {
    const { service, jobs } = setup();
    const { job } = await service.submit('t1', { body: spec });
    jobs.results.set(job.id, [
      { task: 0, accuracies: [0.9], durationMs: 10, msPerIteration: 1 },
      { task: 1, accuracies: [0.8, 0.95], durationMs: 12, msPerIteration: 1.2 },
    ]);
    const m = await service.metrics('t1', job.id, { curve: 'loss', limit: 10 });
    assert.equal(m.averageAccuracy, 0.875);
    assert.ok(Math.abs(m.backwardTransfer! - -0.1) < 1e-12);
    assert.ok(Math.abs(m.forgetting! - 0.1) < 1e-12);
    await assert.rejects(
      service.mask('t1', job.id, 0),
      (e: ServiceError) => e.code === 'ARTIFACT_NOT_READY',
    );
    await assert.rejects(
      service.mask('t1', job.id, 2),
      (e: ServiceError) => e.code === 'TASK_NOT_FOUND',
    );
    await assert.rejects(
      service.metrics('t1', job.id, { curve: 'loss', limit: 10, cursor: 'x' }),
      (e: ServiceError) => e.code === 'INVALID_CURSOR',
    );
    await assert.rejects(
      service.model('t1', job.id, 0),
      (e: ServiceError) => e.code === 'ARTIFACT_NOT_READY',
    );
    // A trained task whose target has no LayersModel (ResNet) has its mask but no model, and says why.
    jobs.artifacts.set(`${job.id}/0`, {
      model: null,
      modelUnavailable: 'batch statistics',
      mask: new Uint8Array([1]),
    });
    assert.deepEqual(await readAll(await service.mask('t1', job.id, 0)), new Uint8Array([1]));
    for (const read of [
      () => service.model('t1', job.id, 0),
      () => service.modelJson('t1', job.id, 0),
    ]) {
      await assert.rejects(
        read(),
        (e: ServiceError) =>
          e.code === 'MODEL_NOT_AVAILABLE' &&
          /has no TF\.js model: batch statistics/.test(e.message),
      );
    }
  });

  it('looks up the data sets a spec names for the caller only, and stores the tasks resolved against them', async () => {
    const id = 'AAAAAAAA-1111-4111-8111-111111111111';
    const record: DatasetRecord = {
      id: id.toLowerCase(),
      tenantId: 't1',
      name: null,
      format: 'csv',
      sha256: 'c'.repeat(64),
      sizeBytes: 10,
      inputShape: [3],
      dtype: 'float32',
      classNames: ['a', 'b', 'c'],
      counts: { train: [5, 5, 5], test: [1, 1, 1] },
      options: { labelColumn: 'label', testFraction: 0.2, seed: 0 },
      status: 'ready',
      createdAt: new Date(),
    };
    const asked: [string, string[]][] = [];
    const datasets = {
      getMany: async (tenantId: string, ids: string[]) => (
        asked.push([tenantId, ids]),
        tenantId === 't1' ? [record].filter((r) => ids.includes(r.id)) : []
      ),
    };
    const service = new JobService(new MemoryJobs(), new MemoryQueue(), datasets);
    const body = {
      benchmark: {
        kind: 'datasets',
        tasks: [{ dataset: id, classes: ['c', 'a'] }, { dataset: id }, { dataset: 'not-a-uuid' }],
      },
    };
    // The malformed id is never sent to the repository; the spec check names it.
    await assert.rejects(
      service.submit('t1', { body }),
      (e: SpecError) => e.field === 'benchmark.tasks[2].dataset',
    );
    assert.deepEqual(asked, [['t1', [id.toLowerCase()]]]);
    const ok = { benchmark: { kind: 'datasets', tasks: body.benchmark.tasks.slice(0, 2) } };
    const { job } = await service.submit('t1', { body: ok });
    assert.deepEqual(job.spec.benchmark.tasks, [
      { dataset: record.id, classes: ['c', 'a'] },
      { dataset: record.id, classes: ['a', 'b', 'c'] },
    ]);
    assert.equal(job.tasksTotal, 2);
    await assert.rejects(
      service.submit('t2', { body: ok }),
      (e: SpecError) => e.field === 'benchmark.tasks[0].dataset' && /no data set/.test(e.message),
    );
  });

  it("delete cancels an unfinished job and takes it off the queue first; another tenant's job is not found", async () => {
    const { service, jobs, queue } = setup();
    const id = (await service.submit('t1', { body: spec })).job.id;
    await assert.rejects(service.delete('t2', id), (e: ServiceError) => e.code === 'JOB_NOT_FOUND');
    assert.ok(jobs.jobs.has(id));
    await service.delete('t1', id);
    assert.equal(jobs.jobs.has(id), false);
    assert.deepEqual(queue.queued, []);
    assert.ok(
      jobs.eventLog.some((e) => e.jobId === id && e.status === 'cancelled'),
      'cancelled before it was removed',
    );
    await assert.rejects(service.delete('t1', id), (e: ServiceError) => e.code === 'JOB_NOT_FOUND');
  });

  it('removeExpiredCheckpoints goes through every batch and keeps the checkpoints of jobs finished since the cutoff', async () => {
    const { service, jobs } = setup();
    const now = new Date('2026-12-10T00:00:00Z');
    const finished = async (daysAgo: number) => {
      const id = (await service.submit('t1', { body: spec })).job.id;
      Object.assign(jobs.jobs.get(id)!, {
        status: 'succeeded',
        finishedAt: new Date(now.getTime() - daysAgo * 86_400_000),
      });
      jobs.checkpoints.set(id, new Uint8Array([1]));
      return id;
    };
    const old = [await finished(10), await finished(8), await finished(7.5)];
    const recent = await finished(6);
    const unfinished = (await service.submit('t1', { body: spec })).job.id;
    jobs.checkpoints.set(unfinished, new Uint8Array([2]));
    assert.deepEqual((await service.removeExpiredCheckpoints(now, 7, 2)).sort(), [...old].sort());
    assert.deepEqual([...jobs.checkpoints.keys()].sort(), [recent, unfinished].sort());
    assert.ok(old.every((id) => jobs.jobs.get(id)!.checkpointRemovedAt));
    assert.deepEqual(await service.removeExpiredCheckpoints(now, 7, 2), []);
    await assert.rejects(
      service.submit('t1', { body: { continueFrom: old[0], benchmark: { tasks: 1 } } }),
      (e: ServiceError) => e.code === 'CONTINUE_FROM_CHECKPOINT_REMOVED',
    );
  });
});
