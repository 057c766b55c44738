import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  runContinualLearning,
  tasksToExport,
} from '../../../src/core/continual/run-continual-learning.js';
import type { TaskEndEvent, TaskExport } from '../../../src/core/continual/types.js';
import { resolveSpec, type JobSpecInput } from '../../../src/core/spec.js';
import { clusterTasks } from '../../helpers/tasks.js';
import { useCpuBackend } from '../../helpers/tensors.js';

before(useCpuBackend);

/** Two tasks whose labels conflict on overlapping inputs: an unprotected network forgets task 1. */
const tiny = (method: 'finetune' | 'hypermask' | 'hnet', extra: JobSpecInput = {}) =>
  resolveSpec({
    method,
    network: { hidden: [32] },
    hypernetwork: { hidden: [16], embeddingDim: 8 },
    training: { iterationsPerTask: 200, batchSize: 32, learningRate: 5e-3, validationEvery: 1000 },
    benchmark: { tasks: 2 },
    evaluation: { taskInference: false },
    ...extra,
  });

describe('two-task sequence', () => {
  it('finetune forgets the first task', async () => {
    const r = await runContinualLearning(tiny('finetune'), { tasks: clusterTasks({ tasks: 2 }) });
    assert.ok(r.accuracyMatrix[0][0] >= 0.95, `learns task 1 (${r.accuracyMatrix[0][0]})`);
    assert.ok(r.accuracyMatrix[1][0] < 0.85, `forgets task 1 (${r.accuracyMatrix[1][0]})`);
    assert.ok(r.backwardTransfer! < -0.1);
  });

  it('hypermask keeps the first task', async () => {
    const r = await runContinualLearning(
      tiny('hypermask', { regularization: { beta: 0.01, lambda: 0.01, sparsity: 30 } }),
      {
        tasks: clusterTasks({ tasks: 2 }),
      },
    );
    assert.ok(r.accuracyMatrix[0][0] >= 0.95, `learns task 1 (${r.accuracyMatrix[0][0]})`);
    assert.ok(r.accuracyMatrix[1][0] >= 0.95, `keeps task 1 (${r.accuracyMatrix[1][0]})`);
    assert.ok(r.accuracyMatrix[1][1] >= 0.9, `learns task 2 (${r.accuracyMatrix[1][1]})`);
  });

  it('hnet keeps the first task, with a chunked hypernetwork', async () => {
    const r = await runContinualLearning(
      tiny('hnet', {
        regularization: { beta: 0.05 },
        hypernetwork: { hidden: [16], embeddingDim: 8, chunkSize: 100, chunkEmbeddingDim: 4 },
      }),
      { tasks: clusterTasks({ tasks: 2 }) },
    );
    assert.ok(r.accuracyMatrix[0][0] >= 0.95, `learns task 1 (${r.accuracyMatrix[0][0]})`);
    assert.ok(r.accuracyMatrix[1][0] >= 0.95, `keeps task 1 (${r.accuracyMatrix[1][0]})`);
    assert.ok(r.accuracyMatrix[1][1] >= 0.9, `learns task 2 (${r.accuracyMatrix[1][1]})`);
  });

  it('reports progress, validation and task ends through callbacks, and leaks no tensors', async () => {
    const before = tf.memory().numTensors;
    const events = { begin: 0, iterations: 0, validations: 0, ends: [] as number[], trainEnd: 0 };
    const r = await runContinualLearning(
      tiny('hypermask', { training: { iterationsPerTask: 20, validationEvery: 10 } }),
      {
        tasks: clusterTasks({ tasks: 2 }),
        callbacks: {
          onTaskBegin: () => void events.begin++,
          onIteration: (e) => {
            events.iterations++;
            assert.ok(Number.isFinite(e.loss) && e.etaMs >= 0);
          },
          onValidation: () => void events.validations++,
          onTaskEnd: (e) => {
            events.ends.push(e.task);
            assert.equal(e.tasks, 2);
            assert.equal(e.exportTask(e.task).task, e.task);
            assert.throws(() => e.exportTask(e.task + 1), /has not been trained/);
            assert.ok(e.checkpoint.length > 0);
          },
          onTrainEnd: () => void events.trainEnd++,
        },
      },
    );
    assert.deepEqual(events, {
      begin: 2,
      iterations: 40,
      validations: 4,
      ends: [0, 1],
      trainEnd: 1,
    });
    assert.equal(r.msPerIteration.length, 2);
    assert.equal(tf.memory().numTensors, before);
  });

  it("offers exports on demand; kept as tasksToExport says, they end as the final model's", async () => {
    assert.deepEqual(tasksToExport({ task: 0, tasks: 3 }), [0]);
    assert.deepEqual(tasksToExport({ task: 1, tasks: 3 }), [1]);
    assert.deepEqual(tasksToExport({ task: 2, tasks: 3 }), [0, 1, 2]);
    const kept = new Map<number, TaskExport>();
    const atItsEnd: TaskExport[] = [];
    let last: TaskEndEvent | null = null;
    await runContinualLearning(
      tiny('hypermask', { training: { iterationsPerTask: 20, validationEvery: 10 } }),
      {
        tasks: clusterTasks({ tasks: 2 }),
        callbacks: {
          onTaskEnd: (e) => {
            atItsEnd.push(e.exportTask(e.task));
            for (const k of tasksToExport(e)) kept.set(k, e.exportTask(k));
            last = e;
          },
        },
      },
    );
    assert.deepEqual([...kept.keys()].sort(), [0, 1]);
    // Theta moved while task 1 trained: task 0's model at the end differs from the one at its own end.
    assert.notDeepEqual(kept.get(0)!.model!.weights, atItsEnd[0].model!.weights);
    assert.deepEqual(kept.get(1)!.model!.weights, atItsEnd[1].model!.weights);
    assert.throws(() => last!.exportTask(0), /only valid during onTaskEnd/);
  });

  it('stops with CancelledError when the signal aborts', async () => {
    const controller = new AbortController();
    await assert.rejects(
      runContinualLearning(tiny('finetune'), {
        tasks: clusterTasks({ tasks: 2 }),
        signal: controller.signal,
        callbacks: { onIteration: (e) => void (e.iteration === 5 && controller.abort()) },
      }),
      (err: Error & { code?: string }) => err.code === 'CANCELLED',
    );
  });

  it('fails with DIVERGED on a non-finite loss', async () => {
    // Infinite inputs give Inf - Inf = NaN logits at the first step.
    const spec = tiny('finetune');
    const tasks = clusterTasks({ tasks: 1, spread: Infinity });
    await assert.rejects(
      runContinualLearning(spec, { tasks }),
      (err: Error & { code?: string }) => err.code === 'DIVERGED',
    );
  });
});
