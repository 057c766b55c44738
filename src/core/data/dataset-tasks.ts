/**
 * Turns uploaded data sets into the task sequence of a benchmark of kind "datasets": each task is
 * a data set or some of its classes, its labels re-indexed in the order of the task's `classes`.
 *
 * Inputs are flat for the MLP (a sample's values row-major, images HWC). uint8 values are scaled
 * x / 255, float32 values are taken as uploaded; with `normalize` both are then standardised with
 * one mean and standard deviation per data set, over all values of its training split (a scalar
 * pair, so exports fold it exactly, see `foldInputPreprocessing`); with `normalize: "per-channel"`
 * (images) one pair per channel, over the same values.
 *
 * With `augment` (images only) the training split's `gather` flips each sample horizontally with
 * probability 1/2 and then takes a random crop of the image's size from it zero-padded by 4 pixels
 * (torchvision's RandomHorizontalFlip then RandomCrop(size, padding=4), the CIFAR augmentation of
 * hypnettorch and HyperMask), before scaling and standardisation, so padding is a raw 0. The draws
 * come from the rng `gather` is given (the job's model stream), per sample in batch order: flip,
 * then the top offset, then the left offset (0..8 each).
 *
 * Tasks may have different numbers of classes; they share one output layer as wide as the task
 * with the most classes. A task with K classes uses outputs 0..K-1 (`activeOutputs`): the others
 * are never targets, and evaluation and exports ignore them.
 *
 * Memory: like `buildTasks`, sources keep index arrays into the decoded arrays and build float
 * batches only in `gather`.
 */
import { EngineError } from '../errors.js';
import { Random } from '../random.js';
import { datasetTasks, imageShapeOf, type JobSpec } from '../spec.js';
import type {
  Batch,
  ContinualTask,
  LabelledDataset,
  LabelledSamples,
  SampleSource,
  Standardization,
} from './types.js';

/** Zero padding per side before the random crop of uploaded images (as for the built-in benchmarks). */
export const IMAGE_CROP_PADDING = 4;

type Benchmark = JobSpec['benchmark'];

/** Turns one raw value into its training input (scaling and standardisation). */
interface ValueMap {
  /** Factor from the raw value to v: 1/255 for uint8, 1 for float32. */
  scale: number;
  normalize: Standardization | null;
}

/** Mean and standard deviation (population) of all values of a split after scaling; std 1 when constant. */
export function valueStatistics(
  samples: LabelledSamples,
  scale: number,
): { mean: number; std: number } {
  let sum = 0;
  let sumSq = 0;
  const { x } = samples;
  for (let i = 0; i < x.length; i++) {
    const v = x[i] * scale;
    sum += v;
    sumSq += v * v;
  }
  const n = Math.max(1, x.length);
  const mean = sum / n;
  const std = Math.sqrt(Math.max(0, sumSq / n - mean * mean));
  return { mean, std: std > 1e-12 ? std : 1 };
}

/**
 * Mean and standard deviation (population) of each channel of a split after scaling: value j of a
 * sample (HWC row-major) is of channel j % channels. A constant channel gets std 1.
 */
export function channelStatistics(
  samples: LabelledSamples,
  scale: number,
  channels: number,
): { mean: number[]; std: number[] } {
  const sum = new Float64Array(channels);
  const sumSq = new Float64Array(channels);
  const { x } = samples;
  for (let i = 0; i < x.length; i++) {
    const v = x[i] * scale;
    sum[i % channels] += v;
    sumSq[i % channels] += v * v;
  }
  const n = Math.max(1, x.length / channels);
  const mean = Array.from(sum, (s) => s / n);
  const std = mean.map((m, c) => {
    const sd = Math.sqrt(Math.max(0, sumSq[c] / n - m * m));
    return sd > 1e-12 ? sd : 1;
  });
  return { mean, std };
}

/**
 * Per value j of a sample, the factor and offset that turn a raw value into its input:
 * x * factor[j % channels] - offset[j % channels].
 */
function affinePerChannel(map: ValueMap): { factor: Float64Array; offset: Float64Array } {
  const n = map.normalize;
  const means = n ? (Array.isArray(n.mean) ? n.mean : [n.mean]) : [0];
  const stds = n ? (Array.isArray(n.std) ? n.std : [n.std]) : [1];
  return {
    factor: Float64Array.from(stds, (sd) => map.scale / sd),
    offset: Float64Array.from(means, (m, c) => m / stds[c]),
  };
}

/**
 * Where each input of an augmented sample comes from: `flip` mirrors the columns, then the image
 * padded by `IMAGE_CROP_PADDING` zeros is cropped at (top, left) in 0..2 * padding. Entry j is the
 * raw value index of input j, or -1 for padding. Exported for tests.
 */
