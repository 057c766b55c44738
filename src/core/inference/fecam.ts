/**
 * FeCAM task inference (Goswami et al. 2023, "FeCAM: Exploiting the Heterogeneity of Class
 * Distributions in Exemplar-Free Continual Learning"; method section 7.3, HyperMask's FeCAM.py).
 *
 * After task t, every training sample of t goes through the target under t's own weights; per
 * class, the mean of the penultimate features (the prototype) and their covariance are kept. A
 * sample of unknown task goes through the target under every task's weights, and the (task,
 * class) whose prototype is nearest in Mahalanobis distance wins.
 *
 * Choices, following the method notes (section 7.3) and, where they are silent, the paper:
 * - Covariance: the unbiased sample covariance (NumPy's np.cov, divisor n - 1), computed in float64.
 * - Shrinkage, applied twice with alpha1 = alpha2 = 1 as the notes say and HyperMask's code does
 *   (`no_shrinkage=2`; `shrinkCovariance`): S + alpha1 * V1 * I + alpha2 * V2 * (1 - I), V1 the
 *   mean of the diagonal, V2 the mean of the off-diagonal entries that are not exactly 0 (as the
 *   code counts them; 0 when all are). The paper's formula is this one step.
 * - Normalisation: the shrunk matrix becomes a correlation matrix, divided by the outer product
 *   of the square roots of its diagonal (`normalizeCovariance`), as the notes say.
 * - Distances: features and prototypes L2-normalised (the notes; HyperMask's code, `normalize`),
 *   the prototype being the mean of the raw features, normalised afterwards (as the code does);
 *   the covariance is estimated on the raw features (as the code does).
 * - Inverse: the notes use the pseudo-inverse of (S + 1e-8); the normalised shrunk matrix is
 *   positive definite, where the pseudo-inverse is the inverse, so it is inverted by Cholesky in
 *   float64 (`invertPositiveDefinite`), which adds a small multiple of the identity only if the
 *   factorisation fails (rounding on a nearly singular matrix).
 * - No Tukey transform of the features: the notes' procedure has none, and HyperMask's code
 *   leaves it off (its `apply_tukey=False`); the paper's lambda = 0.5 (square root) lowered the
 *   task-prediction accuracy on Split Fashion-MNIST from 65.42 % to 56.42 % (bench/README.md).
 * - Calibration (ours; the paper and HyperMask's code compare the distances as they are): each
 *   task's feature space is its own (its own mask or weights), so the scale of its distances is
 *   too, and raw distances favour the tasks whose spaces give smaller ones (on Split
 *   Fashion-MNIST the later tasks). So each task keeps its distance scale, the mean over its
 *   training samples of their smallest distance to its prototypes (measured with the statistics,
 *   from the same data), and task inference compares distances divided by it: a sample is as
 *   far from a task as it is relative to how far that task's own samples lie. One number per
 *   task, exemplar-free. Measured in bench/README.md ("Task inference").
 * - Exemplar-free as the paper is: each task's statistics come from its own training data
 *   right after it, under its weights at that time, and are never recomputed (HyperMask's code
 *   recomputes all of them with the final model from every task's data, which a continual
 *   learner no longer holds; on Split Fashion-MNIST that gained 1.4 pp, bench/README.md). A
 *   class needs 2 samples for a covariance; with 1 the identity is used, with none the class has
 *   no statistics and is never chosen.
 *
 * Storage: per class the mean [d] and the inverse of the normalised shrunk covariance (what
 * prediction needs) as its upper triangle, row by row ([d (d + 1) / 2], float32): 80,200 floats per
 * class for an MLP with 400 hidden units, 131,328 for a ZenkeNet (CIFAR), 8,256 for a ResNet-20
 * (k = 2). Computing them takes O(n d^2) for n samples and O(d^3) per class, in JS.
 *
 * Where FeCAM does not apply (`fecamApplies`): a linear model (no hidden layer: its features would
 * be the preprocessed input, which the export folds into its one layer) and features wider than
 * `FECAM_MAX_FEATURES` (the Tiny-ImageNet ZenkeNet's 12,544 flattened features would need 315 MB
 * per class). There no statistics are kept and only entropy infers tasks.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assert } from '../errors.js';
import type { NamedArray } from '../io/safetensors.js';
import { decodeSafetensors, encodeSafetensors } from '../io/safetensors.js';
import { FECAM_MAX_FEATURES } from '../spec.js';

/** One class of a task: its prototype and the inverse of its normalised, shrunk covariance. */
export interface FecamClass {
  /** Training samples the statistics come from. */
  count: number;
  /** Mean feature [featureSize] (not normalised). */
  mean: Float32Array;
  /** Inverse covariance, upper triangle row by row: entries (i, j) with j >= i, [d (d + 1) / 2]. */
  precision: Float32Array;
}

