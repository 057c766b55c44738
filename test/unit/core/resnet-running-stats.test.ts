/**
 * ResNet for deployment: per-task running batch-norm statistics (one pass over the task's
 * training data, aggregated exactly), evaluation with them (independent of the batch), the second
 * accuracy matrix, and the export as a functional LayersModel that, loaded by tfjs-layers from its
 * files, predicts on raw pixels what the engine computes with the running statistics.
 * Tiny networks (n = 1) and 8x8x3 images on the cpu backend.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { computeBatchNormStats } from '../../../src/core/continual/batch-norm-stats.js';
import { evaluate } from '../../../src/core/continual/evaluation.js';
import {
  runContinualLearning,
  tasksToExport,
} from '../../../src/core/continual/run-continual-learning.js';
import type { TaskExport } from '../../../src/core/continual/types.js';
import { buildTasks } from '../../../src/core/data/benchmarks.js';
import { buildDatasetTasks } from '../../../src/core/data/dataset-tasks.js';
import type { ContinualTask, LabelledDataset } from '../../../src/core/data/types.js';
import { TaskModel } from '../../../src/core/inference/task-models.js';
import { exportTask } from '../../../src/core/io/export.js';
import { createLearner } from '../../../src/core/methods/create-learner.js';
import { crossEntropy, type Learner } from '../../../src/core/methods/learner.js';
import { Random } from '../../../src/core/random.js';
import { resolveSpec, type DatasetFacts, type JobSpec } from '../../../src/core/spec.js';
import type { BatchNormStats } from '../../../src/core/target-network/target-network.js';
import { makeImageSet, makeRawDataset } from '../../helpers/datasets.js';
import { expectExportedPrototypes } from '../../helpers/fecam.js';
import { arraySource } from '../../helpers/tasks.js';
import { expectArraysClose, useCpuBackend } from '../../helpers/tensors.js';

before(useCpuBackend);

const ID = '22222222-2222-4222-8222-222222222222';
const SIDE = 8;
const SHAPE = [SIDE, SIDE, 3];

/** An uploaded uint8 RGB data set of 3 classes (grey image, its negative, a gradient). */
function upload(): LabelledDataset {
  const rgb = (s: ReturnType<typeof makeImageSet>) =>
    Uint8Array.from({ length: s.count * SIDE * SIDE * 3 }, (_, k) => {
      const v = s.images[Math.floor(k / 3)];
      return [v, 255 - v, (k * 7) % 256][k % 3];
    });
  const train = makeImageSet(48, { rows: SIDE, cols: SIDE, classes: 3, seed: 5 });
  const test = makeImageSet(24, { rows: SIDE, cols: SIDE, classes: 3, seed: 6 });
  return {
    inputShape: SHAPE,
    dtype: 'uint8',
    classNames: ['a', 'b', 'c'],
    train: { x: rgb(train), y: Int32Array.from(train.labels), count: train.count },
    test: { x: rgb(test), y: Int32Array.from(test.labels), count: test.count },
  };
}

function setup(
  method: JobSpec['method'],
  iterations = 3,
): { spec: JobSpec; tasks: ContinualTask[] } {
  const data = upload();
  const count = (labels: Int32Array, c: number) => labels.filter((l) => l === c).length;
  const facts: DatasetFacts = {
    inputShape: SHAPE,
    dtype: 'uint8',
    sha256: 'b'.repeat(64),
    classNames: ['a', 'b', 'c'],
    counts: {
      train: [0, 1, 2].map((c) => count(data.train.y, c)),
      test: [0, 1, 2].map((c) => count(data.test.y, c)),
    },
  };
  const spec = resolveSpec(
    {
      method,
      network: { kind: 'resnet', n: 1, k: 1 },
      hypernetwork:
        method === 'hnet'
          ? { hidden: [8], embeddingDim: 4, chunkSize: 300, chunkEmbeddingDim: 4 }
          : { hidden: [6], embeddingDim: 4 },
      benchmark: {
        kind: 'datasets',
        normalize: true,
        // The upload's order: the export tests take its test images in that order.
        sampleOrder: 'stored',
        tasks: [
          { dataset: ID, classes: ['a', 'b'] },
          { dataset: ID, classes: ['c', 'a'] },
        ],
      },
      evaluation: { taskInference: false },
      training: { iterationsPerTask: iterations, batchSize: 8, learningRate: 5e-3 },
      regularization: { sparsity: method === 'hypermask' ? 20 : 0 },
    },
    { datasets: new Map([[ID, facts]]) },
  );
  return { spec, tasks: buildDatasetTasks(spec.benchmark, new Map([[ID, data]])) };
}

