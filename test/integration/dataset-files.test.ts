import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { buildTasks } from '../../src/core/data/benchmarks.js';
import { EngineError } from '../../src/core/errors.js';
import { Random } from '../../src/core/random.js';
import { resolveSpec } from '../../src/core/spec.js';
import {
  DEFAULT_DATA_DIR,
  loadRawDataset,
  resolveDataDir,
  writeIdxDataset,
} from '../../src/infra/data/dataset-files.js';
import { makeImageSet } from '../helpers/datasets.js';

const SYSTEM_FASHION_MNIST = '/usr/share/datasets/fashion-mnist';
const FILES = [
  'train-images-idx3-ubyte',
  'train-labels-idx1-ubyte',
  't10k-images-idx3-ubyte',
  't10k-labels-idx1-ubyte',
];

function dataNotFound(...paths: string[]) {
  return (e: unknown) => {
    assert.ok(e instanceof EngineError, String(e));
    assert.equal(e.code, 'DATA_NOT_FOUND');
    for (const p of paths) assert.ok(e.message.includes(p), `message names ${p}: ${e.message}`);
    return true;
  };
}

describe('dataset files', () => {
  let root: string;
  const train = makeImageSet(50, { seed: 1 });
  const test = makeImageSet(20, { seed: 2 });

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'retain-data-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('reads back what writeIdxDataset wrote (gzipped)', async () => {
    const dir = await writeIdxDataset(root, 'mnist', { train, test });
    assert.equal(dir, join(root, 'mnist'));
    for (const f of FILES) assert.ok(existsSync(join(dir, `${f}.gz`)), f);
    const raw = await loadRawDataset('mnist', root, []);
    assert.equal(raw.name, 'mnist');
    assert.equal(raw.numClasses, 10);
    assert.deepEqual(
      { ...raw.train, images: Array.from(raw.train.images), labels: Array.from(raw.train.labels) },
      { ...train, images: Array.from(train.images), labels: Array.from(train.labels) },
    );
    assert.equal(raw.test.count, 20);
    assert.deepEqual(Array.from(raw.test.images), Array.from(test.images));
  });

  it('accepts uncompressed files and prefers .gz when both exist', async () => {
    const base = await mkdtemp(join(root, 'plain-'));
    const dir = await writeIdxDataset(base, 'fashion-mnist', { train, test });
    for (const f of FILES) {
      const gz = join(dir, `${f}.gz`);
      await writeFile(join(dir, f), gunzipSync(await readFile(gz)));
      await unlink(gz);
    }
    const raw = await loadRawDataset('fashion-mnist', base, []);
    assert.deepEqual(Array.from(raw.train.labels), Array.from(train.labels));

    // A gzipped train-images file with other content wins over the plain one.
    const other = makeImageSet(50, { seed: 99 });
    await writeIdxDataset(join(base, 'gz-only'), 'x', { train: other, test });
    await writeFile(
      join(dir, 'train-images-idx3-ubyte.gz'),
      await readFile(join(base, 'gz-only', 'x', 'train-images-idx3-ubyte.gz')),
    );
    const mixed = await loadRawDataset('fashion-mnist', base, []);
    assert.deepEqual(Array.from(mixed.train.images), Array.from(other.images));
  });

  it('names the missing paths and what to do', async () => {
    const empty = await mkdtemp(join(root, 'empty-'));
    await assert.rejects(
      loadRawDataset('fashion-mnist', empty, []),
      dataNotFound(
        ...FILES.map((f) => join(empty, 'fashion-mnist', `${f}.gz`)),
        'apt-get install dataset-fashion-mnist',
        join(empty, 'fashion-mnist'),
      ),
    );
    const partial = await mkdtemp(join(root, 'partial-'));
    const dir = await writeIdxDataset(partial, 'mnist', { train, test });
    await unlink(join(dir, 't10k-labels-idx1-ubyte.gz'));
    await assert.rejects(loadRawDataset('mnist', partial, []), (e: unknown) => {
      dataNotFound(join(dir, 't10k-labels-idx1-ubyte.gz'))(e);
      assert.ok(
        !(e as Error).message.includes('train-images-idx3-ubyte.gz,'),
        'only the missing file is listed as missing',
      );
      assert.ok(!(e as Error).message.includes('apt-get'), 'no package exists for MNIST');
      return true;
    });
  });

  it('falls back to the given directories, never mixing files across them', async () => {
    const empty = await mkdtemp(join(root, 'nofiles-'));
    const fallbackBase = await mkdtemp(join(root, 'fallback-'));
    const fallback = await writeIdxDataset(fallbackBase, 'anything', { train, test });
    const raw = await loadRawDataset('fashion-mnist', empty, [join(empty, 'nowhere'), fallback]);
    assert.equal(raw.train.count, 50);

    // The primary directory has three files only: the complete fallback is used instead.
    const primary = await writeIdxDataset(empty, 'fashion-mnist', {
      train: makeImageSet(30, { seed: 5 }),
      test,
    });
    await unlink(join(primary, 'train-labels-idx1-ubyte.gz'));
    assert.equal((await loadRawDataset('fashion-mnist', empty, [fallback])).train.count, 50);
    await assert.rejects(
      loadRawDataset('fashion-mnist', empty, [join(empty, 'nowhere')]),
      dataNotFound(join(primary, 'train-labels-idx1-ubyte.gz'), join(empty, 'nowhere')),
    );
  });

  it('reports corrupt files as INVALID_DATA naming the file', async () => {
    const base = await mkdtemp(join(root, 'corrupt-'));
    const dir = await writeIdxDataset(base, 'mnist', { train, test });
    const labels = join(dir, 'train-labels-idx1-ubyte.gz');
    await writeFile(labels, Buffer.from('not gzip at all'));
    await assert.rejects(
      loadRawDataset('mnist', base, []),
      (e: unknown) =>
        e instanceof EngineError && e.code === 'INVALID_DATA' && e.message.includes(labels),
    );
    const truncated = gunzipSync(await readFile(join(dir, 'train-images-idx3-ubyte.gz'))).subarray(
      0,
      100,
    );
    await writeFile(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(truncated));
    await writeIdxDataset(join(base, 'tmp'), 'mnist', { train, test });
    await writeFile(
      labels,
      await readFile(join(base, 'tmp', 'mnist', 'train-labels-idx1-ubyte.gz')),
    );
    await assert.rejects(
      loadRawDataset('mnist', base, []),
      (e: unknown) =>
        e instanceof EngineError &&
        e.code === 'INVALID_DATA' &&
        /train-images-idx3-ubyte\.gz.*truncated/.test(e.message),
    );
  });

  it('resolves the data directory from RETAIN_DATA_DIR or the default', () => {
    assert.equal(DEFAULT_DATA_DIR, './data');
    assert.equal(resolveDataDir(undefined), resolve('./data'));
    assert.equal(resolveDataDir('  '), resolve('./data'));
    assert.equal(resolveDataDir('/srv/data'), '/srv/data');
  });
});

