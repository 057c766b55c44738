import * as tf from '@tensorflow/tfjs-core';
import { BN_EPSILON, batchNorm, conv2d, conv2dOnData } from '../conv.js';
import { assert, assertPositiveInteger } from '../errors.js';
import { convInit, linearInit, variableFrom } from '../init.js';
import { linear } from '../linear.js';
import type { Random } from '../random.js';
import { resNetLayers } from './resnet-export.js';
import type {
  BatchNormStats,
  ExportLayer,
  FeatureOptions,
  ForwardOptions,
  TargetNetwork,
} from './target-network.js';

export interface ResNetArgs {
  /** One sample: [height, width, channels]. */
  inputShape: number[];
  /** Depth: 6n + 2 layers, n basic blocks per group (n = 3 is ResNet-20, 5 ResNet-32). */
  n: number;
  /** Width factor of the three groups: 16k, 32k and 64k channels (the first convolution has 16). */
  k: number;
  /** Outputs (logits). */
  outputSize: number;
  /** Without it the network has no weights of its own (HNET generates them all); batch norm always has its own. */
  rng?: Random;
}

interface Shapes {
  names: string[];
  shapes: number[][];
}

/** Channels of the first convolution and of the three groups (hypnettorch's `num_feature_maps`, widened). */
function widths(k: number): number[] {
  return [16, 16 * k, 32 * k, 64 * k];
}

/**
 * Parameter names and shapes of a ResNet, in hypnettorch's order: `params` (kernel and bias of
 * each of the 6n + 1 convolutions, then the output layer) and `batchNorm` (gamma and beta after
 * each convolution), which hypnettorch lists before them.
 */
export function resNetShapes(args: Omit<ResNetArgs, 'rng'>): { params: Shapes; batchNorm: Shapes } {
  const fs = widths(args.k);
  const params: Shapes = { names: [], shapes: [] };
  const batchNorm: Shapes = { names: [], shapes: [] };
  let cin = args.inputShape[2];
  let layer = 0;
  const add = (cout: number) => {
    layer++;
    params.names.push(`conv_${layer}/kernel`, `conv_${layer}/bias`);
    params.shapes.push([3, 3, cin, cout], [cout]);
    batchNorm.names.push(`bn_${layer}/gamma`, `bn_${layer}/beta`);
    batchNorm.shapes.push([cout], [cout]);
    cin = cout;
  };
  add(fs[0]);
  for (let g = 1; g <= 3; g++) for (let j = 0; j < 2 * args.n; j++) add(fs[g]);
  params.names.push('dense_1/kernel', 'dense_1/bias');
  params.shapes.push([cin, args.outputSize], [args.outputSize]);
  return { params, batchNorm };
}

/**
 * ResNet with 6n + 2 layers (He et al. 2016, section 4.2, as hypnettorch's `ResNet` builds it with
 * use_bias and batch norm without tracked statistics, method section 6.1): a 3x3 convolution with
 * 16 channels, then three groups of n basic blocks with 16k, 32k and 64k channels, global average
 * pooling and a linear output. A basic block is conv, BN, ReLU, conv, BN, + shortcut, ReLU; the
 * first block of groups 2 and 3 has stride 2. Where the channels change, the shortcut is the
 * identity subsampled [::2, ::2] (when strided) and zero-padded in the channel dimension (no 1x1
 * convolutions). Every convolution has padding 1 and a bias. Batch norm always normalises with the
 * statistics of the current batch, also in evaluation (`batchNorm`).
 *
 * ResNet-20 with k = 2 has 1,067,530 weights in `paramShapes` and 2,720 in batch norm for 10
 * outputs on 32x32x3. Kernels are [3, 3, in, out] (TF.js layout), the dense kernel [64k, out].
 */
export class ResNet implements TargetNetwork {
  readonly paramShapes: number[][];
  readonly paramNames: string[];
  readonly weights: tf.Variable[] | null;
  readonly batchNormWeights: tf.Variable[];
  readonly batchNormNames: string[];
  readonly inputShape: number[];
  readonly inputSize: number;
  readonly outputSize: number;
  readonly featureSize: number;
  private readonly widths: number[];

  constructor(private readonly args: ResNetArgs) {
    this.inputShape = [...args.inputShape];
    this.inputSize = args.inputShape.reduce((a, d) => a * d, 1);
    this.outputSize = args.outputSize;
    this.widths = widths(args.k);
    this.featureSize = this.widths[3];
    const { params, batchNorm } = resNetShapes(args);
    this.paramNames = params.names;
    this.paramShapes = params.shapes;
    this.batchNormNames = batchNorm.names;
    // hypnettorch's BatchNormLayer: gamma 1, beta 0.
    this.batchNormWeights = batchNorm.shapes.map((s, i) =>
      variableFrom(new Float32Array(s[0]).fill(i % 2 === 0 ? 1 : 0), s),
    );
    const rng = args.rng;
    if (rng) {
      this.weights = [];
      for (let i = 0; i < params.shapes.length; i += 2) {
        const s = params.shapes[i];
        const { kernel, bias } =
          s.length === 4 ? convInit(rng, s[0], s[1], s[2], s[3]) : linearInit(rng, s[0], s[1]);
        this.weights.push(variableFrom(kernel, s), variableFrom(bias, params.shapes[i + 1]));
      }
    } else {
      this.weights = null;
    }
    this.assertWellFormed();
  }