/** A learner trained a few steps on each task (weights and batch-norm parameters not the initial ones). */
function trained(spec: JobSpec, tasks: ContinualTask[]): Learner {
  const t0 = tasks[0];
  const learner = createLearner(
    spec,
    { inputSize: t0.inputSize, outputSize: t0.outputSize, imageShape: t0.imageShape },
    new Random(3),
  );
  const rng = new Random(4);
  tasks.forEach((task, t) => {
    learner.beginTask(t, 3);
    for (let i = 0; i < 3; i++) {
      const batch = task.train.gather([0, 1, 2, 3, 4, 5, 6, 7], rng);
      const x = tf.tensor2d(batch.x, [8, task.inputSize]);
      const y = tf.oneHot(tf.tensor1d(batch.y as Int32Array, 'int32'), task.outputSize);
      learner.trainStep(t, i, x, y as tf.Tensor2D, crossEntropy, rng);
      tf.dispose([x, y]);
    }
    learner.endTask();
  });
  return learner;
}

describe('running batch-norm statistics', () => {
  it('equal a direct computation: every layer input of the pass, concatenated, in float64', () => {
    const { spec, tasks } = setup('hypermask');
    const learner = trained(spec, tasks);
    const task = tasks[1];
    const batchSize = 7;
    const before = tf.memory().numTensors;
    const stats = computeBatchNormStats(learner, task, batchSize, spec.training.seed)!;
    assert.equal(tf.memory().numTensors, before, 'the pass leaves no tensor behind');
    assert.equal(stats.mean.length, 7, 'a batch norm after each of the 6n + 1 convolutions');

    // Direct: record every layer input of the pass's batches (the order it gathers them in) and
    // take mean and variance of all of them at once.
    const size = task.train.size;
    const chunks = Math.ceil(size / batchSize);
    const values: number[][][] = stats.mean.map(() => []);
    const seen: number[][] = [];
    const weights = learner.taskWeights(task.index);
    const order = orderOf(learner, task, batchSize, spec.training.seed);
    for (let c = 0; c < chunks; c++) {
      const idx = order.slice(
        Math.floor((c * size) / chunks),
        Math.floor(((c + 1) * size) / chunks),
      );
      seen.push(idx);
      const batch = task.train.gather(idx);
      tf.tidy(() => {
        learner.target.forward(tf.tensor2d(batch.x, [batch.size, task.inputSize]), weights, {
          observeBatchNorm: (l, z) => {
            const channels = z.shape[3];
            const data = z.dataSync();
            for (let i = 0; i < data.length; i++) {
              (values[l][i % channels] ??= []).push(data[i]);
            }
          },
        });
      });
    }
    tf.dispose(weights);
    assert.deepEqual(
      seen.flat().sort((a, b) => a - b),
      Array.from({ length: size }, (_, i) => i),
      'one pass over every training sample',
    );
    values.forEach((perChannel, l) =>
      perChannel.forEach((v, ch) => {
        const mean = v.reduce((a, b) => a + b, 0) / v.length;
        const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
        assert.ok(
          Math.abs(stats.mean[l][ch] - mean) <= 1e-5 * (1 + Math.abs(mean)),
          `layer ${l} channel ${ch}: mean ${stats.mean[l][ch]} vs ${mean}`,
        );
        assert.ok(
          Math.abs(stats.variance[l][ch] - variance) <= 1e-5 * (1 + variance),
          `layer ${l} channel ${ch}: variance ${stats.variance[l][ch]} vs ${variance}`,
        );
      }),
    );
    // Layer 1's input does not depend on batching: conv_1 of the whole training set.
    const all = task.train.gather(Array.from({ length: size }, (_, i) => i));
    const w = learner.taskWeights(task.index);
    const z = tf.tidy(() =>
      tf.add(
        tf.conv2d(tf.tensor4d(all.x, [size, SIDE, SIDE, 3]), w[0] as tf.Tensor4D, 1, 'same'),
        w[1],
      ),
    );
    const { mean: m0, variance: v0 } = tf.moments(z, [0, 1, 2]);
    expectArraysClose(stats.mean[0], m0.dataSync(), 1e-4, 'layer 1 mean');
    expectArraysClose(stats.variance[0], v0.dataSync(), 1e-4, 'layer 1 variance');
    tf.dispose([z, m0, v0, ...w]);
    // A fixed order: computing again gives the same values.
    const again = computeBatchNormStats(learner, task, batchSize, spec.training.seed)!;
    assert.deepEqual(again, stats);
    learner.dispose();
  });

  it('make evaluation independent of the batch: one sample at a time equals the whole set', () => {
    const { spec, tasks } = setup('finetune');
    const learner = trained(spec, tasks);
    const task = tasks[0];
    const stats = computeBatchNormStats(learner, task, 8, spec.training.seed)!;
    const whole = evaluate(learner, task, task.test, 0, { batchNormStats: stats });
    const single = evaluate(learner, task, task.test, 0, { batchNormStats: stats, chunkSize: 1 });
    assert.equal(single, whole);
    // And the logits themselves: each sample alone gives its row of the batch's logits.
    const batch = task.test.gather(Array.from({ length: task.test.size }, (_, i) => i));
    const weights = learner.taskWeights(0);
    const all = learner.target.forward(
      tf.tensor2d(batch.x, [batch.size, task.inputSize]),
      weights,
      {
        batchNormStats: stats,
      },
    );
    const rows = all.arraySync();
    for (let i = 0; i < 5; i++) {
      const one = learner.target.forward(
        tf.tensor2d(batch.x.subarray(i * task.inputSize, (i + 1) * task.inputSize), [
          1,
          task.inputSize,
        ]),
        weights,
        { batchNormStats: stats },
      );
      expectArraysClose(one.dataSync(), rows[i], 1e-5, `sample ${i}`);
      one.dispose();
    }
    tf.dispose([all, ...weights]);
    learner.dispose();
  });
});

