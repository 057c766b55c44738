/**
 * Streams a file made of a header followed by a fixed number of fixed-size elements (.npy and
 * IDX files). The header says how long the body is; the body is handed on in whole elements,
 * however the archive happened to cut it into chunks, and must be exactly as long as promised.
 */
import { invalidDataset, quote } from '../errors.js';

export interface HeaderBodyHandler {
  /** Total header length, given its first bytes; null while more bytes are needed. */
  headerLength(prefix: Uint8Array): number | null;
  /** Reads the complete header; returns the body's length in bytes and the size of one element. */
  header(bytes: Uint8Array): { bodyBytes: number; elementBytes: number };
  /** A piece of the body, whole elements only; `firstElement` is the flat index of its first element. */
  body(bytes: Uint8Array, firstElement: number): void;
}

/** Longest header read: .npy headers are a few hundred bytes, IDX ones 4 + 4 x dims. */
const MAX_HEADER_BYTES = 64 * 1024;

/**
 * @param file the file's name, for messages.
 * @throws ServiceError INVALID_DATASET naming `file` when it ends inside its header or body, or
 *   goes on after its body; whatever the handler throws.
 */
export async function readHeaderAndBody(
  chunks: AsyncIterable<Uint8Array>,
  file: string,
  handler: HeaderBodyHandler,
): Promise<void> {
  let head: Uint8Array = new Uint8Array(0);
  let headerLength: number | null = null;
  let bodyBytes = -1;
  let elementBytes = 1;
  let received = 0;
  let carry: Uint8Array = new Uint8Array(0);

  const onBody = (piece: Uint8Array) => {
    if (received + piece.length > bodyBytes) {
      throw invalidDataset(
        `${quote(file)} has more data than its header declares (${bodyBytes} bytes): it is not a valid file`,
      );
    }
    const data = carry.length === 0 ? piece : concat(carry, piece);
    const whole = data.length - (data.length % elementBytes);
    if (whole > 0) handler.body(data.subarray(0, whole), (received - carry.length) / elementBytes);
    received += piece.length;
    carry = data.slice(whole);
  };

  for await (const chunk of chunks) {
    if (bodyBytes >= 0) {
      onBody(chunk);
      continue;
    }
    head = concat(head, chunk);
    headerLength ??= handler.headerLength(head);
    if (headerLength === null) {
      if (head.length > MAX_HEADER_BYTES)
        throw invalidDataset(`${quote(file)} has no valid header`);
      continue;
    }
    if (headerLength > MAX_HEADER_BYTES)
      throw invalidDataset(
        `${quote(file)} declares a ${headerLength}-byte header, more than the ${MAX_HEADER_BYTES} accepted`,
      );
    if (head.length < headerLength) continue;
    ({ bodyBytes, elementBytes } = handler.header(head.subarray(0, headerLength)));
    const rest = head.subarray(headerLength);
    head = new Uint8Array(0);
    onBody(rest);
  }
  if (bodyBytes < 0) throw invalidDataset(`${quote(file)} is truncated: it ends inside its header`);
  if (received < bodyBytes) {
    throw invalidDataset(
      `${quote(file)} is truncated: it holds ${received} of the ${bodyBytes} data bytes its header declares`,
    );
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
