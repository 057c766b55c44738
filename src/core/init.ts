import * as tf from '@tensorflow/tfjs-core';
import type { Random } from './random.js';

/**
 * PyTorch's default initialisation of a linear layer: Kaiming-uniform with a = sqrt(5) gives
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the weight, and the bias uses the same bound
 * (hypermask-method.md section 6.1). Values come from the engine's seeded `Random`.
 */
export function linearInit(
  rng: Random,
  fanIn: number,
  fanOut: number,
): { kernel: Float32Array; bias: Float32Array } {
  const bound = 1 / Math.sqrt(fanIn);
  // Drawn in PyTorch's [out, in] order, then transposed to the [in, out] layout TF.js uses, so the
  // draw order does not depend on our memory layout.
  const torchOrder = rng.uniformArray(fanIn * fanOut, -bound, bound);
  const kernel = new Float32Array(fanIn * fanOut);
  for (let o = 0; o < fanOut; o++) {
    for (let i = 0; i < fanIn; i++) kernel[i * fanOut + o] = torchOrder[o * fanIn + i];
  }
  return { kernel, bias: rng.uniformArray(fanOut, -bound, bound) };
}

/**
 * PyTorch's default initialisation of a convolution (hypnettorch's `init_params`): the same
 * bounds as `linearInit` with fan_in = cin * kh * kw. Drawn in PyTorch's [cout, cin, kh, kw]
 * order, stored in the TF.js layout [kh, kw, cin, cout].
 */
export function convInit(
  rng: Random,
  kh: number,
  kw: number,
  cin: number,
  cout: number,
): { kernel: Float32Array; bias: Float32Array } {
  const fanIn = cin * kh * kw;
  const bound = 1 / Math.sqrt(fanIn);
  const torchOrder = rng.uniformArray(cout * fanIn, -bound, bound);
  const kernel = new Float32Array(cout * fanIn);
  for (let o = 0; o < cout; o++) {
    for (let i = 0; i < cin; i++) {
      for (let r = 0; r < kh; r++) {
        for (let c = 0; c < kw; c++)
          kernel[((r * kw + c) * cin + i) * cout + o] =
            torchOrder[((o * cin + i) * kh + r) * kw + c];
      }
    }
  }
  return { kernel, bias: rng.uniformArray(cout, -bound, bound) };
}

/**
 * hypercl's initialisation of HNET's hypernetworks (mnist/train_utils.py `generate_classifier`):
 * every weight matrix `torch.nn.init.xavier_uniform_`, i.e. U(-b, b) with
 * b = sqrt(6 / (fan_in + fan_out)), and every bias `constant_(0)`. For the split-MNIST chunked
 * hypernetwork (10 -> 42,000 output layer) the generated target weights start with RMS ~0.002-0.01
 * (PyTorch's default for a 784-400 layer: 0.02). With `linearInit` they had RMS ~0.19, mostly from
 * the output bias, so first-step cross-entropy ~56 and a network that forgot (bench/README.md).
 */
export function xavierInit(
  rng: Random,
  fanIn: number,
  fanOut: number,
): { kernel: Float32Array; bias: Float32Array } {
  const bound = Math.sqrt(6 / (fanIn + fanOut));
  const torchOrder = rng.uniformArray(fanIn * fanOut, -bound, bound);
  const kernel = new Float32Array(fanIn * fanOut);
  for (let o = 0; o < fanOut; o++) {
    for (let i = 0; i < fanIn; i++) kernel[i * fanOut + o] = torchOrder[o * fanIn + i];
  }
  return { kernel, bias: new Float32Array(fanOut) };
}

/** How a hypernetwork's linear layers start: HyperMask uses PyTorch's default, HNET hypercl's. */
export type LayerInit = 'torch-default' | 'xavier-zero-bias';

export function layerInit(
  kind: LayerInit,
  rng: Random,
  fanIn: number,
  fanOut: number,
): { kernel: Float32Array; bias: Float32Array } {
  return kind === 'xavier-zero-bias'
    ? xavierInit(rng, fanIn, fanOut)
    : linearInit(rng, fanIn, fanOut);
}

/**
 * A trainable variable holding the given values. TF.js variable names are global to the engine,
 * so variables stay anonymous and each network keeps its own list of stable parameter names.
 */
export function variableFrom(values: Float32Array, shape: number[]): tf.Variable {
  // The variable shares the tensor's data; tidy releases the temporary handle.
  return tf.tidy(() => tf.variable(tf.tensor(values, shape, 'float32'), true));
}
