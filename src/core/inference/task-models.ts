/**
 * Predictions from exported task models, with or without a task id.
 *
 * A task model is what `exportTask` writes (model.json plus one float32 weights file): a
 * Sequential LayersModel of Dense layers (MLP) or of ZeroPadding2D, Rescaling, Conv2D, MaxPooling2D,
 * Flatten and Dense layers (ZenkeNet), or a functional one ("Model") that adds BatchNormalization
 * (with the task's running statistics), Add, ReLU and GlobalAveragePooling2D (ResNet). It is
 * rebuilt here on tfjs-core alone, so the service needs no tfjs-layers at prediction time; tests
 * check it against tf.loadLayersModel on the same files. Weights are found by name
 * (`<layer>/kernel`, ...), as tfjs-layers finds them.
 * A 1x1 DepthwiseConv2D in front standardises each channel (uploads with per-channel normalisation).
 *
 * Without a task id, the task is inferred per input by the job's rule. With every task's FeCAM
 * statistics (a job that infers tasks by FeCAM exports them), by FeCAM as the engine evaluates it
 * (method section 7.3, `inferTasksByFecam`): the penultimate features under every task's model
 * (`TaskModel.features`), the nearest class prototype in Mahalanobis distance (`FecamScorer`;
 * each task's distances divided by its distance scale), that class's task. Otherwise by lowest
 * softmax entropy (method section 7.2, `inferTasksByEntropy`): the same operations (logSoftmax,
 * then -sum(exp(logP) * logP) / ln K for a task of K classes, see `normalizedEntropy`). Ties go to
 * the earlier task.
 */
import * as tf from '@tensorflow/tfjs-core';
import { EngineError } from '../errors.js';
import { normalizedEntropy } from './entropy.js';
import { fecamCalibrated, type FecamScorer } from './fecam.js';

const ACTIVATIONS: Record<string, (x: tf.Tensor) => tf.Tensor> = {
  relu: (x) => tf.relu(x),
  sigmoid: (x) => tf.sigmoid(x),
  linear: (x) => x,
};

interface LayerConfig {
  class_name: string;
  config: Record<string, unknown> & { name?: string; batch_input_shape?: (number | null)[] };
  /** Functional models: the layer's name and its one inbound node ([[layer, 0, 0, {}], ...]). */
  name?: string;
  inbound_nodes?: [string, number, number, unknown][][];
}

/** One rebuilt layer: its computation on its inputs and the tensors it owns. */
interface Layer {
  apply(xs: tf.Tensor[]): tf.Tensor;
  tensors: tf.Tensor[];
  /** Names of the layers whose outputs it takes (functional models); the previous layer's when absent. */
  inputs?: string[];
  name: string;
}

/** Takes the weight `<layer>/<what>` of the given rank from the weights file. */
type Take = (layer: string, what: string, rank: number) => tf.Tensor;

/** A task model on tfjs-core: owns its weight tensors until `dispose()`. */
export class TaskModel {
  /** Values per input row: the product of `inputShape`. */
  readonly inputSize: number;
  readonly outputSize: number;

  private constructor(
    private readonly layers: Layer[],
    /** One input as the model takes it: [values] for an MLP, [height, width, channels] for images. */
    readonly inputShape: number[],
    outputSize: number,
    /** userDefinedMetadata.retain of the export (task, globalLabels, input, ...). */
    readonly metadata: Record<string, unknown>,
    /** The InputLayer's name (functional models). */
    private readonly inputName: string,
  ) {
    this.inputSize = inputShape.reduce((a, d) => a * d, 1);
    this.outputSize = outputSize;
    this.lastUse = new Map();
    layers.forEach((l, i) => l.inputs?.forEach((name) => this.lastUse.set(name, i)));
  }

  /** Functional models: the index of the last layer that takes each layer's output. */
  private readonly lastUse: Map<string, number>;