export function augmentedIndices(
  shape: readonly number[],
  flip: boolean,
  top: number,
  left: number,
): Int32Array {
  const [h, w, c] = shape;
  const out = new Int32Array(h * w * c);
  for (let r = 0; r < h; r++) {
    const sr = r + top - IMAGE_CROP_PADDING;
    for (let col = 0; col < w; col++) {
      const sc = col + left - IMAGE_CROP_PADDING;
      const inside = sr >= 0 && sr < h && sc >= 0 && sc < w;
      const from = inside ? (sr * w + (flip ? w - 1 - sc : sc)) * c : -1;
      for (let k = 0; k < c; k++) out[(r * w + col) * c + k] = inside ? from + k : -1;
    }
  }
  return out;
}

function sampleSource(
  samples: LabelledSamples,
  indices: Int32Array,
  localLabel: Int32Array,
  inputSize: number,
  map: ValueMap,
  /** The image shape [h, w, c] when the split is augmented in training, else null. */
  augment: number[] | null,
): SampleSource {
  const { x: values, y: labels } = samples;
  const { factor, offset } = affinePerChannel(map);
  const channels = factor.length;
  const offsets = 2 * IMAGE_CROP_PADDING + 1;
  // One index map per (flip, top, left), built on first use.
  const crops = new Map<number, Int32Array>();
  const cropped = (flip: boolean, top: number, left: number) => {
    const key = ((flip ? 1 : 0) * offsets + top) * offsets + left;
    let m = crops.get(key);
    if (!m) crops.set(key, (m = augmentedIndices(augment!, flip, top, left)));
    return m;
  };
  return {
    size: indices.length,
    gather(batchIndices: ArrayLike<number>, rng?: Random): Batch {
      const n = batchIndices.length;
      const x = new Float32Array(n * inputSize);
      const y = new Int32Array(n);
      for (let k = 0; k < n; k++) {
        const i = batchIndices[k];
        if (!Number.isInteger(i) || i < 0 || i >= indices.length) {
          throw new EngineError(
            'INVALID_ARGUMENT',
            `sample index ${i} out of range 0..${indices.length - 1}`,
          );
        }
        const sample = indices[i];
        const from = sample * inputSize;
        if (augment && rng) {
          const flip = rng.next() < 0.5;
          const top = rng.int(offsets);
          const m = cropped(flip, top, rng.int(offsets));
          for (let j = 0; j < inputSize; j++) {
            const c = j % channels;
            const v = m[j] < 0 ? 0 : values[from + m[j]];
            x[k * inputSize + j] = v * factor[c] - offset[c];
          }
        } else {
          for (let j = 0; j < inputSize; j++) {
            const c = j % channels;
            x[k * inputSize + j] = values[from + j] * factor[c] - offset[c];
          }
        }
        y[k] = localLabel[labels[sample]];
      }
      return { x, y, size: n };
    },
  };
}

/** Indices (in data-set order) of the samples whose class is in the task, at most `limit` of them. */
/** Seed of the order "shuffled" takes a data set's samples in (one for every job and task). */
const SAMPLE_ORDER_SEED = 0x0d3e_5a11;

/**
 * A split's sample indices in the order tasks take them: `benchmark.sampleOrder` "stored" keeps
 * the upload's, "shuffled" a fixed pseudo-random permutation of it.
 */
function sampleOrder(count: number, order: Benchmark['sampleOrder']): Int32Array {
  if (order === 'shuffled') return new Random(SAMPLE_ORDER_SEED).permutation(count);
  return Int32Array.from({ length: count }, (_, i) => i);
}

/** The first `limit` (all when null) indices of `order` whose label belongs to the task. */
function taskSamples(
  labels: Int32Array,
  order: Int32Array,
  localLabel: Int32Array,
  limit: number | null,
): Int32Array {
  const cap = limit ?? labels.length;
  const out: number[] = [];
  for (let k = 0; k < order.length && out.length < cap; k++) {
    const l = labels[order[k]];
    if (l >= 0 && l < localLabel.length && localLabel[l] >= 0) out.push(order[k]);
  }
  return Int32Array.from(out);
}

function checkDataset(
  id: string,
  data: LabelledDataset,
  recorded: NonNullable<Benchmark['datasets']>[string],
): number {
  const inputSize = data.inputShape.reduce((a, d) => a * d, 1);
  if (
    data.inputShape.join('x') !== recorded.inputShape.join('x') ||
    data.dtype !== recorded.dtype
  ) {
    throw new EngineError(
      'INVALID_DATA',
      `data set ${id} decodes to ${data.dtype} samples of shape [${data.inputShape}] but the job was submitted for ${recorded.dtype} [${recorded.inputShape}]`,
    );
  }
  for (const [split, s] of [
    ['train', data.train],
    ['test', data.test],
  ] as const) {
    if (s.x.length !== s.count * inputSize || s.y.length !== s.count) {
      throw new EngineError(
        'INVALID_DATA',
        `data set ${id} ${split}: ${s.count} samples need ${s.count * inputSize} values and ${s.count} labels, got ${s.x.length} and ${s.y.length}`,
      );
    }
  }
  return inputSize;
}

