import * as tf from '@tensorflow/tfjs-core';
import { conv2d, conv2dOnData, dropout } from '../conv.js';
import { assert, assertPositiveInteger, EngineError } from '../errors.js';
import { convInit, linearInit, variableFrom } from '../init.js';
import { linear } from '../linear.js';
import type { Random } from '../random.js';
import type { ExportLayer, ForwardOptions, TargetNetwork } from './target-network.js';

export interface ZenkeNetArgs {
  /** One sample: [height, width, channels]. */
  inputShape: number[];
  /**
   * Output channels of each convolutional block; a block is a 3x3 convolution with padding 1, a
   * 3x3 convolution without padding (both ReLU) and a 2x2 max-pool. [32, 64] is the CIFAR
   * variant, [64, 64] the Tiny-ImageNet one.
   */
  channels: number[];
  /** Widths of the ReLU dense layers between the blocks and the output ([512] CIFAR, [] Tiny-ImageNet). */
  hidden: number[];
  /** Outputs (logits). */
  outputSize: number;
  /** Dropout rate after every block (whole channels, Dropout2d), doubled after every hidden dense layer; 0 for none. */
  dropout: number;
  /** Without it the network has no weights of its own (HNET generates them all). */
  rng?: Random;
}

/** Parameter names and shapes of a ZenkeNet, in order: per block two convolutions, then the dense layers. */
export function zenkeNetShapes(args: Omit<ZenkeNetArgs, 'rng' | 'dropout'>): {
  names: string[];
  shapes: number[][];
} {
  const [height, width, depth] = args.inputShape;
  const names: string[] = [];
  const shapes: number[][] = [];
  let [h, w, c] = [height, width, depth];
  args.channels.forEach((out, b) => {
    names.push(
      `conv_${2 * b + 1}/kernel`,
      `conv_${2 * b + 1}/bias`,
      `conv_${2 * b + 2}/kernel`,
      `conv_${2 * b + 2}/bias`,
    );
    shapes.push([3, 3, c, out], [out], [3, 3, out, out], [out]);
    [h, w, c] = [Math.floor((h - 2) / 2), Math.floor((w - 2) / 2), out];
    if (h < 1 || w < 1) {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `a ${height}x${width} image is too small for ${args.channels.length} ZenkeNet blocks (each takes 2 pixels, then halves)`,
      );
    }
  });
  const sizes = [h * w * c, ...args.hidden, args.outputSize];
  for (let l = 1; l < sizes.length; l++) {
    names.push(`dense_${l}/kernel`, `dense_${l}/bias`);
    shapes.push([sizes[l - 1], sizes[l]], [sizes[l]]);
  }
  return { names, shapes };
}

/**
 * ZenkeNet (Zenke et al. 2017, as hypnettorch and HyperMask build it, method section 6.1): blocks
 * of conv 3x3 (padding 1), ReLU, conv 3x3 (no padding), ReLU, max-pool 2x2, dropout; flatten;
 * dense ReLU layers with dropout; a linear output. The CIFAR variant (channels [32, 64], hidden
 * [512]) has 1,250,858 weights with 10 outputs. Parameters in hypnettorch order [K1, b1, K2,
 * b2, ..., Wout, bout]; kernels [3, 3, in, out] and dense kernels [in, out] as TF.js stores them.
 * The flattened features are in HWC order (TF.js's Flatten; hypnettorch flattens CHW), which
 * only permutes the rows of the first dense kernel.
 */
export class ZenkeNet implements TargetNetwork {
  readonly paramShapes: number[][];
  readonly paramNames: string[];
  readonly weights: tf.Variable[] | null;
  readonly batchNormWeights: tf.Variable[] = [];
  readonly batchNormNames: string[] = [];
  readonly inputShape: number[];
  readonly inputSize: number;
  readonly outputSize: number;
  readonly featureSize: number;

  constructor(private readonly args: ZenkeNetArgs) {
    this.inputShape = [...args.inputShape];
    this.inputSize = args.inputShape.reduce((a, d) => a * d, 1);
    this.outputSize = args.outputSize;
    const { names, shapes } = zenkeNetShapes(args);
    this.paramNames = names;
    this.paramShapes = shapes;
    this.featureSize = shapes[shapes.length - 2][0];
    const rng = args.rng;
    if (rng) {
      this.weights = [];
      for (let i = 0; i < shapes.length; i += 2) {
        const s = shapes[i];
        const { kernel, bias } =
          s.length === 4 ? convInit(rng, s[0], s[1], s[2], s[3]) : linearInit(rng, s[0], s[1]);
        this.weights.push(variableFrom(kernel, s), variableFrom(bias, shapes[i + 1]));
      }
    } else {
      this.weights = null;
    }
    this.assertWellFormed();
  }