  /**
   * Rebuilds a model from an export's model.json and weights bytes.
   * @throws EngineError (INVALID_ARGUMENT) when the topology is not a Sequential or functional
   *   model of the layers above (layers in an order where each one's inputs come before it, the
   *   last one the output), declares no input shape, or the weights do not fit it.
   */
  static fromExport(modelJson: Record<string, unknown>, weights: Uint8Array): TaskModel {
    const topology = modelJson.modelTopology as
      | {
          class_name?: string;
          config?: { layers?: LayerConfig[]; output_layers?: [string, number, number][] };
        }
      | undefined;
    const functional = topology?.class_name === 'Model' || topology?.class_name === 'Functional';
    let configs = topology?.config?.layers;
    const declared = configs?.[0]?.config.batch_input_shape;
    if (
      !(functional || topology?.class_name === 'Sequential') ||
      !configs?.length ||
      !declared ||
      declared.slice(1).some((d) => typeof d !== 'number') ||
      (functional && configs[0].class_name !== 'InputLayer')
    ) {
      throw invalid(
        'model.json: expected a Sequential model whose first layer declares its input shape, or a functional model starting with an InputLayer (a Retain task export)',
      );
    }
    if (functional) {
      const output = topology?.config?.output_layers;
      if (output?.length !== 1 || output[0][0] !== configs[configs.length - 1].name)
        throw invalid('model.json: expected one output, the last layer');
      configs = configs.slice(1);
    }
    const manifest = (
      modelJson.weightsManifest as { weights: { name: string; shape: number[] }[] }[]
    ).flatMap((g) => g.weights);
    const expected = manifest.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
    if (weights.byteLength !== expected * 4)
      throw invalid(
        `weights: ${weights.byteLength} bytes, but the manifest describes ${expected * 4}`,
      );
    // Copy: the bytes may sit at an offset that is not a multiple of 4.
    const values = new Float32Array(weights.slice().buffer);
    const entries = new Map<string, { shape: number[]; offset: number }>();
    let offset = 0;
    for (const w of manifest) {
      entries.set(w.name, { shape: w.shape, offset });
      offset += w.shape.reduce((a, b) => a * b, 1);
    }
    const used = new Set<string>();
    const take: Take = (layer, what, rank) => {
      const name = `${layer}/${what}`;
      const spec = entries.get(name);
      if (!spec || spec.shape.length !== rank || used.has(name))
        throw invalid(`model.json: layer ${layer} does not match its weights (${name})`);
      used.add(name);
      const n = spec.shape.reduce((a, b) => a * b, 1);
      return tf.tensor(values.subarray(spec.offset, spec.offset + n), spec.shape, 'float32');
    };
    const inputName = functional ? String(topology?.config?.layers?.[0]?.name) : '';
    const known = new Set([inputName]);
    const layers: Layer[] = [];
    let outputSize = 0;
    try {
      for (const l of configs) {
        const layer = rebuild(l, take);
        if (functional) {
          const node = l.inbound_nodes?.[0];
          if (l.inbound_nodes?.length !== 1 || !node?.length)
            throw invalid(`model.json: layer ${layer.name} has no single inbound node`);
          layer.inputs = node.map((from) => from[0]);
          const unknown = layer.inputs.find((name) => !known.has(name));
          if (unknown !== undefined)
            throw invalid(
              `model.json: layer ${layer.name} takes ${unknown}, which comes later or not at all`,
            );
          known.add(layer.name);
        }
        layers.push(layer);
        if (l.class_name === 'Dense') outputSize = l.config.units as number;
      }
    } catch (err) {
      layers.forEach((l) => tf.dispose(l.tensors));
      throw err;
    }
    if (used.size !== manifest.length) {
      layers.forEach((l) => tf.dispose(l.tensors));
      throw invalid('model.json: the weights manifest has more tensors than the layers take');
    }
    const metadata = ((modelJson.userDefinedMetadata as Record<string, unknown> | undefined)
      ?.retain ?? {}) as Record<string, unknown>;
    return new TaskModel(layers, declared.slice(1) as number[], outputSize, metadata, inputName);
  }

  /**
   * Logits [batch, outputSize] for x [batch, inputSize] (each row an input flattened row-major,
   * images HWC). Caller disposes the result.
   */
  logits(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => this.run(x, this.layers.length));
  }

  /**
   * The penultimate representation [batch, features]: the input of the output Dense layer, what
   * the engine's `TargetNetwork.features` computes (the export's input scaling or standardisation
   * included; batch norm with the task's running statistics, as the export holds them). Caller
   * disposes the result.
   */
  features(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.reshape(this.run(x, this.layers.length - 1), [x.shape[0], -1]));
  }

  /**
   * Runs the first `upTo` layers and returns the input of layer `upTo` (its first inbound layer's
   * output in a functional model), or the last layer's output when `upTo` is all of them.
   */
  private run(x: tf.Tensor2D, upTo: number): tf.Tensor2D {
    return tf.tidy(() => {
      const input = tf.reshape(x, [x.shape[0], ...this.inputShape]);
      // Outputs by layer name, for functional models' inbound nodes (the InputLayer's is the
      // input), each released after its last use: a ResNet's activations are large.
      const outputs = new Map<string, tf.Tensor>([[this.inputName, input]]);
      let h: tf.Tensor = input;
      this.layers.slice(0, upTo).forEach((l, i) => {
        const xs = l.inputs ? l.inputs.map((name) => outputs.get(name)!) : [h];
        const previous = h;
        h = tf.tidy(() => l.apply(xs));
        if (l.inputs) {
          outputs.set(l.name, h);
          for (const name of l.inputs) {
            const t = outputs.get(name)!;
            if (this.lastUse.get(name) === i && t !== h) t.dispose();
          }
        } else if (i > 0 && previous !== h) {
          previous.dispose();
        }
      });
      const next = this.layers[upTo]?.inputs;
      return (next ? outputs.get(next[0])! : h) as tf.Tensor2D;
    });
  }

  dispose(): void {
    for (const l of this.layers) tf.dispose(l.tensors);
  }
}

