import * as tf from '@tensorflow/tfjs-core';
import type { ContinualTask, SampleSource } from '../data/types.js';
import { assert } from '../errors.js';
import { normalizedEntropy } from '../inference/entropy.js';
import { fecamStatistics, FecamScorer, type FecamTaskStatistics } from '../inference/fecam.js';
import type { Learner } from '../methods/learner.js';
import type { BatchNormStats } from '../target-network/target-network.js';
import type { TaskInferenceResult } from './types.js';

/**
 * Most samples per forward pass at evaluation. A split is cut into equal chunks of at most this
 * many. For an MLP this only bounds memory; with batch-statistics batch norm (ResNet) a chunk is
 * the batch whose statistics normalise it. The reference evaluates each task's whole test set as
 * one batch: 1,000 images per Split CIFAR-100 task, which this keeps whole; larger test sets are
 * normalised over halves, thirds, ... (equal chunks, never a small remainder), which bounds
 * activation memory (a 1,000-image chunk holds ~130 MB per ResNet-20 activation on 32x32 images).
 */
export const EVAL_CHUNK = 1000;

function allIndices(n: number): Int32Array {
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  return idx;
}

/** How `evaluate` runs the target. */
export interface EvaluateOptions {
  /**
   * Normalise batch norm with these statistics (the task's running statistics) instead of each
   * chunk's own; then the result does not depend on the chunks.
   */
  batchNormStats?: BatchNormStats;
  /** Most samples per forward pass (default `EVAL_CHUNK`). */
  chunkSize?: number;
}

/**
 * Calls `fn` on consecutive chunks of a split with the given task weights: with the target's
 * logits, or with its penultimate features when `features` is set.
 */
function forEachChunk(
  learner: Learner,
  source: SampleSource,
  inputSize: number,
  weights: tf.Tensor[],
  fn: (out: tf.Tensor2D, y: Int32Array | Float32Array, start: number) => void,
  options: EvaluateOptions & { features?: boolean } = {},
): void {
  const idx = allIndices(source.size);
  const chunks = Math.ceil(source.size / (options.chunkSize ?? EVAL_CHUNK));
  for (let c = 0; c < chunks; c++) {
    const start = Math.floor((c * source.size) / chunks);
    const batch = source.gather(idx.subarray(start, Math.floor(((c + 1) * source.size) / chunks)));
    tf.tidy(() => {
      const x = tf.tensor2d(batch.x, [batch.size, inputSize]);
      fn(
        options.features
          ? learner.target.features(x, weights, { batchNormStats: options.batchNormStats })
          : learner.target.forward(x, weights, { batchNormStats: options.batchNormStats }),
        batch.y,
        start,
      );
    });
  }
}

/** The logits of the task's own classes: the first `activeOutputs` columns (all when unset). */
function ownLogits(logits: tf.Tensor2D, task: ContinualTask): tf.Tensor2D {
  const active = task.activeOutputs ?? task.outputSize;
  return active < logits.shape[1] ? tf.slice(logits, [0, 0], [-1, active]) : logits;
}

/**
 * Accuracy (classification) or mean squared error (regression) of `task`'s split `source`,
 * running the target with the weights of task `weightsOf` (normally the task itself); batch norm
 * uses each chunk's statistics unless `options.batchNormStats` are given.
 */
export function evaluate(
  learner: Learner,
  task: ContinualTask,
  source: SampleSource,
  weightsOf = task.index,
  options: EvaluateOptions = {},
): number {
  if (source.size === 0) return NaN;
  const weights = learner.taskWeights(weightsOf);
  let total = 0;
  forEachChunk(
    learner,
    source,
    task.inputSize,
    weights,
    (out, y) => {
      if (task.kind === 'classification') {
        const pred = tf.argMax(ownLogits(out, task), 1).dataSync();
        for (let i = 0; i < pred.length; i++) if (pred[i] === y[i]) total++;
      } else {
        total +=
          tf
            .sum(tf.squaredDifference(out, tf.tensor2d(y as Float32Array, out.shape)))
            .dataSync()[0] / task.outputSize;
      }
    },
    options,
  );
  tf.dispose(weights);
  return total / source.size;
}

/**
 * Task-agnostic inference by entropy (method section 7.2): every test sample goes through the
 * target under every task's weights; the task whose softmax has the lowest entropy wins (divided
 * by ln K, so tasks of different class counts compare fairly: `normalizedEntropy`), and its argmax
 * class, mapped to a global label, is the prediction. With `batchNormStats` (task index to its
 * running statistics), batch norm uses each candidate task's own instead of each chunk's.
 */
