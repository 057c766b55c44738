/**
 * The three ways an upload can fail, as `ServiceError`s with stable codes. Messages say what is
 * wrong and where (entry, row, column, array and index), never a library's own wording: that
 * wording changes between versions and means nothing to the person who uploaded the file.
 */
import { ServiceError } from '../../services/errors.js';

/** The content is unusable: undecodable, inconsistent, too few classes... */
export function invalidDataset(message: string, cause?: unknown): ServiceError {
  return new ServiceError('INVALID_DATASET', message, cause === undefined ? undefined : { cause });
}

/** The content is none of the supported formats, or not the declared one. */
export function unsupportedFormat(message: string): ServiceError {
  return new ServiceError('UNSUPPORTED_DATASET_FORMAT', message);
}

/** What the upload expands to is over the limit. */
export function datasetTooLarge(message: string): ServiceError {
  return new ServiceError('DATASET_TOO_LARGE', message);
}

/**
 * `e` itself when it is already one of ours, else an INVALID_DATASET error with `message`
 * (the library's error kept as `cause`, for logs only).
 */
export function asDatasetError(e: unknown, message: string): ServiceError {
  return e instanceof ServiceError ? e : invalidDataset(message, e);
}

/** `name` in double quotes, as every message quotes file and column names. */
export function quote(name: string): string {
  return JSON.stringify(name);
}
