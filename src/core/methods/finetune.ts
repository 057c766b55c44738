import * as tf from '@tensorflow/tfjs-core';
import { Adam } from '../continual/adam.js';
import type { TargetNetwork } from '../target-network/target-network.js';
import { gradsInOrder, namedVariablesOf, readLosses, type Learner, type LossFn, type StepLosses } from './learner.js';

/** The unprotected baseline: the target alone, trained task after task (fresh Adam per task). */
export class FinetuneLearner implements Learner {
  readonly hnet = null;
  private optimizer: Adam | null = null;

  constructor(
    readonly target: TargetNetwork,
    private readonly learningRate: number,
  ) {}

  beginTask(): void {
    this.endTask();
    this.optimizer = new Adam(this.target.weights!, { learningRate: this.learningRate });
  }

  trainStep(_task: number, _iteration: number, x: tf.Tensor2D, y: tf.Tensor2D, loss: LossFn): StepLosses {
    const { value, grads } = gradsInOrder(() => loss(this.target.forward(x), y), this.target.weights!);
    this.optimizer!.step(grads);
    tf.dispose(grads);
    return readLosses(value, value);
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
