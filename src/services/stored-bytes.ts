import type { StoredBytes } from './ports.js';

/** All of `bytes` in one array, allocated once at the stored size (for consumers that need them whole). */
export async function readAll(bytes: StoredBytes): Promise<Uint8Array> {
  const out = new Uint8Array(bytes.size);
  let at = 0;
  for await (const piece of bytes.read()) {
    if (at + piece.length > out.length)
      throw new Error(`read more than the ${bytes.size} bytes stored`);
    out.set(piece, at);
    at += piece.length;
  }
  if (at !== out.length) throw new Error(`read ${at} of the ${bytes.size} bytes stored`);
  return out;
}
