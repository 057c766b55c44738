import type { DatasetFormat, SampleDtype } from '../types.js';
import type { ClassOrder } from './label-index.js';
import type { SampleValues } from './sample-values.js';

/** Where a sample goes: fixed by the upload, or decided by the seeded held-out draw. */
export const SPLIT_TRAIN = 0;
export const SPLIT_TEST = 1;
export const SPLIT_DRAW = 2;
export type SplitCode = typeof SPLIT_TRAIN | typeof SPLIT_TEST | typeof SPLIT_DRAW;

/** What a format decoder hands over once it has read the whole upload. */
export interface CollectedSamples {
  format: DatasetFormat;
  dtype: SampleDtype;
  inputShape: number[];
  /** Sample values, part after part (x then x_test, say); `labels.length` samples in all. */
  values: SampleValues[];
  /** Per sample, in the order of `values`: an index into `labelNames`. */
  labels: Uint16Array;
  /** Per sample: a SplitCode. */
  splits: Uint8Array;
  /** Distinct labels (class names before sorting). */
  labelNames: string[];
  classOrder: ClassOrder;
}
