import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { runContinualLearning } from '../../../src/core/continual/run-continual-learning.js';
import { readCheckpointState } from '../../../src/core/io/checkpoint.js';
import { buildTasks, NORMALIZE_MEAN, NORMALIZE_STD } from '../../../src/core/data/benchmarks.js';
import type { ContinualTask } from '../../../src/core/data/types.js';
import { exportTask } from '../../../src/core/io/export.js';
import { foldInputPreprocessing } from '../../../src/core/io/fold-input.js';
import { decodeSafetensors, encodeSafetensors } from '../../../src/core/io/safetensors.js';
import { createLearner } from '../../../src/core/methods/create-learner.js';
import { crossEntropy } from '../../../src/core/methods/learner.js';
import { Random } from '../../../src/core/random.js';
import { resolveSpec, type JobSpec } from '../../../src/core/spec.js';
import { makeRawDataset } from '../../helpers/datasets.js';
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
    const only = decodeSafetensors(bytes, (name) => name === 'b');
    assert.deepEqual(
      only.tensors.map((t) => [t.name, Array.from(t.data)]),
      [['b', [-0.5]]],
      'only the tensors asked for',
    );
    assert.deepEqual(only.metadata, { k: 'v' });
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
    const other = resolveSpec({
      ...spec('finetune'),
      training: { ...spec('finetune').training, seed: 2 },
    });
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

      const json = exported.model!.modelJson as {
        modelTopology: object;
        weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[];
      };
      const model = await tfl.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: json.modelTopology,
          weightSpecs: json.weightsManifest[0].weights,
          weightData: exported.model!.weights.slice().buffer,
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
          expectArraysClose(
            m.data.map((v, k) => v * theta[k]),
            weights[i].dataSync(),
            1e-6,
            m.name,
          );
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

describe('foldInputPreprocessing', () => {
  // K is [3 inputs x 2 units]; rows 10 20 / 30 40 / 50 60 make every row and sum distinguishable.
  const K = Float32Array.of(1, 2, 3, 4, 5, 6);
  const b = Float32Array.of(0.5, -0.5);

  it('moves each row to the raw input it reads and drops padding rows', () => {
    // Training input 0 reads raw 1, input 1 is padding, input 2 reads raw 0; raw 2 is never read.
    const f = foldInputPreprocessing(K, b, { inputMap: [1, -1, 0], rawSize: 3, normalize: null });
    assert.deepEqual(Array.from(f.kernel), [5, 6, 1, 2, 0, 0]);
    assert.deepEqual(Array.from(f.bias), [0.5, -0.5]);
  });

  it('divides by std and moves mean / std times the column sums (padding included) into the bias', () => {
    const f = foldInputPreprocessing(K, b, {
      inputMap: [0, 1, 2],
      rawSize: 3,
      normalize: { mean: 1, std: 2 },
    });
    assert.deepEqual(Array.from(f.kernel), [0.5, 1, 1.5, 2, 2.5, 3]);
    assert.deepEqual(Array.from(f.bias), [0.5 - 0.5 * 9, -0.5 - 0.5 * 12]);
    const padded = foldInputPreprocessing(K, b, {
      inputMap: [-1, 0, -1],
      rawSize: 1,
      normalize: { mean: 1, std: 2 },
    });
    assert.deepEqual(Array.from(padded.kernel), [1.5, 2]);
    assert.deepEqual(Array.from(padded.bias), [0.5 - 0.5 * 9, -0.5 - 0.5 * 12]);
  });

  it("gives x K' + b' = z K + b for z built from x", () => {
    const map = [2, -1, 0];
    const norm = { mean: 0.25, std: 0.5 };
    const f = foldInputPreprocessing(K, b, { inputMap: map, rawSize: 3, normalize: norm });
    const x = [0.2, 0.9, 0.6];
    const z = map.map((r) => ((r < 0 ? 0 : x[r]) - norm.mean) / norm.std);
    for (let u = 0; u < 2; u++) {
      const trained = b[u] + z.reduce((a, zi, i) => a + zi * K[i * 2 + u], 0);
      const folded = f.bias[u] + x.reduce((a, xr, r) => a + xr * f.kernel[r * 2 + u], 0);
      assert.ok(Math.abs(trained - folded) < 1e-6, `unit ${u}: ${trained} != ${folded}`);
    }
  });

  it('rejects sizes that disagree and map entries out of range', () => {
    assert.throws(
      () => foldInputPreprocessing(K, b, { inputMap: [0, 1], rawSize: 3, normalize: null }),
      /expected 2 x 2/,
    );
    assert.throws(
      () => foldInputPreprocessing(K, b, { inputMap: [0, 1, 3], rawSize: 3, normalize: null }),
      /inputMap\[2\] = 3/,
    );
    assert.throws(
      () =>
        foldInputPreprocessing(K, b, {
          inputMap: [0, 1, 2],
          rawSize: 3,
          normalize: { mean: 0, std: 0 },
        }),
      /std/,
    );
  });
});