/** The computation of one exported layer, taking its weights by name with `take`. */
function rebuild(l: LayerConfig, take: Take): Layer {
  const c = l.config;
  const name = String(c.name);
  const activation = (a: unknown) => {
    const f =
      ACTIVATIONS[a === undefined || a === null ? 'linear' : typeof a === 'string' ? a : ''];
    if (!f)
      throw invalid(`model.json: layer ${name} has an unknown activation ${JSON.stringify(a)}`);
    return f;
  };
  /** A layer of one input. */
  const unary = (f: (x: tf.Tensor) => tf.Tensor, tensors: tf.Tensor[] = []): Layer => ({
    name,
    tensors,
    apply: (xs) => {
      if (xs.length !== 1) throw invalid(`model.json: layer ${name} takes one input`);
      return f(xs[0]);
    },
  });
  switch (l.class_name) {
    case 'Dense': {
      const act = activation(c.activation);
      if (c.use_bias !== true) throw invalid(`model.json: layer ${name} has no bias`);
      const [kernel, bias] = [take(name, 'kernel', 2), take(name, 'bias', 1)];
      return unary(
        (x) => act(tf.add(tf.matMul(x as tf.Tensor2D, kernel as tf.Tensor2D), bias)),
        [kernel, bias],
      );
    }
    case 'Conv2D': {
      const act = activation(c.activation);
      const kernel = take(name, 'kernel', 4);
      const bias = c.use_bias === false ? null : take(name, 'bias', 1);
      const strides = c.strides as [number, number];
      const padding = c.padding as 'same' | 'valid';
      return unary(
        (x) => {
          const y = tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, strides, padding);
          return act(bias ? tf.add(y, bias) : y);
        },
        bias ? [kernel, bias] : [kernel],
      );
    }
    case 'BatchNormalization': {
      if (c.center === false || c.scale === false || ![-1, 3].includes(Number(c.axis ?? -1)))
        throw invalid(
          `model.json: layer ${name} is not a per-channel batch norm with gamma and beta`,
        );
      const [gamma, beta, mean, variance] = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map(
        (w) => take(name, w, 1),
      );
      const epsilon = Number(c.epsilon ?? 1e-3);
      // What tfjs-layers' BatchNormalization computes in predict(): the stored statistics.
      return unary(
        (x) =>
          tf.batchNorm(
            x as tf.Tensor4D,
            mean as tf.Tensor1D,
            variance as tf.Tensor1D,
            beta as tf.Tensor1D,
            gamma as tf.Tensor1D,
            epsilon,
          ),
        [gamma, beta, mean, variance],
      );
    }
    case 'ReLU':
      return unary((x) => tf.relu(x));
    case 'Add':
      return {
        name,
        tensors: [],
        apply: (xs) => {
          if (xs.length < 2) throw invalid(`model.json: layer ${name} adds fewer than two inputs`);
          return tf.addN(xs);
        },
      };
    case 'GlobalAveragePooling2D':
      return unary((x) => tf.mean(x, [1, 2]));
    case 'DepthwiseConv2D': {
      // Only the 1x1 per-channel standardisation exports put in front: x * kernel[c] + bias[c].
      const size = c.kernel_size as [number, number];
      if (c.use_bias !== true || size[0] !== 1 || size[1] !== 1 || c.depth_multiplier !== 1)
        throw invalid(`model.json: layer ${name} is not a 1x1 depthwise standardisation`);
      const kernel = take(name, 'depthwise_kernel', 4);
      const bias = take(name, 'bias', 1);
      const scale = tf.reshape(kernel, [-1]);
      kernel.dispose();
      return unary((x) => tf.add(tf.mul(x, scale), bias), [scale, bias]);
    }
    case 'MaxPooling2D': {
      const [pool, strides, padding] = [
        c.pool_size as [number, number],
        c.strides as [number, number],
        c.padding as 'same' | 'valid',
      ];
      return unary((x) => tf.maxPool(x as tf.Tensor4D, pool, strides, padding));
    }
    case 'Flatten':
      return unary((x) => tf.reshape(x, [x.shape[0], -1]));
    case 'Rescaling': {
      const [scale, offset] = [Number(c.scale), Number(c.offset ?? 0)];
      return unary((x) => tf.add(tf.mul(x, scale), offset));
    }
    case 'ZeroPadding2D': {
      const [[top, bottom], [left, right]] = c.padding as [[number, number], [number, number]];
      return unary((x) =>
        tf.pad(x, [
          [0, 0],
          [top, bottom],
          [left, right],
          [0, 0],
        ]),
      );
    }
    default:
      throw invalid(
        `model.json: layer ${name} is a ${l.class_name}, which a Retain task export does not contain`,
      );
  }
}

