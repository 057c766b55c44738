import * as tf from '@tensorflow/tfjs-core';
import { variableFrom } from '../init.js';
import { Random } from '../random.js';

/**
 * A task-conditioned hypernetwork (hypnettorch's HyperNetInterface contract). It is built from the
 * target's parameter shapes, never from a target instance. It maps task embeddings to one value
 * per target parameter: the mask logits for HyperMask, the weights themselves for HNET.
 */
export interface HyperNetwork {
  readonly targetShapes: number[][];
  /** Tasks that have an embedding so far (`embeddings.length`). */
  readonly numTasks: number;
  readonly embeddingDim: number;
  /** One [1, embeddingDim] variable per task created so far, initialised N(0, 1). */
  readonly embeddings: tf.Variable[];
  /**
   * Creates the embeddings of tasks `numTasks .. n - 1` (none when `n <= numTasks`). Tasks arrive
   * over time (a job can be continued with new tasks), so embeddings are added as they are needed.
   */
  ensureTasks(n: number): void;
  /** The shared parameters (everything except task embeddings), in a fixed order. */
  readonly weights: tf.Variable[];
  /** Stable names of `weights`, used in checkpoints. */
  readonly weightNames: string[];
  /**
   * Runs the hypernetwork on a batch of embeddings [n, embeddingDim] and returns, per target
   * tensor, a [n, numel] matrix (row i belongs to embedding i). With `weights` those tensors are
   * used instead of `this.weights` (lookahead). Caller disposes the results.
   */
  forwardFlat(embeddings: tf.Tensor2D, weights?: tf.Tensor[]): tf.Tensor2D[];
  getConfig(): Record<string, unknown>;
  dispose(): void;
}

/** Outputs for one task, reshaped to the target shapes. Caller disposes. */
export function hyperForward(hnet: HyperNetwork, task: number, weights?: tf.Tensor[]): tf.Tensor[] {
  return tf.tidy(() => {
    const flat = hnet.forwardFlat(hnet.embeddings[task] as tf.Tensor2D, weights);
    return flat.map((f, i) => tf.reshape(f, hnet.targetShapes[i]));
  });
}

/** Stacks the embeddings of `tasks` into one [tasks.length, embeddingDim] matrix. Caller disposes. */
export function stackEmbeddings(hnet: HyperNetwork, tasks: number[]): tf.Tensor2D {
  return tf.concat(
    tasks.map((t) => hnet.embeddings[t]),
    0,
  ) as tf.Tensor2D;
}

export function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Task embeddings, one [1, dim] variable per task, drawn N(0, 1) (hypnettorch's initialisation).
 *
 * Embedding t comes from its own random stream, seeded by (`seed`, t), and the model's stream
 * gives only `seed` (one draw, whatever the number of tasks). So creating embedding t neither
 * depends on how many tasks follow nor shifts any other initial value: a job of tasks 0-1
 * continued with task 2 draws exactly the numbers of one job of tasks 0-2.
 */
export class TaskEmbeddings {
  readonly variables: tf.Variable[] = [];
  private readonly seed: number;

  constructor(
    rng: Random,
    private readonly dim: number,
  ) {
    this.seed = rng.nextUint32();
  }

  ensure(n: number): void {
    for (let t = this.variables.length; t < n; t++) {
      this.variables.push(
        variableFrom(taskEmbeddingRandom(this.seed, t).normalArray(this.dim), [1, this.dim]),
      );
    }
  }
}

/** The stream of task `task`'s embedding; Random's seed expansion makes seeds s and s + 1 unrelated. */
function taskEmbeddingRandom(seed: number, task: number): Random {
  return new Random((seed + task) >>> 0);
}
