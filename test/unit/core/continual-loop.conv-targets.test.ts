/**
 * Continual learning with convolutional targets, end to end through the training loop: training
 * reduces the loss, HyperMask and HNET keep a first task that finetune forgets, a resumed run ends
 * bit for bit like an uninterrupted one (batch norm, its per-task running statistics and dropout
 * included), and exports predict what the engine predicts on raw pixels (ZenkeNet; ResNet in
 * resnet-running-stats.test.ts) or say why there is no model (a ResNet task without statistics).
 * Tiny images on the cpu backend; ResNet steps cost ~0.6 s there, so its runs are short.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { TaskEndEvent, TaskExport } from '../../../src/core/continual/types.js';
import { runContinualLearning } from '../../../src/core/continual/run-continual-learning.js';
import { buildTasks } from '../../../src/core/data/benchmarks.js';
import { buildDatasetTasks } from '../../../src/core/data/dataset-tasks.js';
import type { ContinualTask, LabelledDataset } from '../../../src/core/data/types.js';
import { TaskModel } from '../../../src/core/inference/task-models.js';
import { exportTask } from '../../../src/core/io/export.js';
import { decodeSafetensors } from '../../../src/core/io/safetensors.js';
import { createLearner } from '../../../src/core/methods/create-learner.js';
import { crossEntropy, type Learner } from '../../../src/core/methods/learner.js';
import { Random } from '../../../src/core/random.js';
import {
  resolveSpec,
  type DatasetFacts,
  type JobSpec,
  type JobSpecInput,
} from '../../../src/core/spec.js';
import { makeImageSet, makeRawDataset } from '../../helpers/datasets.js';
import { imageTasks } from '../../helpers/tasks.js';
import { expectArraysClose, useCpuBackend } from '../../helpers/tensors.js';

before(useCpuBackend);

type Network = NonNullable<JobSpecInput['network']>;
const ZENKE: Network = { kind: 'zenkenet', channels: [4, 8], hidden: [16] };
const RESNET: Network = { kind: 'resnet', n: 1, k: 1 };
const SHAPE = [10, 10, 3];

const spec = (
  method: JobSpec['method'],
  network: JobSpecInput['network'],
  extra: JobSpecInput = {},
) =>
  resolveSpec({
    method,
    network,
    hypernetwork: {
      hidden: [8],
      embeddingDim: 8,
      ...(method === 'hnet' ? { hidden: [16], chunkSize: 200, chunkEmbeddingDim: 4 } : {}),
    },
    benchmark: { tasks: 2 },
    evaluation: { taskInference: false },
    ...extra,
    training: {
      iterationsPerTask: 100,
      batchSize: 16,
      learningRate: 5e-3,
      validationEvery: 1000,
      ...extra.training,
    },
    regularization: { beta: 0.01, lambda: 0.01, sparsity: 0, ...extra.regularization },
  });

describe('training', () => {
  for (const [name, network, iterations] of [
    ['zenkenet', ZENKE, 60],
    ['resnet', RESNET, 12],
  ] as [string, Network, number][]) {
    it(`${name}: the loss falls and the task is learnt`, async () => {
      const losses: number[] = [];
      const r = await runContinualLearning(
        spec('finetune', network, { training: { iterationsPerTask: iterations } }),
        {
          tasks: imageTasks({ tasks: 1, shape: SHAPE }),
          callbacks: { onIteration: (e) => void losses.push(e.taskLoss) },
        },
      );
      // Two classes: ln 2 = 0.69 at the start.
      const last = losses.slice(-3).reduce((a, b) => a + b, 0) / 3;
      assert.ok(losses[0] > 0.5 && last < losses[0] / 10, `loss ${losses[0]} -> ${last}`);
      assert.ok(r.accuracyMatrix[0][0] >= 0.95, `accuracy ${r.accuracyMatrix[0][0]}`);
    });
  }
});

describe('two tasks on a ZenkeNet: the second relabels one class of the first', () => {
  const tasks = () => imageTasks({ tasks: 2, shape: SHAPE });
  let finetuneKept = 1;

  it('finetune forgets the first task', async () => {
    const r = await runContinualLearning(spec('finetune', ZENKE), { tasks: tasks() });
    assert.ok(r.accuracyMatrix[0][0] >= 0.95, `learns task 1 (${r.accuracyMatrix[0][0]})`);
    assert.ok(r.accuracyMatrix[1][1] >= 0.9, `learns task 2 (${r.accuracyMatrix[1][1]})`);
    finetuneKept = r.accuracyMatrix[1][0];
    assert.ok(finetuneKept <= 0.75, `forgets task 1 (${finetuneKept})`);
  });

  for (const method of ['hypermask', 'hnet'] as const) {
    it(`${method} keeps it${method === 'hnet' ? ' (chunked hypernetwork)' : ''}, and infers tasks`, async () => {
      const s = spec(method, ZENKE, {
        regularization: { beta: method === 'hnet' ? 0.05 : 0.01 },
        training: { iterationsPerTask: method === 'hnet' ? 150 : 100 },
        evaluation: { taskInference: 'entropy' },
      });
      const r = await runContinualLearning(s, { tasks: tasks() });
      assert.ok(r.accuracyMatrix[0][0] >= 0.95, `learns task 1 (${r.accuracyMatrix[0][0]})`);
      assert.ok(
        r.accuracyMatrix[1][0] >= 0.9 && r.accuracyMatrix[1][0] >= finetuneKept + 0.2,
        `keeps task 1 (${r.accuracyMatrix[1][0]}; finetune ${finetuneKept})`,
      );
      assert.ok(r.accuracyMatrix[1][1] >= 0.85, `learns task 2 (${r.accuracyMatrix[1][1]})`);
      assert.equal(r.taskInference?.perTask.length, 2);
    });
  }
});

describe('checkpoint and resume', () => {
  const cases: [JobSpec['method'], Network, string][] = [
    ['hypermask', RESNET, 'resnet (shared batch norm)'],
    ['hnet', RESNET, 'resnet (batch norm beside the generated weights)'],
    [
      'finetune',
      { ...ZENKE, dropout: 0.25 },
      'zenkenet with dropout (masks from the random stream)',
    ],
    ['hypermask', { ...ZENKE, dropout: 0.25 }, 'zenkenet with dropout'],
  ];
  for (const [method, network, name] of cases) {
    it(`${method} on ${name}: resumed after task 1, it ends bit for bit like an uninterrupted run`, async () => {
      const s = spec(method, network, {
        training: { iterationsPerTask: network.kind === 'resnet' ? 4 : 15 },
      });
      const checkpoints: Uint8Array[] = [];
      /** Task 1's final export (its model's weights: a ResNet's hold its running statistics). */
      const lastExport = (e: TaskEndEvent) =>
        e.task === 1 ? (e.exportTask(0).model?.weights ?? null) : null;
      let fullExport: Uint8Array | null = null;
      const full = await runContinualLearning(s, {
        tasks: imageTasks({ tasks: 2, shape: SHAPE }),
        callbacks: {
          onTaskEnd: (e) => {
            checkpoints.push(e.checkpoint);
            fullExport ??= lastExport(e);
          },
        },
      });
      const names = decodeSafetensors(checkpoints[0]).tensors.map((t) => t.name);
      if (network.kind === 'resnet') {
        assert.deepEqual(names.slice(0, 2), ['target/bn_1/gamma', 'target/bn_1/beta']);
        // Task 1's running batch-norm statistics travel with the checkpoint.
        assert.ok(names.includes('batch_norm_stats/task_0/bn_1/mean'));
        assert.ok(full.runningStatsMetrics?.accuracyMatrix.length === 2);
      } else {
        assert.equal(full.runningStatsMetrics, null);
      }
      const resumed: Uint8Array[] = [];
      const again = await runContinualLearning(s, {
        tasks: imageTasks({ tasks: 2, shape: SHAPE }),
        resumeFrom: checkpoints[0],
        callbacks: {
          onTaskEnd: (e) => {
            resumed.push(e.checkpoint);
            assert.deepEqual(lastExport(e), fullExport);
          },
        },
      });
      assert.ok(fullExport, 'task 1 has a model');
      assert.deepEqual(again.accuracyMatrix, full.accuracyMatrix);
      assert.deepEqual(again.runningStatsMetrics, full.runningStatsMetrics);
      assert.deepEqual(
        decodeSafetensors(resumed.at(-1)!).tensors,
        decodeSafetensors(checkpoints.at(-1)!).tensors,
      );
    });
  }
});

