/**
 * Tells what an upload is from its first bytes, looking through gzip: a tar (ustar magic at
 * offset 257), a zip (local-header or empty-archive signature), or CSV text (no NUL byte, valid
 * UTF-8, first line of two or more comma-separated fields). Anything else is refused here,
 * naming what it looks like when that is cheap to tell.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { ExpansionBudget } from '../archive/budget.js';
import { gunzipChunks, isGzip } from '../archive/gunzip.js';
import { ReadPosition } from '../archive/read-position.js';
import { invalidDataset, unsupportedFormat } from '../errors.js';
import { CsvRecords } from '../formats/csv/csv-records.js';
import { imageKind } from '../formats/imagefolder/image-header.js';
import type { Container } from './container.js';

/** How much of the upload (after gunzip) detection looks at. */
export const SNIFF_BYTES = 64 * 1024;

const TAR_MAGIC = [0x75, 0x73, 0x74, 0x61, 0x72]; // "ustar" at 257, POSIX and GNU alike
const TAR_MAGIC_OFFSET = 257;
const TAR_BLOCK = 512;
const ZIP_SIGNATURES = [
  [0x50, 0x4b, 0x03, 0x04], // a local file header
  [0x50, 0x4b, 0x05, 0x06], // the end record of an empty zip
];

/** Formats we recognise but do not take, with what to do instead. */
const OTHER_FORMATS: { magic: number[]; what: string }[] = [
  {
    magic: [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59],
    what: 'a single .npy file; upload an .npz (np.savez) or a tar holding x.npy and y.npy',
  },
  { magic: [0x00, 0x00, 0x08], what: 'a single IDX file; upload a tar of the four IDX files' },
  { magic: [0x42, 0x5a, 0x68], what: 'bzip2-compressed; use gzip or zip' },
  { magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], what: 'xz-compressed; use gzip or zip' },
  { magic: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], what: 'a 7-Zip archive; use tar, tar.gz or zip' },
  { magic: [0x52, 0x61, 0x72, 0x21], what: 'a RAR archive; use tar, tar.gz or zip' },
];

const SUPPORTED =
  'supported: ImageFolder archives (tar, tar.gz, zip), .npz or a tar of .npy files, CSV, a tar of IDX files';

/**
 * @throws ServiceError UNSUPPORTED_DATASET_FORMAT when the upload is none of the containers;
 *   INVALID_DATASET when it is empty or its gzip stream is corrupt from the start.
 */
export async function sniffUpload(path: string): Promise<Container> {
  const head = await readHead(path);
  if (head.length === 0) throw invalidDataset('the upload is empty (0 bytes)');
  if (!isGzip(head)) return classify(head, false);
  const inner = await gunzippedHead(path);
  if (inner.length === 0) throw invalidDataset('the upload is an empty gzip stream');
  return classify(inner, true);
}

function classify(head: Uint8Array, gzip: boolean): Container {
  const gz = gzip ? 'gzip-compressed ' : '';
  if (ZIP_SIGNATURES.some((sig) => startsWith(head, sig, 0))) {
    if (gzip)
      throw unsupportedFormat(
        `the upload is a gzip-compressed zip archive; upload the zip itself (${SUPPORTED})`,
      );
    return { kind: 'zip' };
  }
  // An empty tar is all zero blocks, with no magic to find.
  if (
    startsWith(head, TAR_MAGIC, TAR_MAGIC_OFFSET) ||
    (head.length >= 2 * TAR_BLOCK && head.every((b) => b === 0))
  ) {
    return { kind: 'tar', gzip };
  }
  const image = imageKind(head);
  if (image !== null)
    throw unsupportedFormat(
      `the upload is a single ${image.toUpperCase()} image; upload an archive of class folders (${SUPPORTED})`,
    );
  const other = OTHER_FORMATS.find((f) => startsWith(head, f.magic, 0));
  if (other !== undefined) throw unsupportedFormat(`the upload is ${gz}${other.what}`);
  const text = asText(head);
  if (text === null) {
    const bytes = Array.from(head.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw unsupportedFormat(
      `the upload is ${gz}binary data of no supported format (it starts with ${bytes}; ${SUPPORTED})`,
    );
  }
  const fields = firstRecordFields(text);
  if (fields < 2) {
    throw unsupportedFormat(
      `the upload is ${gz}text but not CSV: its first line has no comma (a CSV needs a header row with feature columns and a label column, separated by commas)`,
    );
  }
  return { kind: 'csv', gzip };
}

function startsWith(bytes: Uint8Array, magic: readonly number[], offset: number): boolean {
  return bytes.length >= offset + magic.length && magic.every((b, i) => bytes[offset + i] === b);
}

/** The head as text, or null when it has a NUL byte or is not UTF-8 (a character cut at the end is fine). */
function asText(head: Uint8Array): string | null {
  if (head.includes(0)) return null;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(head, {
      stream: head.length >= SNIFF_BYTES,
    });
  } catch {
    return null;
  }
}

/** Fields of the first record, or of as much of it as the head holds. */
function firstRecordFields(text: string): number {
  let count = 0;
  const stop = new Error('first record read');
  const records = new CsvRecords((fields) => {
    count = fields.length;
    throw stop;
  });
  try {
    records.push(text);
    records.end();
  } catch (e) {
    // A parse error after the first field still says it is not a one-column text.
    if (e !== stop && count === 0) return 0;
  }
  return count;
}

async function readHead(path: string): Promise<Uint8Array> {
  const file = await open(path, 'r');
  try {
    const buffer = new Uint8Array(SNIFF_BYTES);
    let length = 0;
    for (;;) {
      const { bytesRead } = await file.read(buffer, length, SNIFF_BYTES - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === SNIFF_BYTES) break;
    }
    return buffer.subarray(0, length);
  } finally {
    await file.close();
  }
}

/**
 * The first SNIFF_BYTES after gunzip. A stream that fails after some bytes still gives those:
 * the full read reports the failure with the entry it happened in.
 */
async function gunzippedHead(path: string): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let length = 0;
  try {
    for await (const chunk of gunzipChunks(
      createReadStream(path),
      new ExpansionBudget(Infinity),
      new ReadPosition(),
    )) {
      parts.push(chunk);
      length += chunk.length;
      if (length >= SNIFF_BYTES) break;
    }
  } catch (e) {
    if (length === 0) throw e;
  }
  return Buffer.concat(parts, length).subarray(0, SNIFF_BYTES);
}
