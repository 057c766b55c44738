/**
 * Reads MNIST-style data sets (four IDX files, gzipped or not) from disk. The core parses the
 * bytes (src/core/data/idx.ts); this module only finds, reads and decompresses files. Nothing is
 * cached: each call reads the files again, so the caller decides how long the ~55 MB live.
 */
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { EngineError } from '../../core/errors.js';
import { encodeIdx, imageSetFromIdx } from '../../core/data/idx.js';
import type { ImageSet, RawDataset } from '../../core/data/types.js';
import { DATASET_CLASSES, DATASETS } from '../../core/spec.js';

const gunzipAsync = promisify(gunzip);
const gzipAsync = promisify(gzip);

export type DatasetName = (typeof DATASETS)[number];

/** Used when RETAIN_DATA_DIR is not set; relative to the working directory. */
export const DEFAULT_DATA_DIR = './data';

/** Where system packages put data sets, tried after `${dataDir}/${name}`. */
export const DEFAULT_FALLBACK_DIRS: Readonly<Record<DatasetName, readonly string[]>> = {
  'fashion-mnist': ['/usr/share/datasets/fashion-mnist'],
  mnist: [],
};

/** The four files of a data set, without the optional `.gz` suffix. */
export const IDX_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;
type FileKey = keyof typeof IDX_FILES;
const FILE_KEYS = Object.keys(IDX_FILES) as FileKey[];

/** How to install each data set from a system package, where one exists. */
const PACKAGE_HINT: Record<DatasetName, string | null> = {
  'fashion-mnist': 'run `apt-get install dataset-fashion-mnist`',
  mnist: null,
};

/**
 * The data directory to use, from the value of RETAIN_DATA_DIR (the caller reads the
 * environment). Blank or missing means `DEFAULT_DATA_DIR`. Returns an absolute path so error
 * messages name exactly where files were looked for.
 */
export function resolveDataDir(envValue: string | undefined): string {
  const value = envValue?.trim();
  return resolve(value ? value : DEFAULT_DATA_DIR);
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** The path of one file in `dir`, preferring the gzipped copy; null when neither exists. */
async function findFile(dir: string, base: string): Promise<string | null> {
  for (const candidate of [join(dir, `${base}.gz`), join(dir, base)]) {
    if (await exists(candidate)) return candidate;
  }
  return null;
}

type Located = { dir: string; files: Record<FileKey, string> } | { dir: string; missing: string[] };

async function locate(dir: string): Promise<Located> {
  const found = await Promise.all(FILE_KEYS.map((k) => findFile(dir, IDX_FILES[k])));
  const missing = FILE_KEYS.filter((_, i) => found[i] === null).map((k) =>
    join(dir, `${IDX_FILES[k]}.gz`),
  );
  if (missing.length > 0) return { dir, missing };
  return {
    dir,
    files: Object.fromEntries(FILE_KEYS.map((k, i) => [k, found[i]!])) as Record<FileKey, string>,
  };
}

async function readIdxBytes(path: string): Promise<Uint8Array> {
  const bytes = await readFile(path);
  if (!path.endsWith('.gz'))
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    const raw = await gunzipAsync(bytes);
    return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  } catch (e) {
    throw new EngineError(
      'INVALID_DATA',
      `${path}: cannot decompress (${(e as Error).message}); re-download the file`,
    );
  }
}

async function readImageSet(imagesPath: string, labelsPath: string): Promise<ImageSet> {
  const [images, labels] = await Promise.all([readIdxBytes(imagesPath), readIdxBytes(labelsPath)]);
  try {
    return imageSetFromIdx(images, labels);
  } catch (e) {
    if (e instanceof EngineError)
      throw new EngineError(e.code, `${imagesPath} / ${labelsPath}: ${e.message}`);
    throw e;
  }
}

function notFound(
  name: DatasetName,
  attempts: Extract<Located, { missing: string[] }>[],
): EngineError {
  const looked = attempts.map((a) => `${a.dir} lacks ${a.missing.join(', ')}`).join('; ');
  const files = FILE_KEYS.map((k) => IDX_FILES[k]).join(', ');
  const fixes = [
    PACKAGE_HINT[name],
    `put the four IDX files (${files}; gzipped or not) in ${attempts[0].dir}`,
    `set RETAIN_DATA_DIR to a directory whose '${name}' folder holds them`,
  ].filter((f): f is string => f !== null);
  return new EngineError(
    'DATA_NOT_FOUND',
    `${name} data set not found: ${looked}. To fix: ${fixes.join(', or ')}.`,
  );
}

/**
 * Loads the train and test halves of a data set from `${dataDir}/${name}/`, or else from the
 * first of `fallbackDirs` that holds all four files (files are never mixed across directories).
 *
 * @param dataDir the resolved RETAIN_DATA_DIR (see `resolveDataDir`).
 * @param fallbackDirs directories holding the four files directly; defaults to where the system
 *   package puts Fashion-MNIST (none for MNIST).
 * @returns a fresh data set owned by the caller; nothing is cached.
 * @throws EngineError DATA_NOT_FOUND naming every missing path and how to provide the files;
 *   INVALID_DATA when a file is corrupt or the files disagree with each other or with the data set.
 */
export async function loadRawDataset(
  name: DatasetName,
  dataDir: string,
  fallbackDirs: readonly string[] = DEFAULT_FALLBACK_DIRS[name],
): Promise<RawDataset> {
  const attempts: Extract<Located, { missing: string[] }>[] = [];
  for (const dir of [join(dataDir, name), ...fallbackDirs]) {
    const located = await locate(dir);
    if ('missing' in located) {
      attempts.push(located);
      continue;
    }
    const { files } = located;
    const [train, test] = await Promise.all([
      readImageSet(files.trainImages, files.trainLabels),
      readImageSet(files.testImages, files.testLabels),
    ]);
    if (train.rows !== test.rows || train.cols !== test.cols) {
      throw new EngineError(
        'INVALID_DATA',
        `${dir}: train images are ${train.rows}x${train.cols} but test images are ${test.rows}x${test.cols}`,
      );
    }
    return { name, numClasses: DATASET_CLASSES[name], train, test };
  }
  throw notFound(name, attempts);
}

/**
 * Writes a data set as the four gzipped IDX files in `${dir}/${name}/` (created if needed), in
 * the layout `loadRawDataset` reads. Used by tests and fixtures to make small data sets.
 *
 * @returns the directory the files were written to.
 */
export async function writeIdxDataset(
  dir: string,
  name: string,
  sets: { train: ImageSet; test: ImageSet },
): Promise<string> {
  const target = join(dir, name);
  await mkdir(target, { recursive: true });
  const contents: Record<FileKey, Uint8Array> = {
    trainImages: encodeIdx([sets.train.count, sets.train.rows, sets.train.cols], sets.train.images),
    trainLabels: encodeIdx([sets.train.count], sets.train.labels),
    testImages: encodeIdx([sets.test.count, sets.test.rows, sets.test.cols], sets.test.images),
    testLabels: encodeIdx([sets.test.count], sets.test.labels),
  };
  await Promise.all(
    FILE_KEYS.map(async (k) =>
      writeFile(join(target, `${IDX_FILES[k]}.gz`), await gzipAsync(contents[k])),
    ),
  );
  return target;
}