describe('real Fashion-MNIST', () => {
  const present = existsSync(SYSTEM_FASHION_MNIST);
  const skip = present
    ? false
    : `${SYSTEM_FASHION_MNIST} does not exist (apt-get install dataset-fashion-mnist to run this test)`;

  it('loads from the system directory and builds split and permuted tasks', { skip }, async () => {
    // An empty data dir forces the default fallback to the system package.
    const empty = await mkdtemp(join(tmpdir(), 'retain-nodata-'));
    try {
      const raw = await loadRawDataset('fashion-mnist', empty);
      assert.equal(raw.numClasses, 10);
      assert.equal(raw.train.count, 60000);
      assert.equal(raw.test.count, 10000);
      assert.equal(raw.train.rows, 28);
      assert.equal(raw.train.cols, 28);
      assert.equal(raw.train.images.length, 60000 * 784);
      const counts = new Array(10).fill(0);
      for (const l of raw.train.labels) counts[l]++;
      assert.deepEqual(counts, new Array(10).fill(6000));
      const testCounts = new Array(10).fill(0);
      for (const l of raw.test.labels) testCounts[l]++;
      assert.deepEqual(testCounts, new Array(10).fill(1000));
      // The first training label of Fashion-MNIST is 9 (ankle boot), the first test label too.
      assert.equal(raw.train.labels[0], 9);
      assert.equal(raw.test.labels[0], 9);

      const split = buildTasks(
        resolveSpec({ preset: 'split-mnist', benchmark: { dataset: 'fashion-mnist' } }).benchmark,
        raw,
        new Random(1),
      );
      assert.equal(split.length, 5);
      for (const task of split) {
        assert.equal(task.inputSize, 784);
        assert.equal(task.validation.size, 1000);
        assert.equal(task.train.size, 11000);
        assert.equal(task.test.size, 2000);
        const batch = task.test.gather(Int32Array.from({ length: 2000 }, (_, i) => i));
        assert.equal(batch.x.length, 2000 * 784);
        assert.deepEqual([...new Set(batch.y)].sort(), [0, 1]);
        const min = batch.x.reduce((a, b) => Math.min(a, b), Infinity);
        assert.ok(Math.abs(min - -0.1307 / 0.3081) < 1e-5, `normalised background ${min}`);
      }

      const spec = resolveSpec({
        preset: 'permuted-mnist',
        benchmark: { dataset: 'fashion-mnist', tasks: 3 },
      });
      const permuted = buildTasks(spec.benchmark, raw, new Random(spec.training.seed));
      assert.equal(permuted.length, 3);
      for (const task of permuted) {
        assert.equal(task.inputSize, 1024);
        assert.equal(task.outputSize, 10);
        assert.equal(task.validation.size, 5000);
        assert.equal(task.train.size, 55000);
        assert.equal(task.test.size, 10000);
      }
      // Same image, different tasks: same pixel values in a different order.
      const a = permuted[0].test.gather([0]).x;
      const b = permuted[1].test.gather([0]).x;
      assert.notDeepEqual(a, b);
      assert.deepEqual(Array.from(a).sort(), Array.from(b).sort());
      assert.ok(a.every((v) => v >= 0 && v <= 1));
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
