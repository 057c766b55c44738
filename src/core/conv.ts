import * as tf from '@tensorflow/tfjs-core';
import { channelOps } from './kernels/channels.js';
import type { Random } from './random.js';

/**
 * Layers of the convolutional target networks (ZenkeNet, ResNet), on NHWC tensors, with PyTorch's
 * semantics where they differ from TF.js's: symmetric zero padding, batch normalisation with the
 * statistics of the current batch (hypnettorch's `bn_track_stats=False`), channel dropout.
 */

/** PyTorch's batch-norm epsilon (hypnettorch's BatchNormLayer passes the default). */
export const BN_EPSILON = 1e-5;

/**
 * y = conv(x, W) + b, x [n, h, w, cin], W [kh, kw, cin, cout] (the TF.js layout), b [cout], with
 * the same `stride` on both axes and `pad` zeros on every side (PyTorch's `padding`; TF.js's
 * "same" differs for stride 2 on even sizes, padding only bottom and right).
 *
 * The gradient is written out: the wasm backend has no Conv2DBackpropFilter kernel (TF.js's own
 * gradient fails there) and its Conv2DBackpropInput is a plain loop, far slower than XNNPACK's
 * forward convolution. Both gradients are forward convolutions here:
 *   dx = conv(dy, W rotated 180 degrees with in/out swapped), padded so that dx has x's size
 *        ("full" convolution); with a stride, one such convolution per phase of the input
 *        (`inputGradient`);
 *   dW = conv(x padded, transposed to [cin, h, w, n], with dy transposed to [ho, wo, n, cout] as
 *        the filter, dilated by the stride): the batch is summed as the channel dimension;
 *   db = sum of dy over batch and space (kernels/channels.ts on wasm).
 * The bias is added after the convolution: TF.js's fused conv2d on wasm reads the rank of the
 * bias from its storage, which for HNET's generated biases (reshaped from a row of the
 * hypernetwork's output) is 2, and refuses it.
 * Values equal TF.js's gradients up to float rounding (tested). Like `linear`, a W that is a
 * variable is not saved for the backward pass (wasm's save clones, that is copies).
 */
export function conv2d(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  b: tf.Tensor1D,
  stride: number,
  pad: number,
): tf.Tensor4D {
  return convOp(stride, pad, true)(x, w, b);
}

/** The same layer for an input that is data: the gradient with respect to x is zeros, not computed. */
export function conv2dOnData(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  b: tf.Tensor1D,
  stride: number,
  pad: number,
): tf.Tensor4D {
  return convOp(stride, pad, false)(x, w, b);
}

type ConvFn = (x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D) => tf.Tensor4D;
const convOps = new Map<string, ConvFn>();

/** customGrad takes tensors only, so there is one op per (stride, pad, input gradient). */
function convOp(stride: number, pad: number, inputGrad: boolean): ConvFn {
  const key = `${stride}/${pad}/${inputGrad}`;
  let op = convOps.get(key);
  if (!op) {
    op = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [x, w, b] = inputs as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D];
      const saveW = !(w instanceof tf.Variable);
      (inputs[3] as tf.GradSaveFunc)(saveW ? [x, w] : [x]);
      return {
        value: tf.add<tf.Tensor4D>(tf.conv2d(x, w, stride, padding(pad, pad, pad, pad)), b),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const xs = saved[0] as tf.Tensor4D;
          const ws: tf.Tensor4D = saveW ? (saved[1] as tf.Tensor4D) : w;
          const dx = inputGrad
            ? inputGradient(dy as tf.Tensor4D, ws, xs.shape, stride, pad)
            : tf.zerosLike(xs);
          return [
            dx,
            filterGradient(xs, dy as tf.Tensor4D, ws.shape, stride, pad),
            channelOps()?.sum(dy) ?? tf.sum(dy, [0, 1, 2]),
          ];
        },
      };
    });
    convOps.set(key, op);
  }
  return op;
}