/** The order the statistics pass uses, read back through a forward-pass observer on row sums. */
function orderOf(learner: Learner, task: ContinualTask, batchSize: number, seed: number): number[] {
  // Rows are identified by their training index through a side channel: gather records what it was asked for.
  const asked: number[] = [];
  const spy: ContinualTask = {
    ...task,
    train: {
      size: task.train.size,
      gather: (idx, rng) => {
        asked.push(...Array.from(idx));
        return task.train.gather(idx, rng);
      },
    },
  };
  computeBatchNormStats(learner, spy, batchSize, seed);
  return asked;
}

describe('a ResNet run', () => {
  it('reports both evaluations and stores each task statistics in its checkpoint', async () => {
    const { spec, tasks } = setup('hypermask');
    const events: { row: number[] | null; stats: BatchNormStats | null; model: boolean }[] = [];
    const r = await runContinualLearning(spec, {
      tasks,
      callbacks: {
        onTaskEnd: (e) => {
          events.push({
            row: e.runningStatsAccuracies,
            stats: e.batchNormStats,
            model: e.exportTask(e.task).model !== null,
          });
        },
      },
    });
    assert.ok(r.runningStatsMetrics, 'a ResNet run has a running-statistics evaluation');
    assert.equal(r.runningStatsMetrics.accuracyMatrix.length, 2);
    assert.deepEqual(
      r.runningStatsMetrics.accuracyMatrix,
      events.map((e) => e.row),
    );
    assert.equal(r.runningStatsMetrics.accuracyMatrix[1].length, 2);
    assert.ok(events.every((e) => e.stats?.mean.length === 7 && e.model));
  });

  // Finetune's one network serves every task, so every task's deployed model normalises with the
  // latest task's statistics (taken with the current weights); a method with weights per task
  // keeps each task's own.
  for (const [method, shared] of [
    ['finetune', true],
    ['hypermask', false],
  ] as const) {
    it(`${method}: the final exports normalise with ${shared ? "the last task's" : 'their own task'} statistics`, async () => {
      const { spec, tasks } = setup(method);
      const own: BatchNormStats[] = [];
      let final: Float32Array[][] = [];
      await runContinualLearning(spec, {
        tasks,
        callbacks: {
          onTaskEnd: (e) => {
            own.push(e.batchNormStats!);
            if (e.task === e.tasks - 1)
              final = tasksToExport(e).map((k) => movingMeans(e.exportTask(k)));
          },
        },
      });
      assert.equal(final.length, 2);
      assert.notDeepEqual(own[0].mean, own[1].mean, 'the two tasks have different statistics');
      assert.deepEqual(final[1], own[1].mean);
      assert.deepEqual(final[0], shared ? own[1].mean : own[0].mean);
    });
  }
});

