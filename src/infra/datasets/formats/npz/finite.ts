/**
 * Refuses NaN and Inf in float32 data, naming where the first one is.
 *
 * @param bytes little-endian float32 values, a whole number of them.
 * @param firstIndex flat index of the first value in `bytes`.
 * @param describe the message for the first bad value.
 * @throws ServiceError INVALID_DATASET
 */
import { invalidDataset } from '../../errors.js';

export function checkFinite(
  bytes: Uint8Array,
  firstIndex: number,
  describe: (flatIndex: number, value: string) => string,
): void {
  // Float32Array needs 4-byte alignment; chunks cut by archives need not have it.
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  const values = new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
  for (let k = 0; k < values.length; k++) {
    const v = values[k];
    // v - v is NaN exactly when v is NaN or +-Inf.
    if (v - v !== 0)
      throw invalidDataset(
        describe(firstIndex + k, Number.isNaN(v) ? 'NaN' : v > 0 ? 'Inf' : '-Inf'),
      );
  }
}
