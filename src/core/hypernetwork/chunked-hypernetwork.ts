import * as tf from '@tensorflow/tfjs-core';
import { activate } from '../activations.js';
import { assert, assertPositiveInteger } from '../errors.js';
import { layerInit, variableFrom } from '../init.js';
import { linear } from '../linear.js';
import { numel, TaskEmbeddings, type HyperNetwork } from './hypernetwork.js';
import type { MlpHyperNetworkArgs } from './mlp-hypernetwork.js';

export interface ChunkedHyperNetworkArgs extends MlpHyperNetworkArgs {
  /** Outputs produced per call; ceil(total / chunkSize) calls make up all target parameters. */
  chunkSize: number;
  /** Size of the learned chunk embeddings (shared by all tasks). */
  chunkEmbeddingDim: number;
}

/**
 * Chunked hypernetwork (von Oswald et al. 2020, hypnettorch ChunkedHMLP): one small MLP is run on
 * [task embedding ; chunk embedding c_i] for every chunk i, the chunk outputs are concatenated and
 * cut to the target size. All chunks of all requested tasks go through the MLP as one batch.
 * The chunk embeddings are part of `weights` (they are shared parameters, not per task).
 */
export class ChunkedHyperNetwork implements HyperNetwork {
  readonly targetShapes: number[][];
  readonly embeddingDim: number;
  readonly weights: tf.Variable[] = [];
  private readonly taskEmbeddings: TaskEmbeddings;
  readonly weightNames: string[] = ['chunk_embeddings'];
  readonly numChunks: number;
  private readonly total: number;

  constructor(private readonly args: ChunkedHyperNetworkArgs) {
    this.targetShapes = args.targetShapes;
    this.embeddingDim = args.embeddingDim;
    this.total = args.targetShapes.reduce((a, s) => a + numel(s), 0);
    this.numChunks = Math.ceil(this.total / args.chunkSize);
    const { rng } = args;
    this.taskEmbeddings = new TaskEmbeddings(rng, args.embeddingDim);
    this.taskEmbeddings.ensure(args.numTasks);
    this.weights.push(
      variableFrom(rng.normalArray(this.numChunks * args.chunkEmbeddingDim), [
        this.numChunks,
        args.chunkEmbeddingDim,
      ]),
    );
    const sizes = [args.embeddingDim + args.chunkEmbeddingDim, ...args.hidden, args.chunkSize];
    for (let l = 1; l < sizes.length; l++) {
      const { kernel, bias } = layerInit(args.init ?? 'torch-default', rng, sizes[l - 1], sizes[l]);
      this.weights.push(
        variableFrom(kernel, [sizes[l - 1], sizes[l]]),
        variableFrom(bias, [sizes[l]]),
      );
      this.weightNames.push(`layer_${l}/kernel`, `layer_${l}/bias`);
    }
    this.assertWellFormed();
  }

  get numTasks(): number {
    return this.taskEmbeddings.variables.length;
  }

  get embeddings(): tf.Variable[] {
    return this.taskEmbeddings.variables;
  }

  ensureTasks(n: number): void {
    this.taskEmbeddings.ensure(n);
  }

  private assertWellFormed(): void {
    assertPositiveInteger(this.args.chunkSize, 'chunkSize');
    assertPositiveInteger(this.args.chunkEmbeddingDim, 'chunkEmbeddingDim');
    assert(
      this.weights.length === 1 + 2 * (this.args.hidden.length + 1),
      'chunked hypernetwork weights do not match its layers',
    );
  }

  forwardFlat(embeddings: tf.Tensor2D, weights?: tf.Tensor[]): tf.Tensor2D[] {
    const w = weights ?? this.weights;
    assert(
      w.length === this.weights.length,
      `expected ${this.weights.length} hypernetwork tensors, got ${w.length}`,
    );
    return tf.tidy(() => {
      const n = embeddings.shape[0];
      const c = this.numChunks;
      const taskPart = tf.reshape(tf.tile(tf.expandDims(embeddings, 1), [1, c, 1]), [
        n * c,
        this.embeddingDim,
      ]);
      const chunkPart = tf.tile(w[0], [n, 1]);
      let h = tf.concat([taskPart, chunkPart], 1) as tf.Tensor2D;
      const layers = this.args.hidden.length + 1;
      for (let l = 0; l < layers; l++) {
        h = linear(h, w[1 + 2 * l] as tf.Tensor2D, w[2 + 2 * l] as tf.Tensor1D);
        if (l < layers - 1) h = activate(h, this.args.activation) as tf.Tensor2D;
      }
      const flat = tf.slice(tf.reshape(h, [n, c * this.args.chunkSize]), [0, 0], [n, this.total]);
      return tf.split<tf.Tensor2D>(flat, this.targetShapes.map(numel), 1);
    });
  }

  getConfig(): Record<string, unknown> {
    const { embeddingDim, chunkSize, chunkEmbeddingDim, hidden, activation, targetShapes } =
      this.args;
    return {
      kind: 'chunked-mlp',
      numTasks: this.numTasks,
      embeddingDim,
      chunkSize,
      chunkEmbeddingDim,
      hidden,
      activation,
      targetShapes,
    };
  }

  dispose(): void {
    [...this.embeddings, ...this.weights].forEach((v) => v.dispose());
  }
}
