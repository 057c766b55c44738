/**
 * Small builders of upload files for data-set tests: images (sharp), tar / tar.gz (tar-stream),
 * zip (a minimal writer of our own, so tests can also make broken ones), .npy / .npz, CSV text
 * and IDX files. Each returns a Buffer; `writeUpload` puts one on disk for the decoders or an
 * HTTP upload.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import sharp from 'sharp';
import tar from 'tar-stream';
import { encodeIdx } from '../../src/core/data/idx.js';

// ---------------------------------------------------------------------------------------------
// Images

export interface ImageSpec {
  width: number;
  height: number;
  /** 1 greyscale, 3 RGB. */
  channels: 1 | 3;
  /** The class decides where the bright block is, so classes are learnable. */
  classIndex: number;
  /** Varies the background between samples of a class. */
  sampleIndex?: number;
}

/**
 * Raw HWC pixels: a dim background that varies with the sample, and a bright block in a
 * class-dependent cell of a 3x3 grid (smooth enough that JPEG keeps it within a few levels).
 */
export function imagePixels(spec: ImageSpec): Uint8Array {
  const { width, height, channels, classIndex, sampleIndex = 0 } = spec;
  const cell = classIndex % 9;
  const top = Math.floor(cell / 3) * Math.floor(height / 3);
  const left = (cell % 3) * Math.floor(width / 3);
  const out = new Uint8Array(width * height * channels);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const inBlock =
        r >= top &&
        r < top + Math.floor(height / 3) &&
        c >= left &&
        c < left + Math.floor(width / 3);
      for (let ch = 0; ch < channels; ch++) {
        const base = inBlock ? 200 : 20 + ((sampleIndex * 11 + classIndex * 5) % 40);
        out[(r * width + c) * channels + ch] = base + ch * 15;
      }
    }
  }
  return out;
}

/** Encodes raw HWC pixels; greyscale stays a one-channel PNG/JPEG. */
export async function encodeImage(
  pixels: Uint8Array,
  spec: Pick<ImageSpec, 'width' | 'height' | 'channels'>,
  format: 'png' | 'jpeg',
  quality = 95,
): Promise<Buffer> {
  let image = sharp(Buffer.from(pixels), {
    raw: { width: spec.width, height: spec.height, channels: spec.channels },
  });
  if (spec.channels === 1) image = image.toColourspace('b-w');
  return format === 'png' ? image.png().toBuffer() : image.jpeg({ quality }).toBuffer();
}

/** A PNG or JPEG of `imagePixels(spec)`. */
export async function makeImage(spec: ImageSpec, format: 'png' | 'jpeg' = 'png'): Promise<Buffer> {
  return encodeImage(imagePixels(spec), spec, format);
}

export interface ArchiveFile {
  name: string;
  data?: Buffer;
  /** tar: 'file' (default), 'directory', 'symlink', 'link'; zip: 'file', 'directory' or 'symlink'. */
  type?: 'file' | 'directory' | 'symlink' | 'link';
  linkname?: string;
}

export interface ImageFolderSpec {
  classes: string[];
  /** Images per class: one number (`<class>/` only) or per split (`train/` and `test/`). */
  perClass: number | { train: number; test: number };
  width?: number;
  height?: number;
  channels?: 1 | 3;
  format?: 'png' | 'jpeg';
  /** A common top-level folder, e.g. 'cifar10/'. */
  prefix?: string;
}

/** The files of an ImageFolder upload and the pixels each one holds, in archive order. */
export async function imageFolderFiles(
  spec: ImageFolderSpec,
): Promise<{ files: ArchiveFile[]; pixels: Map<string, Uint8Array> }> {
  const {
    classes,
    perClass,
    width = 12,
    height = 9,
    channels = 3,
    format = 'png',
    prefix = '',
  } = spec;
  const files: ArchiveFile[] = [];
  const pixels = new Map<string, Uint8Array>();
  const splits =
    typeof perClass === 'number'
      ? [['', perClass] as const]
      : ([
          ['train/', perClass.train],
          ['test/', perClass.test],
        ] as const);
  for (const [split, count] of splits) {
    for (const [classIndex, name] of classes.entries()) {
      for (let i = 0; i < count; i++) {
        const s: ImageSpec = {
          width,
          height,
          channels,
          classIndex,
          sampleIndex: i + (split === 'test/' ? 100 : 0),
        };
        const raw = imagePixels(s);
        const file = `${prefix}${split}${name}/${String(i).padStart(3, '0')}.${format === 'png' ? 'png' : 'jpg'}`;
        files.push({ name: file, data: await encodeImage(raw, s, format) });
        pixels.set(file, raw);
      }
    }
  }
  return { files, pixels };
}

