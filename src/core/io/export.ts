import * as tf from '@tensorflow/tfjs-core';
import type { TaskExport } from '../continual/types.js';
import type { ContinualTask } from '../data/types.js';
import type { Learner } from '../methods/learner.js';
import type { JobSpec } from '../spec.js';
import { geometryMap, PADDED_SIDE } from '../data/benchmarks.js';
import { imageShapeOf } from '../spec.js';
import { assert } from '../errors.js';
import type {
  BatchNormStats,
  ExportLayer,
  TargetNetwork,
} from '../target-network/target-network.js';
import { foldInputPreprocessing } from './fold-input.js';
import { encodeSafetensors } from './safetensors.js';

export const MASK_FORMAT = 'retain-mask';
export const WEIGHTS_FILE = 'weights.bin';

/**
 * Deployable artifacts of one task.
 *
 * Mask (HyperMask only): a safetensors file with one F32 tensor per masked target tensor, named
 * like the target parameters ("dense_1/kernel" [in, out], "dense_1/bias" [out], ...). The
 * task's weights are theta * mask; the output bias (the last tensor) is never masked and is
 * not in the file. The mask stays in the training input space: row i of "dense_1/kernel" belongs
 * to training input i (1024 rows for 32x32-padded inputs, in the task's permuted order).
 * Metadata (strings): format "retain-mask", version, task, sparsity, and "input", the JSON of
 * `trainingInput` below, whose inputMap maps each row to its raw pixel.
 *
 * Model: the ready subnetwork as a TensorFlow.js LayersModel (a Sequential of the target's layers,
 * `TargetNetwork.exportLayers`, or a functional model when they branch) whose weights are
 * theta * m_t (HyperMask), the generated weights (HNET) or theta (finetune). For image tasks
 * (`task.preprocessing` set) it takes RAW pixels: x / 255 of the original rows x cols image. An
 * MLP takes them row-major (784 inputs for 28x28), with padding, the task's permutation and the
 * normalisation folded exactly into dense_1 (see `foldInputPreprocessing`), so its kernel is
 * [rows * cols, units]. A convolutional target takes the image [rows, cols, channels], with
 * ZeroPadding2D and Rescaling layers in front (`imageInputLayers`). A ResNet is a functional
 * model normalising with the task's running statistics (`batchNormStats`, computed after the
 * task: `computeBatchNormStats`), which it needs;
 * a target that no LayersModel can reproduce has no model: `model` is null and `modelUnavailable`
 * says why. Tasks without `preprocessing` keep their inputs as given. userDefinedMetadata.retain
 * holds task, method, globalLabels and input (what the model takes, and the training input space
 * with its inputMap); outputs are the task's K logits, local class k meaning global label
 * globalLabels[k].
 *
 * Tasks on uploaded data sets (`task.inputShape` set) take the raw values in the units of the
 * upload (pixels 0-255 for uint8, values as uploaded for float32); the x / 255 scaling and any
 * standardisation are folded into dense_1 or done by the Rescaling layer. Their model keeps only the
 * task's own outputs (`activeOutputs`), and the metadata adds classNames: output k is class
 * classNames[k].
 */
export function exportTask(
  learner: Learner,
  spec: JobSpec,
  task: ContinualTask,
  batchNormStats?: BatchNormStats,
): TaskExport {
  const { target } = learner;
  const training = trainingInput(task);
  const masks = learner.taskMasks(task.index);
  let mask: Uint8Array | null = null;
  if (masks) {
    mask = encodeSafetensors(
      masks.map((m, i) => ({
        name: target.paramNames[i],
        shape: m.shape,
        data: m.dataSync() as Float32Array,
      })),
      {
        format: MASK_FORMAT,
        version: '1',
        task: String(task.index),
        sparsity: String(spec.regularization.sparsity),
        input: JSON.stringify(training),
      },
    );
    tf.dispose(masks);
  }
  const weights = learner.taskWeights(task.index);
  const values = weights.map((w) => w.dataSync() as Float32Array);
  tf.dispose(weights);
  const shapes = target.paramShapes.map((s) => [...s]);
  const input =
    target.inputShape.length === 1
      ? foldIntoFirstLayer(task, target, shapes, values)
      : imageInputLayers(task, target.inputShape);
  keepOwnOutputs(task, shapes, values);
  const layers = target.exportLayers(shapes, { batchNormStats });
  if ('unsupported' in input)
    return { task: task.index, mask, model: null, modelUnavailable: input.unsupported };
  if ('unsupported' in layers)
    return { task: task.index, mask, model: null, modelUnavailable: layers.unsupported };
  const model = layersModel(
    [...input.layers, ...layers],
    input.shape,
    [...(input.weights?.names ?? []), ...target.paramNames],
    [...(input.weights?.shapes ?? []), ...shapes],
    [...(input.weights?.values ?? []), ...values],
    {
      task: task.index,
      method: spec.method,
      globalLabels: task.globalLabels,
      ...(task.classNames ? { classNames: task.classNames } : {}),
      input: modelInput(task, training, input.where),
    },
  );
  return { task: task.index, mask, model, modelUnavailable: null };
}

