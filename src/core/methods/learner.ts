import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node build ships the ops without their gradients; the umbrella package registers
// them (against the same tfjs-core instance). Its ESM files cannot be loaded by Node directly.
import '@tensorflow/tfjs';
import type { Adam } from '../continual/adam.js';
import { EngineError } from '../errors.js';
import type { HyperNetwork } from '../hypernetwork/hypernetwork.js';
import type { Random } from '../random.js';
import type { ForwardOptions, TargetNetwork } from '../target-network/target-network.js';

/** Loss values of one training step, as plain numbers. */
export interface StepLosses {
  total: number;
  taskLoss: number;
  outputReg: number;
  driftReg: number;
}

/** Task loss on a batch: `y` is one-hot [batch, K] for classification, targets for regression. */
export type LossFn = (logits: tf.Tensor2D, y: tf.Tensor2D) => tf.Scalar;

export const crossEntropy: LossFn = (logits, oneHot) =>
  tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1))) as tf.Scalar);

export const meanSquaredError: LossFn = (out, y) =>
  tf.tidy(() => tf.mean<tf.Scalar>(tf.squaredDifference(out, y)));

/**
 * One continual-learning method: owns its networks and optimisers, trains one step at a time
 * and produces the target weights each task runs with. The training loop (run-continual-learning)
 * drives it; a learner knows nothing of data sets, evaluation or persistence.
 */
export interface Learner {
  readonly target: TargetNetwork;
  readonly hnet: HyperNetwork | null;
  /** Called before the first step of `task`: snapshot regularisation targets, fresh optimisers. */
  beginTask(task: number, iterations: number): void;
  /**
   * One optimisation step on a batch; `rng` (the model's random stream) draws dropout masks, for
   * targets with dropout.
   */
  trainStep(
    task: number,
    iteration: number,
    x: tf.Tensor2D,
    y: tf.Tensor2D,
    loss: LossFn,
    rng?: Random,
  ): StepLosses;
  /**
   * The learning rates of the current task's optimisers (one per optimiser, in a fixed order),
   * and setting them for the steps that follow: what a learning-rate schedule changes.
   */
  learningRates(): number[];
  setLearningRates(rates: readonly number[]): void;
  /**
   * What a task's training carries besides the model's variables (optimiser moments and step
   * counts, regularisation targets snapshotted at the task's start), as named float32 arrays for
   * a checkpoint written within the task. Valid between `beginTask` and `endTask`.
   */
  saveTaskState(): TaskStateArray[];
  /** Puts back `saveTaskState()`'s arrays after `beginTask` of the same task. */
  restoreTaskState(saved: ReadonlyMap<string, TaskStateArray>): void;
  /** Releases per-task state (optimiser moments, stored targets). */
  endTask(): void;
  /** The target weights task `task` runs with (theta * m_t, generated, or theta). Caller disposes. */
  taskWeights(task: number): tf.Tensor[];
  /**
   * HyperMask's masks of `task` for every masked tensor (all but the last); null for other methods.
   * Caller disposes.
   */
  taskMasks(task: number): tf.Tensor[] | null;
  /** Every variable that defines the model, with stable names, for checkpoints. */
  namedVariables(): { name: string; variable: tf.Variable }[];
  dispose(): void;
}

/** One array of a learner's within-task state. */
export interface TaskStateArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** An optimiser's state as arrays named `${prefix}/steps`, `${prefix}/m_i`, `${prefix}/v_i`. */
export function optimizerState(
  prefix: string,
  adam: Adam,
  params: tf.Variable[],
): TaskStateArray[] {
  const s = adam.exportState();
  return [
    { name: `${prefix}/steps`, shape: [1], data: Float32Array.of(s.steps) },
    ...params.flatMap((p, i) => [
      { name: `${prefix}/m_${i}`, shape: [...p.shape], data: s.m[i] },
      { name: `${prefix}/v_${i}`, shape: [...p.shape], data: s.v[i] },
    ]),
  ];
}

/** Puts back `optimizerState`'s arrays. */
export function restoreOptimizer(
  prefix: string,
  adam: Adam,
  count: number,
  saved: ReadonlyMap<string, TaskStateArray>,
): void {
  const get = (name: string) => {
    const a = saved.get(`${prefix}/${name}`);
    if (!a)
      throw new EngineError('INVALID_CHECKPOINT', `checkpoint lacks task state ${prefix}/${name}`);
    return a.data;
  };
  adam.importState({
    steps: get('steps')[0],
    m: range(count).map((i) => get(`m_${i}`)),
    v: range(count).map((i) => get(`v_${i}`)),
  });
}

/** Tensors as named arrays `${prefix}_i` (copies). */
export function tensorsState(prefix: string, tensors: tf.Tensor[]): TaskStateArray[] {
  return tensors.map((t, i) => ({
    name: `${prefix}_${i}`,
    shape: [...t.shape],
    data: (t.dataSync() as Float32Array).slice(),
  }));
}

/** Tensors back from `tensorsState`'s arrays (caller disposes). */
export function restoreTensors(
  prefix: string,
  count: number,
  saved: ReadonlyMap<string, TaskStateArray>,
): tf.Tensor[] {
  return range(count).map((i) => {
    const a = saved.get(`${prefix}_${i}`);
    if (!a)
      throw new EngineError('INVALID_CHECKPOINT', `checkpoint lacks task state ${prefix}_${i}`);
    return tf.tensor(a.data, a.shape, 'float32');
  });
}

/** Named variables of a target and a hypernetwork, in a fixed order (batch norm first, as hypnettorch lists it). */
export function namedVariablesOf(
  target: TargetNetwork,
  hnet: HyperNetwork | null,
): { name: string; variable: tf.Variable }[] {
  const out: { name: string; variable: tf.Variable }[] = [];
  target.batchNormWeights.forEach((v, i) =>
    out.push({ name: `target/${target.batchNormNames[i]}`, variable: v }),
  );
  target.weights?.forEach((v, i) =>
    out.push({ name: `target/${target.paramNames[i]}`, variable: v }),
  );
  if (hnet) {
    hnet.weights.forEach((v, i) => out.push({ name: `hnet/${hnet.weightNames[i]}`, variable: v }));
    hnet.embeddings.forEach((v, t) => out.push({ name: `hnet/embedding_${t}`, variable: v }));
  }
  return out;
}

/** Reads scalar losses back in one go. Disposes the scalars. */
export function readLosses(
  total: tf.Scalar,
  taskLoss: tf.Scalar,
  outputReg?: tf.Scalar,
  driftReg?: tf.Scalar,
): StepLosses {
  const scalars = [total, taskLoss, outputReg, driftReg];
  const values = scalars.map((s) => (s ? s.dataSync()[0] : 0));
  new Set(scalars).forEach((s) => s?.dispose());
  return { total: values[0], taskLoss: values[1], outputReg: values[2], driftReg: values[3] };
}

/** The target's forward options for a training step. */
export function training(rng?: Random): ForwardOptions {
  return { training: { rng } };
}

export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * Calls tf.variableGrads and returns the gradients in the order of `vars`. A variable the loss
 * does not reach (HyperMask's output-bias head during the first task) gets zeros.
 */
export function gradsInOrder(
  f: () => tf.Scalar,
  vars: tf.Variable[],
): { value: tf.Scalar; grads: tf.Tensor[] } {
  const { value, grads } = tf.variableGrads(f, vars);
  return { value, grads: vars.map((v) => grads[v.name] ?? tf.zerosLike(v)) };
}