function padding(
  top: number,
  bottom: number,
  left: number,
  right: number,
): [[number, number], [number, number], [number, number], [number, number]] {
  return [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
}

/**
 * How one spatial axis of the input gradient splits by the stride: the input positions
 * r = s * a + phase (a = 0 .. length - 1) receive dy only through the kernel taps u with
 * u = r + pad (mod s), so each phase is a stride-1 correlation of dy with those taps (in reverse
 * order), dy padded by `before` / `after` (negative: cropped).
 */
interface AxisPhase {
  taps: number[];
  before: number;
  after: number;
  length: number;
}

function axisPhases(size: number, outSize: number, k: number, s: number, pad: number): AxisPhase[] {
  const phases: AxisPhase[] = [];
  for (let phase = 0; phase < s; phase++) {
    const length = Math.ceil((size - phase) / s);
    const u0 = (phase + pad) % s;
    const count = u0 < k ? Math.ceil((k - u0) / s) : 0;
    // Input position s * a + phase meets dy[a + shift - t] through tap u0 + s * t.
    const shift = (phase + pad - u0) / s;
    const before = count - 1 - shift;
    phases.push({
      taps: Array.from({ length: count }, (_, t) => u0 + s * (count - 1 - t)),
      before,
      after: length + count - 1 - outSize - before,
      length,
    });
  }
  return phases;
}

/**
 * dx of the convolution: for stride 1 one "full" convolution of dy with the kernel rotated 180
 * degrees, in and out swapped; for stride s, s * s such convolutions, one per phase of the input
 * (which rows and columns modulo s), each with the kernel taps that reach that phase (for 3x3,
 * stride 2, padding 1: 1x1, 1x2, 2x1 and 2x2 kernels), interleaved into dx. That is the work of
 * the forward convolution, where convolving dy dilated with zeros (TF.js's way) does s * s times
 * as many multiply-adds, most of them by zero. Exported for bench/conv-profile.ts.
 */
export function inputGradient(
  dy: tf.Tensor4D,
  w: tf.Tensor4D,
  xShape: number[],
  stride: number,
  pad: number,
): tf.Tensor4D {
  const [kh, kw, cin, cout] = w.shape;
  const [n, h, wd] = xShape;
  const [, ho, wo] = dy.shape;
  // Taps as rows of [kh * kw, cout * cin], picked and ordered by slices (wasm's Reverse and Gather
  // are slow loops; Slice and Concat copy rows).
  const taps = tf.reshape(tf.transpose(w, [0, 1, 3, 2]), [kh * kw, cout * cin]);
  const rows = axisPhases(h, ho, kh, stride, pad);
  const cols = axisPhases(wd, wo, kw, stride, pad);
  const phase = (r: AxisPhase, c: AxisPhase): tf.Tensor4D => {
    if (r.taps.length === 0 || c.taps.length === 0) return tf.zeros([n, r.length, c.length, cin]);
    const picked = r.taps.flatMap((u) => c.taps.map((v) => tf.slice(taps, u * kw + v, 1)));
    const kernel = tf.reshape<tf.Rank.R4>(picked.length === 1 ? picked[0] : tf.concat(picked), [
      r.taps.length,
      c.taps.length,
      cout,
      cin,
    ]);
    const cropTop = Math.max(0, -r.before);
    const cropLeft = Math.max(0, -c.before);
    const cropped =
      cropTop || cropLeft || r.after < 0 || c.after < 0
        ? tf.slice(
            dy,
            [0, cropTop, cropLeft, 0],
            [n, ho - cropTop - Math.max(0, -r.after), wo - cropLeft - Math.max(0, -c.after), cout],
          )
        : dy;
    return tf.conv2d(
      cropped,
      kernel,
      1,
      padding(
        Math.max(0, r.before),
        Math.max(0, r.after),
        Math.max(0, c.before),
        Math.max(0, c.after),
      ),
    );
  };
  if (stride === 1) return phase(rows[0], cols[0]);
  const [R, C] = [Math.ceil(h / stride), Math.ceil(wd / stride)];
  const grow = (t: tf.Tensor4D) =>
    t.shape[1] === R && t.shape[2] === C
      ? t
      : tf.pad(t, padding(0, R - t.shape[1], 0, C - t.shape[2]));
  const byRow = rows.map((r) =>
    tf.reshape(
      tf.stack(
        cols.map((c) => grow(phase(r, c))),
        3,
      ),
      [n, R, C * stride, cin],
    ),
  );
  const full = tf.reshape<tf.Rank.R4>(tf.stack(byRow, 2), [n, R * stride, C * stride, cin]);
  return full.shape[1] === h && full.shape[2] === wd ? full : tf.slice(full, 0, [n, h, wd, cin]);
}

/** dW of the convolution (see `conv2d`). Exported for bench/conv-profile.ts. */
export function filterGradient(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  wShape: number[],
  stride: number,
  pad: number,
): tf.Tensor4D {
  const [kh, kw, cin, cout] = wShape;
  const padded = pad > 0 ? tf.pad(x, padding(pad, pad, pad, pad)) : x;
  const channelsFirst = tf.transpose<tf.Tensor4D>(padded, [3, 1, 2, 0]);
  const filter = tf.transpose<tf.Tensor4D>(dy, [1, 2, 0, 3]);
  let g = tf.conv2d(channelsFirst, filter, 1, 'valid', 'NHWC', [stride, stride]);
  // Padded rows past the last window make the result larger than the kernel: they belong to no window.
  if (g.shape[1] !== kh || g.shape[2] !== kw) g = tf.slice(g, [0, 0, 0, 0], [cin, kh, kw, cout]);
  return tf.transpose<tf.Tensor4D>(g, [1, 2, 0, 3]);
}

/**
 * Batch normalisation with the statistics of the batch itself, in training and in evaluation
 * (hypermask-method.md section 3 and pitfall 10): per channel, y = (x - mean) / sqrt(var + eps)
 * * gamma + beta, mean and biased variance over batch and space. So a prediction depends on the
 * batch it is made in. Gradients flow through the statistics, as in PyTorch's training mode.
 *
 * The gradient is the closed form (xhat = (x - mean) / sqrt(var + eps), M values per channel):
 *   dbeta = sum(dy),  dgamma = sum(dy * xhat),
 *   dx = gamma / sqrt(var + eps) * (dy - dbeta / M - xhat * dgamma / M),
 * Autodiff through the statistics runs wasm's broadcasting multiply and mean, which take slow
 * generic paths and made batch norm a large part of a ResNet step; this form needs only sums over
 * batch and space and per-channel affine maps. On wasm those are our own kernels
 * (kernels/channels.ts: the statistics in two passes over x, the output in one, the backward in
 * two: the sums of dy and dy * (x - mean), then dx = scale * dy + (x - mean) * b + d per channel);
 * TF.js's Sum over [0, 1, 2] transposes its input there and its FusedBatchNorm is a scalar loop.
 * Other backends use TF.js's sums and fused batch-norm op.
 */
export function batchNorm(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D): tf.Tensor4D {
  return batchNormOp(x, gamma, beta);
}

const batchNormOp = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, gamma, beta] = inputs as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
  const count = x.size / x.shape[3];
  const ops = channelOps();
  const { mean, variance } = ops ? ops.moments(x) : moments(x, count);
  (inputs[3] as tf.GradSaveFunc)([x, mean, variance, gamma]);
  return {
    value: ops
      ? ops.affine2(
          x,
          tf.zerosLike(mean),
          x,
          mean,
          tf.mul<tf.Tensor1D>(gamma, tf.rsqrt(tf.add(variance, BN_EPSILON))),
          beta,
        )
      : tf.batchNorm(x, mean, variance, beta, gamma, BN_EPSILON),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, m, v, g] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
      const invStd = tf.rsqrt(tf.add<tf.Tensor1D>(v, BN_EPSILON));
      const scale = tf.mul<tf.Tensor1D>(g, invStd);
      const perValue = tf.div<tf.Tensor1D>(scale, -count);
      if (ops) {
        // dx = scale * dy + (x - mean) * (-scale * invStd * dgamma / M) - scale * dbeta / M
        const sums = ops.sumAndSumTimesDeviation(dy, xs, m);
        const dgamma = tf.mul<tf.Tensor1D>(sums.sumTimesDeviation, invStd);
        const dx = ops.affine2(
          dy as tf.Tensor4D,
          scale,
          xs,
          m,
          tf.mul<tf.Tensor1D>(perValue, tf.mul(invStd, dgamma)),
          tf.mul<tf.Tensor1D>(perValue, sums.sum),
        );
        return [dx, dgamma, sums.sum];
      }
      const xhat = tf.batchNorm(xs, m, v, undefined, undefined, BN_EPSILON);
      const dbeta = tf.sum<tf.Tensor1D>(dy, [0, 1, 2]);
      const dgamma = tf.sum<tf.Tensor1D>(tf.mul(dy, xhat), [0, 1, 2]);
      const dx = tf.add(
        affine(dy as tf.Tensor4D, scale, tf.mul<tf.Tensor1D>(perValue, dbeta)),
        affine(xhat, tf.mul<tf.Tensor1D>(perValue, dgamma), tf.zerosLike(dbeta)),
      );
      return [dx, dgamma, dbeta];
    },
  };
}) as (x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D) => tf.Tensor4D;

