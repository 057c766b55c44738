import * as tf from '@tensorflow/tfjs-core';
import { Adam } from '../continual/adam.js';
import type { Random } from '../random.js';
import type { TargetNetwork } from '../target-network/target-network.js';
import {
  gradsInOrder,
  namedVariablesOf,
  optimizerState,
  readLosses,
  restoreOptimizer,
  training,
  type Learner,
  type TaskStateArray,
  type LossFn,
  type StepLosses,
} from './learner.js';

/** The unprotected baseline: the target alone (batch norm included), trained task after task (fresh Adam per task). */
export class FinetuneLearner implements Learner {
  readonly hnet = null;
  private optimizer: Adam | null = null;

  constructor(
    readonly target: TargetNetwork,
    private readonly learningRate: number,
  ) {}

  beginTask(): void {
    this.endTask();
    this.optimizer = new Adam(this.trainable(), { learningRate: this.learningRate });
  }

  private trainable(): tf.Variable[] {
    return [...this.target.weights!, ...this.target.batchNormWeights];
  }

  trainStep(
    _task: number,
    _iteration: number,
    x: tf.Tensor2D,
    y: tf.Tensor2D,
    loss: LossFn,
    rng?: Random,
  ): StepLosses {
    const { value, grads } = gradsInOrder(
      () => loss(this.target.forward(x, undefined, training(rng)), y),
      this.trainable(),
    );
    this.optimizer!.step(grads);
    tf.dispose(grads);
    return readLosses(value, value);
  }

  learningRates(): number[] {
    return this.optimizer ? [this.optimizer.learningRate] : [];
  }

  setLearningRates(rates: readonly number[]): void {
    if (this.optimizer) this.optimizer.learningRate = rates[0];
  }

  saveTaskState(): TaskStateArray[] {
    return optimizerState('optim', this.optimizer!, this.trainable());
  }

  restoreTaskState(saved: ReadonlyMap<string, TaskStateArray>): void {
    restoreOptimizer('optim', this.optimizer!, this.trainable().length, saved);
  }

  endTask(): void {
    this.optimizer?.dispose();
    this.optimizer = null;
  }

  taskWeights(): tf.Tensor[] {
    return this.target.weights!.map((w) => tf.clone(w));
  }

  taskMasks(): null {
    return null;
  }

  namedVariables() {
    return namedVariablesOf(this.target, null);
  }

  dispose(): void {
    this.endTask();
    this.target.dispose();
  }
}
