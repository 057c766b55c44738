import * as tf from '@tensorflow/tfjs-core';
import { Adam } from '../continual/adam.js';
import { driftL1, fixedTargetRegularizer } from '../continual/regularizers.js';
import { stackEmbeddings, type HyperNetwork } from '../hypernetwork/hypernetwork.js';
import { applyMasks, hyperMasks, sparsityAt } from '../masks/masks.js';
import type { Random } from '../random.js';
import type { TargetNetwork } from '../target-network/target-network.js';
import {
  gradsInOrder,
  namedVariablesOf,
  optimizerState,
  range,
  readLosses,
  restoreOptimizer,
  restoreTensors,
  tensorsState,
  training,
  type Learner,
  type TaskStateArray,
  type LossFn,
  type StepLosses,
} from './learner.js';

export interface HyperMaskArgs {
  target: TargetNetwork;
  hnet: HyperNetwork;
  learningRate: number;
  /** Output-regulariser strength; the effective weight is beta / t^2 (method section 4.2). */
  beta: number;
  /** L1 drift strength. */
  lambda: number;
  /** Percent of each mask tensor zeroed. */
  sparsity: number;
  /** Weight the L1 drift by the current mask. */
  maskedL1: boolean;
}

/**
 * HyperMask (Ksiazek & Spurek): a shared target network theta and a hypernetwork producing a
 * semi-binary mask per task; task t runs with theta * m_t. Loss (method section 4):
 *   CE + beta * R_out / max(1, t) + lambda * R_theta,
 * with R_out = (1/t) sum_{j<t} ||h_j* - H(e_j)||^2 on raw outputs and R_theta the L1 drift.
 * One Adam over the hypernetwork, every embedding trained so far, theta and the target's batch-norm
 * parameters (shared, unmasked, unregularised), re-created per task. The current and all earlier
 * embeddings go through the hypernetwork as one batch.
 */
export class HyperMaskLearner implements Learner {
  readonly target: TargetNetwork;
  readonly hnet: HyperNetwork;
  private optimizer: Adam | null = null;
  private optimizerParams: tf.Variable[] = [];
  private targets: tf.Tensor2D[] = [];
  private prevTheta: tf.Tensor[] = [];
  private iterations = 1;

  constructor(private readonly args: HyperMaskArgs) {
    this.target = args.target;
    this.hnet = args.hnet;
  }

  private get theta(): tf.Variable[] {
    return this.target.weights!;
  }

  beginTask(task: number, iterations: number): void {
    this.endTask();
    this.hnet.ensureTasks(task + 1);
    this.iterations = iterations;
    if (task > 0) {
      this.targets = tf.tidy(() => this.hnet.forwardFlat(stackEmbeddings(this.hnet, range(task))));
      this.prevTheta = this.theta.map((w) => tf.clone(w));
    }
    this.optimizerParams = this.trainable(task);
    this.optimizer = new Adam(this.optimizerParams, { learningRate: this.args.learningRate });
  }

  /** Embeddings of tasks 0..task (later ones get no gradient), the hypernetwork, theta and batch norm. */
  private trainable(task: number): tf.Variable[] {
    return [
      ...this.hnet.embeddings.slice(0, task + 1),
      ...this.hnet.weights,
      ...this.theta,
      ...this.target.batchNormWeights,
    ];
  }

  trainStep(
    task: number,
    iteration: number,
    x: tf.Tensor2D,
    y: tf.Tensor2D,
    loss: LossFn,
    rng?: Random,
  ): StepLosses {
    const p = sparsityAt(this.args.sparsity, task, iteration, this.iterations);
    const { beta, lambda, maskedL1 } = this.args;
    const shapes = this.target.paramShapes;
    let parts: tf.Scalar[] = [];
    const vars = this.trainable(task);
    const { value, grads } = gradsInOrder(() => {
      // Row 0: the current task; rows 1..t: earlier tasks for the output regulariser.
      const flat = this.hnet.forwardFlat(stackEmbeddings(this.hnet, [task, ...range(task)]));
      const current = flat.map((f, l) => tf.reshape(tf.slice(f, [0, 0], [1, -1]), shapes[l]));
      const masks = hyperMasks(current, p);
      const logits = this.target.forward(x, applyMasks(this.theta, masks), training(rng));
      const taskLoss = loss(logits, y);
      if (task === 0) {
        parts = [tf.keep(taskLoss)];
        return taskLoss;
      }
      const outputReg = fixedTargetRegularizer(
        flat.map((f) => tf.slice(f, [1, 0], [-1, -1])),
        this.targets,
      );
      const driftReg = driftL1(this.theta, this.prevTheta, maskedL1 ? masks : null);
      parts = [tf.keep(taskLoss), tf.keep(outputReg), tf.keep(driftReg)];
      return tf.addN([
        taskLoss,
        tf.mul(outputReg, beta / task),
        tf.mul(driftReg, lambda),
      ]) as tf.Scalar;
    }, vars);
    this.optimizer!.step(grads);
    tf.dispose(grads);
    return readLosses(value, parts[0], parts[1], parts[2]);
  }

  learningRates(): number[] {
    return this.optimizer ? [this.optimizer.learningRate] : [];
  }

  setLearningRates(rates: readonly number[]): void {
    if (this.optimizer) this.optimizer.learningRate = rates[0];
  }

  saveTaskState(): TaskStateArray[] {
    return [
      ...optimizerState('optim', this.optimizer!, this.optimizerParams),
      ...tensorsState('targets', this.targets),
      ...tensorsState('theta', this.prevTheta),
    ];
  }

  restoreTaskState(saved: ReadonlyMap<string, TaskStateArray>): void {
    restoreOptimizer('optim', this.optimizer!, this.optimizerParams.length, saved);
    const targets = restoreTensors('targets', this.targets.length, saved) as tf.Tensor2D[];
    const theta = restoreTensors('theta', this.prevTheta.length, saved);
    tf.dispose([...this.targets, ...this.prevTheta]);
    this.targets = targets;
    this.prevTheta = theta;
  }

  endTask(): void {
    this.optimizer?.dispose();
    this.optimizer = null;
    tf.dispose([...this.targets, ...this.prevTheta]);
    this.targets = [];
    this.prevTheta = [];
  }

  taskMasks(task: number): tf.Tensor[] {
    return tf.tidy(() => {
      const flat = this.hnet.forwardFlat(this.hnet.embeddings[task] as tf.Tensor2D);
      const masks = hyperMasks(
        flat.map((f, l) => tf.reshape(f, this.target.paramShapes[l])),
        this.args.sparsity,
      );
      return masks.slice(0, -1);
    });
  }

  taskWeights(task: number): tf.Tensor[] {
    // taskMasks has no entry for the output bias, and applyMasks never reads one.
    return tf.tidy(() => applyMasks(this.theta, this.taskMasks(task)));
  }

  namedVariables() {
    return namedVariablesOf(this.target, this.hnet);
  }

  dispose(): void {
    this.endTask();
    this.target.dispose();
    this.hnet.dispose();
  }
}
