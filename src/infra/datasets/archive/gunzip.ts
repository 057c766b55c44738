/**
 * gunzip as an async iterable of chunks, every chunk charged to the expansion budget before it
 * is handed on, so a bomb stops after about `budget.limit` bytes of output.
 */
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { asDatasetError } from '../errors.js';
import type { ExpansionBudget } from './budget.js';
import type { ReadPosition } from './read-position.js';

/** Output chunk size: big enough that per-chunk overhead stays small. */
const CHUNK_BYTES = 64 * 1024;

/** Magic bytes of a gzip stream (RFC 1952). */
export function isGzip(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/**
 * Decompresses `source` (one or more concatenated gzip members): a file stream, or the chunks
 * of an archive entry.
 *
 * Stopping the iteration early (break, throw) destroys the decompressor and `source`.
 * @throws ServiceError DATASET_TOO_LARGE once the budget is passed; INVALID_DATASET naming
 *   `position` when the stream is truncated or corrupt. Errors of `source` pass through.
 */
export async function* gunzipChunks(
  source: Readable | AsyncIterable<Uint8Array>,
  budget: ExpansionBudget,
  position: ReadPosition,
): AsyncGenerator<Buffer> {
  const input = source instanceof Readable ? source : Readable.from(source, { objectMode: false });
  const gunzip = createGunzip({ chunkSize: CHUNK_BYTES });
  let sourceError: unknown = null;
  input.on('error', (e) => {
    sourceError = e;
    gunzip.destroy(e);
  });
  input.pipe(gunzip);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      budget.charge(chunk.length, position.describe());
      yield chunk;
    }
  } catch (e) {
    if (sourceError !== null && e === sourceError) throw e;
    throw asDatasetError(
      e,
      `the gzip stream is truncated or corrupt (while reading ${position.describe()})`,
    );
  } finally {
    input.unpipe(gunzip);
    input.destroy();
    gunzip.destroy();
  }
}