  private assertWellFormed(): void {
    assert(
      this.inputShape.length === 3,
      `ResNet takes images [height, width, channels], got [${this.inputShape}]`,
    );
    [...this.inputShape, this.args.n, this.args.k, this.outputSize].forEach((d) =>
      assertPositiveInteger(d, 'ResNet size'),
    );
    const convs = 6 * this.args.n + 1;
    assert(
      this.paramShapes.length === 2 * (convs + 1),
      'a kernel and a bias per convolution and for the output layer',
    );
    assert(this.batchNormWeights.length === 2 * convs, 'a batch norm after every convolution');
  }

  forward(x: tf.Tensor2D, weights?: tf.Tensor[], options: ForwardOptions = {}): tf.Tensor2D {
    const w = this.weightsFor(weights);
    const k = w.length - 2;
    return tf.tidy(() =>
      linear(this.body(x, w, options), w[k] as tf.Tensor2D, w[k + 1] as tf.Tensor1D),
    );
  }

  /**
   * The globally average-pooled last block [batch, 64k] (hypnettorch's and HyperMask's ResNetF
   * features), normalised as `forward` normalises: with `options.batchNormStats` (a task's running
   * statistics) when given, else with each batch's own statistics.
   */
  features(x: tf.Tensor2D, weights?: tf.Tensor[], options: FeatureOptions = {}): tf.Tensor2D {
    const w = this.weightsFor(weights);
    return tf.tidy(() => this.body(x, w, { batchNormStats: options.batchNormStats }));
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

  /** Everything before the output layer; call inside a tidy. */
  private body(x: tf.Tensor2D, w: tf.Tensor[], options: ForwardOptions): tf.Tensor2D {
    const bn = this.batchNormWeights;
    const training = options.training !== undefined;
    const { batchNormStats: stats, observeBatchNorm: observe } = options;
    if (stats) {
      assert(
        stats.mean.length === bn.length / 2 && stats.variance.length === bn.length / 2,
        `expected statistics of ${bn.length / 2} batch-norm layers, got ${stats.mean.length}`,
      );
    }
    const n = x.shape[0];
    const [height, width, depth] = this.inputShape;
    let layer = 0;
    /** conv, batch norm, (+ shortcut), ReLU: hypnettorch's `conv_layer`. */
    const convLayer = (h: tf.Tensor4D, stride: number, shortcut?: tf.Tensor4D) => {
      const op = layer === 0 ? conv2dOnData : conv2d;
      const z = op(h, w[2 * layer] as tf.Tensor4D, w[2 * layer + 1] as tf.Tensor1D, stride, 1);
      observe?.(layer, z);
      const [gamma, beta] = [bn[2 * layer] as tf.Tensor1D, bn[2 * layer + 1] as tf.Tensor1D];
      let out = stats
        ? tf.batchNorm(
            z,
            tf.tensor1d(stats.mean[layer]),
            tf.tensor1d(stats.variance[layer]),
            beta,
            gamma,
            BN_EPSILON,
          )
        : batchNorm(z, gamma, beta);
      layer++;
      if (shortcut) out = tf.add(out, shortcut);
      return tf.relu(out);
    };
    let h = convLayer(tf.reshape<tf.Rank.R4>(x, [n, height, width, depth]), 1);
    for (let g = 1; g <= 3; g++) {
      for (let j = 0; j < this.args.n; j++) {
        const stride = g > 1 && j === 0 ? 2 : 1;
        const input = h;
        h = tf.tidy(() => {
          let shortcut = input;
          if (j === 0 && this.widths[g] !== this.widths[g - 1]) {
            // A 1x1 average pool with stride 2 is exactly the subsampling [::2, ::2], with a gradient.
            if (stride === 2) shortcut = tf.avgPool(shortcut, 1, 2, 'valid');
            const extra = this.widths[g] - this.widths[g - 1];
            shortcut = tf.pad(shortcut, [
              [0, 0],
              [0, 0],
              [0, 0],
              [Math.floor(extra / 2), Math.ceil(extra / 2)],
            ]);
          }
          return convLayer(convLayer(input, stride), 1, shortcut);
        });
        // At inference only the current activation is needed: evaluating 1,000 CIFAR images
        // would otherwise hold every block's output (130 MB each in the first group) at once.
        if (!training) input.dispose();
      }
    }
    return tf.mean<tf.Tensor2D>(h, [1, 2]);
  }

  /**
   * A functional model (Conv2D, BatchNormalization, Add, ReLU, GlobalAveragePooling2D, Dense; see
   * `resNetLayers`) computing `forward` with the task's running statistics: without them there is
   * none, since a LayersModel's BatchNormalization normalises with stored statistics in predict()
   * and no built-in layer reduces over the batch.
   */
  exportLayers(
    shapes: number[][],
    options: { batchNormStats?: BatchNormStats } = {},
  ): ExportLayer[] | { unsupported: string } {
    if (!options.batchNormStats) {
      return {
        unsupported:
          'this task has no running batch-norm statistics (its checkpoint predates them); a TF.js ' +
          "LayersModel's BatchNormalization needs stored statistics, and no built-in layer reduces over the batch",
      };
    }
    return resNetLayers({
      n: this.args.n,
      widths: this.widths,
      paramNames: this.paramNames,
      shapes,
      batchNormNames: this.batchNormNames,
      batchNormWeights: this.batchNormWeights.map((v) => v.dataSync() as Float32Array),
      stats: options.batchNormStats,
    });
  }

  getConfig(): Record<string, unknown> {
    const { inputShape, n, k, outputSize } = this.args;
    return { kind: 'resnet', inputShape, n, k, outputSize };
  }

  dispose(): void {
    this.weights?.forEach((v) => v.dispose());
    this.batchNormWeights.forEach((v) => v.dispose());
  }
}
