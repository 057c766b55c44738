/**
 * Reads a zip archive entry by entry with yauzl (central directory first, then each entry's
 * data). yauzl checks sizes but not checksums, so the CRC-32 of every entry is checked here: a
 * flipped bit in a stored .npy would otherwise become a wrong value silently.
 */
import type { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { asDatasetError, invalidDataset, quote } from '../errors.js';
import { MAX_ARCHIVE_ENTRIES, tooManyEntries, type EntryVisitor } from './archive-entry.js';
import type { ExpansionBudget } from './budget.js';
import { entrySegments, isIgnoredEntry } from './entry-path.js';
import type { ReadPosition } from './read-position.js';

const STORED = 0;
const DEFLATED = 8;
const UNIX_HOST = 3;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

export interface ZipReadOptions {
  budget: ExpansionBudget;
  position: ReadPosition;
}

/**
 * Calls `visit` for every regular file that is not hidden or `__MACOSX/`, in central-directory
 * order.
 *
 * @returns the number of files visited.
 * @throws ServiceError INVALID_DATASET for a truncated or corrupt zip, an unsafe path, a
 *   symlink, an encrypted entry or a compression method other than stored and deflate (each
 *   naming the entry); DATASET_TOO_LARGE once the budget is passed; whatever `visit` throws.
 */
export async function readZip(
  path: string,
  visit: EntryVisitor,
  opts: ZipReadOptions,
): Promise<number> {
  const { budget, position } = opts;
  let zip: ZipFile;
  try {
    zip = await yauzl.openPromise(path, {
      lazyEntries: true,
      autoClose: false,
      decodeStrings: false,
      validateEntrySizes: true,
    });
  } catch (e) {
    throw invalidDataset(
      'the zip archive is truncated or corrupt: its central directory (the index at its end) cannot be read',
      e,
    );
  }
  // yauzl reports some failures as events; with no listener left they would crash the process.
  zip.on('error', () => undefined);
  try {
    if (zip.entryCount > MAX_ARCHIVE_ENTRIES) throw tooManyEntries();
    let visited = 0;
    for (let entry = await nextEntry(zip); entry !== null; entry = await nextEntry(zip)) {
      const name = entryName(entry);
      position.entry = name;
      const segments = entrySegments(name);
      if (name.endsWith('/') || isIgnoredEntry(segments) || isDirectory(entry)) continue;
      checkEntry(entry, name);
      const current = entry;
      const entryPath = segments.join('/');
      await visit({
        path: entryPath,
        segments,
        size: entry.uncompressedSize,
        chunks: () => entryChunks(zip, current, entryPath, budget),
      });
      visited++;
    }
    return visited;
  } catch (e) {
    throw asDatasetError(
      e,
      `the zip archive is truncated or corrupt (while reading ${position.describe()})`,
    );
  } finally {
    zip.close();
  }
}

function nextEntry(zip: ZipFile): Promise<Entry | null> {
  return new Promise((resolve, reject) => {
    const settle = (fn: () => void) => {
      zip.off('entry', onEntry);
      zip.off('end', onEnd);
      zip.off('error', onError);
      fn();
    };
    const onEntry = (entry: Entry) => settle(() => resolve(entry));
    const onEnd = () => settle(() => resolve(null));
    const onError = (e: Error) => settle(() => reject(e));
    zip.on('entry', onEntry);
    zip.on('end', onEnd);
    zip.on('error', onError);
    zip.readEntry();
  });
}

/** The name as the zip spells it: UTF-8 when flagged, else CP437 (decoded by yauzl's own rules). */
function entryName(entry: Entry): string {
  const raw = entry.fileName as unknown as Buffer;
  return yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, raw, entry.extraFields, true);
}

function unixMode(entry: Entry): number | null {
  return entry.versionMadeBy >> 8 === UNIX_HOST ? entry.externalFileAttributes >>> 16 : null;
}

function isDirectory(entry: Entry): boolean {
  const mode = unixMode(entry);
  return mode !== null && (mode & S_IFMT) === S_IFDIR;
}

function checkEntry(entry: Entry, name: string): void {
  const mode = unixMode(entry);
  const type = mode === null ? S_IFREG : mode & S_IFMT;
  // Zip tools that record no type leave the bits 0: that is a regular file too.
  if (type !== S_IFREG && type !== 0) {
    throw invalidDataset(
      `the zip entry ${quote(name)} is a symlink or special file; only regular files and directories are accepted`,
    );
  }
  if (entry.isEncrypted())
    throw invalidDataset(
      `the zip entry ${quote(name)} is encrypted; upload an archive without a password`,
    );
  if (entry.compressionMethod !== STORED && entry.compressionMethod !== DEFLATED) {
    throw invalidDataset(
      `the zip entry ${quote(name)} uses compression method ${entry.compressionMethod}; only stored (0) and deflate (8) are supported`,
    );
  }
}

async function* entryChunks(
  zip: ZipFile,
  entry: Entry,
  path: string,
  budget: ExpansionBudget,
): AsyncGenerator<Uint8Array> {
  let stream: Readable;
  try {
    stream = await zip.openReadStreamPromise(entry);
  } catch (e) {
    throw invalidDataset(
      `the zip entry ${quote(path)} cannot be read: the archive is truncated or corrupt`,
      e,
    );
  }
  let crc = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      budget.charge(chunk.length, quote(path));
      crc = crc32(chunk, crc);
      yield chunk;
    }
  } catch (e) {
    throw asDatasetError(e, `the zip entry ${quote(path)} is truncated or corrupt`);
  } finally {
    stream.destroy();
  }
  if (crc >>> 0 !== entry.crc32 >>> 0)
    throw invalidDataset(
      `the zip entry ${quote(path)} is corrupt: its CRC-32 does not match its data`,
    );
}
