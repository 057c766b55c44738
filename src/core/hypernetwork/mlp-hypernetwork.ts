import * as tf from '@tensorflow/tfjs-core';
import { activate } from '../activations.js';
import { assert, assertPositiveInteger } from '../errors.js';
import { layerInit, variableFrom, type LayerInit } from '../init.js';
import { fewRowsLinear } from '../kernels/few-rows-linear.js';
import { linear } from '../linear.js';
import type { Random } from '../random.js';
import { numel, TaskEmbeddings, type HyperNetwork } from './hypernetwork.js';

/**
 * Output columns per head block. HMLP has one output layer with a column per target parameter
 * (2,036,010 for the permuted-mnist preset). Splitting it into blocks is mathematically
 * identical and keeps every tensor, its gradient and the Adam temporaries small enough for a
 * 32-bit WebAssembly heap and for GPU texture limits (hypermask-method.md pitfall 13).
 */
export const MAX_HEAD_COLUMNS = 131_072;

export interface MlpHyperNetworkArgs {
  /** Shapes of the target parameters the outputs are split into (TargetNetwork.paramShapes). */
  targetShapes: number[][];
  /** Task embeddings created at construction; `ensureTasks` adds the others as tasks arrive. */
  numTasks: number;
  /** Size of each task embedding. */
  embeddingDim: number;
  /** Hidden layer widths ([] gives a linear map from embedding to outputs). */
  hidden: number[];
  /** Hidden activation; the output layer is linear. */
  activation: 'elu' | 'relu' | 'sigmoid';
  /** Source of the initial values (see `init`; embeddings N(0, 1)). */
  rng: Random;
  /**
   * Initialisation of the linear layers. Default 'torch-default' (Kaiming-uniform weights and
   * biases, HyperMask, method section 6.1); HNET uses 'xavier-zero-bias' (hypercl).
   */
  init?: LayerInit;
}

/** hypnettorch's HMLP: embedding -> hidden layers -> one linear head per target tensor. */
export class MlpHyperNetwork implements HyperNetwork {
  readonly targetShapes: number[][];
  readonly embeddingDim: number;
  readonly weights: tf.Variable[] = [];
  private readonly taskEmbeddings: TaskEmbeddings;
  readonly weightNames: string[] = [];
  /** For each target tensor, the column count of each of its head blocks. */
  private readonly headBlocks: number[][] = [];

  constructor(private readonly args: MlpHyperNetworkArgs) {
    this.targetShapes = args.targetShapes;
    this.embeddingDim = args.embeddingDim;
    const { rng } = args;
    this.taskEmbeddings = new TaskEmbeddings(rng, args.embeddingDim);
    this.taskEmbeddings.ensure(args.numTasks);
    const sizes = [args.embeddingDim, ...args.hidden];
    for (let l = 1; l < sizes.length; l++) {
      const { kernel, bias } = layerInit(args.init ?? 'torch-default', rng, sizes[l - 1], sizes[l]);
      this.weights.push(
        variableFrom(kernel, [sizes[l - 1], sizes[l]]),
        variableFrom(bias, [sizes[l]]),
      );
      this.weightNames.push(`hidden_${l}/kernel`, `hidden_${l}/bias`);
    }
    const last = sizes[sizes.length - 1];
    args.targetShapes.forEach((shape, i) => {
      const blocks: number[] = [];
      for (let left = numel(shape); left > 0; left -= MAX_HEAD_COLUMNS)
        blocks.push(Math.min(left, MAX_HEAD_COLUMNS));
      blocks.forEach((cols, b) => {
        const { kernel, bias } = layerInit(args.init ?? 'torch-default', rng, last, cols);
        this.weights.push(variableFrom(kernel, [last, cols]), variableFrom(bias, [cols]));
        this.weightNames.push(`head_${i}_${b}/kernel`, `head_${i}_${b}/bias`);
      });
      this.headBlocks.push(blocks);
    });
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
    assert(
      Number.isInteger(this.numTasks) && this.numTasks >= 0,
      'numTasks must be a non-negative integer',
    );
    assertPositiveInteger(this.embeddingDim, 'embeddingDim');
    const blocks = this.headBlocks.reduce((a, b) => a + b.length, 0);
    assert(
      this.weights.length === 2 * (this.args.hidden.length + blocks),
      'hypernetwork weights do not match its layers',
    );
  }

  forwardFlat(embeddings: tf.Tensor2D, weights?: tf.Tensor[]): tf.Tensor2D[] {
    const w = weights ?? this.weights;
    assert(
      w.length === this.weights.length,
      `expected ${this.weights.length} hypernetwork tensors, got ${w.length}`,
    );
    return tf.tidy(() => {
      let h: tf.Tensor2D = embeddings;
      let k = 0;
      for (let l = 0; l < this.args.hidden.length; l++, k += 2) {
        h = activate(
          linear(h, w[k] as tf.Tensor2D, w[k + 1] as tf.Tensor1D),
          this.args.activation,
        ) as tf.Tensor2D;
      }
      return this.headBlocks.map((blocks) => {
        const parts = blocks.map(() => {
          const out = fewRowsLinear(h, w[k] as tf.Tensor2D, w[k + 1] as tf.Tensor1D);
          k += 2;
          return out;
        });
        return parts.length === 1 ? parts[0] : tf.concat<tf.Tensor2D>(parts, 1);
      });
    });
  }

  getConfig(): Record<string, unknown> {
    const { embeddingDim, hidden, activation, targetShapes } = this.args;
    return { kind: 'mlp', numTasks: this.numTasks, embeddingDim, hidden, activation, targetShapes };
  }

  dispose(): void {
    [...this.embeddings, ...this.weights].forEach((v) => v.dispose());
  }
}
