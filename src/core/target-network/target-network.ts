import type * as tf from '@tensorflow/tfjs-core';
import { linear } from '../linear.js';
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
  /**
   * One sample as the network reads it from a row of x: [features] for an MLP, [height, width,
   * channels] for images.
   */
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
   * inference (FeCAM's features, method section 7.3). Batch norm normalises as in `forward`: with
   * `options.batchNormStats` when given, else with the batch's own statistics. Caller disposes the
   * result.
   */
  features(x: tf.Tensor2D, weights?: tf.Tensor[], options?: FeatureOptions): tf.Tensor2D;
  /**
   * The network as the layers of a TF.js LayersModel computing what `forward` computes, taking
   * weights of the given shapes (`paramShapes`, possibly with the first and last layers changed by
   * the export) in order, or a reason why no LayersModel can. A network with batch norm computes
   * `forward` with `options.batchNormStats` (a task's running statistics), which it needs.
   */
  exportLayers(
    shapes: number[][],
    options?: { batchNormStats?: BatchNormStats },
  ): ExportLayer[] | { unsupported: string };
  getConfig(): Record<string, unknown>;
  dispose(): void;
}

/** How `features` runs the network: inference, optionally with a task's running statistics. */
export type FeatureOptions = Pick<ForwardOptions, 'batchNormStats'>;

export interface ForwardOptions {
  /**
   * Set while training: gradients will be taken, so every activation is kept for them, and
   * dropout (where the network has any) draws its masks from `rng` (no dropout without it).
   * Without `training` the forward pass is inference: no dropout, and a network may release
   * activations as soon as it is past them.
   */
  training?: { rng?: Random };
  /**
   * Normalise every batch-norm layer with these statistics (a task's running statistics) instead
   * of the batch's own, so that each sample's output is independent of its batch. Ignored by
   * networks without batch norm.
   */
  batchNormStats?: BatchNormStats;
  /**
   * Called with the input of every batch-norm layer, in layer order, as the pass computes it
   * (with whatever statistics normalise the layers before it). Inside the pass's tidy: the
   * callback reads what it needs and keeps no reference.
   */
  observeBatchNorm?: (layer: number, x: tf.Tensor4D) => void;
}

/**
 * Per-channel statistics of every batch-norm layer's input, in the order of the network's
 * batch-norm layers (`batchNormNames` holds gamma and beta of layer l at 2l and 2l + 1): `mean[l]`
 * and the biased (population) `variance[l]`, [channels] each.
 */
export interface BatchNormStats {
  mean: Float32Array[];
  variance: Float32Array[];
}

/**
 * One layer of an exported LayersModel: a Keras layer config as model.json holds it. Layers form
 * a chain (a Sequential model) unless some layer names its `inputs`; then the export is a
 * functional model, each layer taking the outputs of the layers named (the previous layer's when
 * unset).
 *
 * Conv2D and Dense layers take their kernel (and bias, with use_bias) from the weights the export
 * passes in order; a layer with `weights` holds exactly those instead (batch-norm parameters and
 * statistics, fixed kernels), named `<layer name>/<weight>` as tfjs-layers loads them.
 */
export interface ExportLayer {
  class_name: string;
  config: Record<string, unknown>;
  inputs?: string[];
  weights?: { name: string; shape: number[]; values: Float32Array }[];
}

/**
 * The target's output layer applied to its penultimate features: the logits `forward` computes
 * from them at inference. Every target ends in one linear layer, its last two parameters (a
 * test checks this equals `forward` for every kind of target). Call inside a tidy.
 */
export function outputLayer(features: tf.Tensor2D, weights: tf.Tensor[]): tf.Tensor2D {
  const k = weights.length - 2;
  return linear(features, weights[k] as tf.Tensor2D, weights[k + 1] as tf.Tensor1D);
}
