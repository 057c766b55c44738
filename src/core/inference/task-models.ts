/**
 * Predictions from exported task models, with or without a task id.
 *
 * A task model is what `exportTask` writes: a Sequential of Dense layers (hidden activation relu
 * or sigmoid, linear output) as model.json plus one float32 weights file. It is rebuilt here on
 * tfjs-core alone, as a few matrix products, so the service needs no tfjs-layers at prediction
 * time; tests check it against tf.loadLayersModel on the same files.
 *
 * Without a task id, the task is inferred per input by lowest softmax entropy, the way the engine
 * evaluates task-agnostic inference (method section 7.2, `inferTasksByEntropy`): the same
 * operations (logSoftmax, then -sum(exp(logP) * logP) / ln K for a task of K classes, see
 * `normalizedEntropy`), and ties go to the earlier task.
 */
import * as tf from '@tensorflow/tfjs-core';
import { EngineError } from '../errors.js';
import { normalizedEntropy } from './entropy.js';

const ACTIVATIONS: Record<string, (x: tf.Tensor2D) => tf.Tensor2D> = {
  relu: (x) => tf.relu(x),
  sigmoid: (x) => tf.sigmoid(x),
  linear: (x) => x,
};

interface DenseLayerConfig {
  class_name: string;
  config: { name: string; units: number; activation: string; use_bias: boolean };
}

/** A task model on tfjs-core: owns its weight tensors until `dispose()`. */
export class TaskModel {
  readonly inputSize: number;
  readonly outputSize: number;

  private constructor(
    private readonly layers: { kernel: tf.Tensor2D; bias: tf.Tensor1D; activation: (x: tf.Tensor2D) => tf.Tensor2D }[],
    /** userDefinedMetadata.retain of the export (task, globalLabels, input, ...). */
    readonly metadata: Record<string, unknown>,
  ) {
    this.inputSize = layers[0].kernel.shape[0];
    this.outputSize = layers[layers.length - 1].kernel.shape[1];
  }

  /**
   * Rebuilds a model from an export's model.json and weights bytes.
   * @throws EngineError (INVALID_ARGUMENT) when the topology is not a Sequential of Dense layers or the weights do not fit it.
   */
  static fromExport(modelJson: Record<string, unknown>, weights: Uint8Array): TaskModel {
    const topology = modelJson.modelTopology as { class_name?: string; config?: { layers?: DenseLayerConfig[] } } | undefined;
    const layerConfigs = topology?.config?.layers;
    if (topology?.class_name !== 'Sequential' || !layerConfigs?.length || layerConfigs.some((l) => l.class_name !== 'Dense' || !l.config.use_bias)) {
      throw invalid('model.json: expected a Sequential of Dense layers with biases (a Retain task export)');
    }
    const manifest = (modelJson.weightsManifest as { weights: { name: string; shape: number[] }[] }[]).flatMap((g) => g.weights);
    const expected = manifest.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
    if (weights.byteLength !== expected * 4) throw invalid(`weights: ${weights.byteLength} bytes, but the manifest describes ${expected * 4}`);
    // Copy: the bytes may sit at an offset that is not a multiple of 4.
    const values = new Float32Array(weights.slice().buffer);
    let offset = 0;
    const take = (shape: number[]) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const out = values.subarray(offset, offset + n);
      offset += n;
      return out;
    };
    const layers = layerConfigs.map((l, i) => {
      const [k, b] = [manifest[2 * i], manifest[2 * i + 1]];
      const activation = ACTIVATIONS[l.config.activation];
      if (!k || !b || k.shape.length !== 2 || b.shape[0] !== k.shape[1] || !activation) {
        throw invalid(`model.json: layer ${l.config.name} does not match its weights or has an unknown activation "${l.config.activation}"`);
      }
      return { kernel: tf.tensor2d(take(k.shape), k.shape as [number, number]), bias: tf.tensor1d(take(b.shape)), activation };
    });
    const metadata = ((modelJson.userDefinedMetadata as Record<string, unknown> | undefined)?.retain ?? {}) as Record<string, unknown>;
    return new TaskModel(layers, metadata);
  }

  /** Logits [batch, outputSize] for x [batch, inputSize]. Caller disposes the result. */
  logits(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => this.layers.reduce((h, l) => l.activation(tf.add(tf.matMul(h, l.kernel), l.bias)), x));
  }

  dispose(): void {
    for (const l of this.layers) tf.dispose([l.kernel, l.bias]);
  }
}

export interface Prediction {
  /** The task whose model answered: the one asked for, or the one inferred. */
  task: number;
  /** Class index local to that task (argmax). */
  class: number;
  /** Softmax of that task's logits. */
  probabilities: number[];
  /** Normalised softmax entropy (entropy / ln K) of every task's output (index = position in `models`); only when the task was inferred. */
  entropies: number[] | null;
}

/**
 * Predicts for every row of `inputs` [n, inputSize] (values as the models take them).
 *
 * @param models the task models, in task order (`models[k]` is task k's).
 * @param task the task to use, or null to infer it per input by lowest entropy.
 */
export function predict(models: TaskModel[], inputs: Float32Array, n: number, task: number | null): Prediction[] {
  if (models.length === 0) throw invalid('no task model to predict with');
  const inputSize = models[0].inputSize;
  if (inputs.length !== n * inputSize) throw invalid(`inputs: expected ${n} x ${inputSize} values, got ${inputs.length}`);
  let out: Prediction[] = [];
  tf.tidy(() => {
    const x = tf.tensor2d(inputs, [n, inputSize]);
    if (task !== null) {
      if (!models[task]) throw invalid(`task ${task}: there are models for tasks 0..${models.length - 1}`);
      const p = tf.softmax(models[task].logits(x)).arraySync() as number[][];
      out = p.map((probabilities) => ({ task, class: argMax(probabilities), probabilities, entropies: null }));
      return;
    }
    const entropies = models.map((m) => {
      const logP = tf.logSoftmax(m.logits(x));
      return { logP, entropy: normalizedEntropy(logP).dataSync() };
    });
    const best = Array.from({ length: n }, (_, i) => {
      let k = 0;
      for (let j = 1; j < entropies.length; j++) if (entropies[j].entropy[i] < entropies[k].entropy[i]) k = j;
      return k;
    });
    const rows = entropies.map((e) => tf.exp(e.logP).arraySync() as number[][]);
    out = best.map((k, i) => ({
      task: k,
      class: argMax(rows[k][i]),
      probabilities: rows[k][i],
      entropies: entropies.map((e) => e.entropy[i]),
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
