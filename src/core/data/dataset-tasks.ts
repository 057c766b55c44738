/**
 * Turns uploaded data sets into the task sequence of a benchmark of kind "datasets": each task is
 * a data set or some of its classes, its labels re-indexed in the order of the task's `classes`.
 *
 * Inputs are flat for the MLP (a sample's values row-major, images HWC). uint8 values are scaled
 * x / 255, float32 values are taken as uploaded; with `normalize` both are then standardised with
 * one mean and standard deviation per data set, over all values of its training split (a scalar
 * pair, so exports fold it exactly, see `foldInputPreprocessing`).
 *
 * Tasks may have different numbers of classes; they share one output layer as wide as the task
 * with the most classes. A task with K classes uses outputs 0..K-1 (`activeOutputs`): the others
 * are never targets, and evaluation and exports ignore them.
 *
 * Memory: like `buildTasks`, sources keep index arrays into the decoded arrays and build float
 * batches only in `gather`.
 */
import { EngineError } from '../errors.js';
import { datasetTasks, imageShapeOf, type JobSpec } from '../spec.js';
import type {
  Batch,
  ContinualTask,
  LabelledDataset,
  LabelledSamples,
  SampleSource,
} from './types.js';

type Benchmark = JobSpec['benchmark'];

/** Turns one raw value into its training input (scaling and standardisation). */
interface ValueMap {
  /** Factor from the raw value to v: 1/255 for uint8, 1 for float32. */
  scale: number;
  normalize: { mean: number; std: number } | null;
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

function sampleSource(
  samples: LabelledSamples,
  indices: Int32Array,
  localLabel: Int32Array,
  inputSize: number,
  map: ValueMap,
): SampleSource {
  const { x: values, y: labels } = samples;
  const mean = map.normalize?.mean ?? 0;
  const factor = map.scale / (map.normalize?.std ?? 1);
  const offset = mean / (map.normalize?.std ?? 1);
  return {
    size: indices.length,
    gather(batchIndices: ArrayLike<number>): Batch {
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
        for (let j = 0; j < inputSize; j++)
          x[k * inputSize + j] = values[from + j] * factor - offset;
        y[k] = localLabel[labels[sample]];
      }
      return { x, y, size: n };
    },
  };
}

/** Indices (in data-set order) of the samples whose class is in the task, at most `limit` of them. */
function taskSamples(labels: Int32Array, localLabel: Int32Array, limit: number | null): Int32Array {
  const cap = limit ?? labels.length;
  const out: number[] = [];
  for (let i = 0; i < labels.length && out.length < cap; i++) {
    const l = labels[i];
    if (l >= 0 && l < localLabel.length && localLabel[l] >= 0) out.push(i);
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
 * split is the first `testLimit` test samples of its classes. Global labels are task-major: task
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
      map = {
        scale,
        normalize: benchmark.normalize ? valueStatistics(dataset.train, scale) : null,
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
    const pool = taskSamples(dataset.train.y, localLabel, benchmark.trainLimit);
    const test = taskSamples(dataset.test.y, localLabel, benchmark.testLimit);
    const validationCount = Math.min(benchmark.validationSize, pool.length);
    if (pool.length - validationCount <= 0) {
      throw new EngineError(
        'INVALID_DATA',
        `task ${index} has ${pool.length} training samples, none left after holding out ${benchmark.validationSize} for validation`,
      );
    }
    const source = (samples: LabelledSamples, indices: Int32Array) =>
      sampleSource(samples, indices, localLabel, inputSize, map);
    const globalLabels = plan.classes.map((_, k) => offset + k);
    const imageShape = imageShapeOf(dataset.inputShape);
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
      train: source(dataset.train, pool.subarray(validationCount)),
      validation: source(dataset.train, pool.subarray(0, validationCount)),
      test: source(dataset.test, test),
    };
  });
}
