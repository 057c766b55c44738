/**
 * The epoch schedule through the training loop: task lengths in epochs (per task, from its own
 * training split) with progress and ETA, best-validation model selection restoring the best
 * epoch's whole model on a task built so that later epochs are worse, the plateau rule, and a
 * run with both resumed after task 1 ending bit for bit like an uninterrupted one.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { runContinualLearning } from '../../../src/core/continual/run-continual-learning.js';
import type { IterationEvent, ValidationEvent } from '../../../src/core/continual/types.js';
import type { ContinualTask } from '../../../src/core/data/types.js';
import { readCheckpointState } from '../../../src/core/io/checkpoint.js';
import { decodeSafetensors } from '../../../src/core/io/safetensors.js';
import { Random } from '../../../src/core/random.js';
import { resolveSpec, type JobSpec, type JobSpecInput } from '../../../src/core/spec.js';
import { arraySource } from '../../helpers/tasks.js';
import { useCpuBackend } from '../../helpers/tensors.js';

before(useCpuBackend);

const DIM = 6;

/**
 * Two Gaussian clusters in 6 dimensions; the validation and test labels are the training labels
 * flipped, so the better a model fits the training split, the worse it does on validation: a
 * later epoch is worse than an earlier one.
 */
function flippedTask(index: number, train: number, seed = 11 + index): ContinualTask {
  const rng = new Random(seed);
  const centres = [0, 1].map(() => Array.from({ length: DIM }, () => rng.uniform(-1, 1)));
  const make = (n: number, flip: boolean) => {
    const x = new Float32Array(n * DIM);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const c = i % 2;
      y[i] = flip ? 1 - c : c;
      for (let d = 0; d < DIM; d++) x[i * DIM + d] = centres[c][d] + 1.0 * rng.normal();
    }
    return arraySource(x, y, DIM);
  };
  return {
    index,
    name: `flipped ${index}`,
    kind: 'classification',
    inputSize: DIM,
    outputSize: 2,
    globalLabels: [2 * index, 2 * index + 1],
    train: make(train, false),
    validation: make(20, true),
    test: make(20, true),
  };
}

const spec = (method: JobSpec['method'], training: JobSpecInput['training']) =>
  resolveSpec({
    method,
    network: { hidden: [8] },
    hypernetwork: { hidden: [6], embeddingDim: 4, ...(method === 'hnet' ? { chunkSize: 30 } : {}) },
    benchmark: { tasks: 2 },
    evaluation: { taskInference: false },
    training: { batchSize: 8, learningRate: 1e-2, validationEvery: 100_000, ...training },
    regularization: { beta: 0.01, lambda: 0.001, sparsity: 0, maskedL1: false },
  });

const tensors = (checkpoint: Uint8Array) => decodeSafetensors(checkpoint).tensors;

describe('epochs', () => {
  it('each task runs epochs x ceil(its training samples / batch) iterations; progress and ETA count them', async () => {
    // 20 and 36 training samples, batch 8: 3 and 5 iterations per epoch.
    const tasks = [flippedTask(0, 20), flippedTask(1, 36)];
    const events: IterationEvent[] = [];
    await runContinualLearning(spec('finetune', { epochsPerTask: 2, iterationsPerTask: null }), {
      tasks,
      callbacks: { onIteration: (e) => void events.push(e) },
    });
    const perTask = [0, 1].map((t) => events.filter((e) => e.task === t));
    assert.deepEqual(
      perTask.map((es) => es.length),
      [6, 10],
    );
    assert.deepEqual(
      perTask.map((es) => es[0].iterations),
      [6, 10],
    );
    // The ETA counts what is left of all tasks: positive until the very last iteration, then 0.
    assert.ok(events.slice(0, -1).every((e) => e.etaMs > 0));
    assert.equal(events.at(-1)!.etaMs, 0);
  });
});