/** Trains a few steps on each task so that the weights are not the initial ones. */
function trained(s: JobSpec, tasks: ContinualTask[]): Learner {
  const t0 = tasks[0];
  const learner = createLearner(
    s,
    {
      inputSize: t0.inputSize,
      outputSize: t0.outputSize,
      imageShape: t0.imageShape,
      numTasks: tasks.length,
    },
    new Random(3),
  );
  const rng = new Random(4);
  tasks.forEach((task, t) => {
    learner.beginTask(t, 4);
    for (let i = 0; i < 4; i++) {
      const batch = task.train.gather([0, 1, 2, 3, 4, 5, 6, 7], rng);
      const x = tf.tensor2d(batch.x, [8, task.inputSize]);
      const y = tf.oneHot(
        tf.tensor1d(batch.y as Int32Array, 'int32'),
        task.outputSize,
      ) as tf.Tensor2D;
      learner.trainStep(t, i, x, y, crossEntropy, rng);
      tf.dispose([x, y]);
    }
    learner.endTask();
  });
  return learner;
}

/** The exported model loaded by tfjs-layers and rebuilt by TaskModel, both fed `raw`; checks they give `engine`. */
async function expectExportPredicts(
  exported: TaskExport,
  raw: tf.Tensor,
  engine: tf.Tensor,
  tol: number,
): Promise<Record<string, unknown>> {
  const json = exported.model!.modelJson as {
    modelTopology: object;
    weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[];
    userDefinedMetadata: { retain: Record<string, unknown> };
  };
  const model = await tfl.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest[0].weights,
      weightData: exported.model!.weights.slice().buffer,
    }),
  );
  const predicted = model.predict(raw) as tf.Tensor;
  expectArraysClose(predicted.dataSync(), engine.dataSync(), tol, 'tfjs-layers logits');
  const ours = TaskModel.fromExport(exported.model!.modelJson, exported.model!.weights);
  const rebuilt = ours.logits(tf.reshape<tf.Rank.R2>(raw, [raw.shape[0], -1]));
  expectArraysClose(rebuilt.dataSync(), engine.dataSync(), tol, 'TaskModel logits');
  assert.deepEqual(ours.inputShape, raw.shape.slice(1));
  tf.dispose([predicted, rebuilt]);
  model.dispose();
  ours.dispose();
  return json.userDefinedMetadata.retain;
}

