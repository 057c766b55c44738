/**
 * The header of a .npy file (NumPy's format spec, versions 1.0, 2.0 and 3.0): the magic string
 * \x93NUMPY, a version, a little-endian header length (u16 in 1.0, u32 later), then a Python
 * dict literal with 'descr' (the dtype), 'fortran_order' and 'shape'.
 */
import { invalidDataset, quote } from '../../errors.js';
import { parsePythonLiteral } from './python-literal.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export interface NpyDtype {
  /** As the header spells it: '<f4', '|u1'... */
  descr: string;
  /** NumPy's name: 'float32', 'uint8', 'int64'... */
  name: string;
  /** 'u' unsigned, 'i' signed, 'f' float, or another NumPy kind letter. */
  kind: string;
  bytes: number;
}

export interface NpyHeader {
  dtype: NpyDtype;
  shape: number[];
}

/** Total header length once the fixed prefix (10 or 12 bytes) is there; null before. */
export function npyHeaderLength(prefix: Uint8Array, file: string): number | null {
  if (prefix.length < MAGIC.length + 2) return null;
  if (!MAGIC.every((b, i) => prefix[i] === b))
    throw invalidDataset(`${quote(file)} is not a .npy file (it does not start with \\x93NUMPY)`);
  const major = prefix[6];
  if (major !== 1 && major !== 2 && major !== 3)
    throw invalidDataset(
      `${quote(file)} is .npy format version ${major}.${prefix[7]}; versions 1 to 3 are supported`,
    );
  const lengthBytes = major === 1 ? 2 : 4;
  if (prefix.length < 8 + lengthBytes) return null;
  const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  return 8 + lengthBytes + (major === 1 ? view.getUint16(8, true) : view.getUint32(8, true));
}

/**
 * @param bytes the whole header, magic string included.
 * @throws ServiceError INVALID_DATASET naming the file for a malformed header, Fortran order, a
 *   big-endian, structured or object dtype, or a bad shape. Which dtypes an array may have is
 *   the caller's rule.
 */
export function parseNpyHeader(bytes: Uint8Array, file: string): NpyHeader {
  const major = bytes[6];
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(
    bytes.subarray(major === 1 ? 10 : 12),
  );
  let dict: unknown;
  try {
    dict = parsePythonLiteral(text.trim());
  } catch (e) {
    throw invalidDataset(
      `${quote(file)} has a malformed header (${(e as Error).message}): ${quote(text.trim().slice(0, 120))}`,
    );
  }
  if (typeof dict !== 'object' || dict === null || Array.isArray(dict))
    throw invalidDataset(`${quote(file)} has a header that is not a dict`);
  const { descr, fortran_order: fortranOrder, shape } = dict as Record<string, unknown>;
  if (typeof descr !== 'string') {
    throw invalidDataset(
      `${quote(file)} has a structured dtype (${quote(JSON.stringify(descr ?? null))}); only plain numeric arrays are supported`,
    );
  }
  if (typeof fortranOrder !== 'boolean')
    throw invalidDataset(`${quote(file)} has no valid 'fortran_order' in its header`);
  if (fortranOrder)
    throw invalidDataset(
      `${quote(file)} is stored in Fortran order; save it in C order (np.ascontiguousarray)`,
    );
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw invalidDataset(`${quote(file)} has no valid 'shape' in its header`);
  }
  return { dtype: parseDescr(descr, file), shape: shape as number[] };
}

const KIND_NAMES: Record<string, string> = {
  u: 'uint',
  i: 'int',
  f: 'float',
  c: 'complex',
  b: 'bool',
};

function parseDescr(descr: string, file: string): NpyDtype {
  const m = /^([<>|=])([a-zA-Z])(\d*)$/.exec(descr);
  if (m === null)
    throw invalidDataset(
      `${quote(file)} has dtype ${quote(descr)}; only plain numeric arrays are supported`,
    );
  const [, order, kind, size] = m;
  const bytes = Number(size || 0);
  const base = KIND_NAMES[kind];
  const name =
    base === undefined
      ? `${kind === 'O' ? 'object' : descr}`
      : base === 'bool'
        ? 'bool'
        : `${base}${bytes * 8}`;
  if (order === '>' && bytes > 1) {
    throw invalidDataset(
      `${quote(file)} is big-endian (dtype ${quote(descr)}, ${name}); save it little-endian (.astype('<${kind}${bytes}'))`,
    );
  }
  return { descr, name, kind, bytes };
}