/** A task's FeCAM statistics: per local class index, or null for a class without training samples. */
export interface FecamTaskStatistics {
  featureSize: number;
  classes: (FecamClass | null)[];
  /**
   * The mean over the task's training samples of their smallest distance to its class prototypes
   * (the task's distance scale; see "Calibration" in the header). Null in statistics written
   * before it existed.
   */
  distanceScale: number | null;
}

/** Whether FeCAM applies to a target: it has a hidden representation of at most `FECAM_MAX_FEATURES`. */
export function fecamApplies(target: { paramShapes: number[][]; featureSize: number }): boolean {
  return target.paramShapes.length > 2 && target.featureSize <= FECAM_MAX_FEATURES;
}

/** Shrinkage strengths alpha1 (diagonal) and alpha2 (off-diagonal) and how often it is applied (method 7.3). */
export const FECAM_SHRINKAGE = { alpha1: 1, alpha2: 1, times: 2 } as const;

/** Unbiased sample covariance [d * d] (float64, row-major) of `n` rows of `x` [n * d] around `mean`. */
export function sampleCovariance(
  x: Float32Array,
  n: number,
  d: number,
  mean: Float64Array,
): Float64Array {
  const cov = new Float64Array(d * d);
  if (n < 2) return cov;
  const v = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < d; i++) v[i] = x[r * d + i] - mean[i];
    for (let i = 0; i < d; i++) {
      const vi = v[i];
      if (vi === 0) continue;
      const row = i * d;
      for (let j = i; j < d; j++) cov[row + j] += vi * v[j];
    }
  }
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      const c = cov[i * d + j] / (n - 1);
      cov[i * d + j] = c;
      cov[j * d + i] = c;
    }
  }
  return cov;
}

/**
 * One shrinkage step (FeCAM, eq. 6): cov + alpha1 * V1 * I + alpha2 * V2 * (1 - I), where V1 is
 * the mean of the diagonal and V2 the mean of the off-diagonal entries that are not 0.
 */
export function shrinkCovariance(
  cov: Float64Array,
  d: number,
  alpha1: number = FECAM_SHRINKAGE.alpha1,
  alpha2: number = FECAM_SHRINKAGE.alpha2,
): Float64Array {
  let diag = 0;
  let off = 0;
  let offCount = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      const c = cov[i * d + j];
      if (i === j) diag += c;
      else if (c !== 0) {
        off += c;
        offCount++;
      }
    }
  }
  const v1 = diag / d;
  const v2 = offCount > 0 ? off / offCount : 0;
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++)
      out[i * d + j] = cov[i * d + j] + (i === j ? alpha1 * v1 : alpha2 * v2);
  return out;
}

/** The correlation matrix of `cov`: each entry divided by sqrt(cov_ii) * sqrt(cov_jj). */
export function normalizeCovariance(cov: Float64Array, d: number): Float64Array {
  const sd = new Float64Array(d);
  for (let i = 0; i < d; i++) sd[i] = Math.sqrt(cov[i * d + i]);
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++) out[i * d + j] = cov[i * d + j] / (sd[i] * sd[j]);
  return out;
}

/** Lower Cholesky factor of `a` [d * d], or null when `a` is not (numerically) positive definite. */
function cholesky(a: Float64Array, d: number): Float64Array | null {
  const l = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    let s = a[j * d + j];
    for (let k = 0; k < j; k++) s -= l[j * d + k] * l[j * d + k];
    if (!(s > 0)) return null;
    const ljj = Math.sqrt(s);
    l[j * d + j] = ljj;
    for (let i = j + 1; i < d; i++) {
      let t = a[i * d + j];
      for (let k = 0; k < j; k++) t -= l[i * d + k] * l[j * d + k];
      l[i * d + j] = t / ljj;
    }
  }
  return l;
}

