/**
 * The convolutional layers of the conv targets (src/core/conv.ts): the convolution with its
 * hand-written gradient against TF.js's own gradient (cpu) and against itself on wasm, batch norm
 * against a direct computation, dropout's masks from the engine's random stream.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { batchNorm, BN_EPSILON, conv2d, conv2dOnData, dropout } from '../../../src/core/conv.js';
import { Random } from '../../../src/core/random.js';
import { expectArraysClose, expectNoLeakedTensors, useCpuBackend } from '../../helpers/tensors.js';

before(useCpuBackend);
after(useCpuBackend);

type Case = {
  n: number;
  h: number;
  w: number;
  cin: number;
  cout: number;
  stride: number;
  pad: number;
  /** Kernel size (3 unless given). */
  k?: number;
};

/** Value and gradients (x, W, b) of sum(conv(x) * r) for a fixed random r, with `op` or TF.js's conv2d. */
function valueAndGrads(c: Case, op: typeof conv2d | 'tfjs') {
  const rng = new Random(5);
  const x = tf.tensor4d(rng.normalArray(c.n * c.h * c.w * c.cin), [c.n, c.h, c.w, c.cin]);
  const k = c.k ?? 3;
  const w = tf.tensor4d(rng.normalArray(k * k * c.cin * c.cout), [k, k, c.cin, c.cout]);
  const b = tf.tensor1d(rng.normalArray(c.cout));
  const pad: [[number, number], [number, number], [number, number], [number, number]] = [
    [0, 0],
    [c.pad, c.pad],
    [c.pad, c.pad],
    [0, 0],
  ];
  const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
    op === 'tfjs'
      ? tf.add(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, c.stride, pad), bb)
      : op(xx as tf.Tensor4D, ww as tf.Tensor4D, bb as tf.Tensor1D, c.stride, c.pad);
  const y = f(x, w, b);
  const r = tf.tensor(rng.normalArray(y.size), y.shape);
  const grads = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
    tf.sum(tf.mul(f(xx, ww, bb), r)),
  )([x, w, b]);
  const out = [y, ...grads].map((t) => t.dataSync() as Float32Array);
  tf.dispose([x, w, b, r, y, ...grads]);
  return out;
}

// Odd and even sizes, stride 2 (ResNet's downsampling, where PyTorch's padding differs from TF's
// "same"), no padding; for the input gradient's split by phase of the input (stride 2 and 3):
// phases some taps do not reach (1x1 kernel, stride 2), dy cropped (padding above k - 1).
const cases: Case[] = [
  { n: 2, h: 7, w: 6, cin: 3, cout: 4, stride: 1, pad: 1 },
  { n: 2, h: 8, w: 8, cin: 3, cout: 5, stride: 2, pad: 1 },
  { n: 3, h: 7, w: 9, cin: 2, cout: 4, stride: 2, pad: 1 },
  { n: 2, h: 6, w: 5, cin: 4, cout: 3, stride: 1, pad: 0 },
  { n: 2, h: 9, w: 8, cin: 3, cout: 4, stride: 2, pad: 0 },
  { n: 2, h: 10, w: 11, cin: 4, cout: 3, stride: 3, pad: 1 },
  { n: 2, h: 8, w: 7, cin: 4, cout: 4, stride: 2, pad: 0, k: 1 },
  { n: 2, h: 6, w: 7, cin: 3, cout: 2, stride: 2, pad: 3 },
];

/**
 * Every layer shape of ResNet-20 (k = 2) on 32x32x3, at batch 2 (the cpu backend's convolution
 * is slow): 16/32/64/128 channels at 32/16/8 pixels, stride 2 where groups 2 and 3 begin.
 */
const resnetCases: Case[] = [
  { n: 2, h: 32, w: 32, cin: 3, cout: 16, stride: 1, pad: 1 },
  { n: 2, h: 32, w: 32, cin: 16, cout: 32, stride: 1, pad: 1 },
  { n: 2, h: 32, w: 32, cin: 32, cout: 32, stride: 1, pad: 1 },
  { n: 2, h: 32, w: 32, cin: 32, cout: 64, stride: 2, pad: 1 },
  { n: 2, h: 16, w: 16, cin: 64, cout: 64, stride: 1, pad: 1 },
  { n: 2, h: 16, w: 16, cin: 64, cout: 128, stride: 2, pad: 1 },
  { n: 2, h: 8, w: 8, cin: 128, cout: 128, stride: 1, pad: 1 },
];

