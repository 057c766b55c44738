import { EngineError } from '../errors.js';

/**
 * The safetensors format (Hugging Face), read and written without dependencies:
 *   8 bytes   little-endian u64 N, the header length
 *   N bytes   UTF-8 JSON: { "<name>": { "dtype": "F32", "shape": [...], "data_offsets": [begin, end] },
 *                          "__metadata__": { "<key>": "<string>" } }
 *   rest      the tensor bytes, little-endian, row-major, at the given offsets
 * Python (safetensors.numpy / torch), Rust and JS readers load these files directly. Only F32
 * is written here.
 */
export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

const ALIGN = 8;

export function encodeSafetensors(
  tensors: NamedArray[],
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const expected = t.shape.reduce((a, b) => a * b, 1);
    if (expected !== t.data.length) {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `tensor ${t.name} has ${t.data.length} values for shape [${t.shape}]`,
      );
    }
    header[t.name] = {
      dtype: 'F32',
      shape: t.shape,
      data_offsets: [offset, offset + t.data.byteLength],
    };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned (as the reference writer does).
  const raw = new TextEncoder().encode(json);
  json += ' '.repeat((ALIGN - ((8 + raw.length) % ALIGN)) % ALIGN);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}

/**
 * Reads a safetensors file: its metadata and a copy of each tensor, or only of those `only`
 * accepts (a consumer after one tensor of a large checkpoint then does not copy the rest).
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  only: (name: string) => boolean = () => true,
): { tensors: NamedArray[]; metadata: Record<string, string> } {
  const fail = (why: string) =>
    new EngineError('INVALID_CHECKPOINT', `not a valid safetensors file: ${why}`);
  if (bytes.length < 8) throw fail('shorter than 8 bytes');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (8 + n > bytes.length) throw fail(`header length ${n} exceeds the file`);
  let header: Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>
  >;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as typeof header;
  } catch {
    throw fail('header is not JSON');
  }
  const base = 8 + n;
  const tensors: NamedArray[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    if (!only(name)) continue;
    const e = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (e.dtype !== 'F32') throw fail(`tensor ${name} has dtype ${e.dtype}; only F32 is supported`);
    const [begin, end] = e.data_offsets;
    if (base + end > bytes.length || end - begin !== 4 * e.shape.reduce((a, b) => a * b, 1))
      throw fail(`tensor ${name} has bad offsets`);
    // Copy: the source may not be 4-byte aligned.
    const data = new Float32Array(bytes.slice(base + begin, base + end).buffer);
    tensors.push({ name, shape: e.shape, data });
  }
  return { tensors, metadata };
}
