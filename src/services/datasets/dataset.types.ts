/**
 * What an uploaded data set decodes to. One decoder per format (ImageFolder archives, NumPy
 * .npz / .npy pairs, CSV, IDX; src/infra/datasets) turns an upload on local disk into these
 * shapes; the API uses the summary to validate and describe an upload, workers use the arrays to
 * train. Defined here, beside the use cases, because both the service and its adapters speak it.
 */

export const DATASET_FORMATS = ['imagefolder', 'npz', 'csv', 'idx'] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];

export type SampleDtype = 'uint8' | 'float32';

export interface DecodeOptions {
  /** The format the client declared; checked against the content, never trusted. */
  format?: DatasetFormat;
  /** CSV: the name of the label column. Default `DEFAULT_LABEL_COLUMN`. */
  labelColumn?: string;
  /**
   * Fraction of each class held out as test data when the upload has no test split of its own
   * (`<class>/<image>` archives, CSV, .npz without x_test). Default `DEFAULT_TEST_FRACTION`.
   */
  testFraction?: number;
  /** Seed of that held-out draw. Default 0. */
  seed?: number;
  /** Bound on bytes decompressed from archives and gzip streams (decompression bombs). */
  maxExpandedBytes: number;
}

export const DEFAULT_LABEL_COLUMN = 'label';
export const DEFAULT_TEST_FRACTION = 0.2;
export const MIN_CLASSES = 2;
export const MAX_CLASSES = 1000;

/** What the API stores about a valid data set; no sample values. */
export interface DatasetSummary {
  format: DatasetFormat;
  /**
   * Shape of one sample: [height, width, channels] for images (channels 1 or 3), [features] for
   * CSV, x.shape[1:] for arrays.
   */
  inputShape: number[];
  dtype: SampleDtype;
  /** Class k's name; class ids are 0..K-1. */
  classNames: string[];
  /** Samples per class in each split (index = class id). */
  counts: { train: number[]; test: number[] };
}

export interface SampleSplit {
  /** Row-major [count, ...inputShape]. Pixels stay 0-255 for uint8 data. */
  x: Uint8Array | Float32Array;
  /** Class id of each sample. */
  y: Int32Array;
  count: number;
}

export interface DecodedDataset extends DatasetSummary {
  train: SampleSplit;
  test: SampleSplit;
}