/**
 * Inverse of a symmetric positive definite `a` [d * d] (float64), through its Cholesky factor:
 * A^-1 = L^-T L^-1. Should rounding leave `a` not quite positive definite, 1e-8, 1e-6, ... times
 * its mean diagonal is added to the diagonal until it factorises.
 */
export function invertPositiveDefinite(a: Float64Array, d: number): Float64Array {
  let l = cholesky(a, d);
  let meanDiag = 0;
  for (let i = 0; i < d; i++) meanDiag += a[i * d + i] / d;
  for (let jitter = 1e-8; !l; jitter *= 100) {
    assert(jitter < 1, 'FeCAM: the covariance cannot be made positive definite');
    const b = Float64Array.from(a);
    for (let i = 0; i < d; i++) b[i * d + i] += jitter * Math.max(meanDiag, 1e-12);
    l = cholesky(b, d);
  }
  // M = L^-1 (lower triangular), by forward substitution column by column.
  const m = new Float64Array(d * d);
  for (let c = 0; c < d; c++) {
    for (let i = c; i < d; i++) {
      let s = i === c ? 1 : 0;
      for (let k = c; k < i; k++) s -= l[i * d + k] * m[k * d + c];
      m[i * d + c] = s / l[i * d + i];
    }
  }
  // A^-1 = M^T M.
  const inv = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      let s = 0;
      for (let k = j; k < d; k++) s += m[k * d + i] * m[k * d + j];
      inv[i * d + j] = s;
      inv[j * d + i] = s;
    }
  }
  return inv;
}

/** The upper triangle of a symmetric [d * d] matrix, row by row, as float32. */
export function packUpper(a: Float64Array, d: number): Float32Array {
  const out = new Float32Array((d * (d + 1)) / 2);
  let k = 0;
  for (let i = 0; i < d; i++) for (let j = i; j < d; j++) out[k++] = a[i * d + j];
  return out;
}

/** The full symmetric [d * d] matrix of a packed upper triangle. */
export function unpackUpper(p: Float32Array, d: number): Float32Array {
  assert(
    p.length === (d * (d + 1)) / 2,
    `a packed ${d} x ${d} triangle has ${(d * (d + 1)) / 2} values`,
  );
  const out = new Float32Array(d * d);
  let k = 0;
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      out[i * d + j] = p[k];
      out[j * d + i] = p[k++];
    }
  }
  return out;
}

/** The normalised, twice-shrunk covariance of `n` rows of `x` [n * d] (float64; see the header). */
export function fecamCovariance(
  x: Float32Array,
  n: number,
  d: number,
  mean: Float64Array,
): Float64Array {
  if (n < 2) {
    const identity = new Float64Array(d * d);
    for (let i = 0; i < d; i++) identity[i * d + i] = 1;
    return identity;
  }
  let cov = sampleCovariance(x, n, d, mean);
  for (let s = 0; s < FECAM_SHRINKAGE.times; s++) cov = shrinkCovariance(cov, d);
  let diag = 0;
  for (let i = 0; i < d; i++) diag += cov[i * d + i];
  // Every feature constant within the class (all dead units): nothing to normalise by.
  if (!(diag > 0)) return fecamCovariance(x, 1, d, mean);
  return normalizeCovariance(cov, d);
}

/**
 * A task's statistics from its training features `x` [n * d] (float32, row-major) and local
 * labels `y` [n] in 0..classes-1.
 */
export function fecamStatistics(
  x: Float32Array,
  y: Int32Array,
  d: number,
  classes: number,
): FecamTaskStatistics {
  const n = y.length;
  assert(x.length === n * d, `FeCAM: ${x.length} feature values for ${n} samples of ${d}`);
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < n; i++) byClass[y[i]]?.push(i);
  const stats = classStatistics(x, byClass, d);
  return { ...stats, distanceScale: distanceScale(stats, x, n) };
}

