import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { runContinualLearning } from '../../../src/core/continual/run-continual-learning.js';
import { decodeSafetensors } from '../../../src/core/io/safetensors.js';
import { resolveSpec } from '../../../src/core/spec.js';
import { clusterTasks } from '../../helpers/tasks.js';
import { expectArraysClose, useCpuBackend } from '../../helpers/tensors.js';

after(useCpuBackend);

/**
 * The core tests run on cpu, but jobs train on wasm, whose kernels differ (XNNPACK caches matMul
 * operators with packed weights keyed by tensor id, so a parameter written in place goes unseen).
 * Training on both must give the same weights up to float rounding.
 */
it('wasm and cpu train the same model', async () => {
  const spec = resolveSpec({
    method: 'hypermask',
    network: { hidden: [16] },
    hypernetwork: { hidden: [8], embeddingDim: 4 },
    training: { iterationsPerTask: 40, batchSize: 16, learningRate: 5e-3 },
    benchmark: { tasks: 2 },
    regularization: { sparsity: 30 },
    evaluation: { taskInference: false },
  });
  const weights: Record<string, Float32Array[]> = {};
  for (const backend of ['cpu', 'wasm']) {
    await tf.setBackend(backend);
    let checkpoint: Uint8Array | undefined;
    await runContinualLearning(spec, {
      tasks: clusterTasks({ tasks: 2 }),
      callbacks: { onTaskEnd: (e) => void (checkpoint = e.checkpoint) },
    });
    weights[backend] = decodeSafetensors(checkpoint!).tensors.map((t) => t.data);
  }
  assert.equal(weights.cpu.length, weights.wasm.length);
  weights.cpu.forEach((w, i) => expectArraysClose(weights.wasm[i], w, 2e-3, `tensor ${i}`));
});
