/**
 * The training use case against in-memory ports and the real engine on tiny synthetic data (CPU
 * backend): persistence per task, cancellation through the status, shutdown handback, resume
 * from the stored checkpoint, permanent errors.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { resolveSpec } from '../../../src/core/index.js';
import type { JobRecord } from '../../../src/services/ports.js';
import {
  PermanentTrainingError,
  runTraining,
  type TrainingDeps,
} from '../../../src/services/training/run-training.js';
import { makeRawDataset } from '../../helpers/datasets.js';
import { MemoryJobs } from '../../helpers/fakes/in-memory.js';

const raw = makeRawDataset({ trainCount: 400, testCount: 200, seed: 2, name: 'mnist' });
const input = (iterations: number) => ({
  benchmark: {
    dataset: 'mnist',
    tasks: 2,
    trainLimit: 80,
    testLimit: 40,
    validationSize: 10,
    augment: false,
  },
  network: { hidden: [8] },
  hypernetwork: { hidden: [4], embeddingDim: 4 },
  training: { iterationsPerTask: iterations, batchSize: 16, validationEvery: 5 },
  evaluation: { taskInference: false },
});

async function setup(iterations: number) {
  const store = new MemoryJobs();
  const { job } = await store.create({
    tenantId: 't',
    name: null,
    metadata: null,
    spec: resolveSpec(input(iterations)),
    idempotencyKey: null,
    requestHash: null,
  });
  const deps = (over: Partial<TrainingDeps> = {}): TrainingDeps => ({
    store,
    loadDataset: async () => raw,
    backend: 'cpu',
    attempt: { number: 1, max: 3, lease: 'attempt-1' },
    settings: { progressThrottleMs: 0, lossEvery: 5, cancelPollMs: 20, shutdownGraceMs: 0 },
    ...over,
  });
  return { store, job, deps };
}

describe('runTraining', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('trains every task and stores results, checkpoint, exports and curves', async () => {
    const { store, job, deps } = await setup(10);
    const progress: number[] = [];
    const out = await runTraining(
      { jobId: job.id },
      deps({ reportProgress: async (p) => void progress.push(p.iteration) }),
    );
    assert.equal(out.outcome, 'succeeded');
    const j = store.jobs.get(job.id)!;
    assert.equal(j.status, 'succeeded');
    assert.equal(j.backend, 'cpu');
    assert.equal(j.completedTasks, 2);
    assert.deepEqual(
      store.results.get(job.id)!.map((r) => r.accuracies.length),
      [1, 2],
    );
    assert.ok(store.checkpoints.get(job.id)!.byteLength > 0);
    assert.ok(store.artifacts.get(`${job.id}/1`)!.mask);
    assert.deepEqual(
      store.points.filter((p) => p.kind === 'loss' && p.task === 0).map((p) => p.iteration),
      [0, 5, 9],
    );
    assert.ok(progress.length > 0);
  });

  it('stops mid-task when the job is cancelled', async () => {
    const { store, job, deps } = await setup(100_000);
    setTimeout(() => void store.cancel('t', job.id), 200);
    const out = await runTraining({ jobId: job.id }, deps());
    assert.equal(out.outcome, 'cancelled');
    assert.equal(store.jobs.get(job.id)!.status, 'cancelled');
    assert.equal(store.jobs.get(job.id)!.completedTasks, 0);
  });

  it('hands the job back on shutdown, and the next attempt resumes after the stored checkpoint', async () => {
    const { store, job, deps } = await setup(30);
    const stop = new AbortController();
    let handed = false;
    const first = await runTraining(
      { jobId: job.id },
      deps({
        stop: stop.signal,
        log: (m) => {
          if (!handed && /task 0 done/.test(m)) {
            handed = true;
            stop.abort('shutdown');
          }
        },
      }),
    );
    assert.equal(first.outcome, 'interrupted');
    assert.equal(store.jobs.get(job.id)!.status, 'queued');
    assert.equal(store.jobs.get(job.id)!.completedTasks, 1);
    const firstRow = store.results.get(job.id)![0];
    const second = await runTraining(
      { jobId: job.id },
      deps({ attempt: { number: 2, max: 3, lease: 'attempt-2' } }),
    );
    assert.equal(second.outcome, 'succeeded');
    assert.deepEqual(store.results.get(job.id)![0], firstRow, 'task 0 was not trained again');
    assert.ok(store.eventLog.some((e) => /resuming after task 1/.test(e.message ?? '')));

    // Same spec, uninterrupted: identical per-task results.
    const fresh = await setup(30);
    await runTraining({ jobId: fresh.job.id }, fresh.deps());
    assert.deepEqual(
      store.results.get(job.id)!.map((r) => r.accuracies),
      fresh.store.results.get(fresh.job.id)!.map((r) => r.accuracies),
    );
  });

  it('fails at once on a permanent engine error, and requeues a transient one while attempts remain', async () => {
    const { store, job, deps } = await setup(10);
    store.checkpoints.set(job.id, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]));
    await assert.rejects(
      runTraining({ jobId: job.id }, deps()),
      (e: PermanentTrainingError) => e.code === 'INVALID_CHECKPOINT',
    );
    assert.equal(store.jobs.get(job.id)!.status, 'failed');
    assert.equal(store.jobs.get(job.id)!.error!.code, 'INVALID_CHECKPOINT');

    const other = await setup(10);
    const flaky = other.deps({ loadDataset: async () => Promise.reject(new Error('disk hiccup')) });
    await assert.rejects(runTraining({ jobId: other.job.id }, flaky), /disk hiccup/);
    assert.equal(other.store.jobs.get(other.job.id)!.status, 'queued');
    await assert.rejects(
      runTraining(
        { jobId: other.job.id },
        { ...flaky, attempt: { number: 3, max: 3, lease: 'attempt-3' } },
      ),
      /disk hiccup/,
    );
    assert.equal(other.store.jobs.get(other.job.id)!.status, 'failed');
    assert.equal(other.store.jobs.get(other.job.id)!.error!.code, 'TRAINING_FAILED');
  });

  it("stores task t's exports at its end and every task's at the last task's end", async () => {
    const { store, job, deps } = await setup(5);
    const written: number[][] = [];
    const completeTask = store.completeTask.bind(store);
    store.completeTask = async (id, lease, c) => {
      const exports = [...c.exports];
      written.push(exports.map((e) => e.task));
      return completeTask(id, lease, { ...c, exports });
    };
    assert.equal((await runTraining({ jobId: job.id }, deps())).outcome, 'succeeded');
    assert.deepEqual(written, [[0], [0, 1]]);
  });

  it('stops when the job is deleted while it trains, writing nothing back', async () => {
    const { store, job, deps } = await setup(10);
    const completeTask = store.completeTask.bind(store);
    // Deleted just as task 0 ends, before its write.
    store.completeTask = async (id, lease, c) => {
      await store.delete('t', id);
      return completeTask(id, lease, c);
    };
    const out = await runTraining({ jobId: job.id }, deps());
    assert.deepEqual(out, { outcome: 'skipped', reason: 'job was deleted while it trained' });
    assert.equal(store.jobs.has(job.id), false);
    assert.equal(store.results.has(job.id), false);
    assert.equal(store.checkpoints.has(job.id), false);
  });

  it('an attempt another one took over stops at its next write, quietly, and writes nothing more', async () => {
    const { store, job, deps } = await setup(30);
    const logs: string[] = [];
    let takenOver = false;
    const out = await runTraining(
      { jobId: job.id },
      deps({
        // The first progress report is after task 0's first iteration: another worker starts the job now.
        reportProgress: async () => {
          if (takenOver) return;
          takenOver = true;
          assert.equal(
            await store.markRunning(job.id, 'attempt-2', 'cpu', 'attempt 2 on cpu'),
            true,
          );
        },
        log: (m) => logs.push(m),
      }),
    );
    assert.equal(out.outcome, 'superseded');
    const j = store.jobs.get(job.id)!;
    assert.equal(j.status, 'running', 'the status belongs to attempt 2');
    assert.equal(j.attempts, 2);
    assert.equal(j.completedTasks, 0);
    assert.equal(store.results.get(job.id), undefined, 'no task result from attempt 1');
    assert.equal(store.checkpoints.get(job.id), undefined, 'no checkpoint from attempt 1');
    assert.deepEqual(
      store.eventLog.filter((e) => e.jobId === job.id).map((e) => e.status),
      ['queued', 'running', 'running'],
    );
    assert.match(
      logs.join('\n'),
      new RegExp(
        `job ${job.id} was taken over by another attempt; this attempt's progress was refused; this attempt stops`,
      ),
    );
  });

  it('trains a job stored as spec version 1 (no network kind) as the MLP it described', async () => {
    const { store, job, deps } = await setup(10);
    const { kind: _kind, channels: _c, n: _n, k: _k, dropout: _d, ...network } = job.spec.network;
    Object.assign(store.jobs.get(job.id)!, { specVersion: 1, spec: { ...job.spec, network } });
    const out = await runTraining({ jobId: job.id }, deps());
    assert.equal(out.outcome, 'succeeded');
    assert.equal(store.jobs.get(job.id)!.completedTasks, 2);
  });

  it('fails at once, without training, a job whose stored spec is of another version or no longer validates', async () => {
    const changes: [(j: JobRecord) => Partial<JobRecord>, RegExp][] = [
      [() => ({ specVersion: 99 }), /stored as version 99 and this worker reads version 5/],
      [
        (j) => ({ spec: { ...j.spec, training: { ...j.spec.training, iterationsPerTask: -5 } } }),
        /no longer passes validation \(training.iterationsPerTask: must be an integer between 1 and 1000000 \(got -5\)\)/,
      ],
    ];
    for (const [change, says] of changes) {
      const { store, job, deps } = await setup(10);
      Object.assign(store.jobs.get(job.id)!, change(job));
      let loads = 0;
      await assert.rejects(
        runTraining({ jobId: job.id }, deps({ loadDataset: async () => (loads++, raw) })),
        (e: PermanentTrainingError) => e.code === 'INVALID_STORED_SPEC',
      );
      const j = store.jobs.get(job.id)!;
      assert.equal(j.status, 'failed');
      assert.equal(j.error!.code, 'INVALID_STORED_SPEC');
      assert.match(j.error!.message, says);
      assert.equal(loads, 0, 'no data was loaded');
      assert.equal(store.progressWrites, 0, 'nothing was trained');
    }
  });

  it('skips jobs that are gone or finished', async () => {
    const { store, job, deps } = await setup(10);
    await store.cancel('t', job.id);
    assert.deepEqual(await runTraining({ jobId: job.id }, deps()), {
      outcome: 'skipped',
      reason: 'job is cancelled',
    });
    assert.equal(
      (await runTraining({ jobId: '00000000-0000-4000-8000-000000000000' }, deps())).outcome,
      'skipped',
    );
  });
});
