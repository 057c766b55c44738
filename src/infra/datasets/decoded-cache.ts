/**
 * Decoded data sets on local disk, so a worker decodes an upload once (60,000 JPEGs take longer
 * to decode than a short job takes to train), and a bound on the disk the cache uses.
 *
 * One file per entry: a fixed magic line, a little-endian u32 header length, a JSON header
 * (shape, dtype, class names, counts, SHA-256 of the payload), then the four arrays (train x, train
 * y, test x, test y), each starting at a multiple of 8 bytes. Reading checks the payload's SHA-256,
 * so a damaged file is never trained on; the caller decodes again instead.
 */
import { createHash } from 'node:crypto';
import { open, readdir, rm, stat, utimes, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { LabelledDataset, LabelledSamples } from '../../core/index.js';

const MAGIC = Buffer.from('RETAIN-DECODED-1\n');
const ALIGN = 8;

interface Header {
  inputShape: number[];
  dtype: LabelledDataset['dtype'];
  classNames: string[];
  counts: { train: number; test: number };
  sha256: string;
}

const padded = (n: number) => Math.ceil(n / ALIGN) * ALIGN;
const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function sections(d: LabelledDataset): Uint8Array[] {
  return [d.train.x, d.train.y, d.test.x, d.test.y].map(bytesOf);
}

/** Writes `dataset` to `file` (which must not exist: the caller writes a temporary name and renames it). */
export async function writeDecoded(file: string, dataset: LabelledDataset): Promise<void> {
  const parts = sections(dataset);
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p);
  const header: Header = {
    inputShape: dataset.inputShape,
    dtype: dataset.dtype,
    classNames: dataset.classNames,
    counts: { train: dataset.train.count, test: dataset.test.count },
    sha256: hash.digest('hex'),
  };
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length);
  const fh = await open(file, 'wx');
  try {
    let position = 0;
    const write = async (bytes: Uint8Array) => {
      await fh.write(bytes, 0, bytes.length, position);
      position += bytes.length;
    };
    await write(Buffer.concat([MAGIC, length, json]));
    for (const p of parts) {
      position = padded(position);
      await write(p);
    }
  } finally {
    await fh.close();
  }
}

async function readExactly(fh: FileHandle, into: ArrayBufferView, position: number): Promise<void> {
  const bytes = bytesOf(into);
  const { bytesRead } = await fh.read(bytes, 0, bytes.length, position);
  if (bytesRead !== bytes.length) throw new Error('truncated');
}

/**
 * The data set in `file`, or null when it is missing, truncated, of another format version or
 * damaged (its payload's SHA-256 differs from the one written).
 */
export async function readDecoded(file: string): Promise<LabelledDataset | null> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch {
    return null;
  }
  try {
    const lead = Buffer.alloc(MAGIC.length + 4);
    await readExactly(fh, lead, 0);
    if (!lead.subarray(0, MAGIC.length).equals(MAGIC)) return null;
    const json = Buffer.alloc(lead.readUInt32LE(MAGIC.length));
    await readExactly(fh, json, lead.length);
    const header = JSON.parse(json.toString('utf8')) as Header;
    const sampleSize = header.inputShape.reduce((a, b) => a * b, 1);
    const X = header.dtype === 'uint8' ? Uint8Array : Float32Array;
    const samples = (count: number): LabelledSamples => ({
      x: new X(count * sampleSize),
      y: new Int32Array(count),
      count,
    });
    const dataset: LabelledDataset = {
      inputShape: header.inputShape,
      dtype: header.dtype,
      classNames: header.classNames,
      train: samples(header.counts.train),
      test: samples(header.counts.test),
    };
    const hash = createHash('sha256');
    let position = lead.length + json.length;
    for (const part of sections(dataset)) {
      position = padded(position);
      await readExactly(fh, part, position);
      hash.update(part);
      position += part.byteLength;
    }
    if ((await fh.stat()).size !== position || hash.digest('hex') !== header.sha256) return null;
    return dataset;
  } catch {
    return null;
  } finally {
    await fh.close();
  }
}

/** Marks `file` as just used (eviction removes the least recently used entries first). */
export async function touch(file: string): Promise<void> {
  const now = new Date();
  await utimes(file, now, now).catch(() => {});
}

/** Temporary files older than this belong to a process that died while writing them. */
const ABANDONED_MS = 6 * 3600_000;

/**
 * Deletes the least recently used files of `dir` until it holds at most `maxBytes`, never `keep`
 * (the entry just used, even when it alone is larger) nor another process's temporary file still
 * being written (`.part`, younger than six hours). Files another process has open stay readable
 * after their deletion (POSIX), so eviction never breaks a running job.
 */
export async function evict(dir: string, maxBytes: number, keep: string): Promise<string[]> {
  const entries: { file: string; size: number; used: number; part: boolean }[] = [];
  for (const name of await readdir(dir)) {
    const file = path.join(dir, name);
    const s = await stat(file).catch(() => null);
    if (s?.isFile())
      entries.push({ file, size: s.size, used: s.mtimeMs, part: name.endsWith('.part') });
  }
  let total = entries.reduce((sum, e) => sum + e.size, 0);
  const removed: string[] = [];
  const now = Date.now();
  for (const e of entries.sort((a, b) => a.used - b.used)) {
    if (total <= maxBytes) break;
    if (e.file === keep || (e.part && now - e.used < ABANDONED_MS)) continue;
    await rm(e.file, { force: true });
    total -= e.size;
    removed.push(e.file);
  }
  return removed;
}
