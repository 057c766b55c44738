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
  /** Global label of each local class (split: the original digits; permuted: task*10 + class). */
  globalLabels: number[];
  train: SampleSource;
  validation: SampleSource;
  test: SampleSource;
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
