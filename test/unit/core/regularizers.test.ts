import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs';
import { driftL1, fixedTargetRegularizer } from '../../../src/core/continual/regularizers.js';
import { Adam } from '../../../src/core/continual/adam.js';
import { linear } from '../../../src/core/linear.js';
import { expectArraysClose, expectTensorsClose, useCpuBackend } from '../../helpers/tensors.js';

before(useCpuBackend);

describe('output regulariser', () => {
  it('is the summed squared distance averaged over earlier tasks', () => {
    const r = tf.tidy(() =>
      fixedTargetRegularizer(
        [
          tf.tensor2d([
            [1, 2],
            [3, 4],
          ]),
          tf.tensor2d([[0], [1]]),
        ],
        [
          tf.tensor2d([
            [0, 0],
            [3, 3],
          ]),
          tf.tensor2d([[2], [1]]),
        ],
      ),
    );
    // row 0: 1 + 4 + 4 = 9; row 1: 0 + 1 + 0 = 1; mean over 2 tasks = 5
    assert.equal(r.dataSync()[0], 5);
    r.dispose();
  });
});

describe('L1 drift', () => {
  const theta = () => [tf.tensor1d([1, -2]), tf.tensor1d([3])];
  const prev = () => [tf.tensor1d([0, 0]), tf.tensor1d([1])];
  it('sums |theta - prev| over all tensors, the last included', () => {
    const r = tf.tidy(() => driftL1(theta(), prev(), null));
    assert.equal(r.dataSync()[0], 1 + 2 + 2);
    r.dispose();
  });
  it('weights the drift by the mask when masked', () => {
    const r = tf.tidy(() => driftL1(theta(), prev(), [tf.tensor1d([0.5, 0]), tf.tensor1d([0.25])]));
    assert.equal(r.dataSync()[0], 0.5 + 0 + 0.5);
    r.dispose();
  });
});

describe('linear with transpose-free gradient', () => {
  it('gives the same values and gradients as matMul + add', () => {
    for (const rows of [1, 3]) {
      const x = tf.randomNormal<tf.Rank.R2>([rows, 4], 0, 1, 'float32', 1);
      const w = tf.randomNormal<tf.Rank.R2>([4, 5], 0, 1, 'float32', 2);
      const b = tf.randomNormal<tf.Rank.R1>([5], 0, 1, 'float32', 3);
      const c = tf.randomNormal([rows, 5], 0, 1, 'float32', 4);
      const mine = tf.grads((a, v, u) =>
        tf.sum(tf.mul(linear(a as tf.Tensor2D, v as tf.Tensor2D, u as tf.Tensor1D), c)),
      )([x, w, b]);
      const ref = tf.grads((a, v, u) =>
        tf.sum(tf.mul(tf.add(tf.matMul(a as tf.Tensor2D, v as tf.Tensor2D), u), c)),
      )([x, w, b]);
      mine.forEach((g, i) => expectTensorsClose(g, ref[i], 1e-5));
      expectTensorsClose(linear(x, w, b), tf.add(tf.matMul(x, w), b));
    }
  });
});

describe('Adam', () => {
  it('matches torch.optim.Adam on a hand-computed first and second step', () => {
    const p = tf.variable(tf.tensor1d([1, -1]));
    const opt = new Adam([p], { learningRate: 0.1 });
    const g = tf.tensor1d([0.5, -2]);
    // Step 1: m_hat = g, v_hat = g^2, so the step is lr * g / (|g| + eps) = lr * sign(g).
    const delta = opt.delta([g]);
    expectArraysClose(delta[0].dataSync(), [-0.1, 0.1], 1e-6);
    opt.step([g]);
    expectArraysClose(p.dataSync(), [0.9, -0.9], 1e-6);
    // Step 2 with gradient 0: m = 0.9 m, v = 0.999 v; bias-corrected by 1 - 0.9^2 and 1 - 0.999^2.
    const zero = tf.zeros([2]);
    opt.step([zero]);
    const m = (0.1 * 0.5 * 0.9) / (1 - 0.81);
    const v = Math.sqrt((0.001 * 0.25 * 0.999) / (1 - 0.999 ** 2));
    expectArraysClose(
      p.dataSync(),
      [0.9 - (0.1 * m) / (v + 1e-8), -0.9 + (0.1 * m) / (v + 1e-8)],
      1e-5,
    );
    opt.dispose();
    tf.dispose([p, g, zero, ...delta]);
  });

  it('leaves tensors that shared the old parameter data unchanged', () => {
    const p = tf.variable(tf.tensor1d([1, 2]));
    const snapshot = tf.clone(p);
    const opt = new Adam([p], { learningRate: 0.5 });
    const g = tf.ones([2]);
    opt.step([g]);
    expectArraysClose(snapshot.dataSync(), [1, 2]);
    expectArraysClose(p.dataSync(), [0.5, 1.5], 1e-6);
    opt.dispose();
    tf.dispose([p, snapshot, g]);
  });
});
