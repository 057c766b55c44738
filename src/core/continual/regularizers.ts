import * as tf from '@tensorflow/tfjs-core';

/**
 * von Oswald et al.'s output regulariser on raw hypernetwork outputs:
 * (1/t) * sum_{j<t} || targets_j - outputs_j ||^2, summed over all output elements.
 * `outputs[l]` and `targets[l]` are [t, numel_l] (one row per earlier task), so all earlier
 * tasks are handled by one batched hypernetwork pass instead of one pass each.
 * Returns a scalar; caller disposes.
 */
export function fixedTargetRegularizer(outputs: tf.Tensor[], targets: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => {
    const rows = targets[0].shape[0];
    const parts = outputs.map((o, l) => tf.sum(tf.squaredDifference(o, targets[l])));
    return tf.div<tf.Scalar>(tf.addN(parts), rows);
  });
}

/**
 * HyperMask's L1 drift of the target weights from their copy at the start of the task (method
 * section 4.3): sum_l || (theta_l - prev_l) (* m_l) ||_1 over all tensors, the last included.
 * The masks are not detached: in the masked variant the term also pushes mask values down where
 * theta has drifted. Returns a scalar; caller disposes.
 */
export function driftL1(
  theta: tf.Tensor[],
  prev: tf.Tensor[],
  masks: tf.Tensor[] | null,
): tf.Scalar {
  return tf.tidy(() => {
    const parts = theta.map((w, l) => {
      const d = tf.sub(w, prev[l]);
      return tf.sum(tf.abs(masks ? tf.mul(d, masks[l]) : d));
    });
    return tf.addN(parts) as tf.Scalar;
  });
}