/** The moving means of an exported ResNet's BatchNormalization layers, in layer order. */
function movingMeans(exported: TaskExport): Float32Array[] {
  const json = exported.model!.modelJson as {
    weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[];
  };
  const named = tf.io.decodeWeights(
    exported.model!.weights.slice().buffer,
    json.weightsManifest[0].weights,
  );
  const means = Object.entries(named)
    .filter(([name]) => name.endsWith('/moving_mean'))
    .map(([, t]) => Float32Array.from(t.dataSync()));
  tf.dispose(Object.values(named));
  return means;
}

/** The exported model loaded by tfjs-layers (and rebuilt by TaskModel) on raw pixels; checks both give `engine`. */
async function expectExportPredicts(exported: TaskExport, raw: tf.Tensor4D, engine: tf.Tensor) {
  assert.ok(exported.model, `a model (${exported.modelUnavailable})`);
  const json = exported.model.modelJson as {
    modelTopology: { class_name: string; config: { layers: { class_name: string }[] } };
    weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[];
  };
  assert.equal(json.modelTopology.class_name, 'Model');
  const classes = new Set(json.modelTopology.config.layers.map((l) => l.class_name));
  for (const c of [
    'InputLayer',
    'Rescaling',
    'Conv2D',
    'BatchNormalization',
    'Add',
    'ReLU',
    'GlobalAveragePooling2D',
    'Dense',
  ])
    assert.ok(classes.has(c), `has a ${c}`);
  const model = await tfl.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest[0].weights,
      weightData: exported.model.weights.slice().buffer,
    }),
  );
  const predicted = model.predict(raw) as tf.Tensor;
  expectArraysClose(predicted.dataSync(), engine.dataSync(), 1e-4, 'tfjs-layers logits');
  // One image at a time: the same.
  const first = model.predict(tf.slice(raw, [0, 0, 0, 0], [1, -1, -1, -1])) as tf.Tensor;
  expectArraysClose(first.dataSync(), (engine.arraySync() as number[][])[0], 1e-4, 'one image');
  const ours = TaskModel.fromExport(exported.model.modelJson, exported.model.weights);
  const flat = tf.reshape<tf.Rank.R2>(raw, [raw.shape[0], -1]);
  const before = tf.memory().numTensors;
  const rebuilt = ours.logits(flat);
  assert.equal(tf.memory().numTensors, before + 1, 'TaskModel.logits leaves only its result');
  flat.dispose();
  expectArraysClose(rebuilt.dataSync(), engine.dataSync(), 1e-4, 'TaskModel logits');
  tf.dispose([predicted, first, rebuilt]);
  model.dispose();
  ours.dispose();
}

