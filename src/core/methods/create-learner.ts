import { ChunkedHyperNetwork } from '../hypernetwork/chunked-hypernetwork.js';
import type { HyperNetwork } from '../hypernetwork/hypernetwork.js';
import { MlpHyperNetwork } from '../hypernetwork/mlp-hypernetwork.js';
import { assert } from '../errors.js';
import type { Random } from '../random.js';
import type { JobSpec } from '../spec.js';
import { MlpTargetNetwork } from '../target-network/mlp-target-network.js';
import { ResNet } from '../target-network/resnet.js';
import type { TargetNetwork } from '../target-network/target-network.js';
import { ZenkeNet } from '../target-network/zenke-net.js';
import { FinetuneLearner } from './finetune.js';
import { HnetLearner } from './hnet.js';
import { HyperMaskLearner } from './hypermask.js';
import type { Learner } from './learner.js';

export interface LearnerShape {
  inputSize: number;
  outputSize: number;
  /** The input as an image [height, width, channels]; needed by convolutional targets. */
  imageShape?: number[];
  /**
   * Task embeddings to create at once (default 0). The engine creates them as tasks begin
   * (`beginTask`) or are restored, so this only serves code that builds a learner by hand.
   */
  numTasks?: number;
}

/** Builds the networks and the method the spec asks for, initialised from `rng`. */
export function createLearner(spec: JobSpec, shape: LearnerShape, rng: Random): Learner {
  const target = createTarget(spec, shape, rng);
  if (spec.method === 'finetune') return new FinetuneLearner(target, spec.training.learningRate);

  const h = spec.hypernetwork;
  const common = {
    targetShapes: target.paramShapes,
    numTasks: shape.numTasks ?? 0,
    embeddingDim: h.embeddingDim,
    hidden: h.hidden,
    activation: h.activation,
    rng,
    // HNET follows hypercl (mnist/train_utils.py `generate_classifier`): Xavier-uniform weights,
    // zero biases, N(0, 1) task and chunk embeddings. Method section 8 does not specify it.
    init: spec.method === 'hnet' ? ('xavier-zero-bias' as const) : ('torch-default' as const),
  };
  const hnet: HyperNetwork =
    h.chunkSize === null
      ? new MlpHyperNetwork(common)
      : new ChunkedHyperNetwork({
          ...common,
          chunkSize: h.chunkSize,
          chunkEmbeddingDim: h.chunkEmbeddingDim,
        });
  const r = spec.regularization;
  if (spec.method === 'hnet') {
    return new HnetLearner({
      target,
      hnet,
      learningRate: spec.training.learningRate,
      embeddingLearningRate: spec.training.embeddingLearningRate ?? spec.training.learningRate,
      beta: r.beta,
      lookahead: r.lookahead,
    });
  }
  return new HyperMaskLearner({
    target,
    hnet,
    learningRate: spec.training.learningRate,
    beta: r.beta,
    lambda: r.lambda,
    sparsity: r.sparsity,
    maskedL1: r.maskedL1,
  });
}

/** The target network of the spec; HNET's has no weights of its own (the hypernetwork generates them). */
function createTarget(spec: JobSpec, shape: LearnerShape, rng: Random): TargetNetwork {
  const net = spec.network;
  const own = spec.method === 'hnet' ? undefined : rng;
  if (net.kind === 'mlp') {
    return new MlpTargetNetwork({
      inputSize: shape.inputSize,
      hidden: net.hidden,
      outputSize: shape.outputSize,
      activation: net.activation,
      rng: own,
    });
  }
  const inputShape = shape.imageShape;
  assert(
    inputShape !== undefined && inputShape.reduce((a, d) => a * d, 1) === shape.inputSize,
    `network kind "${net.kind}" needs image inputs of ${shape.inputSize} values`,
  );
  if (net.kind === 'zenkenet') {
    return new ZenkeNet({
      inputShape,
      channels: net.channels!,
      hidden: net.hidden,
      outputSize: shape.outputSize,
      dropout: net.dropout,
      rng: own,
    });
  }
  return new ResNet({ inputShape, n: net.n!, k: net.k!, outputSize: shape.outputSize, rng: own });
}