export function inferTasksByEntropy(
  learner: Learner,
  tasks: ContinualTask[],
  batchNormStats?: ReadonlyMap<number, BatchNormStats>,
): TaskInferenceResult {
  const weights = tasks.map((t) => learner.taskWeights(t.index));
  const perTask = tasks.map((task) => {
    const n = task.test.size;
    const bestEntropy = new Float32Array(n).fill(Infinity);
    const bestTask = new Int32Array(n);
    const bestClass = new Int32Array(n);
    const labels = new Int32Array(n);
    tasks.forEach((candidate, k) => {
      forEachChunk(
        learner,
        task.test,
        task.inputSize,
        weights[k],
        (all, y, start) => {
          labels.set(y, start);
          const logits = ownLogits(all, candidate);
          const logP = tf.logSoftmax(logits);
          const entropy = normalizedEntropy(logP).dataSync();
          const cls = tf.argMax(logits, 1).dataSync();
          for (let i = 0; i < entropy.length; i++) {
            if (entropy[i] < bestEntropy[start + i]) {
              bestEntropy[start + i] = entropy[i];
              bestTask[start + i] = candidate.index;
              bestClass[start + i] = cls[i];
            }
          }
        },
        { batchNormStats: batchNormStats?.get(candidate.index) },
      );
    });
    let taskHits = 0;
    let classHits = 0;
    for (let i = 0; i < n; i++) {
      if (bestTask[i] === task.index) taskHits++;
      if (tasks[bestTask[i]].globalLabels[bestClass[i]] === task.globalLabels[labels[i]])
        classHits++;
    }
    return { task: task.index, taskAccuracy: taskHits / n, classAccuracy: classHits / n };
  });
  weights.forEach((w) => tf.dispose(w));
  return averaged(perTask);
}

type PerTaskInference = TaskInferenceResult['perTask'][number];

/** Task and class accuracies averaged over tasks (each task weighs the same, as in the method). */
function averaged(perTask: PerTaskInference[]): TaskInferenceResult {
  const mean = (f: (r: PerTaskInference) => number) =>
    perTask.reduce((a, r) => a + f(r), 0) / perTask.length;
  return {
    taskAccuracy: mean((r) => r.taskAccuracy),
    classAccuracy: mean((r) => r.classAccuracy),
    perTask,
  };
}

/**
 * FeCAM statistics of `task` (fecam.ts): the penultimate features of all its training samples
 * under its own weights as they are now (call right after the task), per class of its own.
 * Batch norm (ResNet) uses the task's running statistics `batchNormStats` when given (as the
 * task's deployed model does, which must find the same features one image at a time), else each
 * chunk's own.
 */
export function fecamTaskStatistics(
  learner: Learner,
  task: ContinualTask,
  batchNormStats?: BatchNormStats,
): FecamTaskStatistics {
  const d = learner.target.featureSize;
  const n = task.train.size;
  const x = new Float32Array(n * d);
  const y = new Int32Array(n);
  const weights = learner.taskWeights(task.index);
  forEachChunk(
    learner,
    task.train,
    task.inputSize,
    weights,
    (f, labels, start) => {
      x.set(f.dataSync(), start * d);
      y.set(labels, start);
    },
    { features: true, batchNormStats },
  );
  tf.dispose(weights);
  return fecamStatistics(x, y, d, task.activeOutputs ?? task.outputSize);
}

/**
 * Task-agnostic inference by FeCAM (method section 7.3, fecam.ts): every test sample goes
 * through the target under every task's weights, and the (task, class) whose prototype is
 * nearest in Mahalanobis distance (features and prototypes L2-normalised) is the prediction.
 * `stats[k]` are task k's statistics, computed after it (`fecamTaskStatistics`); with
 * `batchNormStats`, batch norm uses each candidate task's running statistics.
 */
export function inferTasksByFecam(
  learner: Learner,
  tasks: ContinualTask[],
  stats: FecamTaskStatistics[],
  batchNormStats?: ReadonlyMap<number, BatchNormStats>,
): TaskInferenceResult {
  assert(stats.length >= tasks.length, 'FeCAM: every task needs its statistics');
  const weights = tasks.map((t) => learner.taskWeights(t.index));
  const scorers = tasks.map((t) => new FecamScorer(stats[t.index]));
  try {
    const perTask = tasks.map((task) => {
      const n = task.test.size;
      const bestDistance = new Float32Array(n).fill(Infinity);
      const bestTask = new Int32Array(n).fill(-1);
      const bestClass = new Int32Array(n);
      const labels = new Int32Array(n);
      tasks.forEach((candidate, k) => {
        forEachChunk(
          learner,
          task.test,
          task.inputSize,
          weights[k],
          (features, y, start) => {
            labels.set(y, start);
            const { distance, cls } = scorers[k].nearest(features);
            for (let i = 0; i < distance.length; i++) {
              if (distance[i] < bestDistance[start + i]) {
                bestDistance[start + i] = distance[i];
                bestTask[start + i] = candidate.index;
                bestClass[start + i] = cls[i];
              }
            }
          },
          { features: true, batchNormStats: batchNormStats?.get(candidate.index) },
        );
      });
      let taskHits = 0;
      let classHits = 0;
      for (let i = 0; i < n; i++) {
        if (bestTask[i] === task.index) taskHits++;
        if (
          bestTask[i] >= 0 &&
          tasks[bestTask[i]].globalLabels[bestClass[i]] === task.globalLabels[labels[i]]
        )
          classHits++;
      }
      return { task: task.index, taskAccuracy: taskHits / n, classAccuracy: classHits / n };
    });
    return averaged(perTask);
  } finally {
    weights.forEach((w) => tf.dispose(w));
    scorers.forEach((s) => s.dispose());
  }
}
