import { datasetTooLarge } from '../errors.js';

/**
 * Counts the bytes an upload expands to (everything gunzip and inflate produce, plus the entries
 * of uncompressed archives) and stops the read as soon as the count passes the limit, so a
 * decompression bomb costs at most `limit` bytes of work, not what it would expand to.
 * One per read; not shared between reads.
 */
export class ExpansionBudget {
  private used = 0;

  constructor(readonly limit: number) {}

  /** @throws ServiceError DATASET_TOO_LARGE naming `where` once the total passes the limit. */
  charge(bytes: number, where: string): void {
    this.used += bytes;
    if (this.used > this.limit) {
      throw datasetTooLarge(
        `the upload expands to more than ${this.limit} bytes, the limit (stopped while reading ${where})`,
      );
    }
  }
}
