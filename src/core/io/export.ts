import * as tf from '@tensorflow/tfjs-core';
import type { TaskExport } from '../continual/types.js';
import type { ContinualTask } from '../data/types.js';
import type { Learner } from '../methods/learner.js';
import type { JobSpec } from '../spec.js';
import { encodeSafetensors } from './safetensors.js';

export const MASK_FORMAT = 'retain-mask';
export const WEIGHTS_FILE = 'weights.bin';

/**
 * Deployable artifacts of one task.
 *
 * Mask (HyperMask only): a safetensors file with one F32 tensor per masked target tensor, named
 * like the target parameters ("dense_1/kernel" [in, out], "dense_1/bias" [out], ...). The
 * task's weights are theta * mask; the output bias (the last tensor) is never masked and is
 * not in the file. Metadata: format "retain-mask", version, task, sparsity.
 *
 * Model: the ready subnetwork as a TensorFlow.js LayersModel (a Sequential of Dense layers) whose
 * weights are theta * m_t (HyperMask), the generated weights (HNET) or theta (finetune). Inputs
 * must be preprocessed as in training (see userDefinedMetadata.retain.input); outputs are the
 * task's K logits, local class k meaning global label globalLabels[k].
 */
export function exportTask(learner: Learner, spec: JobSpec, task: ContinualTask): TaskExport {
  const { target } = learner;
  const masks = learner.taskMasks(task.index);
  let mask: Uint8Array | null = null;
  if (masks) {
    mask = encodeSafetensors(
      masks.map((m, i) => ({ name: target.paramNames[i], shape: m.shape, data: m.dataSync() as Float32Array })),
      { format: MASK_FORMAT, version: '1', task: String(task.index), sparsity: String(spec.regularization.sparsity) },
    );
    tf.dispose(masks);
  }
  const weights = learner.taskWeights(task.index);
  const model = layersModel(
    target.paramShapes,
    target.paramNames,
    weights.map((w) => w.dataSync() as Float32Array),
    spec.network.activation,
    {
      task: task.index,
      method: spec.method,
      globalLabels: task.globalLabels,
      input: describeInput(spec, task),
    },
  );
  tf.dispose(weights);
  return { task: task.index, mask, model };
}

function describeInput(spec: JobSpec, task: ContinualTask): Record<string, unknown> {
  const b = spec.benchmark;
  return {
    size: task.inputSize,
    pixels: 'x / 255 per pixel, row-major',
    padTo32: b.padTo32,
    normalize: b.normalize ? { mean: 0.1307, std: 0.3081 } : null,
    permutation: b.kind === 'permuted' ? 'the task permutation of the training run (seeded by training.seed)' : null,
  };
}

/** model.json content (Keras-style topology + weights manifest) and the weights file bytes. */
export function layersModel(
  shapes: number[][],
  names: string[],
  values: Float32Array[],
  activation: string,
  metadata: Record<string, unknown>,
): TaskExport['model'] {
  const layers = [];
  for (let l = 0; l < shapes.length / 2; l++) {
    const [inputs, units] = shapes[2 * l];
    const last = l === shapes.length / 2 - 1;
    layers.push({
      class_name: 'Dense',
      config: {
        name: names[2 * l].split('/')[0],
        units,
        activation: last ? 'linear' : activation,
        use_bias: true,
        trainable: true,
        dtype: 'float32',
        ...(l === 0 ? { batch_input_shape: [null, inputs] } : {}),
      },
    });
  }
  const total = values.reduce((a, v) => a + v.length, 0);
  const weights = new Float32Array(total);
  let offset = 0;
  for (const v of values) {
    weights.set(v, offset);
    offset += v.length;
  }
  const modelJson = {
    format: 'layers-model',
    generatedBy: 'retain',
    convertedBy: null,
    modelTopology: {
      class_name: 'Sequential',
      config: { name: `task_${metadata.task}`, layers },
      keras_version: 'tfjs-layers 4.22.0',
      backend: 'tensor_flow.js',
    },
    weightsManifest: [
      { paths: [WEIGHTS_FILE], weights: names.map((name, i) => ({ name, shape: shapes[i], dtype: 'float32' })) },
    ],
    userDefinedMetadata: { retain: metadata },
  };
  return { modelJson, weights: new Uint8Array(weights.buffer), weightsFileName: WEIGHTS_FILE };
}