/**
 * Builds the tasks of a resolved "datasets" benchmark.
 *
 * Per task, the first `trainLimit` training samples of its classes (all when null) form the pool;
 * its first `validationSize` are the validation split and the rest the training split. The test
 * split is the first `testLimit` test samples of its classes. "First" in the order
 * `benchmark.sampleOrder` names: a fixed pseudo-random one ("shuffled"), so that every part is a
 * fair draw of the task's classes, or the upload's ("stored"). Global labels are task-major: task
 * t's class k is `k + (classes of tasks 0..t-1)`.
 *
 * @param data the decoded data set of every id in `benchmark.datasets`.
 * @returns tasks whose sources share `data`'s arrays: keep them unmodified while the tasks live.
 * @throws EngineError INVALID_DATA when a data set is missing, differs from what the spec
 *   recorded (shape, dtype), lacks a class of a task, or a task has no training samples left.
 */
export function buildDatasetTasks(
  benchmark: Benchmark,
  data: ReadonlyMap<string, LabelledDataset>,
): ContinualTask[] {
  const tasks = datasetTasks(benchmark);
  if (benchmark.kind !== 'datasets' || tasks.length === 0 || !benchmark.datasets) {
    throw new EngineError(
      'INVALID_ARGUMENT',
      'buildDatasetTasks needs a resolved benchmark of kind "datasets"',
    );
  }
  const outputSize = Math.max(...tasks.map((t) => t.classes.length));
  const maps = new Map<string, ValueMap>();
  const orders = new Map<string, { train: Int32Array; test: Int32Array }>();
  let offset = 0;
  return tasks.map((plan, index): ContinualTask => {
    const dataset = data.get(plan.dataset);
    const recorded = benchmark.datasets![plan.dataset];
    if (!dataset || !recorded)
      throw new EngineError(
        'INVALID_DATA',
        `task ${index}: data set ${plan.dataset} was not loaded`,
      );
    const inputSize = checkDataset(plan.dataset, dataset, recorded);
    let map = maps.get(plan.dataset);
    if (!map) {
      const scale = dataset.dtype === 'uint8' ? 1 / 255 : 1;
      const shape = imageShapeOf(dataset.inputShape);
      map = {
        scale,
        normalize:
          benchmark.normalize === 'per-channel'
            ? channelStatistics(dataset.train, scale, shape?.[2] ?? 1)
            : benchmark.normalize
              ? valueStatistics(dataset.train, scale)
              : null,
      };
      maps.set(plan.dataset, map);
    }
    const localLabel = new Int32Array(dataset.classNames.length).fill(-1);
    plan.classes.forEach((name, k) => {
      const id = dataset.classNames.indexOf(name);
      if (id < 0)
        throw new EngineError(
          'INVALID_DATA',
          `task ${index}: data set ${plan.dataset} has no class ${JSON.stringify(name)}`,
        );
      localLabel[id] = k;
    });
    let order = orders.get(plan.dataset);
    if (!order) {
      order = {
        train: sampleOrder(dataset.train.y.length, benchmark.sampleOrder),
        test: sampleOrder(dataset.test.y.length, benchmark.sampleOrder),
      };
      orders.set(plan.dataset, order);
    }
    const pool = taskSamples(dataset.train.y, order.train, localLabel, benchmark.trainLimit);
    const test = taskSamples(dataset.test.y, order.test, localLabel, benchmark.testLimit);
    const validationCount = Math.min(benchmark.validationSize, pool.length);
    if (pool.length - validationCount <= 0) {
      throw new EngineError(
        'INVALID_DATA',
        `task ${index} has ${pool.length} training samples, none left after holding out ${benchmark.validationSize} for validation`,
      );
    }
    const imageShape = imageShapeOf(dataset.inputShape);
    if (benchmark.augment && !imageShape)
      throw new EngineError('INVALID_DATA', `task ${index}: augmentation needs images`);
    const source = (samples: LabelledSamples, indices: Int32Array, augment = false) =>
      sampleSource(samples, indices, localLabel, inputSize, map, augment ? imageShape : null);
    const globalLabels = plan.classes.map((_, k) => offset + k);
    offset += plan.classes.length;
    return {
      index,
      name: plan.classes.join(', '),
      kind: 'classification',
      inputSize,
      outputSize,
      activeOutputs: plan.classes.length,
      globalLabels,
      classNames: [...plan.classes],
      inputShape: [...dataset.inputShape],
      ...(imageShape ? { imageShape } : {}),
      preprocessing: {
        rows: dataset.inputShape[0],
        cols: inputSize / dataset.inputShape[0],
        inputMap: Int32Array.from({ length: inputSize }, (_, i) => i),
        normalize: map.normalize,
        scale: map.scale,
      },
      train: source(dataset.train, pool.subarray(validationCount), benchmark.augment),
      validation: source(dataset.train, pool.subarray(0, validationCount)),
      test: source(dataset.test, test),
    };
  });
}
