import type { Random } from '../random.js';

/** A batch of samples, row-major: `x` is [size x inputSize], `y` holds one entry per sample. */
export interface Batch {
  x: Float32Array;
  /** Class indices local to the task (classification) or targets [size x outputSize] (regression). */
  y: Int32Array | Float32Array;
  size: number;
}

/** One split (train, validation or test) of one task. Samples are materialised only on demand. */
export interface SampleSource {
  readonly size: number;
  /**
   * Builds the samples at `indices` (0..size-1). With `rng` the split's training augmentation is
   * applied (random crops for split benchmarks); without it the samples are returned unaugmented.
   */
  gather(indices: ArrayLike<number>, rng?: Random): Batch;
}

export interface ContinualTask {
  /** 0-based position of the task in the sequence. */
  index: number;
  name: string;
  kind: 'classification' | 'regression';
  /** Features per sample after all transforms (784 for 28x28, 1024 for 32x32 padding). */
  inputSize: number;
  /** Logits (classification, K classes per task) or regression outputs. */
  outputSize: number;
  /**
   * Global label of each local class (split: the original digits; permuted: task*10 + class;
   * uploaded data sets: task-major offsets, the classes of earlier tasks first).
   */
  globalLabels: number[];
  /**
   * Outputs that are this task's classes: 0..activeOutputs-1 (all `outputSize` when absent). A
   * task with fewer classes than the shared output layer never has the other outputs as targets,
   * and evaluation, task inference and exports ignore them.
   */
  activeOutputs?: number;
  /** Name of each local class (uploaded data sets). */
  classNames?: string[];
  /**
   * Shape of one raw sample ([height, width, channels] for images, [features] for tables) for
   * tasks on uploaded data sets; the MLP sees it flattened row-major (HWC).
   */
  inputShape?: number[];
  /**
   * The input as an image, [height, width, channels] (each input row is HWC, row-major): what a
   * convolutional target reshapes a row to. Set for image tasks (built-in benchmarks, uploaded
   * images), absent for tabular ones.
   */
  imageShape?: number[];
  /**
   * How a raw image becomes this task's (unaugmented) input vector; set by `buildTasks` for image
   * benchmarks, absent for tasks whose inputs are given directly (then exports take them as is).
   */
  preprocessing?: InputPreprocessing;
  train: SampleSource;
  validation: SampleSource;
  test: SampleSource;
}

/**
 * The input transform of an image task, from the raw image to training input. Training input i is
 * `v = x[inputMap[i]] / 255` (v = 0 where `inputMap[i]` is -1, zero padding), then
 * `(v - mean) / std` when `normalize` is set (padding included, so it becomes -mean / std).
 * Training-time augmentation (random crops) is not part of it: evaluation and exports never crop.
 */
export interface InputPreprocessing {
  /** Raw image geometry: `rows` x `cols` pixels, row-major; the raw input has rows * cols values. */
  rows: number;
  cols: number;
  /**
   * One entry per training input (length `inputSize`): the row-major raw pixel index r * cols + c
   * that input i shows, or -1 where it shows zero padding. It composes the padding to 32x32 and
   * the task's pixel permutation (identity for split tasks).
   */
  inputMap: Int32Array;
  /**
   * Standardisation after scaling, or null when inputs stay as scaled: one mean and deviation for
   * every input, or one per channel (uploaded images with `normalize: "per-channel"`: input i, HWC
   * row-major, is of channel i % channels).
   */
  normalize: Standardization | null;
  /**
   * Factor from the exported model's raw input to the value v above (before `normalize`): absent
   * (1) for the built-in benchmarks, whose models take x / 255; 1/255 for uploaded uint8 data,
   * whose models take the pixels 0-255; 1 for uploaded float32 data (values as uploaded).
   */
  scale?: number;
}

/** A standardisation (v - mean) / std: scalars for all inputs, or arrays indexed by channel. */
export type Standardization = { mean: number; std: number } | { mean: number[]; std: number[] };

/** Labelled samples of one split: `x` row-major [count, ...inputShape], `y` class ids. */
export interface LabelledSamples {
  x: Uint8Array | Float32Array;
  y: Int32Array;
  count: number;
}

/** A decoded uploaded data set, as far as the engine needs it (the service's DecodedDataset fits). */
export interface LabelledDataset {
  inputShape: number[];
  /** uint8: values 0-255 (trained on as x / 255); float32: trained on as given. */
  dtype: 'uint8' | 'float32';
  classNames: string[];
  train: LabelledSamples;
  test: LabelledSamples;
}

/** A decoded IDX image or label file set: `images` is [count x rows x cols] bytes. */
export interface ImageSet {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

/** The raw train and test halves of a data set such as MNIST or Fashion-MNIST. */
export interface RawDataset {
  name: string;
  numClasses: number;
  train: ImageSet;
  test: ImageSet;
}
