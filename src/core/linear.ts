import * as tf from '@tensorflow/tfjs-core';

/**
 * y = x W + b with a hand-written gradient that avoids transposed matrix products.
 *
 * TF.js's default gradient of matMul computes dx = dy W^T and dW = x^T dy as matMuls with
 * transposeA / transposeB, which the WebAssembly backend runs 5-15x slower than plain products
 * (measured on this project's 2-core CI machine: 128x400 by 784x400^T 65 ms vs 6 ms; see
 * bench/README.md). Here every product is a plain one, and only small operands are transposed:
 *   dx = (W dy^T)^T      (transposes dy and the [in x batch] result, never W)
 *   dW = x^T dy          (x has batch rows; a single row is an outer product by broadcasting)
 *   db = sum_rows dy
 * The values are the same as the default gradient's; only the order of operations differs.
 *
 * A W that is a variable is not saved for the backward pass but used as it is: TF.js saves by
 * cloning and the wasm backend's clone copies, which for hypernetwork heads meant a full copy of
 * every weight block on every forward pass (822 MB for permuted-mnist). Variables outlive the
 * gradient computation; any other W (masked or generated weights, made inside the forward pass,
 * which TF.js disposes before the backward pass) is saved as usual.
 */
export const linear = linearWithGradients(true);

/**
 * The same layer for an input that never needs a gradient (data fed to the target network): the
 * gradient with respect to x is returned as zeros instead of computed. For the split-mnist target's
 * first layer that skips a 128 x 400 x 784 product per step.
 */
export const linearOnData = linearWithGradients(false);

function linearWithGradients(inputGrad: boolean) {
  return tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, w, b] = inputs as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
    const saveW = !(w instanceof tf.Variable);
    (inputs[3] as tf.GradSaveFunc)(saveW ? [x, w] : [x]);
    return {
      value: tf.add<tf.Tensor2D>(tf.matMul(x, w), b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const xs = saved[0] as tf.Tensor2D;
        const ws = saveW ? (saved[1] as tf.Tensor2D) : w;
        const dx = inputGrad ? tf.transpose(tf.matMul(ws, tf.transpose(dy))) : tf.zerosLike(xs);
        const dw =
          xs.shape[0] === 1
            ? tf.mul(tf.reshape(xs, [xs.shape[1], 1]), dy)
            : tf.matMul(tf.transpose(xs), dy);
        return [dx, dw, tf.sum(dy, 0)];
      },
    };
  }) as (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D;
}
