import type { NpyDtype } from './npy-header.js';

/**
 * Calls `onLabel` with each integer of `bytes` (little-endian, dtype int8..int64 or
 * uint8..uint64) as a decimal string, and its index within `bytes`. Strings, because int64
 * labels need not fit a double.
 */
export function readLabels(
  bytes: Uint8Array,
  dtype: NpyDtype,
  onLabel: (label: string, index: number) => void,
): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const signed = dtype.kind === 'i';
  const count = bytes.length / dtype.bytes;
  for (let k = 0; k < count; k++) {
    const at = k * dtype.bytes;
    let value: number | bigint;
    switch (dtype.bytes) {
      case 1:
        value = signed ? view.getInt8(at) : view.getUint8(at);
        break;
      case 2:
        value = signed ? view.getInt16(at, true) : view.getUint16(at, true);
        break;
      case 4:
        value = signed ? view.getInt32(at, true) : view.getUint32(at, true);
        break;
      default:
        value = signed ? view.getBigInt64(at, true) : view.getBigUint64(at, true);
    }
    onLabel(String(value), k);
  }
}
