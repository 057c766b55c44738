/**
 * Augmentation and per-channel normalisation of uploaded images: flips and 4-padded crops on a
 * hand-made image, draws from the seeded stream (same seed, same batch), channels normalised apart.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  augmentedIndices,
  buildDatasetTasks,
  channelStatistics,
} from '../../../../src/core/data/dataset-tasks.js';
import type { LabelledDataset } from '../../../../src/core/data/types.js';
import { Random } from '../../../../src/core/random.js';
import { resolveSpec, type DatasetFacts } from '../../../../src/core/spec.js';

const ID = '11111111-1111-4111-8111-111111111111';

/** Applies an index map to a sample: -1 reads the zero padding. */
const apply = (sample: number[], map: Int32Array) =>
  Array.from(map, (m) => (m < 0 ? 0 : sample[m]));

describe('flip and crop', () => {
  // 3x3x1:
  //   1 2 3
  //   4 5 6
  //   7 8 9
  const image = [1, 2, 3, 4, 5, 6, 7, 8, 9];
  const cases: [string, boolean, number, number, number[]][] = [
    ['no flip, centred crop: the image', false, 4, 4, image],
    ['flip, centred crop: columns mirrored', true, 4, 4, [3, 2, 1, 6, 5, 4, 9, 8, 7]],
    ['crop one row lower: shifted up, zeros below', false, 5, 4, [4, 5, 6, 7, 8, 9, 0, 0, 0]],
    ['crop one column left: shifted right, zeros left', false, 4, 3, [0, 1, 2, 0, 4, 5, 0, 7, 8]],
    ['flip, then crop up one and right one', true, 3, 5, [0, 0, 0, 2, 1, 0, 5, 4, 0]],
    ['crop at the corner of the padding: all zeros', false, 0, 0, [0, 0, 0, 0, 0, 0, 0, 0, 0]],
  ];
  for (const [name, flip, top, left, expected] of cases) {
    it(name, () =>
      assert.deepEqual(apply(image, augmentedIndices([3, 3, 1], flip, top, left)), expected),
    );
  }

  it('keeps the channels of a pixel together', () => {
    // 1x2x2: pixel a = (10, 11), pixel b = (20, 21).
    assert.deepEqual(
      apply([10, 11, 20, 21], augmentedIndices([1, 2, 2], true, 4, 4)),
      [20, 21, 10, 11],
    );
  });
});

/** 2 classes of 4x4x2 uint8 images: channel 0 holds 10 * i + pixel, channel 1 holds 200 - pixel. */
function images(): LabelledDataset {
  const split = (count: number) => {
    const x = new Uint8Array(count * 32);
    const y = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      y[i] = i % 2;
      for (let p = 0; p < 16; p++) {
        x[i * 32 + 2 * p] = 10 * i + p;
        x[i * 32 + 2 * p + 1] = 200 - p;
      }
    }
    return { x, y, count };
  };
  return {
    inputShape: [4, 4, 2],
    dtype: 'uint8',
    classNames: ['a', 'b'],
    train: split(8),
    test: split(4),
  };
}

function tasksOf(data: LabelledDataset, benchmark: Record<string, unknown>) {
  const facts: DatasetFacts = {
    inputShape: data.inputShape,
    dtype: data.dtype,
    sha256: 'a'.repeat(64),
    classNames: data.classNames,
    counts: { train: [4, 4], test: [2, 2] },
  };
  const spec = resolveSpec(
    // In the upload's order, so that sample i of a split is the upload's sample i.
    {
      benchmark: {
        kind: 'datasets',
        tasks: [{ dataset: ID }],
        sampleOrder: 'stored',
        ...benchmark,
      },
    },
    { datasets: new Map([[ID, facts]]) },
  );
  return buildDatasetTasks(spec.benchmark, new Map([[ID, data]]));
}

describe('uploaded images in training', () => {
  it('normalises each channel with its own mean and deviation over the training split', () => {
    const data = images();
    const stats = channelStatistics(data.train, 1 / 255, 2);
    const ch0 = Array.from(
      { length: 8 * 16 },
      (_, k) => (10 * Math.floor(k / 16) + (k % 16)) / 255,
    );
    const mean0 = ch0.reduce((a, v) => a + v, 0) / ch0.length;
    assert.ok(Math.abs(stats.mean[0] - mean0) < 1e-12);
    assert.ok(Math.abs(stats.mean[1] - (200 - 7.5) / 255) < 1e-12);
    const [task] = tasksOf(data, { normalize: 'per-channel' });
    assert.deepEqual(task.preprocessing?.normalize, stats);
    const b = task.test.gather([0]);
    for (let j = 0; j < 32; j++) {
      const c = j % 2;
      const expected = (data.test.x[j] / 255 - stats.mean[c]) / stats.std[c];
      assert.ok(Math.abs(b.x[j] - expected) < 1e-5, `value ${j}`);
    }
  });

  it('augments the training split only, from the given stream: same seed, same batch', () => {
    const data = images();
    const [task] = tasksOf(data, { augment: true, normalize: false });
    const idx = [0, 1, 2, 3, 0, 1];
    const a = task.train.gather(idx, new Random(5));
    const b = task.train.gather(idx, new Random(5));
    assert.deepEqual(a.x, b.x, 'same seed');
    const c = task.train.gather(idx, new Random(6));
    assert.notDeepEqual(a.x, c.x, 'another seed');
    // Each augmented sample is one of the 2 x 9 x 9 flips and crops of its image, drawn as
    // flip (next() < 1/2), then top and left (int(9)) from the stream.
    const rng = new Random(5);
    for (let k = 0; k < idx.length; k++) {
      const flip = rng.next() < 0.5;
      const top = rng.int(9);
      const left = rng.int(9);
      const plain = Array.from(task.train.gather([idx[k]]).x);
      const expected = apply(plain, augmentedIndices([4, 4, 2], flip, top, left));
      assert.deepEqual(
        Array.from(a.x.subarray(k * 32, (k + 1) * 32)),
        expected.map(Math.fround),
        `sample ${k}`,
      );
    }
    // Without a stream (evaluation) and on the other splits: no augmentation.
    assert.deepEqual(task.train.gather([0]).x, task.train.gather([0]).x);
    assert.deepEqual(
      task.validation.size > 0 ? task.validation.gather([0], new Random(5)).x : new Float32Array(),
      task.validation.size > 0 ? task.validation.gather([0]).x : new Float32Array(),
    );
    assert.deepEqual(task.test.gather([1], new Random(5)).x, task.test.gather([1]).x);
  });
});
