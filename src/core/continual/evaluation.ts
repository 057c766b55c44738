import * as tf from '@tensorflow/tfjs-core';
import type { ContinualTask, SampleSource } from '../data/types.js';
import { assert } from '../errors.js';
import { normalizedEntropy } from '../inference/entropy.js';
import {
  fecamCalibrated,
  fecamStatistics,
  FecamScorer,
  type FecamTaskStatistics,
} from '../inference/fecam.js';
import type { Learner } from '../methods/learner.js';
import { Random } from '../random.js';
import { outputLayer, type BatchNormStats } from '../target-network/target-network.js';
import type { TaskInferenceResult } from './types.js';

/**
 * Most samples per forward pass at evaluation. A split is cut into equal chunks of at most this
 * many. For an MLP this only bounds memory; with batch-statistics batch norm (ResNet) a chunk is
 * the batch whose statistics normalise it. The reference evaluates each task's whole test set as
 * one batch: 1,000 images per Split CIFAR-100 task, which this keeps whole; larger test sets are
 * normalised over halves, thirds, ... (equal chunks, never a small remainder, each a fair sample
 * of the split: `forEachChunk`), which bounds activation memory (a 1,000-image chunk holds ~130 MB
 * per ResNet-20 activation on 32x32 images).
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

/** Seed of the order in which batch-statistics evaluation takes a split's samples (`forEachChunk`). */
const EVAL_ORDER_SEED = 0x5eed_e7a1;

/**
 * Calls `fn` on consecutive chunks of a split with the given task weights: with the target's
 * logits, or with its penultimate features when `features` is set; `start` is the position of the
 * chunk's first sample in the order the split is taken in.
 *
 * That order is the split's own, except where a chunk's statistics normalise it (batch norm
 * without `options.batchNormStats`, more than one chunk): then each chunk must be a fair sample
 * of the split, as the whole split is in the reference's single batch, and the samples are taken
 * in a fixed pseudo-random order. A split stored class by class (an uploaded ImageFolder) cut
 * into consecutive chunks would give chunks of one class, whose own statistics normalise away
 * what tells the classes apart.
 */
