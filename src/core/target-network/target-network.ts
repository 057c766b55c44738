import type * as tf from '@tensorflow/tfjs-core';
import type { Random } from '../random.js';

/**
 * A network whose weights may come from outside (hypnettorch's MainNetInterface contract).
 * `paramShapes` lists, in a fixed order, every parameter tensor a hypernetwork generates (HNET)
 * or masks (HyperMask); the last one is the output bias, which HyperMask never masks.
 * `forward(x, weights)` runs the network with exactly those tensors and never touches its own
 * variables for them when weights are given.
 *
 * Batch-norm affine parameters (ResNet) are not among them: hypnettorch lists them first in
 * `param_shapes`, and HyperMask skips them (method section 3). Here they are `batchNormWeights`,
 * always the network's own variables, shared by all tasks and trained by every method, never
 * generated, masked or regularised.
 */
export interface TargetNetwork {
  readonly paramShapes: number[][];
  /** Stable names of the parameters, e.g. "dense_1/kernel"; used in exports and checkpoints. */
  readonly paramNames: string[];
  /** gamma and beta of every batch-norm layer, in order ([] without batch norm). */
  readonly batchNormWeights: tf.Variable[];
  /** Their names, e.g. "bn_1/gamma", "bn_1/beta". */
  readonly batchNormNames: string[];
  /** Values per sample: the product of `inputShape`. */
  readonly inputSize: number;
  /** One sample as the network reads it from a row of x: [features] for an MLP, [height, width, channels] for images. */
  readonly inputShape: number[];
  readonly outputSize: number;
  /** The network's own trainable parameters, or null for a network that only runs given weights. */
  readonly weights: tf.Variable[] | null;
  /**
   * x: [batch, inputSize] (images HWC, row-major) -> logits [batch, outputSize]. Caller disposes
   * the result. See `ForwardOptions` for training.
   */
  forward(x: tf.Tensor2D, weights?: tf.Tensor[], options?: ForwardOptions): tf.Tensor2D;
  /** Width of the penultimate representation: the input of the output layer. */
  readonly featureSize: number;
  /**
   * x: [batch, inputSize] -> the penultimate representation [batch, featureSize] under `weights`
   * (all of `paramShapes`, the output layer's unused): what `forward` feeds its output layer, at
   * inference (FeCAM's features, method section 7.3). Caller disposes the result.
   */
  features(x: tf.Tensor2D, weights?: tf.Tensor[]): tf.Tensor2D;
  /**
   * The network as the layers of a TF.js Sequential model computing what `forward` computes,
   * taking weights of the given shapes (`paramShapes`, possibly with the first and last layers
   * changed by the export) in order, or a reason why no LayersModel can.
   */
  exportLayers(shapes: number[][]): ExportLayer[] | { unsupported: string };
  getConfig(): Record<string, unknown>;
  dispose(): void;
}

export interface ForwardOptions {
  /**
   * Set while training: gradients will be taken, so every activation is kept for them, and
   * dropout (where the network has any) draws its masks from `rng` (no dropout without it).
   * Without `training` the forward pass is inference: no dropout, and a network may release
   * activations as soon as it is past them.
   */
  training?: { rng?: Random };
}

/** One layer of an exported LayersModel: a Keras layer config as model.json holds it. */
export interface ExportLayer {
  class_name: string;
  config: Record<string, unknown>;
}
