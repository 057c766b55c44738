import * as tf from '@tensorflow/tfjs-core';

/**
 * The p-th percentile of `values` with linear interpolation (numpy's default, and
 * torchpercentile's): position q = p/100 * (n-1) in ascending order, interpolated between the
 * entries at floor(q) and ceil(q). Runs in O(n) with quickselect on a copy.
 */
export function percentile(values: ArrayLike<number>, p: number): number {
  const n = values.length;
  if (n === 0) throw new RangeError('percentile of an empty array');
  const a = Float32Array.from(values);
  const q = (p / 100) * (n - 1);
  const lo = Math.floor(q);
  const low = select(a, lo);
  if (q === lo) return low;
  // After select(), everything right of `lo` is >= a[lo]: the next order statistic is their minimum.
  let high = Infinity;
  for (let i = lo + 1; i < n; i++) if (a[i] < high) high = a[i];
  return low + (q - lo) * (high - low);
}

/** k-th smallest (0-based), partially reordering `a` (Hoare partition quickselect). */
function select(a: Float32Array, k: number): number {
  let left = 0;
  let right = a.length - 1;
  while (left < right) {
    const pivot = a[(left + right) >>> 1];
    let i = left;
    let j = right;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return a[k];
  }
  return a[k];
}

/**
 * Sparsity (percent zeroed) at a given iteration: during the first task it ramps linearly from
 * p/N to p over the task's N iterations; later tasks use p from the start (method section 2.5).
 */
export function sparsityAt(p: number, task: number, iteration: number, iterations: number): number {
  return task === 0 ? (p * (iteration + 1)) / iterations : p;
}

/**
 * HyperMask's semi-binary mask of one tensor of raw hypernetwork outputs h (method section 2):
 * r = |tanh(h)|, and entries below the p-th percentile of r set to exactly zero (ties kept).
 * Kept entries keep their value r. The threshold and the keep pattern are constants, so the
 * gradient is sign(h)(1 - tanh^2 h) on kept entries and 0 elsewhere (written out as a custom
 * gradient, so nothing flows through the comparison). With p = 0 nothing is zeroed and the
 * selection is skipped. Caller disposes.
 */
export function semiBinaryMask(h: tf.Tensor, p: number): tf.Tensor {
  if (p <= 0) return tf.tidy(() => tf.abs(tf.tanh(h)));
  return thresholdedMask(p)(h);
}

const thresholdedMask = (p: number) =>
  tf.customGrad<tf.Tensor>((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const h = inputs[0] as tf.Tensor;
    const t = tf.tanh(h);
    const r = tf.abs(t);
    const keep = tf.cast(tf.greaterEqual(r, percentile(r.dataSync(), p)), 'float32');
    (inputs[1] as tf.GradSaveFunc)([t, keep, h]);
    return {
      value: tf.mul(r, keep),
      gradFunc: (dy: tf.Tensor, [ts, ks, hs]: tf.Tensor[]) => [
        tf.mul(tf.mul(dy, ks), tf.mul(tf.sign(hs), tf.sub(1, tf.square(ts)))),
      ],
    };
  });

/**
 * Masks for all target tensors from the hypernetwork outputs of one task. Every tensor but the
 * last gets its own threshold; the last (the output bias) keeps |tanh(h)| unthresholded. It is
 * never applied to the weights, only used to weight the L1 drift term. Caller disposes.
 */
export function hyperMasks(outputs: tf.Tensor[], p: number): tf.Tensor[] {
  return outputs.map((h, i) =>
    i === outputs.length - 1 ? tf.tidy(() => tf.abs(tf.tanh(h))) : semiBinaryMask(h, p),
  );
}

/** theta * m for every tensor except the last, which is used as it is. Caller disposes. */
export function applyMasks(theta: tf.Tensor[], masks: tf.Tensor[]): tf.Tensor[] {
  return theta.map((w, i) => (i === theta.length - 1 ? tf.clone(w) : tf.mul(w, masks[i])));
}
