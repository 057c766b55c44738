import type * as tf from '@tensorflow/tfjs-core';

/**
 * A network whose weights may come from outside (hypnettorch's MainNetInterface contract).
 * `paramShapes` lists every parameter tensor in a fixed order; `forward(x, weights)` runs the
 * network with exactly those tensors and never touches its own variables when weights are given.
 * A convolutional target (ZenkeNet, ResNet-20 with batch-statistics BN) implements the same
 * interface; batch-norm parameters would be listed separately in `bnShapes` (never masked).
 */
export interface TargetNetwork {
  readonly paramShapes: number[][];
  /** Stable names of the parameters, e.g. "dense_1/kernel"; used in exports and checkpoints. */
  readonly paramNames: string[];
  readonly inputSize: number;
  readonly outputSize: number;
  /** The network's own trainable parameters, or null for a network that only runs given weights. */
  readonly weights: tf.Variable[] | null;
  /** x: [batch, inputSize] -> logits [batch, outputSize]. Caller disposes the result. */
  forward(x: tf.Tensor2D, weights?: tf.Tensor[]): tf.Tensor2D;
  getConfig(): Record<string, unknown>;
  dispose(): void;
}