/** Largest |a - b| is at most `tol` times the largest |b|. */
function expectRelativelyClose(a: Float32Array, b: Float32Array, tol: number, what: string) {
  assert.equal(a.length, b.length, `${what}: length`);
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
  }
  assert.ok(diff <= tol * scale, `${what}: max difference ${diff} > ${tol} x ${scale}`);
}

describe('conv2d', () => {
  for (const c of cases) {
    const name = `${c.n}x${c.h}x${c.w}x${c.cin} -> ${c.cout}, stride ${c.stride}, pad ${c.pad}`;
    it(`value and gradients equal TF.js's conv2d (cpu): ${name}`, async () => {
      const ours = await expectNoLeakedTensors(() => valueAndGrads(c, conv2d));
      const reference = valueAndGrads(c, 'tfjs');
      ['y', 'dx', 'dW', 'db'].forEach((what, i) =>
        expectArraysClose(ours[i], reference[i], 1e-4, what),
      );
    });

    it(`wasm computes what cpu computes: ${name}`, async () => {
      await tf.setBackend('wasm');
      const wasm = await expectNoLeakedTensors(() => valueAndGrads(c, conv2d));
      await useCpuBackend();
      const cpu = valueAndGrads(c, conv2d);
      ['y', 'dx', 'dW', 'db'].forEach((what, i) => expectArraysClose(wasm[i], cpu[i], 1e-4, what));
    });
  }

  for (const c of resnetCases) {
    const name = `${c.h}x${c.w}x${c.cin} -> ${c.cout}, stride ${c.stride}`;
    it(`ResNet-20 layer ${name}: wasm's value and gradients equal TF.js's conv2d on cpu (1e-4 relative)`, async () => {
      const reference = valueAndGrads(c, 'tfjs');
      await tf.setBackend('wasm');
      const wasm = await expectNoLeakedTensors(() => valueAndGrads(c, conv2d));
      await useCpuBackend();
      ['y', 'dx', 'dW', 'db'].forEach((what, i) =>
        expectRelativelyClose(wasm[i], reference[i], 1e-4, what),
      );
    });
  }

  it("takes a bias reshaped from a row of a matrix on wasm (HNET's generated biases)", async () => {
    await tf.setBackend('wasm');
    const rng = new Random(4);
    await expectNoLeakedTensors(() =>
      tf.tidy(() => {
        const x = tf.tensor4d(rng.normalArray(2 * 5 * 5 * 3), [2, 5, 5, 3]);
        const w = tf.tensor4d(rng.normalArray(9 * 3 * 4), [3, 3, 3, 4]);
        const row = tf.tensor2d(rng.normalArray(4), [1, 4]);
        const b = tf.reshape<tf.Rank.R1>(row, [4]);
        const y = conv2d(x, w, b, 1, 1);
        expectArraysClose(y.dataSync(), conv2d(x, w, tf.tensor1d(row.dataSync()), 1, 1).dataSync());
      }),
    );
    await useCpuBackend();
  });

  it('on data: the same value and weight gradients, and zeros for x', () => {
    const c = cases[1];
    const full = valueAndGrads(c, conv2d);
    const onData = valueAndGrads(c, conv2dOnData);
    assert.deepEqual(onData[0], full[0]);
    assert.ok(onData[1].every((v) => v === 0));
    assert.deepEqual(onData[2], full[2]);
    assert.deepEqual(onData[3], full[3]);
  });
});

