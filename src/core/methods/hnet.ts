import * as tf from '@tensorflow/tfjs-core';
import { Adam } from '../continual/adam.js';
import { fixedTargetRegularizer } from '../continual/regularizers.js';
import { hyperForward, stackEmbeddings, type HyperNetwork } from '../hypernetwork/hypernetwork.js';
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

export interface HnetArgs {
  /** A target without own weights: all of them come from the hypernetwork (batch norm excepted). */
  target: TargetNetwork;
  hnet: HyperNetwork;
  learningRate: number;
  embeddingLearningRate: number;
  /** Output-regulariser strength: beta / (number of earlier tasks) * sum of squared distances. */
  beta: number;
  /** Evaluate the regulariser at Theta + Delta-Theta, the step the task loss alone would take. */
  lookahead: boolean;
}

/**
 * HNET (von Oswald et al. 2020, method section 8): the hypernetwork generates all target weights.
 * Per step: task-loss gradients; lookahead Delta-Theta by replaying Adam without changing it
 * (detached); the output regulariser's gradient is added to the hypernetwork's; the hypernetwork
 * Adam steps, then a separate Adam steps the current embedding with task-loss gradients only.
 * Earlier embeddings are frozen. Both optimisers are re-created per task.
 *
 * A target with batch norm keeps its affine parameters as its own shared variables, trained with
 * the task loss by a third Adam and not protected (as HyperMask does; hypercl instead generates
 * them with the other weights).
 */
export class HnetLearner implements Learner {
  readonly target: TargetNetwork;
  readonly hnet: HyperNetwork;
  private thetaOptimizer: Adam | null = null;
  private embeddingOptimizer: Adam | null = null;
  private batchNormOptimizer: Adam | null = null;
  private targets: tf.Tensor2D[] = [];
  private task = 0;

  constructor(private readonly args: HnetArgs) {
    this.target = args.target;
    this.hnet = args.hnet;
  }

  beginTask(task: number): void {
    this.endTask();
    this.task = task;
    this.hnet.ensureTasks(task + 1);
    if (task > 0)
      this.targets = tf.tidy(() => this.hnet.forwardFlat(stackEmbeddings(this.hnet, range(task))));
    this.thetaOptimizer = new Adam(this.hnet.weights, { learningRate: this.args.learningRate });
    this.embeddingOptimizer = new Adam([this.hnet.embeddings[task]], {
      learningRate: this.args.embeddingLearningRate,
    });
    const batchNorm = this.target.batchNormWeights;
    if (batchNorm.length > 0)
      this.batchNormOptimizer = new Adam(batchNorm, { learningRate: this.args.learningRate });
  }

  trainStep(
    task: number,
    _iteration: number,
    x: tf.Tensor2D,
    y: tf.Tensor2D,
    loss: LossFn,
    rng?: Random,
  ): StepLosses {
    const hWeights = this.hnet.weights;
    const embedding = this.hnet.embeddings[task];
    const batchNorm = this.target.batchNormWeights;
    const { value: taskLoss, grads } = gradsInOrder(
      () => loss(this.target.forward(x, hyperForward(this.hnet, task), training(rng)), y),
      [...hWeights, embedding, ...batchNorm],
    );
    const thetaGrads = grads.slice(0, hWeights.length);
    const embeddingGrad = grads[hWeights.length];
    const batchNormGrads = grads.slice(hWeights.length + 1);
    let outputReg: tf.Scalar | undefined;
    let total = taskLoss;
    if (task > 0 && this.args.beta > 0) {
      const delta = this.args.lookahead ? this.thetaOptimizer!.delta(thetaGrads) : null;
      const previous = tf.tidy(() => stackEmbeddings(this.hnet, range(task)));
      const reg = gradsInOrder(() => {
        const w = delta ? hWeights.map((v, i) => tf.add(v, delta[i])) : undefined;
        return fixedTargetRegularizer(this.hnet.forwardFlat(previous, w), this.targets);
      }, hWeights);
      tf.dispose([previous, ...(delta ?? [])]);
      for (let i = 0; i < thetaGrads.length; i++) {
        const g = thetaGrads[i];
        thetaGrads[i] = tf.tidy(() => tf.add(g, tf.mul(reg.grads[i], this.args.beta)));
        g.dispose();
      }
      tf.dispose(reg.grads);
      outputReg = reg.value;
      total = tf.tidy(() => tf.add(taskLoss, tf.mul(reg.value, this.args.beta)));
    }
    this.thetaOptimizer!.step(thetaGrads);
    this.embeddingOptimizer!.step([embeddingGrad]);
    this.batchNormOptimizer?.step(batchNormGrads);
    tf.dispose([...thetaGrads, embeddingGrad, ...batchNormGrads]);
    return readLosses(total, taskLoss, outputReg);
  }

  /** The hypernetwork's, the current embedding's and (with batch norm) the batch-norm optimiser's. */
  private optimizers(): Adam[] {
    return [this.thetaOptimizer, this.embeddingOptimizer, this.batchNormOptimizer].filter(
      (o): o is Adam => o !== null,
    );
  }

  learningRates(): number[] {
    return this.optimizers().map((o) => o.learningRate);
  }

  /** hypercl cifar/train.py steps one plateau scheduler per optimiser with the same accuracy. */
  setLearningRates(rates: readonly number[]): void {
    this.optimizers().forEach((o, i) => (o.learningRate = rates[i]));
  }

  /** Each optimiser with the variables it steps, in `optimizers()` order. */
  private optimized(): [Adam, tf.Variable[]][] {
    const out: [Adam, tf.Variable[]][] = [
      [this.thetaOptimizer!, this.hnet.weights],
      [this.embeddingOptimizer!, [this.hnet.embeddings[this.task]]],
    ];
    if (this.batchNormOptimizer) out.push([this.batchNormOptimizer, this.target.batchNormWeights]);
    return out;
  }

  saveTaskState(): TaskStateArray[] {
    return [
      ...this.optimized().flatMap(([o, vars], k) => optimizerState(`optim_${k}`, o, vars)),
      ...tensorsState('targets', this.targets),
    ];
  }

  restoreTaskState(saved: ReadonlyMap<string, TaskStateArray>): void {
    this.optimized().forEach(([o, vars], k) =>
      restoreOptimizer(`optim_${k}`, o, vars.length, saved),
    );
    const targets = restoreTensors('targets', this.targets.length, saved) as tf.Tensor2D[];
    tf.dispose(this.targets);
    this.targets = targets;
  }

  endTask(): void {
    this.thetaOptimizer?.dispose();
    this.embeddingOptimizer?.dispose();
    this.batchNormOptimizer?.dispose();
    this.thetaOptimizer = this.embeddingOptimizer = this.batchNormOptimizer = null;
    tf.dispose(this.targets);
    this.targets = [];
  }

  taskWeights(task: number): tf.Tensor[] {
    return hyperForward(this.hnet, task);
  }

  taskMasks(): null {
    return null;
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
