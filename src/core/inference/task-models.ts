/**
 * Predictions from exported task models, with or without a task id.
 *
 * A task model is what `exportTask` writes: a Sequential LayersModel (model.json plus one float32
 * weights file) of Dense layers (MLP) or of ZeroPadding2D, Rescaling, Conv2D, MaxPooling2D,
 * Flatten and Dense layers (ZenkeNet). It is rebuilt here on tfjs-core alone, so the service needs
 * no tfjs-layers at prediction time; tests check it against tf.loadLayersModel on the same files.
 *
 * Without a task id, the task is inferred per input by the job's rule. With every task's FeCAM
 * statistics (a job that infers tasks by FeCAM exports them), by FeCAM as the engine evaluates it
 * (method section 7.3, `inferTasksByFecam`): the penultimate features under every task's model
 * (`TaskModel.features`), the nearest class prototype in Mahalanobis distance (`FecamScorer`),
 * that class's task. Otherwise by lowest softmax entropy (method section 7.2,
 * `inferTasksByEntropy`): the same operations (logSoftmax, then -sum(exp(logP) * logP) / ln K for
 * a task of K classes, see `normalizedEntropy`). Ties go to the earlier task.
 */
import * as tf from '@tensorflow/tfjs-core';
import { EngineError } from '../errors.js';
import { normalizedEntropy } from './entropy.js';
import type { FecamScorer } from './fecam.js';

const ACTIVATIONS: Record<string, (x: tf.Tensor) => tf.Tensor> = {
  relu: (x) => tf.relu(x),
  sigmoid: (x) => tf.sigmoid(x),
  linear: (x) => x,
};

interface LayerConfig {
  class_name: string;
  config: Record<string, unknown> & { name?: string; batch_input_shape?: (number | null)[] };
}

/** One rebuilt layer: its computation and the tensors it owns. */
interface Layer {
  apply(x: tf.Tensor): tf.Tensor;
  tensors: tf.Tensor[];
}

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
  ) {
    this.inputSize = inputShape.reduce((a, d) => a * d, 1);
    this.outputSize = outputSize;
  }

  /**
   * Rebuilds a model from an export's model.json and weights bytes.
   * @throws EngineError (INVALID_ARGUMENT) when the topology is not a Sequential of the layers
   *   above, declares no input shape, or the weights do not fit it.
   */
  static fromExport(modelJson: Record<string, unknown>, weights: Uint8Array): TaskModel {
    const topology = modelJson.modelTopology as
      { class_name?: string; config?: { layers?: LayerConfig[] } } | undefined;
    const configs = topology?.config?.layers;
    const declared = configs?.[0]?.config.batch_input_shape;
    if (
      topology?.class_name !== 'Sequential' ||
      !configs?.length ||
      !declared ||
      declared.slice(1).some((d) => typeof d !== 'number')
    ) {
      throw invalid(
        'model.json: expected a Sequential model whose first layer declares its input shape (a Retain task export)',
      );
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
    let offset = 0;
    let entry = 0;
    const take = (rank: number, name: string) => {
      const spec = manifest[entry++];
      if (!spec || spec.shape.length !== rank)
        throw invalid(`model.json: layer ${name} does not match its weights`);
      const n = spec.shape.reduce((a, b) => a * b, 1);
      const t = tf.tensor(values.subarray(offset, offset + n), spec.shape, 'float32');
      offset += n;
      return t;
    };
    const layers: Layer[] = [];
    let outputSize = 0;
    try {
      for (const l of configs) {
        layers.push(rebuild(l, take));
        if (l.class_name === 'Dense') outputSize = l.config.units as number;
      }
    } catch (err) {
      layers.forEach((l) => tf.dispose(l.tensors));
      throw err;
    }
    if (entry !== manifest.length)
      throw invalid('model.json: the weights manifest has more tensors than the layers take');
    const metadata = ((modelJson.userDefinedMetadata as Record<string, unknown> | undefined)
      ?.retain ?? {}) as Record<string, unknown>;
    return new TaskModel(layers, declared.slice(1) as number[], outputSize, metadata);
  }

  /** Logits [batch, outputSize] for x [batch, inputSize] (each row an input flattened row-major, images HWC). Caller disposes the result. */
  logits(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => this.run(x, this.layers.length));
  }

  /**
   * The penultimate representation [batch, features]: every layer but the output Dense layer,
   * what the engine's `TargetNetwork.features` computes (the export's input scaling included).
   * Caller disposes the result.
   */
  features(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.reshape(this.run(x, this.layers.length - 1), [x.shape[0], -1]));
  }

  private run(x: tf.Tensor2D, layers: number): tf.Tensor2D {
    return this.layers
      .slice(0, layers)
      .reduce(
        (h, l) => l.apply(h),
        tf.reshape(x, [x.shape[0], ...this.inputShape]) as tf.Tensor,
      ) as tf.Tensor2D;
  }

  dispose(): void {
    for (const l of this.layers) tf.dispose(l.tensors);
  }
}

/** The computation of one exported layer, taking its weights (kernel, then bias) with `take`. */
function rebuild(l: LayerConfig, take: (rank: number, name: string) => tf.Tensor): Layer {
  const c = l.config;
  const name = String(c.name);
  const activation = (a: unknown) => {
    const f = ACTIVATIONS[String(a ?? 'linear')];
    if (!f) throw invalid(`model.json: layer ${name} has an unknown activation "${a}"`);
    return f;
  };
  switch (l.class_name) {
    case 'Dense': {
      const act = activation(c.activation);
      if (c.use_bias !== true) throw invalid(`model.json: layer ${name} has no bias`);
      const [kernel, bias] = [take(2, name), take(1, name)];
      return {
        apply: (x) => act(tf.add(tf.matMul(x as tf.Tensor2D, kernel as tf.Tensor2D), bias)),
        tensors: [kernel, bias],
      };
    }
    case 'Conv2D': {
      const act = activation(c.activation);
      if (c.use_bias !== true) throw invalid(`model.json: layer ${name} has no bias`);
      const [kernel, bias] = [take(4, name), take(1, name)];
      const strides = c.strides as [number, number];
      const padding = c.padding as 'same' | 'valid';
      return {
        apply: (x) =>
          act(tf.add(tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, strides, padding), bias)),
        tensors: [kernel, bias],
      };
    }
    case 'MaxPooling2D': {
      const [pool, strides, padding] = [
        c.pool_size as [number, number],
        c.strides as [number, number],
        c.padding as 'same' | 'valid',
      ];
      return { apply: (x) => tf.maxPool(x as tf.Tensor4D, pool, strides, padding), tensors: [] };
    }
    case 'Flatten':
      return { apply: (x) => tf.reshape(x, [x.shape[0], -1]), tensors: [] };
    case 'Rescaling': {
      const [scale, offset] = [Number(c.scale), Number(c.offset ?? 0)];
      return { apply: (x) => tf.add(tf.mul(x, scale), offset), tensors: [] };
    }
    case 'ZeroPadding2D': {
      const [[top, bottom], [left, right]] = c.padding as [[number, number], [number, number]];
      return {
        apply: (x) =>
          tf.pad(x, [
            [0, 0],
            [top, bottom],
            [left, right],
            [0, 0],
          ]),
        tensors: [],
      };
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
   * in `models`); when inferred by FeCAM.
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
      const p = tf.softmax(models[task].logits(x)).arraySync() as number[][];
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
      const nearest = models.map((m, k) => fecam[k]!.nearest(m.features(x)));
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
    const rows = entropies.map((e) => tf.exp(e.logP).arraySync() as number[][]);
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
