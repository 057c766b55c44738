import { invalidDataset } from '../errors.js';

/** Largest sample accepted (64 MiB): far above any trainable input, low enough to allocate. */
export const MAX_SAMPLE_BYTES = 64 * 1024 * 1024;

/**
 * @param what names the array or file, for the message.
 * @throws ServiceError INVALID_DATASET when one sample would be empty or over MAX_SAMPLE_BYTES.
 */
export function checkSampleBytes(sampleBytes: number, what: string): void {
  if (sampleBytes === 0)
    throw invalidDataset(`the samples of ${what} are empty (a dimension of size 0)`);
  if (!(sampleBytes <= MAX_SAMPLE_BYTES)) {
    throw invalidDataset(
      `one sample of ${what} would be ${sampleBytes} bytes; at most ${MAX_SAMPLE_BYTES} are supported`,
    );
  }
}
