/**
 * The IDX file format of MNIST and Fashion-MNIST: a 4-byte magic number (two zero bytes, a
 * type code, the number of dimensions), one big-endian u32 per dimension, then the values in
 * row-major order. Only unsigned bytes (type 0x08) occur in these data sets, so only they are
 * supported. Pure: decompression and file access live in src/infra/data/dataset-files.ts.
 */
import { EngineError } from '../errors.js';
import type { ImageSet } from './types.js';

/** Type code of unsigned-byte IDX data, the only one MNIST-style data sets use. */
export const IDX_UBYTE = 0x08;

const TYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

/** A decoded IDX array: `data` holds prod(dims) values in row-major order. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const MAGIC_BYTES = 4;
const DIM_BYTES = 4;

function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function headerBytes(ndims: number): number {
  return MAGIC_BYTES + DIM_BYTES * ndims;
}

/**
 * Decodes an IDX file held in memory.
 *
 * @param bytes the whole (already decompressed) file.
 * @returns `dims` from the header and `data`, a view into `bytes` (no copy): it shares the
 *   caller's buffer, so mutating one mutates the other.
 * @throws EngineError INVALID_DATA on a bad magic number, a type other than unsigned byte, or a
 *   length that differs from what the header promises (the message gives both byte counts).
 */
export function parseIdx(bytes: Uint8Array): IdxArray {
  if (bytes.length < MAGIC_BYTES) {
    throw new EngineError(
      'INVALID_DATA',
      `IDX file too short: ${bytes.length} bytes, the header alone needs at least ${MAGIC_BYTES}`,
    );
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new EngineError(
      'INVALID_DATA',
      `not an IDX file: magic number starts 0x${hex(bytes[0])} 0x${hex(bytes[1])}, expected 0x00 0x00 (is it still gzip-compressed?)`,
    );
  }
  const type = bytes[2];
  if (type !== IDX_UBYTE) {
    const name = TYPE_NAMES[type] ?? 'unknown';
    throw new EngineError(
      'INVALID_DATA',
      `unsupported IDX data type 0x${hex(type)} (${name}); only 0x08 (unsigned byte) is supported`,
    );
  }
  const ndims = bytes[3];
  if (ndims === 0) throw new EngineError('INVALID_DATA', 'IDX file declares 0 dimensions');
  const header = headerBytes(ndims);
  if (bytes.length < header) {
    throw new EngineError(
      'INVALID_DATA',
      `IDX file truncated in its header: expected at least ${header} bytes for ${ndims} dimensions, got ${bytes.length}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: ndims }, (_, i) =>
    view.getUint32(MAGIC_BYTES + DIM_BYTES * i, false),
  );
  const expected = header + product(dims);
  if (bytes.length !== expected) {
    const what = bytes.length < expected ? 'truncated' : 'has trailing bytes';
    throw new EngineError(
      'INVALID_DATA',
      `IDX file ${what}: dims [${dims.join(', ')}] need ${expected} bytes (header ${header} + data ${expected - header}), got ${bytes.length}`,
    );
  }
  return { dims, data: bytes.subarray(header, expected) };
}

/**
 * Encodes unsigned bytes as an IDX file (type 0x08), the inverse of `parseIdx`.
 *
 * @param dims sizes of each dimension (1 to 255 of them, each a u32).
 * @param data prod(dims) values, row-major; copied into the result.
 * @returns a fresh buffer owned by the caller.
 */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  if (dims.length === 0 || dims.length > 255) {
    throw new EngineError('INVALID_ARGUMENT', `IDX needs 1 to 255 dimensions, got ${dims.length}`);
  }
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `IDX dimension sizes must be u32 integers, got ${d}`,
      );
    }
  }
  const size = product(dims);
  if (data.length !== size) {
    throw new EngineError(
      'INVALID_ARGUMENT',
      `IDX dims [${dims.join(', ')}] hold ${size} values but ${data.length} were given`,
    );
  }
  const header = headerBytes(dims.length);
  const out = new Uint8Array(header + size);
  out[2] = IDX_UBYTE;
  out[3] = dims.length;
  const view = new DataView(out.buffer);
  dims.forEach((d, i) => view.setUint32(MAGIC_BYTES + DIM_BYTES * i, d, false));
  out.set(data, header);
  return out;
}

/**
 * Pairs an IDX image file ([count x rows x cols]) with its IDX label file ([count]).
 *
 * @param imagesIdx, labelsIdx whole decompressed files; the returned arrays are views into them.
 * @throws EngineError INVALID_DATA when either file is malformed, has the wrong number of
 *   dimensions, or the two disagree on the number of samples.
 */
export function imageSetFromIdx(imagesIdx: Uint8Array, labelsIdx: Uint8Array): ImageSet {
  const images = parseIdx(imagesIdx);
  const labels = parseIdx(labelsIdx);
  if (images.dims.length !== 3) {
    throw new EngineError(
      'INVALID_DATA',
      `image IDX file must have 3 dimensions [count, rows, cols], got [${images.dims.join(', ')}]`,
    );
  }
  if (labels.dims.length !== 1) {
    throw new EngineError(
      'INVALID_DATA',
      `label IDX file must have 1 dimension [count], got [${labels.dims.join(', ')}]`,
    );
  }
  const [count, rows, cols] = images.dims;
  if (labels.dims[0] !== count) {
    throw new EngineError(
      'INVALID_DATA',
      `image file holds ${count} images but label file holds ${labels.dims[0]} labels`,
    );
  }
  return { images: images.data, labels: labels.data, count, rows, cols };
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}