describe("ResNet export: a functional LayersModel, raw pixels in, the engine's running-statistics logits out", () => {
  for (const method of ['hypermask', 'hnet', 'finetune'] as const) {
    it(method, async () => {
      const { spec, tasks } = setup(method);
      const data = upload();
      const learner = trained(spec, tasks);
      for (const task of tasks) {
        const stats = computeBatchNormStats(learner, task, 8, spec.training.seed)!;
        // The task's test samples in upload order: raw pixels of the upload's test images of its classes.
        const classes = task.classNames!;
        const ids = Array.from({ length: data.test.count }, (_, i) => i).filter((i) =>
          classes.includes(data.classNames[data.test.y[i]]),
        );
        const n = 6;
        const raw = tf.tensor4d(
          Float32Array.from(
            ids
              .slice(0, n)
              .flatMap((i) => Array.from(data.test.x.subarray(i * 192, (i + 1) * 192))),
          ),
          [n, SIDE, SIDE, 3],
        );
        const batch = task.test.gather(Array.from({ length: n }, (_, i) => i));
        const weights = learner.taskWeights(task.index);
        const active = task.activeOutputs ?? task.outputSize;
        const engine = tf.tidy(() =>
          tf.slice(
            learner.target.forward(tf.tensor2d(batch.x, [n, task.inputSize]), weights, {
              batchNormStats: stats,
            }),
            [0, 0],
            [n, active],
          ),
        );
        await expectExportPredicts(exportTask(learner, spec, task, stats), raw, engine);
        tf.dispose([raw, engine, ...weights]);
      }
      learner.dispose();
    });
  }

  it('a built-in benchmark padded to 32x32 and standardised: ZeroPadding2D and Rescaling in front', async () => {
    const raw = makeRawDataset({ trainCount: 100, testCount: 40 });
    const spec = resolveSpec({
      method: 'hypermask',
      network: { kind: 'resnet', n: 1, k: 1 },
      hypernetwork: { hidden: [6], embeddingDim: 4 },
      benchmark: {
        kind: 'split',
        tasks: 2,
        validationSize: 0,
        padTo32: true,
        normalize: true,
        augment: false,
      },
      training: { batchSize: 8 },
      regularization: { sparsity: 20 },
    });
    const tasks = buildTasks(spec.benchmark, raw, new Random(1));
    const learner = trained(spec, tasks);
    const task = tasks[1];
    const stats = computeBatchNormStats(learner, task, 8, spec.training.seed)!;
    const n = 5;
    const ids = Array.from({ length: raw.test.count }, (_, i) => i)
      .filter((i) => task.globalLabels.includes(raw.test.labels[i]))
      .slice(0, n);
    const rawX = tf.tensor4d(
      Float32Array.from(
        ids.flatMap((i) =>
          Array.from(raw.test.images.subarray(i * 784, (i + 1) * 784), (v) => v / 255),
        ),
      ),
      [n, 28, 28, 1],
    );
    const batch = task.test.gather(Array.from({ length: n }, (_, i) => i));
    const weights = learner.taskWeights(task.index);
    const engine = learner.target.forward(tf.tensor2d(batch.x, [n, task.inputSize]), weights, {
      batchNormStats: stats,
    });
    const exported = exportTask(learner, spec, task, stats);
    const layers = (
      exported.model!.modelJson as {
        modelTopology: { config: { layers: { class_name: string }[] } };
      }
    ).modelTopology.config.layers;
    assert.deepEqual(
      layers.slice(0, 4).map((l) => l.class_name),
      ['InputLayer', 'ZeroPadding2D', 'Rescaling', 'Conv2D'],
    );
    await expectExportPredicts(exported, rawX, engine);
    tf.dispose([rawX, engine, ...weights]);
    learner.dispose();
  });

  it('without running statistics there is no model, and the reason says so', () => {
    const { spec, tasks } = setup('hypermask');
    const learner = trained(spec, tasks);
    const exported = exportTask(learner, spec, tasks[0]);
    assert.equal(exported.model, null);
    assert.match(exported.modelUnavailable!, /running batch-norm statistics/);
    assert.ok(exported.mask);
    learner.dispose();
  });
});

