import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { runContinualLearning } from '../../../src/core/continual/run-continual-learning.js';
import { readCheckpointState } from '../../../src/core/io/checkpoint.js';
import { exportTask } from '../../../src/core/io/export.js';
import { decodeSafetensors, encodeSafetensors } from '../../../src/core/io/safetensors.js';
import { createLearner } from '../../../src/core/methods/create-learner.js';
import { crossEntropy } from '../../../src/core/methods/learner.js';
import { Random } from '../../../src/core/random.js';
import { resolveSpec, type JobSpec } from '../../../src/core/spec.js';
import { clusterTasks } from '../../helpers/tasks.js';
import { expectArraysClose, useCpuBackend } from '../../helpers/tensors.js';

before(useCpuBackend);

const spec = (method: JobSpec['method']) =>
  resolveSpec({
    method,
    network: { hidden: [12] },
    hypernetwork: { hidden: [6], embeddingDim: 4 },
    training: { iterationsPerTask: 25, batchSize: 16, learningRate: 5e-3 },
    benchmark: { tasks: 3 },
    regularization: { sparsity: 30 },
  });

describe('safetensors', () => {
  it('round-trips tensors and metadata with an 8-byte aligned data section', () => {
    const bytes = encodeSafetensors(
      [
        { name: 'a', shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) },
        { name: 'b', shape: [1], data: Float32Array.of(-0.5) },
      ],
      { k: 'v' },
    );
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal((8 + n) % 8, 0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    assert.deepEqual(header.a, { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] });
    const { tensors, metadata } = decodeSafetensors(bytes);
    assert.deepEqual(metadata, { k: 'v' });
    assert.deepEqual(Array.from(tensors[0].data), [1, 2, 3, 4]);
    assert.deepEqual(Array.from(tensors[1].data), [-0.5]);
    assert.throws(() => decodeSafetensors(bytes.subarray(0, 20)), /not a valid safetensors/);
  });
});

describe('checkpoint and resume', () => {
  for (const method of ['hypermask', 'hnet', 'finetune'] as const) {
    it(`${method}: a run resumed after task 1 ends exactly like an uninterrupted run`, async () => {
      const s = spec(method);
      const checkpoints: Uint8Array[] = [];
      const full = await runContinualLearning(s, {
        tasks: clusterTasks({ tasks: 3 }),
        callbacks: { onTaskEnd: (e) => void checkpoints.push(e.checkpoint) },
      });
      const state = readCheckpointState(checkpoints[0]);
      assert.equal(state.completedTasks, 1);
      const resumedCheckpoints: Uint8Array[] = [];
      const resumed = await runContinualLearning(s, {
        tasks: clusterTasks({ tasks: 3 }),
        resumeFrom: checkpoints[0],
        callbacks: { onTaskEnd: (e) => void resumedCheckpoints.push(e.checkpoint) },
      });
      assert.deepEqual(resumed.accuracyMatrix, full.accuracyMatrix);
      assert.deepEqual(resumed.taskInference, full.taskInference);
      // Same weights bit for bit, not just the same accuracies.
      assert.deepEqual(
        decodeSafetensors(resumedCheckpoints.at(-1)!).tensors,
        decodeSafetensors(checkpoints.at(-1)!).tensors,
      );
    });
  }

  it('refuses a checkpoint written for another spec', async () => {
    let checkpoint: Uint8Array | undefined;
    await runContinualLearning(spec('finetune'), {
      tasks: clusterTasks({ tasks: 3 }),
      callbacks: { onTaskEnd: (e) => void (checkpoint ??= e.checkpoint) },
    });
    const other = resolveSpec({ ...spec('finetune'), training: { ...spec('finetune').training, seed: 2 } });
    await assert.rejects(
      runContinualLearning(other, { tasks: clusterTasks({ tasks: 3 }), resumeFrom: checkpoint }),
      /different spec/,
    );
  });
});

describe('per-task export', () => {
  for (const method of ['hypermask', 'hnet', 'finetune'] as const) {
    it(`${method}: the exported LayersModel predicts what the engine predicts`, async () => {
      const s = spec(method);
      const tasks = clusterTasks({ tasks: 2 });
      const learner = createLearner(s, { inputSize: 8, outputSize: 2, numTasks: 2 }, new Random(3));
      for (const t of [0, 1]) {
        learner.beginTask(t, 10);
        for (let i = 0; i < 10; i++) {
          const batch = tasks[t].train.gather([0, 1, 2, 3, 4, 5, 6, 7]);
          const x = tf.tensor2d(batch.x, [8, 8]);
          const y = tf.oneHot(tf.tensor1d(batch.y as Int32Array, 'int32'), 2) as tf.Tensor2D;
          learner.trainStep(t, i, x, y, crossEntropy);
          tf.dispose([x, y]);
        }
        learner.endTask();
      }
      const test = tasks[0].test.gather([0, 1, 2, 3, 4]);
      const x = tf.tensor2d(test.x, [5, 8]);
      const weights = learner.taskWeights(0);
      const engine = learner.target.forward(x, weights);
      const exported = exportTask(learner, s, tasks[0]);

      const json = exported.model.modelJson as { modelTopology: object; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] };
      const model = await tfl.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: json.modelTopology,
          weightSpecs: json.weightsManifest[0].weights,
          weightData: exported.model.weights.slice().buffer,
        }),
      );
      const predicted = model.predict(x) as tf.Tensor;
      expectArraysClose(predicted.dataSync(), engine.dataSync(), 1e-5, 'logits');

      if (method === 'hypermask') {
        // theta * mask from the mask file reproduces the model's weights.
        const { tensors, metadata } = decodeSafetensors(exported.mask!);
        assert.equal(metadata.format, 'retain-mask');
        assert.equal(tensors.length, learner.target.paramShapes.length - 1);
        tensors.forEach((m, i) => {
          const theta = learner.target.weights![i].dataSync();
          expectArraysClose(m.data.map((v, k) => v * theta[k]), weights[i].dataSync(), 1e-6, m.name);
        });
        const zeros = tensors[0].data.filter((v) => v === 0).length / tensors[0].data.length;
        assert.ok(zeros >= 0.29 && zeros <= 0.31, `30 % of the first kernel is masked (${zeros})`);
      } else {
        assert.equal(exported.mask, null);
      }
      model.dispose();
      tf.dispose([x, engine, predicted, ...weights]);
      learner.dispose();
    });
  }
});

describe('tensor memory', () => {
  for (const method of ['hypermask', 'hnet', 'finetune'] as const) {
    it(`${method}: a training step leaves no tensor behind`, () => {
      const learner = createLearner(spec(method), { inputSize: 8, outputSize: 2, numTasks: 3 }, new Random(1));
      const batch = clusterTasks({ tasks: 1 })[0].train.gather([0, 1, 2, 3]);
      const x = tf.tensor2d(batch.x, [4, 8]);
      const y = tf.oneHot(tf.tensor1d(batch.y as Int32Array, 'int32'), 2) as tf.Tensor2D;
      learner.beginTask(0, 5);
      learner.trainStep(0, 0, x, y, crossEntropy);
      learner.endTask();
      learner.beginTask(2, 5); // task 2: both regularisers active
      learner.trainStep(2, 0, x, y, crossEntropy);
      const count = tf.memory().numTensors;
      for (let i = 1; i < 4; i++) learner.trainStep(2, i, x, y, crossEntropy);
      assert.equal(tf.memory().numTensors, count);
      learner.endTask();
      tf.dispose([x, y]);
      learner.dispose();
    });
  }
});
