import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { fewRowsLinear } from '../../../src/core/kernels/few-rows-linear.js';
import { linear } from '../../../src/core/linear.js';
import { Random } from '../../../src/core/random.js';
import { expectArraysClose, expectNoLeakedTensors, useCpuBackend } from '../../helpers/tensors.js';

after(useCpuBackend);

/** Value and gradients (x, W, b) of sum(y * r) for a fixed random r, on the current backend. */
function valueAndGrads(op: typeof linear, n: number, k: number, cols: number) {
  const rng = new Random(3);
  const x = tf.tensor2d(rng.normalArray(n * k), [n, k]);
  const w = tf.tensor2d(rng.normalArray(k * cols), [k, cols]);
  const b = tf.tensor1d(rng.normalArray(cols));
  const r = tf.tensor2d(rng.normalArray(n * cols), [n, cols]);
  const y = op(x, w, b);
  const grads = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
    tf.sum(tf.mul(op(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D), r)),
  )([x, w, b]);
  const out = [y, ...grads].map((t) => t.dataSync() as Float32Array);
  tf.dispose([x, w, b, r, y, ...grads]);
  return out;
}

// Shapes cross the kernel's 8,192-column tiles and the 4-lane SIMD tails.
for (const [n, k, cols] of [
  [1, 5, 9],
  [3, 7, 8195],
  [16, 2, 13],
]) {
  it(`equals the matMul path on wasm: ${n} x ${k} by ${k} x ${cols}`, async () => {
    await tf.setBackend('wasm');
    const fast = await expectNoLeakedTensors(() => valueAndGrads(fewRowsLinear, n, k, cols));
    await tf.setBackend('cpu');
    const reference = valueAndGrads(linear, n, k, cols);
    ['y', 'dx', 'dW', 'db'].forEach((name, i) =>
      expectArraysClose(fast[i], reference[i], 1e-3, name),
    );
    assert.equal(fast[2].length, k * cols);
  });
}
