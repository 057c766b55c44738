/**
 * What deploying a ResNet-20 (n = 3, k = 2, 32x32x3, 10 classes) with per-task running batch-norm
 * statistics costs, on the selected backend: the statistics pass (one forward pass per training
 * batch of 32, the moments of every batch-norm input read back), against a training step of
 * HyperMask at the published CIFAR settings; the evaluation of a test set with batch statistics
 * and with running statistics; the export; and predictions from the exported model (TaskModel, as
 * the prediction service runs it) one image at a time against a batch, with the largest
 * difference between the two.
 * usage: npx tsx bench/resnet-running-stats.ts [backend=wasm]
 * Writes bench/results/resnet-running-stats-<backend name>.json. Random images (the costs do not
 * depend on the values); BENCH_REPS repetitions of each timing (default 3) after one warm-up,
 * median and minimum reported (on a busy machine the minimum is the least disturbed run).
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { computeBatchNormStats } from '../src/core/continual/batch-norm-stats.js';
import { evaluate } from '../src/core/continual/evaluation.js';
import { buildDatasetTasks } from '../src/core/data/dataset-tasks.js';
import type { LabelledDataset } from '../src/core/data/types.js';
import { TaskModel } from '../src/core/inference/task-models.js';
import { exportTask } from '../src/core/io/export.js';
import { createLearner } from '../src/core/methods/create-learner.js';
import { crossEntropy } from '../src/core/methods/learner.js';
import { median } from '../src/core/metrics/metrics.js';
import { Random } from '../src/core/random.js';
import { resolveSpec, type DatasetFacts } from '../src/core/spec.js';
import { selectBackend, type BackendChoice } from '../src/infra/tf-backend.js';
import { machine } from './harness.js';

const load = os.loadavg()[0];
const backend = await selectBackend((process.argv[2] ?? 'wasm') as BackendChoice);
const REPS = Number(process.env.BENCH_REPS ?? 3);
const BATCH = 32;
const SIDE = 32;
const CLASSES = 10;
const TRAIN_PER_CLASS = 32;
const TEST_PER_CLASS = 20;
const SINGLE = 16;

const DATASET = '11111111-1111-4111-8111-111111111111';
const size = SIDE * SIDE * 3;
const rng = new Random(1);
const images = (n: number) => Uint8Array.from({ length: n * size }, () => rng.int(256));
const labels = (perClass: number) =>
  Int32Array.from({ length: perClass * CLASSES }, (_, i) => i % CLASSES);
const data: LabelledDataset = {
  inputShape: [SIDE, SIDE, 3],
  dtype: 'uint8',
  classNames: Array.from({ length: CLASSES }, (_, c) => `c${c}`),
  train: {
    x: images(TRAIN_PER_CLASS * CLASSES),
    y: labels(TRAIN_PER_CLASS),
    count: TRAIN_PER_CLASS * CLASSES,
  },
  test: {
    x: images(TEST_PER_CLASS * CLASSES),
    y: labels(TEST_PER_CLASS),
    count: TEST_PER_CLASS * CLASSES,
  },
};
const facts: DatasetFacts = {
  inputShape: [SIDE, SIDE, 3],
  dtype: 'uint8',
  sha256: '0'.repeat(64),
  classNames: data.classNames,
  counts: {
    train: new Array<number>(CLASSES).fill(TRAIN_PER_CLASS),
    test: new Array<number>(CLASSES).fill(TEST_PER_CLASS),
  },
};
// HyperMask at the published Split CIFAR-100 ResNet-20 settings (method section 5).
const spec = resolveSpec(
  {
    method: 'hypermask',
    network: { kind: 'resnet' },
    hypernetwork: { hidden: [100], activation: 'elu', embeddingDim: 48 },
    regularization: { beta: 0.01, lambda: 1, sparsity: 0, maskedL1: false },
    benchmark: { kind: 'datasets', normalize: true, tasks: [{ dataset: DATASET }] },
    training: { batchSize: BATCH, learningRate: 1e-3 },
  },
  { datasets: new Map([[DATASET, facts]]) },
);
const [task] = buildDatasetTasks(spec.benchmark, new Map([[DATASET, data]]));

function time(f: () => void): { median: number; min: number } {
  f();
  const ms: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    f();
    ms.push(performance.now() - t0);
  }
  return { median: median(ms), min: Math.min(...ms) };
}
const round = (t: { median: number; min: number }, per = 1) => ({
  median: Math.round((10 * t.median) / per) / 10,
  min: Math.round((10 * t.min) / per) / 10,
});

const learner = createLearner(
  spec,
  { inputSize: task.inputSize, outputSize: task.outputSize, imageShape: task.imageShape },
  new Random(2),
);
learner.beginTask(0, 100);
let iteration = 0;
const step = time(() => {
  const batch = task.train.gather(
    Int32Array.from({ length: BATCH }, (_, i) => (iteration * BATCH + i) % task.train.size),
  );
  const x = tf.tensor2d(batch.x, [BATCH, task.inputSize]);
  const y = tf.oneHot(tf.tensor1d(batch.y as Int32Array, 'int32'), task.outputSize);
  learner.trainStep(0, iteration++, x, y as tf.Tensor2D, crossEntropy);
  tf.dispose([x, y]);
});
learner.endTask();
console.log(`training step (batch ${BATCH}): median ${step.median.toFixed(0)} ms`);

let stats = computeBatchNormStats(learner, task, BATCH, spec.training.seed)!;
const pass = time(() => {
  stats = computeBatchNormStats(learner, task, BATCH, spec.training.seed)!;
});
console.log(`statistics pass over ${task.train.size} images: median ${pass.median.toFixed(0)} ms`);

const evalBatch = time(() => void evaluate(learner, task, task.test));
const evalRunning = time(
  () => void evaluate(learner, task, task.test, 0, { batchNormStats: stats }),
);

let exported = exportTask(learner, spec, task, stats);
const exportMs = time(() => {
  exported = exportTask(learner, spec, task, stats);
});
const model = TaskModel.fromExport(exported.model!.modelJson, exported.model!.weights);
const raw = Float32Array.from(data.test.x.subarray(0, SINGLE * size));
const batchLogits = tf.tidy(() => model.logits(tf.tensor2d(raw, [SINGLE, size])));
const batchPredict = time(() =>
  tf.tidy(() => void model.logits(tf.tensor2d(raw, [SINGLE, size])).dataSync()),
);
let maxDifference = 0;
const rows = batchLogits.arraySync();
const singlePredict = time(() => {
  for (let i = 0; i < SINGLE; i++) {
    const one = tf.tidy(() =>
      model.logits(tf.tensor2d(raw.subarray(i * size, (i + 1) * size), [1, size])).dataSync(),
    );
    one.forEach((v, k) => (maxDifference = Math.max(maxDifference, Math.abs(v - rows[i][k]))));
  }
});
tf.dispose(batchLogits);
model.dispose();
learner.dispose();

const result = {
  benchmark: 'resnet-running-stats',
  backend,
  machine: machine(load),
  loadAverageAtEnd: os.loadavg()[0],
  repetitions: REPS,
  network: 'ResNet-20 (n = 3, k = 2), 32x32x3 inputs, 10 outputs',
  method: 'hypermask (embedding 48, hypernetwork [100] ELU)',
  trainImages: task.train.size,
  testImages: task.test.size,
  batch: BATCH,
  ms: {
    trainingStep: round(step),
    trainingPerImage: round(step, BATCH),
    statisticsPass: round(pass),
    statisticsPassPerImage: round(pass, task.train.size),
    evaluationBatchStatistics: round(evalBatch),
    evaluationRunningStatistics: round(evalRunning),
    export: round(exportMs),
    predictBatchPerImage: round(batchPredict, SINGLE),
    predictOneAtATimePerImage: round(singlePredict, SINGLE),
  },
  modelWeightsBytes: exported.model!.weights.byteLength,
  predictOneVsBatchMaxAbsLogitDifference: maxDifference,
};
await writeFile(
  `bench/results/resnet-running-stats-${backend.name}.json`,
  `${JSON.stringify(result, null, 2)}\n`,
);
console.log(JSON.stringify(result, null, 2));
