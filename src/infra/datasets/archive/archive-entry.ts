import { invalidDataset, quote } from '../errors.js';

/** One regular file of an archive, handed to a format decoder. */
export interface ArchiveEntry {
  /** Its path inside the archive, '/'-separated, without `./` or empty segments. */
  readonly path: string;
  /** Its segments (`path` split at '/'). */
  readonly segments: readonly string[];
  /** Its size as the archive declares it; the bytes read are checked against it. */
  readonly size: number;
  /** Its bytes, decompressed and charged to the expansion budget. Iterate at most once. */
  chunks(): AsyncIterable<Uint8Array>;
}

/** Called once per regular file, in archive order; the next entry waits for the promise. */
export type EntryVisitor = (entry: ArchiveEntry) => Promise<void>;

/** Entries, directories included, an archive may hold: bounds the reader's bookkeeping. */
export const MAX_ARCHIVE_ENTRIES = 5_000_000;

/**
 * The whole entry in one buffer, for files that can only be decoded whole (images).
 *
 * @throws ServiceError INVALID_DATASET naming the entry when it is over `maxBytes`.
 */
export async function readEntryBytes(entry: ArchiveEntry, maxBytes: number): Promise<Buffer> {
  const tooBig = () =>
    invalidDataset(
      `${quote(entry.path)} is over ${maxBytes} bytes, the limit for one file of this kind`,
    );
  if (entry.size > maxBytes) throw tooBig();
  const parts: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of entry.chunks()) {
    length += chunk.length;
    if (length > maxBytes) throw tooBig();
    parts.push(chunk);
  }
  return Buffer.concat(parts, length);
}

export function tooManyEntries(): Error {
  return invalidDataset(`the archive holds more than ${MAX_ARCHIVE_ENTRIES} entries, the limit`);
}
