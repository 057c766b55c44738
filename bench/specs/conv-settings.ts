/**
 * Method settings for the convolutional targets at the published CIFAR values, shared by the
 * step-time benchmark (bench/conv-step.ts) and the Split CIFAR-10 runs
 * (bench/datasets/split-cifar.bench.ts):
 * - hypermask (method section 5): embedding 48, hypernetwork [100] ELU, p = 0, beta 0.01, lambda 1
 *   (ResNet) or 0.01 (ZenkeNet), no masked L1;
 * - hnet (method section 8.5, hypercl's cifar/train_args.py): ResNet with hypercl's ResNet-32
 *   hypernetwork (chunks of 7,000, task and chunk embeddings 32, no hidden layer, beta 0.05),
 *   ZenkeNet with its own (chunks of 5,500, embeddings 48 and 80, hidden [100, 150, 200], beta
 *   0.01); lookahead on;
 * - finetune: the target alone.
 * Batch 32 for all; the spec's default learning rate (`defaultLearningRate`): 1e-3, except HNET
 * with ZenkeNet: 1e-4, hypercl's (zenke_cifar dlr). At 1e-3 that hypernetwork's Adam steps move
 * every generated weight at once (each output weight is shared by the 228 chunks), the task loss
 * jumps within the first 25 steps and the target's ReLUs die: one class for every image (the run
 * of split-cifar10-zenkenet-hnet-400 committed before this rate, bench/README.md).
 */
import { defaultLearningRate, type JobSpecInput } from '../../src/core/spec.js';

export type ConvTarget = 'zenkenet' | 'resnet';
export type ConvMethod = 'hypermask' | 'hnet' | 'finetune';

export function convSettings(target: ConvTarget, method: ConvMethod): JobSpecInput {
  const settings: Record<ConvMethod, JobSpecInput> = {
    hypermask: {
      hypernetwork: { hidden: [100], activation: 'elu', embeddingDim: 48 },
      regularization: {
        beta: 0.01,
        lambda: target === 'resnet' ? 1 : 0.01,
        sparsity: 0,
        maskedL1: false,
      },
    },
    hnet:
      target === 'resnet'
        ? {
            hypernetwork: { hidden: [], embeddingDim: 32, chunkSize: 7000, chunkEmbeddingDim: 32 },
            regularization: { beta: 0.05, lookahead: true },
          }
        : {
            hypernetwork: {
              hidden: [100, 150, 200],
              activation: 'relu',
              embeddingDim: 48,
              chunkSize: 5500,
              chunkEmbeddingDim: 80,
            },
            regularization: { beta: 0.01, lookahead: true },
          },
    finetune: {},
  };
  return {
    method,
    network: { kind: target },
    training: { batchSize: 32, learningRate: defaultLearningRate(method, target) },
    ...settings[method],
  };
}
