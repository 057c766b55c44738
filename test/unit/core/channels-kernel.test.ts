/**
 * The per-channel WebAssembly kernels (src/core/kernels/channels.wat) that batch norm and the
 * convolution biases use on wasm: each against the TF.js ops it replaces, for channel counts that
 * take the four-lane path (multiples of 4) and the one-lane path.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { channelOps, type ChannelOps } from '../../../src/core/kernels/channels.js';
import { Random } from '../../../src/core/random.js';
import { expectArraysClose, expectNoLeakedTensors, useCpuBackend } from '../../helpers/tensors.js';

before(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});
after(useCpuBackend);

const wasmOps = (): ChannelOps => {
  const ops = channelOps();
  assert.ok(ops, 'channel kernels are available on wasm');
  return ops;
};

describe('channel kernels (kernels/channels.wat)', () => {
  for (const shape of [
    [3, 5, 4, 8],
    [2, 3, 3, 6],
    [4, 1, 1, 3],
    [2, 4, 4, 128],
  ]) {
    const c = shape[3];
    const data = (seed: number, offset = 0) => {
      const rng = new Random(seed);
      return tf.tensor(
        rng.normalArray(shape.reduce((a, d) => a * d, 1)).map((v, i) => v * 3 + offset * (i % c)),
        shape,
      );
    };

    it(`[${shape}]: sums, moments, sums against deviations and affine maps equal TF.js's ops`, async () => {
      const ops = wasmOps();
      await expectNoLeakedTensors(() =>
        tf.tidy(() => {
          const x = data(1, 2);
          const dy = data(2);
          const axes = [0, 1, 2];
          expectArraysClose(ops.sum(x).dataSync(), tf.sum(x, axes).dataSync(), 1e-4, 'sum');
          const { mean, variance } = ops.moments(x);
          const reference = tf.moments(x, axes);
          expectArraysClose(mean.dataSync(), reference.mean.dataSync(), 1e-5, 'mean');
          expectArraysClose(variance.dataSync(), reference.variance.dataSync(), 1e-4, 'variance');
          const sums = ops.sumAndSumTimesDeviation(dy, x, mean);
          expectArraysClose(sums.sum.dataSync(), tf.sum(dy, axes).dataSync(), 1e-4, 'sum of dy');
          expectArraysClose(
            sums.sumTimesDeviation.dataSync(),
            tf.sum(tf.mul(dy, tf.sub(x, mean)), axes).dataSync(),
            1e-3,
            'sum of dy (x - mean)',
          );
          const rng = new Random(3);
          const [a, e, b, d] = [0, 1, 2, 3].map(() => tf.tensor1d(rng.normalArray(c)));
          expectArraysClose(
            ops.affine2(dy, a, x, e, b, d).dataSync(),
            tf.add(tf.add(tf.mul(dy, a), tf.mul(tf.sub(x, e), b)), d).dataSync(),
            1e-5,
            'affine2',
          );
        }),
      );
    });
  }

  it('is not offered on other backends', async () => {
    await useCpuBackend();
    assert.equal(channelOps(), null);
    await tf.setBackend('wasm');
  });
});