  private assertWellFormed(): void {
    assert(
      this.inputShape.length === 3,
      `ZenkeNet takes images [height, width, channels], got [${this.inputShape}]`,
    );
    [...this.inputShape, ...this.args.channels, ...this.args.hidden, this.outputSize].forEach((d) =>
      assertPositiveInteger(d, 'ZenkeNet size'),
    );
    assert(
      this.args.dropout >= 0 && this.args.dropout < 0.5,
      `dropout must be in [0, 0.5), got ${this.args.dropout}`,
    );
    assert(
      this.paramShapes.length === 4 * this.args.channels.length + 2 * (this.args.hidden.length + 1),
      'two convolutions per block, one kernel and bias per layer',
    );
  }

  forward(x: tf.Tensor2D, weights?: tf.Tensor[], options: ForwardOptions = {}): tf.Tensor2D {
    const w = this.weightsFor(weights);
    const k = w.length - 2;
    return tf.tidy(() =>
      linear(this.body(x, w, options), w[k] as tf.Tensor2D, w[k + 1] as tf.Tensor1D),
    );
  }

  /** The flattened blocks, or the last hidden dense layer's activations when there is one (no dropout). */
  features(x: tf.Tensor2D, weights?: tf.Tensor[]): tf.Tensor2D {
    const w = this.weightsFor(weights);
    return tf.tidy(() => this.body(x, w, {}));
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
    const rng = options.training?.rng;
    const rate = this.args.dropout;
    const n = x.shape[0];
    const [height, width, depth] = this.inputShape;
    let h = tf.reshape<tf.Rank.R4>(x, [n, height, width, depth]);
    let k = 0;
    const layer = () => [w[k++] as tf.Tensor4D, w[k++] as tf.Tensor1D] as const;
    this.args.channels.forEach((out, b) => {
      // The input is data: no gradient is ever needed for it.
      h = tf.relu((b === 0 ? conv2dOnData : conv2d)(h, ...layer(), 1, 1));
      h = tf.maxPool(tf.relu(conv2d(h, ...layer(), 1, 0)), 2, 2, 'valid');
      if (rng) h = dropout(h, rate, rng, [n, 1, 1, out]) as tf.Tensor4D;
    });
    let f = tf.reshape<tf.Rank.R2>(h, [n, -1]);
    for (const units of this.args.hidden) {
      f = tf.relu(linear(f, w[k++] as tf.Tensor2D, w[k++] as tf.Tensor1D));
      if (rng) f = dropout(f, 2 * rate, rng, [n, units]) as tf.Tensor2D;
    }
    return f;
  }

  /**
   * Conv2D (padding "same" is PyTorch's padding 1 for 3x3, stride 1), MaxPooling2D, Flatten, Dense;
   * dropout is identity at inference.
   */
  exportLayers(shapes: number[][]): ExportLayer[] {
    const layers: ExportLayer[] = [];
    const common = { trainable: true, dtype: 'float32' };
    const conv = (i: number, padding: 'same' | 'valid') => ({
      class_name: 'Conv2D',
      config: {
        ...common,
        name: this.paramNames[i].split('/')[0],
        filters: shapes[i][3],
        kernel_size: [shapes[i][0], shapes[i][1]],
        strides: [1, 1],
        padding,
        data_format: 'channels_last',
        dilation_rate: [1, 1],
        activation: 'relu',
        use_bias: true,
      },
    });
    this.args.channels.forEach((_, b) => {
      layers.push(conv(4 * b, 'same'), conv(4 * b + 2, 'valid'), {
        class_name: 'MaxPooling2D',
        config: {
          ...common,
          name: `max_pooling2d_${b + 1}`,
          pool_size: [2, 2],
          strides: [2, 2],
          padding: 'valid',
          data_format: 'channels_last',
        },
      });
    });
    layers.push({ class_name: 'Flatten', config: { ...common, name: 'flatten' } });
    const first = 4 * this.args.channels.length;
    const dense = (shapes.length - first) / 2;
    for (let l = 0; l < dense; l++) {
      const i = first + 2 * l;
      layers.push({
        class_name: 'Dense',
        config: {
          ...common,
          name: this.paramNames[i].split('/')[0],
          units: shapes[i][1],
          activation: l === dense - 1 ? 'linear' : 'relu',
          use_bias: true,
        },
      });
    }
    return layers;
  }

  getConfig(): Record<string, unknown> {
    const { inputShape, channels, hidden, outputSize, dropout: rate } = this.args;
    return { kind: 'zenkenet', inputShape, channels, hidden, outputSize, dropout: rate };
  }

  dispose(): void {
    this.weights?.forEach((v) => v.dispose());
  }
}