/** How the exported model takes its input: the layers that preprocess it, its shape, and where the preprocessing is. */
type ModelInput =
  | {
      layers: ExportLayer[];
      shape: number[];
      where: string;
      /** Weights of `layers`, which come before the target's. */
      weights?: { names: string[]; shapes: number[][]; values: Float32Array[] };
    }
  | { unsupported: string };

/**
 * An MLP's input: the preprocessing of an image task (padding, permutation, scaling,
 * standardisation) folded into the first dense layer (`foldInputPreprocessing`), changing
 * `shapes[0]` and `values[0..1]`, so the model takes the raw values flattened.
 */
function foldIntoFirstLayer(
  task: ContinualTask,
  target: TargetNetwork,
  shapes: number[][],
  values: Float32Array[],
): ModelInput {
  const pre = task.preprocessing;
  if (!pre) return { layers: [], shape: [task.inputSize], where: '' };
  const folded = foldInputPreprocessing(values[0], values[1], {
    inputMap: pre.inputMap,
    rawSize: pre.rows * pre.cols,
    normalize: pre.normalize,
    scale: pre.scale,
  });
  values[0] = folded.kernel;
  values[1] = folded.bias;
  shapes[0] = [pre.rows * pre.cols, shapes[0][1]];
  return {
    layers: [],
    shape: [pre.rows * pre.cols],
    where: `folded into ${target.paramNames[0].split('/')[0]}`,
  };
}

/**
 * A convolutional network's input: the raw image [height, width, channels], preprocessed by
 * layers in front of the network: ZeroPadding2D for centred padding (padTo32), then Rescaling for
 * x * scale and standardisation ((v - mean) / std of the padded image, padding included, as in
 * training). A zero-padding convolution cannot fold a standardisation exactly (its border zeros
 * would be raw zeros, not standardised ones), hence the layers.
 */
function imageInputLayers(task: ContinualTask, imageShape: number[]): ModelInput {
  const pre = task.preprocessing;
  if (!pre) return { layers: [], shape: imageShape, where: '' };
  const raw = task.inputShape ? imageShapeOf(task.inputShape)! : [pre.rows, pre.cols, 1];
  const layers: ExportLayer[] = [];
  const [height, width, channels] = imageShape;
  if (raw[0] !== height || raw[1] !== width) {
    const top = (height - raw[0]) >> 1;
    const left = (width - raw[1]) >> 1;
    const centred = geometryMap(raw[0], raw[1], true).map;
    if (
      raw[2] !== channels ||
      height !== PADDED_SIDE ||
      width !== PADDED_SIDE ||
      !sameMap(pre.inputMap, centred)
    ) {
      return {
        unsupported: `the task's inputs are not its images padded to ${PADDED_SIDE}x${PADDED_SIDE}`,
      };
    }
    layers.push({
      class_name: 'ZeroPadding2D',
      config: {
        name: 'zero_padding2d',
        padding: [
          [top, height - raw[0] - top],
          [left, width - raw[1] - left],
        ],
        data_format: 'channels_last',
        trainable: true,
        dtype: 'float32',
      },
    });
  } else if (
    !sameMap(
      pre.inputMap,
      Int32Array.from(pre.inputMap, (_, i) => i),
    )
  ) {
    return {
      unsupported: "the task's inputs are permuted pixels, which no convolutional layer undoes",
    };
  }
  const scale = pre.scale ?? 1;
  const n = pre.normalize;
  if (n && Array.isArray(n.mean) && Array.isArray(n.std)) {
    // One scale and offset per channel: a 1x1 depthwise convolution with a bias computes
    // x * (scale / std_c) - mean_c / std_c exactly as Rescaling does for scalars.
    const std = n.std;
    const mean = n.mean;
    layers.push({
      class_name: 'DepthwiseConv2D',
      config: {
        name: 'standardize',
        kernel_size: [1, 1],
        strides: [1, 1],
        padding: 'valid',
        data_format: 'channels_last',
        dilation_rate: [1, 1],
        depth_multiplier: 1,
        activation: 'linear',
        use_bias: true,
        trainable: false,
        dtype: 'float32',
      },
    });
    return {
      layers,
      shape: raw,
      where: `done by the model's first layers (${layers.map((l) => l.config.name).join(', ')})`,
      weights: {
        names: ['standardize/depthwise_kernel', 'standardize/bias'],
        shapes: [[1, 1, std.length, 1], [std.length]],
        values: [
          Float32Array.from(std, (sd) => scale / sd),
          Float32Array.from(mean, (m, c) => -m / std[c]),
        ],
      },
    };
  }
  const std = (n?.std as number | undefined) ?? 1;
  const mean = (n?.mean as number | undefined) ?? 0;
  if (scale !== 1 || n) {
    layers.push({
      class_name: 'Rescaling',
      config: {
        name: 'rescaling',
        scale: scale / std,
        offset: -mean / std,
        trainable: true,
        dtype: 'float32',
      },
    });
  }
  return {
    layers,
    shape: raw,
    where: `done by the model's first layers (${layers.map((l) => l.config.name).join(', ') || 'none'})`,
  };
}