/** Rows of the training features fed to the scorer at once when the distance scale is measured. */
const SCALE_CHUNK = 1024;

/**
 * The mean over `n` training features `x` of their smallest distance to the task's prototypes,
 * computed as task inference computes distances (`FecamScorer.nearest`); null when no sample has a
 * positive finite one (then no task's distances are divided, `fecamCalibrated`).
 */
function distanceScale(stats: FecamTaskStatistics, x: Float32Array, n: number): number | null {
  const d = stats.featureSize;
  const scorer = new FecamScorer(stats);
  let sum = 0;
  let count = 0;
  try {
    for (let start = 0; start < n; start += SCALE_CHUNK) {
      const rows = Math.min(SCALE_CHUNK, n - start);
      const f = tf.tensor2d(x.subarray(start * d, (start + rows) * d), [rows, d]);
      const { distance } = scorer.nearest(f);
      f.dispose();
      for (const v of distance) {
        if (!Number.isFinite(v)) continue;
        sum += v;
        count++;
      }
    }
  } finally {
    scorer.dispose();
  }
  // A float32 value, as files keep it: a run resumed from a checkpoint compares the same numbers.
  const mean = Math.fround(count > 0 ? sum / count : 0);
  return mean > 0 ? mean : null;
}

/** Per class, the prototype and inverse covariance of the rows `byClass[c]` of `x` [n * d]. */
function classStatistics(x: Float32Array, byClass: number[][], d: number): FecamTaskStatistics {
  return {
    featureSize: d,
    distanceScale: null,
    classes: byClass.map((rows) => {
      if (rows.length === 0) return null;
      const xc = new Float32Array(rows.length * d);
      rows.forEach((r, k) => xc.set(x.subarray(r * d, (r + 1) * d), k * d));
      const mean = new Float64Array(d);
      for (let k = 0; k < rows.length; k++) for (let i = 0; i < d; i++) mean[i] += xc[k * d + i];
      for (let i = 0; i < d; i++) mean[i] /= rows.length;
      const cov = fecamCovariance(xc, rows.length, d, mean);
      return {
        count: rows.length,
        mean: Float32Array.from(mean),
        precision: packUpper(invertPositiveDefinite(cov, d), d),
      };
    }),
  };
}

/** Rows of `x` divided by their L2 norm (at least 1e-12, as PyTorch's F.normalize). Caller disposes. */
function l2Normalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.div(x, tf.maximum(tf.sqrt(tf.sum(tf.square(x), 1, true)), 1e-12)));
}

/**
 * Mahalanobis distances to the classes of one task, holding that task's prototypes and inverse
 * covariances as tensors. Owns them until `dispose()`.
 */
export class FecamScorer {
  private readonly classes: { index: number; mean: tf.Tensor2D; precision: tf.Tensor2D }[];

  constructor(readonly stats: FecamTaskStatistics) {
    const d = stats.featureSize;
    this.classes = stats.classes.flatMap((c, index) =>
      c
        ? [
            {
              index,
              mean: tf.tidy(() => l2Normalize(tf.tensor2d(c.mean, [1, d]))),
              precision: tf.tensor2d(unpackUpper(c.precision, d), [d, d]),
            },
          ]
        : [],
    );
  }

  /**
   * For features [n, d] (raw, as the target computes them): each sample's smallest squared
   * Mahalanobis distance (f - mu)^T S^-1 (f - mu) over the task's classes, with f and mu
   * L2-normalised, and the local class it belongs to (the earlier class on ties). Infinity and
   * -1 when the task has no class statistics. `calibrated`: divided by the task's distance scale
   * (pass `fecamCalibrated(...)` of all the tasks compared).
   */
  nearest(features: tf.Tensor2D, calibrated = false): { distance: Float32Array; cls: Int32Array } {
    const n = features.shape[0];
    assert(
      features.shape[1] === this.stats.featureSize,
      `FeCAM: features of width ${features.shape[1]}, statistics of width ${this.stats.featureSize}`,
    );
    const distance = new Float32Array(n).fill(Infinity);
    const cls = new Int32Array(n).fill(-1);
    const per = tf.tidy(() => {
      const f = l2Normalize(features);
      return this.classes.map((c) => {
        const diff = tf.sub(f, c.mean);
        return tf.sum(tf.mul(tf.matMul(diff, c.precision), diff), 1);
      });
    });
    const scale = calibrated && this.stats.distanceScale !== null ? this.stats.distanceScale : 1;
    per.forEach((t, k) => {
      const dist = t.dataSync().map((v) => v / scale);
      for (let i = 0; i < n; i++) {
        if (dist[i] < distance[i]) {
          distance[i] = dist[i];
          cls[i] = this.classes[k].index;
        }
      }
    });
    tf.dispose(per);
    return { distance, cls };
  }