describe("per-task export of a ZenkeNet: raw pixels in, the engine's logits out", () => {
  const raw = makeRawDataset({ trainCount: 40, testCount: 30 });
  const rawTest = (task: ContinualTask, n: number) => {
    const ids = Array.from({ length: raw.test.count }, (_, i) => i)
      .filter((i) => task.globalLabels.includes(raw.test.labels[i]))
      .slice(0, n);
    return tf.tensor4d(
      Float32Array.from(
        ids.flatMap((id) =>
          Array.from(raw.test.images.subarray(id * 784, (id + 1) * 784), (v) => v / 255),
        ),
      ),
      [n, 28, 28, 1],
    );
  };

  for (const [name, benchmark, first] of [
    ['split, normalize: a Rescaling layer', { normalize: true, augment: false }, 'Rescaling'],
    [
      'split, padTo32 and normalize: ZeroPadding2D, then Rescaling',
      { padTo32: true, normalize: true, augment: false },
      'ZeroPadding2D',
    ],
  ] as const) {
    it(name, async () => {
      const s = resolveSpec({
        method: 'hypermask',
        network: ZENKE,
        hypernetwork: { hidden: [6], embeddingDim: 4 },
        benchmark: { kind: 'split', tasks: 2, validationSize: 0, ...benchmark },
        regularization: { sparsity: 30 },
      });
      const tasks = buildTasks(s.benchmark, raw, new Random(1));
      const learner = trained(s, tasks);
      const task = tasks[1];
      const n = 5;
      const x = tf.tensor2d(task.test.gather([0, 1, 2, 3, 4]).x, [n, task.inputSize]);
      const weights = learner.taskWeights(1);
      const engine = learner.target.forward(x, weights);
      const exported = exportTask(learner, s, task);
      const layers = (
        exported.model!.modelJson as {
          modelTopology: { config: { layers: { class_name: string }[] } };
        }
      ).modelTopology.config.layers;
      assert.equal(layers[0].class_name, first);
      assert.deepEqual(
        layers.slice(-6).map((l) => l.class_name),
        ['Conv2D', 'Conv2D', 'MaxPooling2D', 'Flatten', 'Dense', 'Dense'],
      );
      const rawX = rawTest(task, n);
      const meta = await expectExportPredicts(exported, rawX, engine, 1e-4);
      const input = meta.input as { shape: number[]; rawScale: number; preprocessing: string };
      assert.deepEqual(input.shape, [28, 28, 1]);
      assert.equal(input.rawScale, 1 / 255);
      assert.match(input.preprocessing, /model's first layers/);
      // The mask file holds the conv kernels in their [3, 3, in, out] shape.
      const { tensors } = decodeSafetensors(exported.mask!);
      assert.deepEqual(tensors[0].shape, [3, 3, 1, 4]);
      assert.equal(tensors[0].name, 'conv_1/kernel');
      tf.dispose([x, rawX, engine, ...weights]);
      learner.dispose();
    });
  }

  it('uploaded uint8 images: the model takes the values 0-255 as uploaded', async () => {
    const id = '11111111-1111-4111-8111-111111111111';
    const set = makeImageSet(60, { rows: 12, cols: 12, classes: 3, seed: 2 });
    // Three channels: the grey image, its negative, and zeros.
    const rgb = (s: typeof set) =>
      Uint8Array.from({ length: s.count * 144 * 3 }, (_, k) => {
        const v = s.images[Math.floor(k / 3)];
        return [v, 255 - v, 0][k % 3];
      });
    const test = makeImageSet(30, { rows: 12, cols: 12, classes: 3, seed: 3 });
    const data: LabelledDataset = {
      inputShape: [12, 12, 3],
      dtype: 'uint8',
      classNames: ['a', 'b', 'c'],
      train: { x: rgb(set), y: Int32Array.from(set.labels), count: set.count },
      test: { x: rgb(test), y: Int32Array.from(test.labels), count: test.count },
    };
    const facts: DatasetFacts = {
      inputShape: [12, 12, 3],
      dtype: 'uint8',
      sha256: 'a'.repeat(64),
      classNames: ['a', 'b', 'c'],
      counts: { train: [20, 20, 20], test: [10, 10, 10] },
    };
    const s = resolveSpec(
      {
        method: 'finetune',
        network: ZENKE,
        benchmark: {
          kind: 'datasets',
          normalize: true,
          // The upload's order: the test compares with its test images in that order.
          sampleOrder: 'stored',
          tasks: [
            { dataset: id, classes: ['a', 'b'] },
            { dataset: id, classes: ['c', 'a', 'b'] },
          ],
        },
      },
      { datasets: new Map([[id, facts]]) },
    );
    const tasks = buildDatasetTasks(s.benchmark, new Map([[id, data]]));
    assert.deepEqual(tasks[0].imageShape, [12, 12, 3]);
    const learner = trained(s, tasks);
    const task = tasks[0];
    const n = 4;
    const batch = task.test.gather([0, 1, 2, 3]);
    const weights = learner.taskWeights(0);
    // The engine's logits of the task's own two classes (the shared layer has three outputs).
    const engine = tf.tidy(() =>
      tf.slice(
        learner.target.forward(tf.tensor2d(batch.x, [n, task.inputSize]), weights),
        [0, 0],
        [n, 2],
      ),
    );
    const ids = Array.from({ length: test.count }, (_, i) => i)
      .filter((i) => test.labels[i] < 2)
      .slice(0, n);
    const rawX = tf.tensor4d(
      Float32Array.from(
        ids.flatMap((i) => Array.from(data.test.x.subarray(i * 432, (i + 1) * 432))),
      ),
      [n, 12, 12, 3],
    );
    const meta = await expectExportPredicts(exportTask(learner, s, task), rawX, engine, 1e-4);
    assert.deepEqual(meta.classNames, ['a', 'b']);
    assert.equal((meta.input as { rawScale: number }).rawScale, 1);
    tf.dispose([rawX, engine, ...weights]);
    learner.dispose();
  });
});

describe('per-task export of a ResNet', () => {
  it('without running statistics: no model, the reason, and still the mask with its conv kernels', () => {
    const s = spec('hypermask', RESNET, { regularization: { sparsity: 20 } });
    const tasks = imageTasks({ tasks: 1, shape: SHAPE });
    const learner = createLearner(
      s,
      { inputSize: 300, outputSize: 2, imageShape: SHAPE, numTasks: 1 },
      new Random(1),
    );
    const exported = exportTask(learner, s, tasks[0]);
    assert.equal(exported.model, null);
    assert.match(exported.modelUnavailable!, /running batch-norm statistics/);
    assert.match(exported.modelUnavailable!, /no built-in layer reduces over the batch/);
    const { tensors } = decodeSafetensors(exported.mask!);
    assert.deepEqual(tensors.map((t) => t.name).slice(0, 2), ['conv_1/kernel', 'conv_1/bias']);
    assert.deepEqual(tensors[0].shape, [3, 3, 3, 16]);
    assert.equal(tensors.length, learner.target.paramShapes.length - 1);
    learner.dispose();
  });
});
