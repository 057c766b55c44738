import * as tf from '@tensorflow/tfjs-core';
import { wasmHeap, type WasmHeap } from '../continual/host-memory.js';
import { linear } from '../linear.js';
import { instantiateKernel } from './instantiate.js';
import { WASM_BASE64 } from './rows.wasm.js';

/** The exports of rows.wat; pointers are byte offsets into the TF.js wasm heap, lengths in elements. */
interface RowsKernel {
  axpy(dst: number, src: number, a: number, len: number): void;
  scale(dst: number, src: number, a: number, len: number): void;
  dot(x: number, y: number, len: number): number;
}

/** Inputs with more rows than this use the ordinary matMul path. */
export const MAX_FEW_ROWS = 16;
/** Columns per tile: a tile of every row (16 x 32 KB at most) stays in cache while W streams by. */
const TILE = 8192;

/**
 * y = x W + b for an x of a few rows and a very wide W: the hypernetwork's output heads, where x
 * holds one row per task embedding and W has a column per target parameter (up to 25 x 475,202
 * for split-mnist and 100 x 2,036,010 for permuted-mnist).
 *
 * On the wasm backend, XNNPACK's matMul copies W into a packed layout for every new W (every
 * step, since Adam replaces the parameters), keeps that copy alive as long as W (822 MB more
 * heap on permuted-mnist, which then no longer fits in 4 GB) and its gradient needs transposes.
 * Here forward and gradient are tiled loops over SIMD vector primitives (kernels/rows.wat) that
 * read W once per pass and allocate only their outputs:
 *   y[i, :]  = b + sum_k x[i, k] W[k, :]
 *   dW[k, :] = sum_i x[i, k] dy[i, :],   db = sum_i dy[i, :],   dx[i, k] = dy[i, :] . W[k, :]
 * Other backends, and inputs with more than MAX_FEW_ROWS rows, use `linear`. Results equal the
 * matMul path up to float rounding (the order of the sums differs). Like `linear`, it does not copy
 * a W that is a variable for the backward pass.
 */
export function fewRowsLinear(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  const heap = wasmHeap();
  if (!heap || x.shape[0] > MAX_FEW_ROWS) return linear(x, w, b);
  return wasmFewRowsLinear(x, w, b);
}

const wasmFewRowsLinear = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, w, b] = inputs as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
  const saveW = !(w instanceof tf.Variable);
  (inputs[3] as tf.GradSaveFunc)(saveW ? [x, w] : [x]);
  const heap = wasmHeap()!;
  const kernel = instantiateKernel<RowsKernel>(WASM_BASE64, heap);
  return {
    value: forward(heap, kernel, x, w, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const ws = saveW ? (saved[1] as tf.Tensor2D) : w;
      return backward(heap, kernel, saved[0] as tf.Tensor2D, ws, dy as tf.Tensor2D);
    },
  };
}) as (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D;

/** Byte offset of element (row, col) of a row-major matrix with `cols` columns starting at `base`. */
const at = (base: number, cols: number, row: number, col: number) => base + 4 * (row * cols + col);

function forward(
  heap: WasmHeap,
  kernel: RowsKernel,
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  b: tf.Tensor1D,
): tf.Tensor2D {
  const [n, k] = x.shape;
  const cols = w.shape[1];
  const xv = x.dataSync();
  const out = heap.allocate([n, cols]) as tf.Tensor2D;
  const [o, wo, bo] = [heap.offsetOf(out), heap.offsetOf(w), heap.offsetOf(b)];
  for (let j = 0; j < cols; j += TILE) {
    const len = Math.min(TILE, cols - j);
    for (let i = 0; i < n; i++) kernel.scale(at(o, cols, i, j), bo + 4 * j, 1, len);
    for (let kk = 0; kk < k; kk++) {
      for (let i = 0; i < n; i++)
        kernel.axpy(at(o, cols, i, j), at(wo, cols, kk, j), xv[i * k + kk], len);
    }
  }
  return out;
}

function backward(
  heap: WasmHeap,
  kernel: RowsKernel,
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  dy: tf.Tensor2D,
): tf.Tensor[] {
  const [n, k] = x.shape;
  const cols = w.shape[1];
  const xv = x.dataSync();
  const dw = heap.allocate([k, cols]);
  const db = heap.allocate([cols]);
  const dx = new Float32Array(n * k);
  const [wo, dyo, dwo, dbo] = [
    heap.offsetOf(w),
    heap.offsetOf(dy),
    heap.offsetOf(dw),
    heap.offsetOf(db),
  ];
  for (let j = 0; j < cols; j += TILE) {
    const len = Math.min(TILE, cols - j);
    for (let kk = 0; kk < k; kk++) {
      kernel.scale(at(dwo, cols, kk, j), at(dyo, cols, 0, j), xv[kk], len);
      for (let i = 1; i < n; i++)
        kernel.axpy(at(dwo, cols, kk, j), at(dyo, cols, i, j), xv[i * k + kk], len);
      for (let i = 0; i < n; i++)
        dx[i * k + kk] += kernel.dot(at(dyo, cols, i, j), at(wo, cols, kk, j), len);
    }
    kernel.scale(dbo + 4 * j, at(dyo, cols, 0, j), 1, len);
    for (let i = 1; i < n; i++) kernel.axpy(dbo + 4 * j, at(dyo, cols, i, j), 1, len);
  }
  return [tf.tensor2d(dx, [n, k]), dw, db];
}
