/**
 * Reads a tar archive (ustar, pax or GNU) entry by entry with tar-stream, never holding more
 * than the entry being read. Links and special files are refused rather than skipped: an
 * ImageFolder or .npy pair has no use for them, and a link is the usual trick of a crafted tar.
 */
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { asDatasetError, invalidDataset, quote } from '../errors.js';
import { MAX_ARCHIVE_ENTRIES, tooManyEntries, type EntryVisitor } from './archive-entry.js';
import type { ExpansionBudget } from './budget.js';
import { entrySegments, isIgnoredEntry } from './entry-path.js';
import type { ReadPosition } from './read-position.js';

export interface TarReadOptions {
  budget: ExpansionBudget;
  /** Charge entry bytes to the budget: true for a plain tar (a gzip around it charges its own output). */
  chargeEntries: boolean;
  position: ReadPosition;
}

const DATA_TYPES = new Set(['file', 'contiguous-file']);

/**
 * Calls `visit` for every regular file that is not hidden or `__MACOSX/`, in archive order.
 *
 * @param bytes the tar's bytes (a file stream, or gunzip's output); destroyed when the read
 *   ends or fails.
 * @returns the number of files visited.
 * @throws ServiceError INVALID_DATASET naming the entry for an unsafe path, a link or special
 *   file, or a truncated or corrupt archive; whatever `visit` throws.
 */
export async function readTar(
  bytes: AsyncIterable<Uint8Array>,
  visit: EntryVisitor,
  opts: TarReadOptions,
): Promise<number> {
  const { budget, chargeEntries, position } = opts;
  const extract = tar.extract();
  const input = bytes instanceof Readable ? bytes : Readable.from(bytes, { objectMode: false });
  input.on('error', (e) => extract.destroy(e));
  input.pipe(extract);
  let entries = 0;
  let visited = 0;
  try {
    for await (const entry of extract) {
      if (++entries > MAX_ARCHIVE_ENTRIES) throw tooManyEntries();
      const { name, type } = entry.header;
      position.entry = name;
      const segments = entrySegments(name);
      if (type === 'directory' || isIgnoredEntry(segments)) {
        entry.resume();
        continue;
      }
      if (!type || !DATA_TYPES.has(type)) {
        throw invalidDataset(
          `the tar entry ${quote(name)} is a ${type ?? 'special file'}; only regular files and directories are accepted`,
        );
      }
      const path = segments.join('/');
      const data = entry as AsyncIterable<Uint8Array>;
      await visit({
        path,
        segments,
        size: entry.header.size ?? 0,
        chunks: () => (chargeEntries ? charged(data, budget, path) : data),
      });
      visited++;
      // A visitor may leave the entry unread (a skipped array); the next header comes after it.
      entry.resume();
    }
    return visited;
  } catch (e) {
    throw asDatasetError(
      e,
      `the tar archive is truncated or corrupt (while reading ${position.describe()})`,
    );
  } finally {
    input.unpipe(extract);
    input.destroy();
    extract.destroy();
  }
}

async function* charged(
  chunks: AsyncIterable<Uint8Array>,
  budget: ExpansionBudget,
  path: string,
): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) {
    budget.charge(chunk.length, quote(path));
    yield chunk;
  }
}
