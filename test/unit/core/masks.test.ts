import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs';
import {
  applyMasks,
  hyperMasks,
  percentile,
  semiBinaryMask,
  sparsityAt,
} from '../../../src/core/masks/masks.js';
import { expectArraysClose, expectNoLeakedTensors, useCpuBackend } from '../../helpers/tensors.js';

before(useCpuBackend);

describe('percentile (linear interpolation, like numpy)', () => {
  it('interpolates between order statistics', () => {
    assert.equal(percentile([4, 1, 3, 2], 50), 2.5);
    assert.equal(percentile([4, 1, 3, 2], 0), 1);
    assert.equal(percentile([4, 1, 3, 2], 100), 4);
    // q = 0.3 * 4 = 1.2 -> 2 + 0.2 * (3 - 2)
    assert.ok(Math.abs(percentile([5, 3, 1, 2, 4], 30) - 2.2) < 1e-6);
  });

  it('handles ties and single values', () => {
    assert.equal(percentile([0.5, 0.5, 0.5, 0.1], 50), 0.5);
    assert.equal(percentile([7], 30), 7);
    assert.throws(() => percentile([], 10), RangeError);
  });

  it('matches a sort-based reference on random data', () => {
    const values = Array.from({ length: 1001 }, (_, i) => (Math.sin(i * 12.9898) * 43758.5453) % 1);
    const sorted = [...values].sort((a, b) => a - b);
    for (const p of [0, 1, 30, 50, 70, 99.9, 100]) {
      const q = (p / 100) * (values.length - 1);
      const lo = Math.floor(q);
      const hi = Math.ceil(q);
      const expected = sorted[lo] + (q - lo) * (sorted[hi] - sorted[lo]);
      assert.ok(Math.abs(percentile(values, p) - expected) < 1e-6, `p=${p}`);
    }
  });
});

describe('semi-binary masks (method section 2)', () => {
  // |h| sorted: 0, .05, .1, .15, .2, .25, .3, .45, 1, 2. At p = 70 the position is 6.3, between
  // |tanh(.3)| and |tanh(.45)|, so exactly the three largest survive.
  const h = [1.0, -0.1, 0.2, 0.45, -0.3, 0.05, -2.0, 0.25, 0.0, -0.15];

  it('2x5, p = 70 keeps the three largest |tanh| values, unbinarised', () => {
    const m = tf.tidy(() => semiBinaryMask(tf.tensor2d(h, [2, 5]), 70));
    const expected = h.map((v) => (Math.abs(v) >= 0.45 ? Math.abs(Math.tanh(v)) : 0));
    expectArraysClose(m.dataSync(), expected, 1e-6, 'mask');
    assert.deepEqual(m.shape, [2, 5]);
    expectArraysClose([m.dataSync()[0], m.dataSync()[3]], [0.7616, 0.4219], 1e-4, 'kept values');
    m.dispose();
  });

  it('p = 0 keeps every entry as |tanh(h)|', () => {
    const m = tf.tidy(() => semiBinaryMask(tf.tensor1d(h), 0));
    expectArraysClose(
      m.dataSync(),
      h.map((v) => Math.abs(Math.tanh(v))),
      1e-6,
    );
    m.dispose();
  });

  it('keeps ties at the threshold', () => {
    const m = tf.tidy(() => semiBinaryMask(tf.tensor1d([0.5, 0.5, 0.5, 0.1]), 50));
    assert.equal(Array.from(m.dataSync()).filter((v) => v > 0).length, 3);
    m.dispose();
  });

  it('thresholds every tensor but the last, which stays |tanh(h)|', () => {
    const out = tf.tidy(() => hyperMasks([tf.tensor1d(h), tf.tensor1d(h)], 70));
    assert.equal(Array.from(out[0].dataSync()).filter((v) => v > 0).length, 3);
    expectArraysClose(
      out[1].dataSync(),
      h.map((v) => Math.abs(Math.tanh(v))),
      1e-6,
    );
    tf.dispose(out);
  });

  it('applies masks to all but the last tensor', () => {
    const out = tf.tidy(() =>
      applyMasks(
        [tf.tensor1d([2, 2]), tf.tensor1d([3, 3])],
        [tf.tensor1d([0.5, 0]), tf.tensor1d([0, 0])],
      ),
    );
    expectArraysClose(out[0].dataSync(), [1, 0]);
    expectArraysClose(out[1].dataSync(), [3, 3]);
    tf.dispose(out);
  });

  it('sends gradient only through kept entries, as d|tanh|/dh', () => {
    const x = tf.tensor1d(h);
    const c = tf.tensor1d(h.map((_, i) => i + 1));
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(semiBinaryMask(v, 70), c)))(x);
    const expected = h.map((v, i) =>
      Math.abs(v) >= 0.45 ? Math.sign(v) * (1 - Math.tanh(v) ** 2) * (i + 1) : 0,
    );
    expectArraysClose(g.dataSync(), expected, 1e-5, 'gradient');
    tf.dispose([x, c, g]);
  });

  it('does not leak tensors', async () => {
    await expectNoLeakedTensors(() =>
      tf.dispose(tf.tidy(() => hyperMasks([tf.tensor1d(h), tf.tensor1d(h)], 30))),
    );
  });
});

describe('sparsity schedule', () => {
  it('ramps linearly over the first task only', () => {
    assert.equal(sparsityAt(30, 0, 0, 100), 0.3);
    assert.equal(sparsityAt(30, 0, 49, 100), 15);
    assert.equal(sparsityAt(30, 0, 99, 100), 30);
    assert.equal(sparsityAt(30, 1, 0, 100), 30);
  });
});