function sameMap(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Cuts the output layer down to the task's own classes (`activeOutputs`), so the model has one
 * output per class of its task: the shared layer's other units are never targets of this task.
 */
function keepOwnOutputs(task: ContinualTask, shapes: number[][], values: Float32Array[]): void {
  const active = task.activeOutputs ?? task.outputSize;
  const k = shapes.length - 2;
  const [units, outputs] = shapes[k];
  if (active >= outputs) return;
  const kernel = new Float32Array(units * active);
  for (let u = 0; u < units; u++)
    kernel.set(values[k].subarray(u * outputs, u * outputs + active), u * active);
  values[k] = kernel;
  values[k + 1] = values[k + 1].slice(0, active);
  shapes[k] = [units, active];
  shapes[k + 1] = [active];
}

/**
 * The training input space of a task (also that of the mask): size, normalisation and inputMap,
 * where training input i is raw pixel inputMap[i] / 255 (row-major index into the raw image, 0
 * where -1: zero padding), then (v - mean) / std when normalize is set. inputMap is null for
 * tasks without preprocessing (their inputs are taken as given).
 */
function trainingInput(task: ContinualTask): Record<string, unknown> {
  const pre = task.preprocessing;
  return {
    size: task.inputSize,
    inputMap: pre ? Array.from(pre.inputMap) : null,
    normalize: pre ? pre.normalize : null,
    ...(pre?.scale !== undefined ? { scale: pre.scale } : {}),
    description: task.inputShape
      ? 'training input i = x[inputMap[i]] * scale (x: the raw values as uploaded, flattened row-major), then (v - mean) / std if normalize'
      : pre
        ? 'training input i = x[inputMap[i]] / 255 (x: raw row-major pixels; 0 where inputMap[i] is -1, zero padding), then (v - mean) / std if normalize'
        : 'inputs as given to training',
  };
}

/** userDefinedMetadata.retain.input: what the exported model takes. */
function modelInput(
  task: ContinualTask,
  training: Record<string, unknown>,
  where: string,
): Record<string, unknown> {
  const pre = task.preprocessing;
  if (!pre) {
    return {
      size: task.inputSize,
      pixels: null,
      rawScale: 1,
      preprocessing: 'none: the task inputs as given to training',
      training,
    };
  }
  if (task.inputShape) {
    const units =
      pre.scale === 1 ? 'values as uploaded (float32)' : 'pixel values 0-255 as uploaded (uint8)';
    const folded = [
      ...(pre.scale === 1 ? [] : ['scaling x / 255']),
      ...(pre.normalize
        ? [`standardisation (v - ${pre.normalize.mean}) / ${pre.normalize.std}`]
        : []),
    ];
    return {
      size: pre.rows * pre.cols,
      shape: task.inputShape,
      values: `${units}, the sample of shape [${task.inputShape}] flattened row-major (images HWC)`,
      // The scaling is folded into the model: raw values go in as they are.
      rawScale: 1,
      preprocessing: folded.length ? `${where}: ${folded.join(', then ')}` : 'none',
      training,
    };
  }
  const steps: string[] = [];
  const shown = Array.from(pre.inputMap).filter((r) => r >= 0);
  if (shown.length < pre.inputMap.length)
    steps.push(`zero padding to ${pre.inputMap.length} inputs`);
  if (shown.some((r, i) => i > 0 && r <= shown[i - 1])) steps.push("the task's pixel permutation");
  if (steps.length) steps[steps.length - 1] += ' (training.inputMap)';
  if (pre.normalize)
    steps.push(
      `standardisation (v - ${pre.normalize.mean}) / ${pre.normalize.std} of every input v`,
    );
  return {
    size: pre.rows * pre.cols,
    shape: [pre.rows, pre.cols, 1],
    pixels: `x / 255 per pixel, row-major, ${pre.rows}x${pre.cols} (raw image, no other preprocessing)`,
    // What a raw value (a 0-255 pixel) is multiplied by before it enters the model.
    rawScale: 1 / 255,
    preprocessing: steps.length ? `${where}: ${steps.join(', then ')}` : 'none',
    training,
  };
}

/**
 * model.json content (a Keras-style topology + weights manifest) and the weights file bytes.
 * `layers` get the weights in order: each Conv2D, DepthwiseConv2D (the input standardisation) or
 * Dense layer without weights of its own the next kernel (and bias, with use_bias) of
 * `names`/`shapes`/`values`; a layer with `weights` holds those (see `ExportLayer`). A chain of
 * layers is a Sequential model whose first layer declares the input shape; layers that name their
 * `inputs` make a functional model ("Model") with an InputLayer "input_1".
 */
export function layersModel(
  layers: ExportLayer[],
  inputShape: number[],
  names: string[],
  shapes: number[][],
  values: Float32Array[],
  metadata: Record<string, unknown>,
): NonNullable<TaskExport['model']> {
  const manifest: { name: string; shape: number[]; values: Float32Array }[] = [];
  let next = 0;
  for (const l of layers) {
    if (l.weights) {
      manifest.push(...l.weights);
      continue;
    }
    if (!['Conv2D', 'DepthwiseConv2D', 'Dense'].includes(l.class_name)) continue;
    const count = l.config.use_bias === false ? 1 : 2;
    for (let k = 0; k < count; k++, next++) {
      assert(next < values.length, `layer ${String(l.config.name)} has no weights left to take`);
      manifest.push({ name: names[next], shape: shapes[next], values: values[next] });
    }
  }
  assert(next === values.length, `the layers take ${next} of ${values.length} weight tensors`);
  const total = manifest.reduce((a, w) => a + w.values.length, 0);
  const weights = new Float32Array(total);
  let offset = 0;
  for (const w of manifest) {
    weights.set(w.values, offset);
    offset += w.values.length;
  }
  const bare = ({ class_name, config }: ExportLayer) => ({ class_name, config });
  const name = `task_${String(metadata.task)}`;
  const modelTopology = layers.some((l) => l.inputs)
    ? { class_name: 'Model', config: functionalConfig(name, layers, inputShape) }
    : {
        class_name: 'Sequential',
        config: {
          name,
          layers: layers.map((l, i) =>
            i === 0
              ? { ...bare(l), config: { ...l.config, batch_input_shape: [null, ...inputShape] } }
              : bare(l),
          ),
        },
      };
  const modelJson = {
    format: 'layers-model',
    generatedBy: 'retain',
    convertedBy: null,
    modelTopology: {
      ...modelTopology,
      keras_version: 'tfjs-layers 4.22.0',
      backend: 'tensor_flow.js',
    },
    weightsManifest: [
      {
        paths: [WEIGHTS_FILE],
        weights: manifest.map((w) => ({ name: w.name, shape: w.shape, dtype: 'float32' })),
      },
    ],
    userDefinedMetadata: { retain: metadata },
  };
  return { modelJson, weights: new Uint8Array(weights.buffer), weightsFileName: WEIGHTS_FILE };
}

/**
 * The functional model's config: an InputLayer, then every layer with its inbound node (its
 * `inputs`, else the layer before it).
 */
function functionalConfig(
  name: string,
  layers: ExportLayer[],
  inputShape: number[],
): Record<string, unknown> {
  const input = 'input_1';
  const nodes: Record<string, unknown>[] = [
    {
      class_name: 'InputLayer',
      name: input,
      config: {
        name: input,
        batch_input_shape: [null, ...inputShape],
        dtype: 'float32',
        sparse: false,
      },
      inbound_nodes: [],
    },
  ];
  let previous = input;
  for (const l of layers) {
    const layerName = String(l.config.name);
    nodes.push({
      class_name: l.class_name,
      name: layerName,
      config: l.config,
      inbound_nodes: [(l.inputs ?? [previous]).map((from) => [from, 0, 0, {}])],
    });
    previous = layerName;
  }
  return {
    name,
    layers: nodes,
    input_layers: [[input, 0, 0]],
    output_layers: [[previous, 0, 0]],
  };
}
