import * as tf from '@tensorflow/tfjs-core';
import { variableFrom } from '../init.js';
import type { Random } from '../random.js';

/**
 * A task-conditioned hypernetwork (hypnettorch's HyperNetInterface contract). It is built from the
 * target's parameter shapes, never from a target instance. It maps task embeddings to one value
 * per target parameter: the mask logits for HyperMask, the weights themselves for HNET.
 */
export interface HyperNetwork {
  readonly targetShapes: number[][];
  readonly numTasks: number;
  readonly embeddingDim: number;
  /** One [1, embeddingDim] variable per task, initialised N(0, 1). */
  readonly embeddings: tf.Variable[];
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
  return tf.concat(tasks.map((t) => hnet.embeddings[t]), 0) as tf.Tensor2D;
}

export function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** One [1, dim] task embedding variable per task, drawn N(0, 1) (hypnettorch's initialisation). */
export function initEmbeddings(rng: Random, numTasks: number, dim: number): tf.Variable[] {
  return Array.from({ length: numTasks }, () => variableFrom(rng.normalArray(dim), [1, dim]));
}