describe('per-task export of image tasks: raw pixels in', () => {
  const cases = [
    { name: 'split, normalize', benchmark: { kind: 'split', normalize: true, augment: false } },
    {
      name: 'permuted, padTo32',
      benchmark: { kind: 'permuted', padTo32: true, permuteFirstTask: true },
    },
    {
      name: 'permuted, padTo32 and normalize',
      benchmark: { kind: 'permuted', padTo32: true, permuteFirstTask: true, normalize: true },
    },
  ] as const;
  const raw = makeRawDataset({ trainCount: 60, testCount: 40 });

  /** Test images of `task` (as x / 255, row-major) in the order of its test split. */
  function rawTestInputs(task: ContinualTask, permuted: boolean, n: number): Float32Array {
    const ids = Array.from({ length: raw.test.count }, (_, i) => i)
      .filter((i) => permuted || task.globalLabels.includes(raw.test.labels[i]))
      .slice(0, n);
    const pixels = raw.test.rows * raw.test.cols;
    const x = new Float32Array(n * pixels);
    ids.forEach((id, k) => {
      for (let p = 0; p < pixels; p++) x[k * pixels + p] = raw.test.images[id * pixels + p] / 255;
    });
    return x;
  }

  for (const c of cases) {
    it(`${c.name}: the model on raw x / 255 predicts what the engine predicts on training inputs`, async () => {
      const s = resolveSpec({
        method: 'hypermask',
        network: { hidden: [12] },
        hypernetwork: { hidden: [6], embeddingDim: 4 },
        training: { iterationsPerTask: 5, batchSize: 8, learningRate: 5e-3 },
        benchmark: { ...c.benchmark, tasks: 2, validationSize: 0 },
        regularization: { sparsity: 30 },
      });
      const tasks = buildTasks(s.benchmark, raw, new Random(4));
      const task = tasks[1];
      const inputSize = task.inputSize;
      assert.equal(inputSize, c.benchmark.kind === 'permuted' ? 1024 : 784);
      const learner = createLearner(
        s,
        { inputSize, outputSize: task.outputSize, numTasks: 2 },
        new Random(3),
      );
      for (const t of [0, 1]) {
        learner.beginTask(t, 5);
        for (let i = 0; i < 5; i++) {
          const batch = tasks[t].train.gather([0, 1, 2, 3, 4, 5, 6, 7]);
          const x = tf.tensor2d(batch.x, [8, inputSize]);
          const y = tf.oneHot(
            tf.tensor1d(batch.y as Int32Array, 'int32'),
            tasks[t].outputSize,
          ) as tf.Tensor2D;
          learner.trainStep(t, i, x, y, crossEntropy);
          tf.dispose([x, y]);
        }
        learner.endTask();
      }

      const n = 6;
      const trainingX = tf.tensor2d(task.test.gather([0, 1, 2, 3, 4, 5]).x, [n, inputSize]);
      const weights = learner.taskWeights(task.index);
      const engine = learner.target.forward(trainingX, weights);
      const exported = exportTask(learner, s, task);
      const json = exported.model!.modelJson as {
        modelTopology: object;
        weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[];
        userDefinedMetadata: {
          retain: {
            input: {
              size: number;
              training: { size: number; inputMap: number[]; normalize: unknown };
            };
          };
        };
      };
      assert.deepEqual(json.weightsManifest[0].weights[0].shape, [784, 12]);
      const model = await tfl.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: json.modelTopology,
          weightSpecs: json.weightsManifest[0].weights,
          weightData: exported.model!.weights.slice().buffer,
        }),
      );
      const rawX = tf.tensor2d(rawTestInputs(task, c.benchmark.kind === 'permuted', n), [n, 784]);
      const predicted = model.predict(rawX) as tf.Tensor;
      expectArraysClose(predicted.dataSync(), engine.dataSync(), 1e-4, 'logits');

      // The metadata describes the training input space, and the mask stays in it.
      const { input } = json.userDefinedMetadata.retain;
      assert.equal(input.size, 784);
      assert.equal(input.training.size, inputSize);
      assert.deepEqual(input.training.inputMap, Array.from(task.preprocessing!.inputMap));
      assert.deepEqual(
        input.training.normalize,
        'normalize' in c.benchmark ? { mean: NORMALIZE_MEAN, std: NORMALIZE_STD } : null,
      );
      const { tensors, metadata } = decodeSafetensors(exported.mask!);
      assert.deepEqual(tensors[0].shape, [inputSize, 12]);
      assert.deepEqual(JSON.parse(metadata.input), input.training);

      model.dispose();
      tf.dispose([trainingX, rawX, engine, predicted, ...weights]);
      learner.dispose();
    });
  }
});

describe('tensor memory', () => {
  for (const method of ['hypermask', 'hnet', 'finetune'] as const) {
    it(`${method}: a training step leaves no tensor behind`, () => {
      const learner = createLearner(
        spec(method),
        { inputSize: 8, outputSize: 2, numTasks: 3 },
        new Random(1),
      );
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
