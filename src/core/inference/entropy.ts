import * as tf from '@tensorflow/tfjs-core';

/**
 * Softmax entropy of each row of log-probabilities `logP` [n, K], divided by its largest possible
 * value ln K: in [0, 1] whatever the class count, so tasks with different class counts compete
 * fairly in task inference (raw entropy favours tasks with fewer classes: a 2-class task can be
 * no less certain than ln 2, a 10-class one reaches ln 10). Tasks with equal class counts are
 * ordered as by the raw entropy of the method (section 7.2). Caller disposes the result.
 */
export function normalizedEntropy(logP: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() =>
    tf.div(tf.neg(tf.sum(tf.mul(tf.exp(logP), logP), 1)), Math.log(logP.shape[1])),
  );
}