function forEachChunk(
  learner: Learner,
  source: SampleSource,
  inputSize: number,
  weights: tf.Tensor[],
  fn: (out: tf.Tensor2D, y: Int32Array | Float32Array, start: number) => void,
  options: EvaluateOptions & { features?: boolean } = {},
): void {
  const chunks = Math.ceil(source.size / (options.chunkSize ?? EVAL_CHUNK));
  const chunkStatistics =
    chunks > 1 && learner.target.batchNormWeights.length > 0 && !options.batchNormStats;
  const idx = chunkStatistics
    ? new Random(EVAL_ORDER_SEED).permutation(source.size)
    : allIndices(source.size);
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

/** Which rules `inferTasks` runs: lowest entropy, and FeCAM with every task's statistics. */
export interface InferenceRules {
  entropy?: boolean;
  /** `fecam[k]`: task k's statistics, computed after it (`fecamTaskStatistics`). */
  fecam?: FecamTaskStatistics[] | null;
}

/**
 * Task-agnostic inference (the task id unknown) by the given rules, in one pass: every test
 * sample goes through the target under every task's weights, and each rule picks a task and a
 * class (mapped to a global label) per sample. Ties go to the earlier task. Null for a rule not
 * run (and for both without a task).
 * - Entropy (method section 7.2): the task whose softmax over its own classes has the lowest
 *   entropy, divided by ln K so that tasks of different class counts compare fairly
 *   (`normalizedEntropy`), and its argmax class.
 * - FeCAM (method section 7.3, fecam.ts): the (task, class) whose prototype is nearest in
 *   Mahalanobis distance (features and prototypes L2-normalised; each task's distances divided by
 *   its distance scale).
 * Both read the same forward pass: the penultimate features, and the logits from them through
 * the output layer (`outputLayer`). With `batchNormStats` (task index to its running
 * statistics), batch norm uses each candidate task's own instead of each chunk's.
 */
export function inferTasks(
  learner: Learner,
  tasks: ContinualTask[],
  rules: InferenceRules,
  batchNormStats?: ReadonlyMap<number, BatchNormStats>,
): { entropy: TaskInferenceResult | null; fecam: TaskInferenceResult | null } {
  const stats = rules.fecam ?? null;
  if (tasks.length === 0 || (!rules.entropy && !stats)) return { entropy: null, fecam: null };
  assert(!stats || stats.length >= tasks.length, 'FeCAM: every task needs its statistics');
  const weights = tasks.map((t) => learner.taskWeights(t.index));
  const scorers = stats ? tasks.map((t) => new FecamScorer(stats[t.index])) : null;
  const calibrated = scorers !== null && fecamCalibrated(scorers.map((s) => s.stats));
  try {
    const perTask = tasks.map((task) => {
      const n = task.test.size;
      const labels = new Int32Array(n);
      const byEntropy = rules.entropy ? new BestCandidates(n) : null;
      const byFecam = scorers ? new BestCandidates(n) : null;
      tasks.forEach((candidate, k) => {
        forEachChunk(
          learner,
          task.test,
          task.inputSize,
          weights[k],
          (features, y, start) => {
            labels.set(y, start);
            if (byFecam) {
              const { distance, cls } = scorers![k].nearest(features, calibrated);
              byFecam.offer(start, distance, candidate.index, cls);
            }
            if (byEntropy) {
              const logits = ownLogits(outputLayer(features, weights[k]), candidate);
              const entropy = normalizedEntropy(tf.logSoftmax(logits)).dataSync();
              byEntropy.offer(start, entropy, candidate.index, tf.argMax(logits, 1).dataSync());
            }
          },
          { features: true, batchNormStats: batchNormStats?.get(candidate.index) },
        );
      });
      return {
        entropy: byEntropy?.accuracies(task, tasks, labels),
        fecam: byFecam?.accuracies(task, tasks, labels),
      };
    });
    return {
      entropy: rules.entropy ? averaged(perTask.map((r) => r.entropy!)) : null,
      fecam: scorers ? averaged(perTask.map((r) => r.fecam!)) : null,
    };
  } finally {
    weights.forEach((w) => tf.dispose(w));
    scorers?.forEach((s) => s.dispose());
  }
}

/** Task inference by entropy alone (`inferTasks`). */
export function inferTasksByEntropy(
  learner: Learner,
  tasks: ContinualTask[],
  batchNormStats?: ReadonlyMap<number, BatchNormStats>,
): TaskInferenceResult {
  return inferTasks(learner, tasks, { entropy: true }, batchNormStats).entropy!;
}

/** Task inference by FeCAM alone (`inferTasks`); `stats[k]` are task k's statistics. */
export function inferTasksByFecam(
  learner: Learner,
  tasks: ContinualTask[],
  stats: FecamTaskStatistics[],
  batchNormStats?: ReadonlyMap<number, BatchNormStats>,
): TaskInferenceResult {
  return inferTasks(learner, tasks, { fecam: stats }, batchNormStats).fecam!;
}

/** Per test sample of one task, the best candidate (task, class) so far by one rule: the lowest score. */
class BestCandidates {
  private readonly score: Float32Array;
  private readonly task: Int32Array;
  private readonly cls: Int32Array;

  constructor(n: number) {
    this.score = new Float32Array(n).fill(Infinity);
    this.task = new Int32Array(n).fill(-1);
    this.cls = new Int32Array(n);
  }

  /** Candidate `task`'s scores and classes for the samples from `start` on; lower wins, ties keep the earlier. */
  offer(start: number, scores: ArrayLike<number>, task: number, cls: ArrayLike<number>): void {
    for (let i = 0; i < scores.length; i++) {
      if (scores[i] < this.score[start + i]) {
        this.score[start + i] = scores[i];
        this.task[start + i] = task;
        this.cls[start + i] = cls[i];
      }
    }
  }

  /** How often the chosen task is `task`, and the chosen class its label (`labels`, local to `task`). */
  accuracies(task: ContinualTask, tasks: ContinualTask[], labels: Int32Array): PerTaskInference {
    const n = labels.length;
    let taskHits = 0;
    let classHits = 0;
    for (let i = 0; i < n; i++) {
      const chosen = this.task[i];
      if (chosen === task.index) taskHits++;
      if (chosen >= 0 && tasks[chosen].globalLabels[this.cls[i]] === task.globalLabels[labels[i]])
        classHits++;
    }
    return { task: task.index, taskAccuracy: taskHits / n, classAccuracy: classHits / n };
  }
}