// ---------------------------------------------------------------------------------------------
// Archives

/** A tar (ustar) of `files`, in order. */
export async function packTar(files: ArchiveFile[]): Promise<Buffer> {
  const pack = tar.pack();
  const done = collect(pack as AsyncIterable<Uint8Array>);
  for (const f of files) {
    const type = f.type ?? 'file';
    const data = type === 'file' ? (f.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
    await new Promise<void>((resolve, reject) => {
      pack.entry(
        {
          name: f.name,
          type,
          linkname: f.linkname,
          size: data.length,
          mode: type === 'directory' ? 0o755 : 0o644,
        },
        data,
        (e) => (e ? reject(e) : resolve()),
      );
    });
  }
  pack.finalize();
  return done;
}

/** gzip of `tar(files)`. */
export async function packTarGz(files: ArchiveFile[]): Promise<Buffer> {
  return gzipSync(await packTar(files));
}

export { gzipSync as gzip };

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of stream) parts.push(chunk);
  return Buffer.concat(parts);
}

export interface ZipFile extends ArchiveFile {
  /** 'store' (np.savez) or 'deflate' (np.savez_compressed). Default 'deflate'. */
  method?: 'store' | 'deflate';
}

const DOS_DATE_1980_01_01 = 0x21;

/**
 * A zip of `files`: local headers, data, central directory, end record (no zip64, no data
 * descriptors). Entries made on "unix", so `type` sets the mode bits (a symlink's data is its
 * target).
 */
