/**
 * Uploaded data sets: four formats (ImageFolder archives, NumPy .npz / .npy pairs, CSV, IDX),
 * told apart by content, decoded into validated arrays. Errors are ServiceErrors with the codes
 * INVALID_DATASET, UNSUPPORTED_DATASET_FORMAT and DATASET_TOO_LARGE; messages name the file,
 * row, column, array or index at fault.
 */
import { readDataset } from './read-dataset.js';
import type { DatasetSummary, DecodedDataset, DecodeOptions } from './types.js';

export * from './types.js';

/**
 * Detects the format of the upload at `path`, checks it against `opts.format`, decodes and
 * validates every sample, and describes the result, without keeping sample values: memory stays
 * bounded by per-sample bookkeeping (a few bytes a sample) plus one file or row at a time, so
 * the API can run it on large uploads.
 *
 * @returns the same summary `decodeDataset` gives for the same file and options.
 * @throws ServiceError INVALID_DATASET, UNSUPPORTED_DATASET_FORMAT or DATASET_TOO_LARGE.
 * @throws RangeError for options out of range (testFraction outside (0, 1), a non-integer
 *   seed, maxExpandedBytes <= 0): the caller validates those.
 */
export async function inspectDataset(path: string, opts: DecodeOptions): Promise<DatasetSummary> {
  return (await readDataset(path, opts, false)).summary;
}

/**
 * Decodes the upload at `path` the way `inspectDataset` validates it and returns the arrays:
 * x row-major [count, ...inputShape] (uint8 pixels 0-255, or float32), y class ids, samples in
 * upload order within each split. Deterministic for the same file and options (the held-out
 * draw is seeded by `opts.seed`). The arrays are fresh and owned by the caller.
 *
 * @throws ServiceError INVALID_DATASET, UNSUPPORTED_DATASET_FORMAT or DATASET_TOO_LARGE.
 * @throws RangeError for options out of range, as `inspectDataset`.
 */
export async function decodeDataset(path: string, opts: DecodeOptions): Promise<DecodedDataset> {
  return readDataset(path, opts, true);
}