export interface Prediction {
  /** The task whose model answered: the one asked for, or the one inferred. */
  task: number;
  /** Class index local to that task (argmax). */
  class: number;
  /** Softmax of that task's logits. */
  probabilities: number[];
  /** How the task was chosen: given, or inferred by FeCAM or by entropy. */
  rule: 'given' | 'fecam' | 'entropy';
  /**
   * Normalised softmax entropy (entropy / ln K) of every task's output (index = position in
   * `models`); when inferred by entropy.
   */
  entropies: number[] | null;
  /**
   * Smallest squared Mahalanobis distance to a class prototype of every task (index = position
   * in `models`), divided by the task's distance scale (fecam.ts); when inferred by FeCAM.
   */
  distances: number[] | null;
}

/**
 * Predicts for every row of `inputs` [n, inputSize] (values as the models take them).
 *
 * @param models the task models, in task order (`models[k]` is task k's).
 * @param task the task to use, or null to infer it per input: by FeCAM when every task has
 *   `fecam` statistics, else by lowest entropy.
 * @param fecam each task's FeCAM scorer, or null for a task without statistics.
 */
export function predict(
  models: TaskModel[],
  inputs: Float32Array,
  n: number,
  task: number | null,
  fecam: (FecamScorer | null)[] = [],
): Prediction[] {
  if (models.length === 0) throw invalid('no task model to predict with');
  const inputSize = models[0].inputSize;
  if (inputs.length !== n * inputSize)
    throw invalid(`inputs: expected ${n} x ${inputSize} values, got ${inputs.length}`);
  let out: Prediction[] = [];
  tf.tidy(() => {
    const x = tf.tensor2d(inputs, [n, inputSize]);
    if (task !== null) {
      if (!models[task])
        throw invalid(`task ${task}: there are models for tasks 0..${models.length - 1}`);
      const p = tf.softmax(models[task].logits(x)).arraySync();
      out = p.map((probabilities) => ({
        task,
        class: argMax(probabilities),
        probabilities,
        rule: 'given',
        entropies: null,
        distances: null,
      }));
      return;
    }
    if (fecam.length === models.length && fecam.every((s) => s !== null)) {
      const calibrated = fecamCalibrated(fecam.map((s) => s.stats));
      const nearest = models.map((m, k) => fecam[k].nearest(m.features(x), calibrated));
      const probs = models.map((m) => tf.softmax(m.logits(x)).arraySync());
      out = Array.from({ length: n }, (_, i) => {
        let k = 0;
        for (let j = 1; j < models.length; j++)
          if (nearest[j].distance[i] < nearest[k].distance[i]) k = j;
        return {
          task: k,
          // The nearest prototype's class: FeCAM classifies as well as picking the task.
          class: nearest[k].cls[i] >= 0 ? nearest[k].cls[i] : argMax(probs[k][i]),
          probabilities: probs[k][i],
          rule: 'fecam',
          entropies: null,
          distances: nearest.map((d) => d.distance[i]),
        };
      });
      return;
    }
    const entropies = models.map((m) => {
      const logP = tf.logSoftmax(m.logits(x));
      return { logP, entropy: normalizedEntropy(logP).dataSync() };
    });
    const best = Array.from({ length: n }, (_, i) => {
      let k = 0;
      for (let j = 1; j < entropies.length; j++)
        if (entropies[j].entropy[i] < entropies[k].entropy[i]) k = j;
      return k;
    });
    const rows = entropies.map((e) => tf.exp(e.logP).arraySync());
    out = best.map((k, i) => ({
      task: k,
      class: argMax(rows[k][i]),
      probabilities: rows[k][i],
      rule: 'entropy',
      entropies: entropies.map((e) => e.entropy[i]),
      distances: null,
    }));
  });
  return out;
}

const invalid = (message: string) => new EngineError('INVALID_ARGUMENT', message);

function argMax(values: number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}