export function packZip(files: ZipFile[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const f of files) {
    const type = f.type ?? 'file';
    const name = Buffer.from(
      type === 'directory' && !f.name.endsWith('/') ? `${f.name}/` : f.name,
      'utf8',
    );
    const data = type === 'symlink' ? Buffer.from(f.linkname ?? '') : (f.data ?? Buffer.alloc(0));
    const method = f.method === 'store' || type !== 'file' ? 0 : 8;
    const stored = method === 0 ? data : deflateRawSync(data);
    const crc = crc32(data) >>> 0;
    const mode = type === 'directory' ? 0o040755 : type === 'symlink' ? 0o120777 : 0o100644;

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // names are UTF-8
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(DOS_DATE_1980_01_01, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(stored.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, stored);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by unix
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(DOS_DATE_1980_01_01, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(stored.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE((mode << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + stored.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

// ---------------------------------------------------------------------------------------------
// NumPy

/** A NumPy dtype string: '|u1', '<f4', '<f8', '<i8', '<i4', '<u2', '|i1', '>i4', '|O', ... */
export type NpyDescr = string;

/** The bytes of one element of each dtype the builders write. */
const ITEM_BYTES: Record<string, number> = {
  u1: 1,
  i1: 1,
  u2: 2,
  i2: 2,
  i4: 4,
  u4: 4,
  f4: 4,
  i8: 8,
  u8: 8,
  f8: 8,
};

export interface NpyArray {
  descr: NpyDescr;
  shape: number[];
  /** Element values (written little-endian unless the descr says '>'), or raw bytes. */
  data: ArrayLike<number | bigint> | Buffer;
  fortranOrder?: boolean;
  /** Format version: 1 (u16 header length, what NumPy writes), 2 (u32) or 3 (u32, UTF-8). */
  version?: 1 | 2 | 3;
}

/** A .npy file (header padded to a multiple of 64 bytes as NumPy does). */
export function npy(a: NpyArray): Buffer {
  const { version = 1 } = a;
  const shape = a.shape.length === 1 ? `(${a.shape[0]},)` : `(${a.shape.join(', ')})`;
  let header = `{'descr': '${a.descr}', 'fortran_order': ${a.fortranOrder ? 'True' : 'False'}, 'shape': ${shape}, }`;
  const prefix = Buffer.alloc(version === 1 ? 10 : 12);
  const unpadded = prefix.length + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]).copy(prefix);
  if (version === 1) prefix.writeUInt16LE(header.length, 8);
  else prefix.writeUInt32LE(Buffer.byteLength(header, version === 3 ? 'utf8' : 'latin1'), 8);
  return Buffer.concat([
    prefix,
    Buffer.from(header, version === 3 ? 'utf8' : 'latin1'),
    Buffer.isBuffer(a.data) ? a.data : elementBytes(a.descr, a.data),
  ]);
}

function elementBytes(descr: string, values: ArrayLike<number | bigint>): Buffer {
  const kind = descr.slice(1);
  const size = ITEM_BYTES[kind];
  if (size === undefined) throw new Error(`npy builder: no writer for ${descr}`);
  const little = descr[0] !== '>';
  const out = Buffer.alloc(values.length * size);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const at = i * size;
    switch (kind) {
      case 'u1':
        view.setUint8(at, Number(v));
        break;
      case 'i1':
        view.setInt8(at, Number(v));
        break;
      case 'u2':
        view.setUint16(at, Number(v), little);
        break;
      case 'i2':
        view.setInt16(at, Number(v), little);
        break;
      case 'u4':
        view.setUint32(at, Number(v), little);
        break;
      case 'i4':
        view.setInt32(at, Number(v), little);
        break;
      case 'f4':
        view.setFloat32(at, Number(v), little);
        break;
      case 'f8':
        view.setFloat64(at, Number(v), little);
        break;
      case 'i8':
        view.setBigInt64(at, BigInt(v), little);
        break;
      case 'u8':
        view.setBigUint64(at, BigInt(v), little);
        break;
    }
  }
  return out;
}

/** An .npz: `np.savez` (stored) or `np.savez_compressed` (deflated) of the named arrays. */
export function npz(arrays: Record<string, Buffer>, opts: { compressed?: boolean } = {}): Buffer {
  return packZip(
    Object.entries(arrays).map(([name, data]) => ({
      name: `${name}.npy`,
      data,
      method: opts.compressed ? 'deflate' : 'store',
    })),
  );
}

// ---------------------------------------------------------------------------------------------
// CSV

/** CSV text: fields containing a comma, quote or line break are quoted ("" for quotes). */
export function csv(
  header: string[],
  rows: (string | number)[][],
  opts: { eol?: '\n' | '\r\n'; bom?: boolean; quoteAll?: boolean } = {},
): Buffer {
  const { eol = '\n', bom = false, quoteAll = false } = opts;
  const field = (v: string | number) => {
    const s = String(v);
    return quoteAll || /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const text = [header, ...rows].map((r) => r.map(field).join(',')).join(eol) + eol;
  return Buffer.concat([
    bom ? Buffer.from([0xef, 0xbb, 0xbf]) : Buffer.alloc(0),
    Buffer.from(text, 'utf8'),
  ]);
}

// ---------------------------------------------------------------------------------------------
// IDX

/** The four standard IDX file names. */
export const IDX_NAMES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

export interface IdxSplit {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

/** The four IDX files of a train and a test split, each gzipped when `gzipFiles` (names get `.gz`). */
export function idxFiles(
  train: IdxSplit,
  test: IdxSplit,
  opts: { gzipFiles?: boolean } = {},
): ArchiveFile[] {
  const files: [string, Uint8Array][] = [
    [IDX_NAMES.trainImages, encodeIdx([train.count, train.rows, train.cols], train.images)],
    [IDX_NAMES.trainLabels, encodeIdx([train.count], train.labels)],
    [IDX_NAMES.testImages, encodeIdx([test.count, test.rows, test.cols], test.images)],
    [IDX_NAMES.testLabels, encodeIdx([test.count], test.labels)],
  ];
  return files.map(([name, bytes]) =>
    opts.gzipFiles
      ? { name: `${name}.gz`, data: gzipSync(bytes) }
      : { name, data: Buffer.from(bytes) },
  );
}

// ---------------------------------------------------------------------------------------------
// Files on disk

/** A temporary directory and a writer of uploads into it; `cleanup()` removes it. */
export async function uploadDir(): Promise<{
  dir: string;
  write(name: string, data: Buffer | string): Promise<string>;
  cleanup(): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'retain-datasets-'));
  return {
    dir,
    async write(name, data) {
      const path = join(dir, name);
      await writeFile(path, data);
      return path;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
