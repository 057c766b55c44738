import { BN_EPSILON } from '../conv.js';
import { assert } from '../errors.js';
import type { BatchNormStats, ExportLayer } from './target-network.js';

/** What `resNetLayers` needs of a ResNet: its layout, names and the values of its own weights. */
export interface ResNetExportArgs {
  /** Basic blocks per group. */
  n: number;
  /** Channels of the first convolution and of the three groups. */
  widths: number[];
  /** `conv_1/kernel`, `conv_1/bias`, ..., `dense_1/kernel`, `dense_1/bias`. */
  paramNames: string[];
  /** Shapes of the exported parameters, in `paramNames` order (the output layer may be cut). */
  shapes: number[][];
  /** `bn_1/gamma`, `bn_1/beta`, ... */
  batchNormNames: string[];
  /** Their values. */
  batchNormWeights: Float32Array[];
  /** The task's running statistics, one entry per batch-norm layer. */
  stats: BatchNormStats;
}

const common = { trainable: true, dtype: 'float32' };

/**
 * A ResNet as the layers of a functional TF.js LayersModel that computes the engine's forward pass
 * with running statistics (`ResNet.forward` with `batchNormStats`), on [h, w, c] inputs:
 *
 * - each convolution is a Conv2D with bias and no activation; a strided one has its PyTorch
 *   padding as a ZeroPadding2D of 1 in front and padding "valid" (TF's "same" pads only bottom and
 *   right for stride 2), the others padding "same" (equal to padding 1 for 3x3, stride 1);
 * - batch norm is BatchNormalization with the shared gamma and beta and the task's statistics as
 *   moving_mean / moving_variance (predict() normalises with them), epsilon 1e-5 as PyTorch's;
 * - a block ends in Add (second BatchNormalization + shortcut), then ReLU;
 * - a shortcut where the channels grow (subsampled [::2, ::2], zero-padded in the channel
 *   dimension) is a 1x1 Conv2D without bias with a fixed 0/1 kernel and the block's stride: each
 *   output is one input times 1 plus zeros, so it is exact;
 * - GlobalAveragePooling2D, then the output Dense.
 *
 * Layer names follow the parameters (`conv_3`, `bn_3`, `dense_1`), so tfjs-layers finds every
 * weight by name; the chain's first layer takes the model's input (or the preprocessing layers'
 * output) without naming it.
 */
export function resNetLayers(args: ResNetExportArgs): ExportLayer[] {
  const { n, widths, paramNames, shapes, batchNormNames, batchNormWeights, stats } = args;
  const layers: ExportLayer[] = [];
  let layer = 0;
  /** The output of the last layer added (undefined: whatever precedes the network). */
  let last: string | undefined;
  const add = (l: ExportLayer, inputs?: string[]): string => {
    const name = String(l.config.name);
    layers.push(inputs ? { ...l, inputs } : last === undefined ? l : { ...l, inputs: [last] });
    last = name;
    return name;
  };
  /** Conv2D (+ ZeroPadding2D when strided), BatchNormalization: the name of the batch norm's output. */
  const convBn = (input: string | undefined, stride: number): string => {
    const i = 2 * layer;
    const name = paramNames[i].split('/')[0];
    last = input;
    if (stride > 1) {
      add({
        class_name: 'ZeroPadding2D',
        config: {
          ...common,
          name: `${name}_padding`,
          padding: [
            [1, 1],
            [1, 1],
          ],
          data_format: 'channels_last',
        },
      });
    }
    add({
      class_name: 'Conv2D',
      config: {
        ...common,
        name,
        filters: shapes[i][3],
        kernel_size: [shapes[i][0], shapes[i][1]],
        strides: [stride, stride],
        padding: stride > 1 ? 'valid' : 'same',
        data_format: 'channels_last',
        dilation_rate: [1, 1],
        activation: 'linear',
        use_bias: true,
      },
    });
    const bn = batchNormNames[2 * layer].split('/')[0];
    const channels = shapes[i][3];
    assert(
      stats.mean[layer].length === channels && stats.variance[layer].length === channels,
      `${bn}: statistics of ${stats.mean[layer].length} channels for ${channels}`,
    );
    const out = add({
      class_name: 'BatchNormalization',
      config: {
        ...common,
        name: bn,
        axis: -1,
        momentum: 0.99,
        epsilon: BN_EPSILON,
        center: true,
        scale: true,
      },
      weights: [
        { name: `${bn}/gamma`, shape: [channels], values: batchNormWeights[2 * layer] },
        { name: `${bn}/beta`, shape: [channels], values: batchNormWeights[2 * layer + 1] },
        { name: `${bn}/moving_mean`, shape: [channels], values: stats.mean[layer] },
        { name: `${bn}/moving_variance`, shape: [channels], values: stats.variance[layer] },
      ],
    });
    layer++;
    return out;
  };
  const relu = (input: string, name: string): string =>
    add({ class_name: 'ReLU', config: { ...common, name } }, [input]);

  let h = relu(convBn(undefined, 1), 'relu_1');
  let block = 0;
  for (let g = 1; g <= 3; g++) {
    for (let j = 0; j < n; j++) {
      block++;
      const stride = g > 1 && j === 0 ? 2 : 1;
      const input = h;
      let shortcut = input;
      if (j === 0 && widths[g] !== widths[g - 1]) {
        const [cin, cout] = [widths[g - 1], widths[g]];
        const offset = Math.floor((cout - cin) / 2);
        const kernel = new Float32Array(cin * cout);
        for (let c = 0; c < cin; c++) kernel[c * cout + c + offset] = 1;
        const name = `shortcut_${g}`;
        shortcut = add(
          {
            class_name: 'Conv2D',
            config: {
              ...common,
              name,
              filters: cout,
              kernel_size: [1, 1],
              strides: [stride, stride],
              padding: 'valid',
              data_format: 'channels_last',
              dilation_rate: [1, 1],
              activation: 'linear',
              use_bias: false,
            },
            weights: [{ name: `${name}/kernel`, shape: [1, 1, cin, cout], values: kernel }],
          },
          [input],
        );
      }
      const a = relu(convBn(input, stride), `relu_${block}a`);
      const b = convBn(a, 1);
      const sum = add({ class_name: 'Add', config: { ...common, name: `add_${block}` } }, [
        b,
        shortcut,
      ]);
      h = relu(sum, `relu_${block}b`);
    }
  }
  add({
    class_name: 'GlobalAveragePooling2D',
    config: { ...common, name: 'global_average_pooling2d', data_format: 'channels_last' },
  });
  const k = shapes.length - 2;
  add({
    class_name: 'Dense',
    config: {
      ...common,
      name: paramNames[k].split('/')[0],
      units: shapes[k][1],
      activation: 'linear',
      use_bias: true,
    },
  });
  return layers;
}
