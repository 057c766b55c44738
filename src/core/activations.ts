import * as tf from '@tensorflow/tfjs-core';

export type ActivationName = 'relu' | 'elu' | 'sigmoid' | 'linear';

export function activate(x: tf.Tensor, name: ActivationName): tf.Tensor {
  switch (name) {
    case 'relu':
      return tf.relu(x);
    case 'elu':
      return tf.elu(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'linear':
      return x;
  }
}
