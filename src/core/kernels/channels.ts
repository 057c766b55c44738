import * as tf from '@tensorflow/tfjs-core';
import { wasmHeap, type WasmHeap } from '../continual/host-memory.js';
import { WASM_BASE64 } from './channels.wasm.js';
import { instantiateKernel } from './instantiate.js';

/** The exports of channels.wat; pointers are byte offsets into the TF.js wasm heap. */
interface ChannelsKernel {
  sum(s: number, x: number, rows: number, c: number): void;
  sumSquaredDeviations(s: number, x: number, m: number, rows: number, c: number): void;
  sumAndSumTimesDeviation(
    s1: number,
    s2: number,
    dy: number,
    x: number,
    m: number,
    rows: number,
    c: number,
  ): void;
  affine2(
    out: number,
    x: number,
    y: number,
    a: number,
    e: number,
    b: number,
    d: number,
    rows: number,
    c: number,
  ): void;
}

/**
 * Per-channel operations on NHWC tensors (the last axis is the channel) for batch norm and
 * convolution biases, each one pass of kernels/channels.wat over the data where the wasm backend
 * keeps it. TF.js's wasm Sum over axes [0, 1, 2] transposes its input first and its FusedBatchNorm
 * is a scalar loop: in a ResNet-20 step at batch 32 they took about 0.4 s of 1.7 s. The results
 * are what the TF.js ops give up to float rounding (sums run front to back in float32, as TF.js's
 * do). Not differentiable by themselves: conv.ts calls them inside its custom gradients.
 */
export interface ChannelOps {
  /** Sum over every axis but the last: [c]. */
  sum(x: tf.Tensor): tf.Tensor1D;
  /** Mean and biased variance per channel (two passes: the mean, then squared deviations from it). */
  moments(x: tf.Tensor): { mean: tf.Tensor1D; variance: tf.Tensor1D };
  /** Per channel: sum of dy, and sum of dy * (x - mean). */
  sumAndSumTimesDeviation(
    dy: tf.Tensor,
    x: tf.Tensor,
    mean: tf.Tensor1D,
  ): { sum: tf.Tensor1D; sumTimesDeviation: tf.Tensor1D };
  /** x * a + (y - e) * b + d with a, e, b, d [c] broadcast along the last axis; x and y of one shape. */
  affine2<T extends tf.Tensor>(
    x: T,
    a: tf.Tensor1D,
    y: T,
    e: tf.Tensor1D,
    b: tf.Tensor1D,
    d: tf.Tensor1D,
  ): T;
}

/** The kernels on the current backend's heap, or null when the backend is not wasm. */
export function channelOps(): ChannelOps | null {
  const heap = wasmHeap();
  return heap && opsOn(heap, instantiateKernel<ChannelsKernel>(WASM_BASE64, heap));
}

function opsOn(heap: WasmHeap, kernel: ChannelsKernel): ChannelOps {
  const shape = (x: tf.Tensor) => {
    const c = x.shape[x.rank - 1];
    return { c, rows: x.size / c };
  };
  return {
    sum(x) {
      const { c, rows } = shape(x);
      const s = heap.allocate([c]) as tf.Tensor1D;
      kernel.sum(heap.offsetOf(s), heap.offsetOf(x), rows, c);
      return s;
    },
    moments(x) {
      const { c, rows } = shape(x);
      const total = heap.allocate([c]);
      kernel.sum(heap.offsetOf(total), heap.offsetOf(x), rows, c);
      const mean = tf.div<tf.Tensor1D>(total, rows);
      total.dispose();
      const squares = heap.allocate([c]);
      kernel.sumSquaredDeviations(
        heap.offsetOf(squares),
        heap.offsetOf(x),
        heap.offsetOf(mean),
        rows,
        c,
      );
      const variance = tf.div<tf.Tensor1D>(squares, rows);
      squares.dispose();
      return { mean, variance };
    },
    sumAndSumTimesDeviation(dy, x, mean) {
      const { c, rows } = shape(x);
      const sum = heap.allocate([c]) as tf.Tensor1D;
      const sumTimesDeviation = heap.allocate([c]) as tf.Tensor1D;
      kernel.sumAndSumTimesDeviation(
        heap.offsetOf(sum),
        heap.offsetOf(sumTimesDeviation),
        heap.offsetOf(dy),
        heap.offsetOf(x),
        heap.offsetOf(mean),
        rows,
        c,
      );
      return { sum, sumTimesDeviation };
    },
    affine2(x, a, y, e, b, d) {
      const { c, rows } = shape(x);
      const out = heap.allocate(x.shape) as typeof x;
      kernel.affine2(
        heap.offsetOf(out),
        heap.offsetOf(x),
        heap.offsetOf(y),
        heap.offsetOf(a),
        heap.offsetOf(e),
        heap.offsetOf(b),
        heap.offsetOf(d),
        rows,
        c,
      );
      return out;
    },
  };
}
