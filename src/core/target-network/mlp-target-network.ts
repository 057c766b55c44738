import * as tf from '@tensorflow/tfjs-core';
import { activate } from '../activations.js';
import { assert, assertPositiveInteger } from '../errors.js';
import { linearInit, variableFrom } from '../init.js';
import { linear, linearOnData } from '../linear.js';
import type { Random } from '../random.js';
import type { ExportLayer, TargetNetwork } from './target-network.js';

export interface MlpTargetNetworkArgs {
  /** Features per input sample. */
  inputSize: number;
  /** Hidden layer widths; [] gives a linear model. */
  hidden: number[];
  /** Outputs (logits, K classes per task). */
  outputSize: number;
  /** Hidden activation; the output is linear. */
  activation: 'relu' | 'sigmoid';
  /** Without it the network has no weights of its own (HNET generates them all). */
  rng?: Random;
}

/**
 * Fully connected target network: parameters in hypnettorch order [W1, b1, W2, b2, ..., Wout, bout],
 * kernels stored [in, out] as TF.js Dense layers do. The last tensor is the output bias, which
 * HyperMask never masks.
 */
export class MlpTargetNetwork implements TargetNetwork {
  readonly paramShapes: number[][] = [];
  readonly paramNames: string[] = [];
  readonly weights: tf.Variable[] | null;
  readonly batchNormWeights: tf.Variable[] = [];
  readonly batchNormNames: string[] = [];
  readonly inputSize: number;
  readonly inputShape: number[];
  readonly outputSize: number;
  readonly featureSize: number;
  private readonly sizes: number[];

  constructor(private readonly args: MlpTargetNetworkArgs) {
    this.inputSize = args.inputSize;
    this.inputShape = [args.inputSize];
    this.outputSize = args.outputSize;
    this.sizes = [args.inputSize, ...args.hidden, args.outputSize];
    this.featureSize = this.sizes[this.sizes.length - 2];
    for (let l = 1; l < this.sizes.length; l++) {
      this.paramShapes.push([this.sizes[l - 1], this.sizes[l]], [this.sizes[l]]);
      this.paramNames.push(`dense_${l}/kernel`, `dense_${l}/bias`);
    }
    if (args.rng) {
      const rng = args.rng;
      this.weights = [];
      for (let l = 1; l < this.sizes.length; l++) {
        const { kernel, bias } = linearInit(rng, this.sizes[l - 1], this.sizes[l]);
        this.weights.push(
          variableFrom(kernel, [this.sizes[l - 1], this.sizes[l]]),
          variableFrom(bias, [this.sizes[l]]),
        );
      }
    } else {
      this.weights = null;
    }
    this.assertWellFormed();
  }

  private assertWellFormed(): void {
    for (const s of this.sizes) assertPositiveInteger(s, 'layer size');
    assert(
      this.paramShapes.length === 2 * (this.sizes.length - 1),
      'one kernel and one bias per layer',
    );
  }

  forward(x: tf.Tensor2D, weights?: tf.Tensor[]): tf.Tensor2D {
    const w = this.weightsFor(weights);
    const last = this.paramShapes.length - 2;
    return tf.tidy(() =>
      // A linear model (no hidden layer) reads the data directly: no input gradient needed.
      (last === 0 ? linearOnData : linear)(
        this.hiddenLayers(x, w),
        w[last] as tf.Tensor2D,
        w[last + 1] as tf.Tensor1D,
      ),
    );
  }

  /** The last hidden layer's activations (the input itself for a linear model). */
  features(x: tf.Tensor2D, weights?: tf.Tensor[]): tf.Tensor2D {
    const w = this.weightsFor(weights);
    return tf.tidy(() => tf.clone(this.hiddenLayers(x, w)));
  }

  private weightsFor(weights?: tf.Tensor[]): tf.Tensor[] {
    const w = weights ?? this.weights;
    assert(w !== null, 'this target network has no own weights; pass weights to forward()');
    assert(
      w.length === this.paramShapes.length,
      `expected ${this.paramShapes.length} weight tensors, got ${w.length}`,
    );
    return w;
  }

  /** Every layer but the output one; call inside a tidy. */
  private hiddenLayers(x: tf.Tensor2D, w: tf.Tensor[]): tf.Tensor2D {
    let h: tf.Tensor2D = x;
    const hidden = this.paramShapes.length / 2 - 1;
    for (let l = 0; l < hidden; l++) {
      // The input is data: no gradient is ever needed for it.
      h = (l === 0 ? linearOnData : linear)(
        h,
        w[2 * l] as tf.Tensor2D,
        w[2 * l + 1] as tf.Tensor1D,
      );
      h = activate(h, this.args.activation) as tf.Tensor2D;
    }
    return h;
  }

  /** A Dense layer per kernel and bias (hidden activation, linear output). */
  exportLayers(shapes: number[][]): ExportLayer[] {
    const layers = shapes.length / 2;
    return Array.from({ length: layers }, (_, l) => ({
      class_name: 'Dense',
      config: {
        name: this.paramNames[2 * l].split('/')[0],
        units: shapes[2 * l][1],
        activation: l === layers - 1 ? 'linear' : this.args.activation,
        use_bias: true,
        trainable: true,
        dtype: 'float32',
      },
    }));
  }

  getConfig(): Record<string, unknown> {
    const { inputSize, hidden, outputSize, activation } = this.args;
    return { kind: 'mlp', inputSize, hidden, outputSize, activation };
  }

  dispose(): void {
    this.weights?.forEach((v) => v.dispose());
  }
}
