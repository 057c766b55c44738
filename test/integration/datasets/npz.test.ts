import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeBoth } from '../../helpers/dataset-assertions.js';
import { npy, npz, packTar, packTarGz, uploadDir } from '../../helpers/dataset-builders.js';

type Upload = Awaited<ReturnType<typeof uploadDir>>;

const N = 12;
/** x: uint8 [N, 2, 3], sample i holds 6i..6i+5 (mod 256). */
const xU8 = Array.from({ length: N * 6 }, (_, i) => i % 256);
/** Labels 10, 3, 7 repeating: classes sort numerically to "3", "7", "10". */
const y = Array.from({ length: N }, (_, i) => [10, 3, 7][i % 3]);
const classOf = (label: number) => ['3', '7', '10'].indexOf(String(label));

describe('NumPy uploads', () => {
  let up: Upload;
  before(async () => {
    up = await uploadDir();
  });
  after(async () => {
    await up.cleanup();
  });

  for (const compressed of [false, true]) {
    it(`decodes an .npz (${compressed ? 'np.savez_compressed' : 'np.savez'}) with x_test and y_test, values exactly`, async () => {
      const arrays = {
        x: npy({ descr: '|u1', shape: [N, 2, 3], data: xU8 }),
        y: npy({ descr: '<i8', shape: [N], data: y }),
        x_test: npy({ descr: '|u1', shape: [3, 2, 3], data: xU8.slice(0, 18).map((v) => 255 - v) }),
        y_test: npy({ descr: '<i8', shape: [3], data: [7, 3, 10] }),
      };
      const d = await decodeBoth(
        await up.write(`xy-${compressed}.npz`, npz(arrays, { compressed })),
        { format: 'npz' },
      );
      assert.equal(d.format, 'npz');
      assert.equal(d.dtype, 'uint8');
      assert.deepEqual(d.inputShape, [2, 3]);
      assert.deepEqual(d.classNames, ['3', '7', '10']);
      assert.deepEqual(d.counts, { train: [4, 4, 4], test: [1, 1, 1] });
      assert.deepEqual(Array.from(d.train.x), xU8);
      assert.deepEqual(Array.from(d.train.y), y.map(classOf));
      assert.deepEqual(
        Array.from(d.test.x),
        xU8.slice(0, 18).map((v) => 255 - v),
      );
      assert.deepEqual(Array.from(d.test.y), [1, 0, 2]);
    });
  }

  it('draws a seeded test split when there is no x_test, float32 values exact', async () => {
    const xf = Array.from({ length: N * 2 }, (_, i) => i / 7 - 1.5);
    const path = await up.write(
      'float.npz',
      npz({
        x: npy({ descr: '<f4', shape: [N, 2], data: xf }),
        y: npy({ descr: '<u2', shape: [N], data: y }),
      }),
    );
    const d = await decodeBoth(path, { seed: 3 });
    assert.equal(d.dtype, 'float32');
    assert.deepEqual(d.counts, { train: [3, 3, 3], test: [1, 1, 1] });
    // Every sample is in exactly one split, unchanged (float32 rounding aside).
    const rows = (x: Float32Array | Uint8Array, n: number) =>
      Array.from({ length: n }, (_, i) => `${x[2 * i]},${x[2 * i + 1]}`);
    const got = [...rows(d.train.x, d.train.count), ...rows(d.test.x, d.test.count)].sort();
    const f32 = Float32Array.from(xf);
    assert.deepEqual(got, rows(f32, N).sort());
    const again = await decodeBoth(path, { seed: 3 });
    assert.deepEqual(Array.from(again.test.x), Array.from(d.test.x));
    const other = await decodeBoth(path, { seed: 4 });
    assert.notDeepEqual(Array.from(other.test.x), Array.from(d.test.x));
  });

  it('reads x.npy and y.npy from a tar in any order and folder, and every integer label dtype', async () => {
    for (const descr of ['|i1', '|u1', '<i2', '<u2', '<i4', '<u4', '<i8', '<u8']) {
      const files = [
        { name: 'data/y.npy', data: npy({ descr, shape: [N], data: y }) },
        { name: 'data/x.npy', data: npy({ descr: '|u1', shape: [N, 2, 3], data: xU8 }) },
      ];
      const d = await decodeBoth(
        await up.write(`pair-${descr.slice(1)}.tar`, await packTar(files)),
      );
      assert.deepEqual(d.classNames, ['3', '7', '10'], descr);
      assert.deepEqual(
        d.counts.train.map((n, c) => n + d.counts.test[c]),
        [4, 4, 4],
        descr,
      );
    }
  });

  it('reads a tar.gz of all four arrays, .npy format versions 1, 2 and 3, and negative and int64 labels', async () => {
    const big = 2n ** 62n;
    const labels = Array.from({ length: N }, (_, i) => [-5n, big, 0n][i % 3]);
    const files = [
      { name: 'x.npy', data: npy({ descr: '|u1', shape: [N, 6], data: xU8, version: 2 }) },
      { name: 'y.npy', data: npy({ descr: '<i8', shape: [N], data: labels, version: 3 }) },
      { name: 'x_test.npy', data: npy({ descr: '|u1', shape: [3, 6], data: xU8.slice(0, 18) }) },
      { name: 'y_test.npy', data: npy({ descr: '<i8', shape: [3], data: [0n, -5n, big] }) },
    ];
    const d = await decodeBoth(await up.write('four.tar.gz', await packTarGz(files)));
    assert.deepEqual(d.classNames, ['-5', '0', String(big)]);
    assert.deepEqual(d.inputShape, [6]);
    assert.deepEqual(Array.from(d.train.y.slice(0, 3)), [0, 2, 1]);
    assert.deepEqual(Array.from(d.test.y), [1, 0, 2]);
    assert.deepEqual(Array.from(d.train.x), xU8);
  });
});