  dispose(): void {
    for (const c of this.classes) tf.dispose([c.mean, c.precision]);
  }
}

/**
 * Whether task inference divides each task's distances by its distance scale: when every task
 * compared has one (statistics written before it existed have none; then none is divided, so
 * that all distances stay comparable).
 */
export function fecamCalibrated(stats: readonly { distanceScale: number | null }[]): boolean {
  return stats.every((s) => s.distanceScale !== null);
}

/** The statistics as named tensors `<prefix>class_<c>/mean` and `<prefix>class_<c>/precision`. */
export function fecamTensors(stats: FecamTaskStatistics, prefix = ''): NamedArray[] {
  const d = stats.featureSize;
  return stats.classes
    .flatMap((c, i) =>
      c
        ? [
            { name: `${prefix}class_${i}/mean`, shape: [d], data: c.mean },
            {
              name: `${prefix}class_${i}/precision`,
              shape: [(d * (d + 1)) / 2],
              data: c.precision,
            },
            { name: `${prefix}class_${i}/count`, shape: [1], data: Float32Array.of(c.count) },
          ]
        : [],
    )
    .concat(
      stats.distanceScale === null
        ? []
        : [
            {
              name: `${prefix}distance_scale`,
              shape: [1],
              data: Float32Array.of(stats.distanceScale),
            },
          ],
    );
}

/** Statistics from tensors named as `fecamTensors` writes them (those under `prefix`); null when there are none. */
export function fecamFromTensors(tensors: NamedArray[], prefix = ''): FecamTaskStatistics | null {
  const classes: (FecamClass | null)[] = [];
  let featureSize = 0;
  const byName = new Map(tensors.map((t) => [t.name, t]));
  for (const t of tensors) {
    const m = /^class_(\d+)\/mean$/.exec(t.name.slice(prefix.length));
    if (!t.name.startsWith(prefix) || !m) continue;
    const c = Number(m[1]);
    const precision = byName.get(`${prefix}class_${c}/precision`);
    const count = byName.get(`${prefix}class_${c}/count`);
    assert(precision !== undefined, `FeCAM statistics: class ${c} has no precision matrix`);
    featureSize = t.data.length;
    while (classes.length <= c) classes.push(null);
    classes[c] = {
      count: count ? count.data[0] : 0,
      mean: t.data,
      precision: precision.data,
    };
  }
  const scale = byName.get(`${prefix}distance_scale`);
  return classes.length > 0
    ? { featureSize, classes, distanceScale: scale ? scale.data[0] : null }
    : null;
}

/** Format name of a task's FeCAM statistics file (safetensors, exported with the task). */
export const FECAM_FORMAT = 'retain-fecam';

/** A task's statistics as a safetensors file (what a task export carries as fecam.safetensors). */
export function encodeFecam(stats: FecamTaskStatistics): Uint8Array {
  return encodeSafetensors(fecamTensors(stats), {
    format: FECAM_FORMAT,
    version: '1',
    featureSize: String(stats.featureSize),
  });
}

/** Reads `encodeFecam`'s file. */
export function decodeFecam(bytes: Uint8Array): FecamTaskStatistics {
  const { tensors, metadata } = decodeSafetensors(bytes);
  assert(metadata.format === FECAM_FORMAT, `not a ${FECAM_FORMAT} file`);
  const stats = fecamFromTensors(tensors);
  assert(stats !== null, 'the FeCAM file holds no class');
  return stats;
}