/** Mean and biased variance per channel with TF.js ops (backends other than wasm). */
function moments(x: tf.Tensor4D, count: number): { mean: tf.Tensor1D; variance: tf.Tensor1D } {
  const mean = tf.div<tf.Tensor1D>(tf.sum(x, [0, 1, 2]), count);
  const variance = tf.div<tf.Tensor1D>(tf.sum(tf.square(tf.sub(x, mean)), [0, 1, 2]), count);
  return { mean, variance };
}

/** t * scale + shift per channel, with the fused batch-norm op (mean 0, variance 1, no epsilon). */
function affine(t: tf.Tensor4D, scale: tf.Tensor1D, shift: tf.Tensor1D): tf.Tensor4D {
  return tf.batchNorm(t, tf.zerosLike(scale), tf.onesLike(scale), shift, scale, 0);
}

/**
 * Inverted dropout with its keep pattern drawn from `rng` (the engine's seeded stream, so a
 * resumed run draws the same patterns): entries are kept with probability 1 - rate and scaled by
 * 1 / (1 - rate). `noiseShape` broadcasts against x: [n, 1, 1, c] drops whole channels
 * (PyTorch's Dropout2d), x's own shape single units.
 */
export function dropout(x: tf.Tensor, rate: number, rng: Random, noiseShape: number[]): tf.Tensor {
  if (rate <= 0) return x;
  const size = noiseShape.reduce((a, d) => a * d, 1);
  const keep = new Float32Array(size);
  const scale = 1 / (1 - rate);
  for (let i = 0; i < size; i++) keep[i] = rng.next() >= rate ? scale : 0;
  return tf.tidy(() => tf.mul(x, tf.tensor(keep, noiseShape, 'float32')));
}
