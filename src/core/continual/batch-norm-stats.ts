/**
 * Per-task running statistics of batch norm, for deployment (ResNet).
 *
 * The engine normalises every batch with its own statistics, in training and in evaluation (the
 * reference's `bn_track_stats=False`), so a prediction depends on the batch it is made in. A
 * deployed model predicts one sample at a time, so after each task its running statistics are
 * computed once and stored with it (checkpoint, per-task results, export): for every batch-norm
 * layer the mean and (biased) variance of its input over the task's training data, with the task's
 * weights (theta * m_t, generated, or theta) and the current shared gamma/beta.
 *
 * One pass in training-mode batches, as the network trained: the training split unaugmented, in
 * one fixed shuffled order (its own seed: the model's random stream is not touched, so a resumed
 * run computes the same), cut into equal chunks of at most the training batch size; every layer
 * normalises each batch with the batch's statistics, and each layer's input moments are aggregated
 * exactly over the whole pass (Chan et al.'s pairwise update in float64: the population mean and
 * variance of all values seen, not a moving average). hypercl's HNET keeps per-task statistics
 * the same way, from training-mode passes at the training batch size.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ContinualTask } from '../data/types.js';
import { EngineError } from '../errors.js';
import type { NamedArray } from '../io/safetensors.js';
import type { Learner } from '../methods/learner.js';
import { Random } from '../random.js';
import type { BatchNormStats } from '../target-network/target-network.js';

export type { BatchNormStats };

/** Seed of the shuffled order of task `task`'s statistics pass (independent of the model's stream). */
const statsSeed = (seed: number, task: number) =>
  (seed ^ 0x2f6b7c1d ^ Math.imul(task, 0x9e3779b1)) >>> 0;

/**
 * The running statistics of `task` with its current weights, or null when the target has no batch
 * norm. `batchSize`: the training batch size; `seed`: the spec's seed.
 */
export function computeBatchNormStats(
  learner: Learner,
  task: ContinualTask,
  batchSize: number,
  seed: number,
): BatchNormStats | null {
  const { target } = learner;
  const layers = target.batchNormWeights.length / 2;
  if (layers === 0) return null;
  const size = task.train.size;
  if (size === 0) throw new EngineError('INVALID_DATA', `task ${task.index} has no training data`);
  const count = new Float64Array(layers);
  const mean: Float64Array[] = [];
  const m2: Float64Array[] = [];
  const order = new Random(statsSeed(seed, task.index)).permutation(size);
  const chunks = Math.ceil(size / Math.max(1, batchSize));
  const weights = learner.taskWeights(task.index);
  try {
    for (let c = 0; c < chunks; c++) {
      const idx = order.subarray(
        Math.floor((c * size) / chunks),
        Math.floor(((c + 1) * size) / chunks),
      );
      const batch = task.train.gather(idx);
      tf.tidy(() => {
        target.forward(tf.tensor2d(batch.x, [batch.size, task.inputSize]), weights, {
          observeBatchNorm: (l, z) => {
            const channels = z.shape[3];
            const n = z.size / channels;
            const bMean = tf.div(tf.sum(z, [0, 1, 2]), n);
            const bM2 = tf.sum(tf.square(tf.sub(z, bMean)), [0, 1, 2]);
            merge(l, n, bMean.dataSync(), bM2.dataSync());
          },
        });
      });
    }
  } finally {
    tf.dispose(weights);
  }
  return {
    mean: mean.map((m) => Float32Array.from(m)),
    variance: m2.map((v, l) => Float32Array.from(v, (s) => s / count[l])),
  };

  /** Chan et al.: merges a batch's n values (mean, sum of squared deviations) into layer l's totals. */
  function merge(l: number, n: number, bMean: ArrayLike<number>, bM2: ArrayLike<number>): void {
    if (!mean[l]) {
      mean[l] = new Float64Array(bMean.length);
      m2[l] = new Float64Array(bMean.length);
    }
    const total = count[l] + n;
    for (let ch = 0; ch < bMean.length; ch++) {
      const delta = bMean[ch] - mean[l][ch];
      mean[l][ch] += (delta * n) / total;
      m2[l][ch] += bM2[ch] + (delta * delta * count[l] * n) / total;
    }
    count[l] = total;
  }
}

const PREFIX = 'batch_norm_stats/task_';

/**
 * Checkpoint tensors of per-task statistics: `batch_norm_stats/task_<t>/<layer>/mean` and
 * `.../variance` (layer names from `batchNormNames`, e.g. bn_1).
 */
export function statsTensors(
  stats: ReadonlyMap<number, BatchNormStats>,
  batchNormNames: string[],
): NamedArray[] {
  const out: NamedArray[] = [];
  for (const [task, s] of [...stats].sort((a, b) => a[0] - b[0])) {
    s.mean.forEach((m, l) => {
      const layer = batchNormNames[2 * l].split('/')[0];
      out.push({ name: `${PREFIX}${task}/${layer}/mean`, shape: [m.length], data: m });
      out.push({
        name: `${PREFIX}${task}/${layer}/variance`,
        shape: [m.length],
        data: s.variance[l],
      });
    });
  }
  return out;
}

/** Whether a checkpoint tensor holds statistics (rather than a model variable). */
export const isStatsTensor = (name: string) => name.startsWith(PREFIX);

/** The per-task statistics among checkpoint tensors (the inverse of `statsTensors`). */
export function statsFromTensors(
  tensors: NamedArray[],
  batchNormNames: string[],
): Map<number, BatchNormStats> {
  const layers = batchNormNames.filter((_, i) => i % 2 === 0).map((n) => n.split('/')[0]);
  const byName = new Map(tensors.filter((t) => isStatsTensor(t.name)).map((t) => [t.name, t]));
  const tasks = new Set(
    [...byName.keys()].map((n) => Number(n.slice(PREFIX.length).split('/')[0])),
  );
  const out = new Map<number, BatchNormStats>();
  for (const task of tasks) {
    const get = (layer: string, what: string) => {
      const t = byName.get(`${PREFIX}${task}/${layer}/${what}`);
      if (!t)
        throw new EngineError(
          'INVALID_CHECKPOINT',
          `checkpoint: batch-norm statistics of task ${task} lack ${layer}/${what}`,
        );
      return Float32Array.from(t.data);
    };
    out.set(task, {
      mean: layers.map((l) => get(l, 'mean')),
      variance: layers.map((l) => get(l, 'variance')),
    });
  }
  return out;
}
