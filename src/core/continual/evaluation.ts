import * as tf from '@tensorflow/tfjs-core';
import type { ContinualTask, SampleSource } from '../data/types.js';
import { normalizedEntropy } from '../inference/entropy.js';
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

/** Calls `fn` on consecutive chunks of a split with the given task weights. */
function forEachChunk(
  learner: Learner,
  source: SampleSource,
  inputSize: number,
  weights: tf.Tensor[],
  fn: (logits: tf.Tensor2D, y: Int32Array | Float32Array, start: number) => void,
  options: EvaluateOptions = {},
): void {
  const idx = allIndices(source.size);
  const chunks = Math.ceil(source.size / (options.chunkSize ?? EVAL_CHUNK));
  for (let c = 0; c < chunks; c++) {
    const start = Math.floor((c * source.size) / chunks);
    const batch = source.gather(idx.subarray(start, Math.floor(((c + 1) * source.size) / chunks)));
    tf.tidy(() =>
      fn(
        learner.target.forward(tf.tensor2d(batch.x, [batch.size, inputSize]), weights, {
          batchNormStats: options.batchNormStats,
        }),
        batch.y,
        start,
      ),
    );
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
 * class, mapped to a global label, is the prediction.
 */
export function inferTasksByEntropy(learner: Learner, tasks: ContinualTask[]): TaskInferenceResult {
  const weights = tasks.map((t) => learner.taskWeights(t.index));
  const perTask = tasks.map((task) => {
    const n = task.test.size;
    const bestEntropy = new Float32Array(n).fill(Infinity);
    const bestTask = new Int32Array(n);
    const bestClass = new Int32Array(n);
    const labels = new Int32Array(n);
    tasks.forEach((candidate, k) => {
      forEachChunk(learner, task.test, task.inputSize, weights[k], (all, y, start) => {
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
      });
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
  const mean = (f: (r: (typeof perTask)[number]) => number) =>
    perTask.reduce((a, r) => a + f(r), 0) / perTask.length;
  return {
    taskAccuracy: mean((r) => r.taskAccuracy),
    classAccuracy: mean((r) => r.classAccuracy),
    perTask,
  };
}