describe('ResNet FeCAM statistics', () => {
  it("come from the task's running statistics: the exported model's features on raw pixels give the stored prototypes", async () => {
    const { spec: base, tasks } = setup('hypermask', 4);
    const spec: JobSpec = { ...base, evaluation: { ...base.evaluation, taskInference: 'fecam' } };
    let checked = 0;
    const result = await runContinualLearning(spec, {
      tasks,
      callbacks: {
        onTaskEnd: (e) => {
          // The uploaded pixels, 0-255, are what the exported model takes.
          checked += expectExportedPrototypes(tasks[e.task], e.exportTask(e.task));
        },
      },
    });
    assert.equal(checked, 4, 'two classes in each of two tasks');
    assert.ok(result.fecamTaskInference, 'FeCAM task inference is reported');
  });
});

describe('evaluation with batch statistics', () => {
  it('cuts a split stored class by class into chunks that each hold every class', () => {
    // Constant images of one value per class (plus a little noise): a chunk of one class has
    // nearly constant channels, which its own batch statistics normalise to nothing.
    const side = 6;
    const size = side * side * 3;
    let seed = 11;
    const noise = () => {
      seed = (seed * 16807) % 2147483647;
      return (seed / 2147483647 - 0.5) * 0.1;
    };
    const sortedSplit = (perClass: number) => {
      const y = Int32Array.from({ length: 2 * perClass }, (_, i) => (i < perClass ? 0 : 1));
      const x = Float32Array.from({ length: y.length * size }, (_, k) =>
        y[Math.floor(k / size)] === 0 ? -1 + noise() : 1 + noise(),
      );
      return arraySource(x, y, size, 2);
    };
    const spec = resolveSpec({
      method: 'finetune',
      network: { kind: 'resnet', n: 1, k: 1 },
      benchmark: { tasks: 1 },
      training: { batchSize: 16, learningRate: 1e-2 },
    });
    const task: ContinualTask = {
      index: 0,
      name: 'sorted',
      kind: 'classification',
      inputSize: size,
      outputSize: 2,
      imageShape: [side, side, 3],
      globalLabels: [0, 1],
      train: sortedSplit(64),
      validation: sortedSplit(0),
      test: sortedSplit(32),
    };
    const learner = createLearner(
      spec,
      { inputSize: size, outputSize: 2, imageShape: [side, side, 3] },
      new Random(3),
    );
    const rng = new Random(4);
    learner.beginTask(0, 30);
    for (let i = 0; i < 30; i++) {
      // Training batches are drawn at random: both classes in each.
      const batch = task.train.gather(Array.from({ length: 16 }, () => rng.int(128)));
      const x = tf.tensor2d(batch.x, [16, size]);
      const y = tf.oneHot(tf.tensor1d(batch.y as Int32Array, 'int32'), 2);
      learner.trainStep(0, i, x, y as tf.Tensor2D, crossEntropy, rng);
      tf.dispose([x, y]);
    }
    learner.endTask();
    const whole = evaluate(learner, task, task.test, 0, { chunkSize: 64 });
    assert.equal(
      whole,
      1,
      'the whole test split as one batch (the reference) separates the classes',
    );
    for (const chunkSize of [32, 16]) {
      const chunked = evaluate(learner, task, task.test, 0, { chunkSize });
      // Consecutive chunks of this split hold one class each: 0.73 with chunks of 32 (tried).
      assert.ok(chunked >= 0.9, `chunks of ${chunkSize}: accuracy ${chunked}`);
    }
    learner.dispose();
  });
});