describe('batchNorm', () => {
  it('normalises each channel with the mean and biased variance of the batch, then scales and shifts', () => {
    const [n, h, w, c] = [3, 2, 4, 2];
    const rng = new Random(2);
    const xs = rng.normalArray(n * h * w * c).map((v, i) => v * (1 + (i % c)) + (i % c) * 5);
    const gamma = [1.5, -0.5];
    const beta = [0.25, 2];
    const y = tf.tidy(() =>
      batchNorm(tf.tensor4d(xs, [n, h, w, c]), tf.tensor1d(gamma), tf.tensor1d(beta)).dataSync(),
    );
    for (let ch = 0; ch < c; ch++) {
      const values = Array.from(xs).filter((_, i) => i % c === ch);
      const mean = values.reduce((a, v) => a + v, 0) / values.length;
      const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length;
      const expected = values.map(
        (v) => ((v - mean) / Math.sqrt(variance + BN_EPSILON)) * gamma[ch] + beta[ch],
      );
      expectArraysClose(
        Array.from(y).filter((_, i) => i % c === ch),
        expected,
        1e-4,
        `channel ${ch}`,
      );
    }
  });

  /** Value and gradients (x, gamma, beta) of sum(bn(x) * r), with `bn` or autodiff through tf.moments. */
  function bnValueAndGrads(
    direct: boolean,
    shape: [number, number, number, number] = [3, 4, 5, 6],
  ) {
    const rng = new Random(6);
    const size = shape.reduce((a, d) => a * d, 1);
    const c = shape[3];
    const x = tf.tensor4d(
      rng.normalArray(size).map((v, i) => v * 2 + (i % c)),
      shape,
    );
    const gamma = tf.tensor1d(rng.uniformArray(c, 0.5, 1.5));
    const beta = tf.tensor1d(rng.uniformArray(c, -1, 1));
    const r = tf.tensor4d(rng.normalArray(size), shape);
    const bn = (xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      if (!direct) return batchNorm(xx as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D);
      const { mean, variance } = tf.moments(xx, [0, 1, 2]);
      return tf.add(tf.mul(tf.div(tf.sub(xx, mean), tf.sqrt(tf.add(variance, BN_EPSILON))), g), b);
    };
    const grads = tf.grads((xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(bn(xx, g, b), r)),
    )([x, gamma, beta]);
    const out = [bn(x, gamma, beta), ...grads].map((t) => t.dataSync() as Float32Array);
    tf.dispose([x, gamma, beta, r, ...grads]);
    return out;
  }

  it('has the gradient of the direct formula (through the statistics), on cpu and on wasm', async () => {
    const reference = bnValueAndGrads(true);
    const cpu = await expectNoLeakedTensors(() => tf.tidy(() => bnValueAndGrads(false)));
    await tf.setBackend('wasm');
    const wasm = bnValueAndGrads(false);
    await useCpuBackend();
    for (const [name, got] of [
      ['cpu', cpu],
      ['wasm', wasm],
    ] as const) {
      ['y', 'dx', 'dgamma', 'dbeta'].forEach((what, i) =>
        expectArraysClose(got[i], reference[i], 1e-4, `${name} ${what}`),
      );
    }
  });

  // ResNet-20's batch-norm shapes (the wasm kernels' four-lane path; 6 channels above is the one-lane path).
  for (const shape of [
    [4, 32, 32, 16],
    [4, 32, 32, 32],
    [4, 16, 16, 64],
    [4, 8, 8, 128],
  ] as [number, number, number, number][]) {
    it(`${shape.join('x')}: wasm's value and gradients equal the direct formula's on cpu (1e-4 relative)`, async () => {
      const reference = bnValueAndGrads(true, shape);
      await tf.setBackend('wasm');
      const wasm = await expectNoLeakedTensors(() => tf.tidy(() => bnValueAndGrads(false, shape)));
      await useCpuBackend();
      ['y', 'dx', 'dgamma', 'dbeta'].forEach((what, i) =>
        expectRelativelyClose(wasm[i], reference[i], 1e-4, what),
      );
    });
  }

  it('depends on the batch: a sample normalises differently in another batch', () => {
    const rng = new Random(3);
    const a = rng.normalArray(4 * 2 * 2 * 1);
    const b = Float32Array.from(a);
    b.fill(10, 4); // samples 1-3 changed, sample 0 kept
    const first = (x: Float32Array) =>
      tf.tidy(() =>
        batchNorm(tf.tensor4d(x, [4, 2, 2, 1]), tf.ones([1]), tf.zeros([1]))
          .dataSync()
          .slice(0, 4),
      );
    assert.notDeepEqual(Array.from(first(a)), Array.from(first(b)));
  });
});

describe('dropout', () => {
  it('keeps whole channels with probability 1 - rate, scaled by 1 / (1 - rate), reproducibly from the random stream', () => {
    const x = tf.ones([50, 2, 2, 8]);
    const draw = (seed: number) =>
      tf.tidy(() => dropout(x, 0.25, new Random(seed), [50, 1, 1, 8]).dataSync());
    const y = draw(1);
    assert.deepEqual(draw(1), y);
    assert.notDeepEqual(draw(2), y);
    const values = new Set(y);
    assert.deepEqual([...values].sort(), [0, Math.fround(1 / 0.75)]);
    // Channel c of sample i is all kept or all dropped.
    for (let i = 0; i < 50; i++) {
      for (let ch = 0; ch < 8; ch++) {
        const cells = [0, 1, 2, 3].map((p) => y[(i * 4 + p) * 8 + ch]);
        assert.equal(new Set(cells).size, 1);
      }
    }
    const kept = y.filter((v) => v > 0).length / y.length;
    assert.ok(kept > 0.65 && kept < 0.85, `kept ${kept}`);
    assert.equal(dropout(x, 0, new Random(1), [50, 1, 1, 8]), x);
    x.dispose();
  });
});