describe('best-validation model selection', () => {
  for (const method of ['hypermask', 'hnet', 'finetune'] as const) {
    it(`${method}: the task keeps the model of its best epoch (target, hypernetwork and embeddings), not the last`, async () => {
      const epochs = 8;
      const tasks = () => [flippedTask(0, 24), flippedTask(1, 24)];
      const validations: ValidationEvent[] = [];
      const checkpoints: Uint8Array[] = [];
      const best = await runContinualLearning(
        spec(method, {
          epochsPerTask: epochs,
          iterationsPerTask: null,
          modelSelection: 'best-validation',
        }),
        {
          tasks: tasks(),
          callbacks: {
            onValidation: (e) => void validations.push(e),
            onTaskEnd: (e) => void checkpoints.push(e.checkpoint),
          },
        },
      );
      // Epoch ends of task 0 (3 iterations per epoch): the first best one.
      const task0 = validations.filter((v) => v.task === 0);
      assert.deepEqual(
        task0.map((v) => v.iteration),
        Array.from({ length: epochs }, (_, e) => 3 * e + 2),
      );
      const accs = task0.map((v) => v.accuracy);
      const bestEpoch = accs.indexOf(Math.max(...accs)) + 1;
      assert.ok(
        bestEpoch < epochs && accs[epochs - 1] < accs[bestEpoch - 1],
        `a later epoch is worse: ${accs}`,
      );
      // The model after task 0 is exactly the one a run of bestEpoch epochs ends task 0 with.
      const short: Uint8Array[] = [];
      await runContinualLearning(
        spec(method, { epochsPerTask: bestEpoch, iterationsPerTask: null }),
        {
          tasks: tasks().slice(0, 1),
          callbacks: { onTaskEnd: (e) => void short.push(e.checkpoint) },
        },
      );
      assert.deepEqual(tensors(checkpoints[0]), tensors(short[0]));
      // And A[0][0] is that model's accuracy (validation and test labels agree here).
      assert.equal(best.accuracyMatrix[0][0] >= accs[epochs - 1], true);
      // With "last" the task keeps its last epoch, a different model.
      const last: Uint8Array[] = [];
      await runContinualLearning(spec(method, { epochsPerTask: epochs, iterationsPerTask: null }), {
        tasks: tasks().slice(0, 1),
        callbacks: { onTaskEnd: (e) => void last.push(e.checkpoint) },
      });
      assert.notDeepEqual(tensors(last[0]), tensors(checkpoints[0]));
    });
  }

  it('leaves no tensors behind', async () => {
    const s = spec('hypermask', {
      epochsPerTask: 3,
      iterationsPerTask: null,
      modelSelection: 'best-validation',
      lrSchedule: 'plateau',
    });
    await runContinualLearning(s, { tasks: [flippedTask(0, 16)] });
    const before = tf.memory().numTensors;
    await runContinualLearning(s, { tasks: [flippedTask(0, 16), flippedTask(1, 16)] });
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('plateau learning rate, resumed', () => {
  const cases: [JobSpec['method'], JobSpec['training']['modelSelection']][] = [
    ['hypermask', 'last'],
    ['hypermask', 'best-validation'],
    ['hnet', 'last'],
    ['finetune', 'best-validation'],
  ];
  for (const [method, modelSelection] of cases) {
    it(`${method}, keeping the ${modelSelection} model: with the plateau rule active, a run resumed after task 1 ends bit for bit like an uninterrupted one`, async () => {
      const training = {
        epochsPerTask: 10,
        iterationsPerTask: null,
        lrSchedule: 'plateau' as const,
        modelSelection,
      };
      const s = spec(method, training);
      const tasks = () => [flippedTask(0, 24), flippedTask(1, 24)];
      const checkpoints: Uint8Array[] = [];
      const full = await runContinualLearning(s, {
        tasks: tasks(),
        callbacks: { onTaskEnd: (e) => void checkpoints.push(e.checkpoint) },
      });
      if (modelSelection === 'last') {
        // The rule did act (validation accuracy falls, so the rate drops after 6 epochs): the
        // same run at a constant rate ends elsewhere.
        const constant: Uint8Array[] = [];
        await runContinualLearning(spec(method, { ...training, lrSchedule: 'constant' }), {
          tasks: tasks(),
          callbacks: { onTaskEnd: (e) => void constant.push(e.checkpoint) },
        });
        assert.notDeepEqual(tensors(constant[0]), tensors(checkpoints[0]));
      }
      const resumed: Uint8Array[] = [];
      const again = await runContinualLearning(s, {
        tasks: tasks(),
        resumeFrom: checkpoints[0],
        callbacks: { onTaskEnd: (e) => void resumed.push(e.checkpoint) },
      });
      assert.deepEqual(again.accuracyMatrix, full.accuracyMatrix);
      assert.deepEqual(tensors(resumed.at(-1)!), tensors(checkpoints.at(-1)!));
    });
  }
});

describe('checkpoints within a task', () => {
  const cases: [JobSpec['method'], JobSpec['training']['modelSelection']][] = [
    ['hypermask', 'best-validation'],
    ['hnet', 'best-validation'],
    ['finetune', 'last'],
  ];
  for (const [method, modelSelection] of cases) {
    it(`${method}: resumed at an epoch end after the plateau rule dropped the rate, it ends bit for bit like an uninterrupted run`, async () => {
      const s = spec(method, {
        epochsPerTask: 10,
        iterationsPerTask: null,
        lrSchedule: 'plateau',
        modelSelection,
      });
      const tasks = () => [flippedTask(0, 24), flippedTask(1, 24)];
      const within: Uint8Array[] = [];
      const ends: Uint8Array[] = [];
      const full = await runContinualLearning(s, {
        tasks: tasks(),
        callbacks: {
          onEpochEnd: (e) => {
            assert.equal(e.iteration, 3 * e.epoch - 1);
            // Task 1 at epoch 8 (after the drop at epoch 7), task 2 at epoch 3.
            if ((e.task === 0 && e.epoch === 8) || (e.task === 1 && e.epoch === 3))
              within.push(e.checkpoint());
          },
          onTaskEnd: (e) => void ends.push(e.checkpoint),
        },
      });
      assert.equal(within.length, 2);
      const state = readCheckpointState(within[0]);
      assert.equal(state.completedTasks, 0);
      const inTask = state.inTask;
      assert.ok(inTask, 'the checkpoint is one within a task');
      assert.equal(inTask.iteration, 24);
      assert.ok(
        inTask.learningRates.every((r) => r < 1e-2 - 1e-9),
        `the plateau rule has dropped the rates: ${inTask.learningRates.join(', ')}`,
      );
      assert.equal(inTask.bestAccuracy !== null, modelSelection === 'best-validation');
      for (const from of within) {
        const resumed: Uint8Array[] = [];
        const again = await runContinualLearning(s, {
          tasks: tasks(),
          resumeFrom: from,
          callbacks: { onTaskEnd: (e) => void resumed.push(e.checkpoint) },
        });
        assert.deepEqual(again.accuracyMatrix, full.accuracyMatrix);
        assert.deepEqual(tensors(resumed.at(-1)!), tensors(ends.at(-1)!));
        assert.deepEqual(
          readCheckpointState(resumed.at(-1)!).rngState,
          readCheckpointState(ends.at(-1)!).rngState,
        );
      }
    });
  }
});
