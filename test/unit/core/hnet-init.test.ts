import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { modelSeed } from '../../../src/core/continual/run-continual-learning.js';
import { linearInit, xavierInit } from '../../../src/core/init.js';
import { createLearner } from '../../../src/core/methods/create-learner.js';
import { Random } from '../../../src/core/random.js';
import { benchmarkShape, resolveSpec } from '../../../src/core/spec.js';
import { useCpuBackend } from '../../helpers/tensors.js';

before(useCpuBackend);

const rms = (t: tf.Tensor) => Math.sqrt(tf.tidy(() => tf.mean(tf.square(t)).dataSync()[0]));

describe('HNET initialisation (hypercl mnist/train_utils.py generate_classifier)', () => {
  it('xavierInit draws U(-sqrt(6/(in+out)), +) weights and zero biases', () => {
    const { kernel, bias } = xavierInit(new Random(3), 30, 20);
    const bound = Math.sqrt(6 / 50);
    assert.ok(kernel.every((w) => Math.abs(w) <= bound));
    assert.ok(Math.max(...kernel.map(Math.abs)) > 0.9 * bound, 'uses the whole range');
    assert.ok(bias.every((b) => b === 0));
    // Same draw order as linearInit (torch's [out, in], transposed), only the bound differs.
    const torch = linearInit(new Random(3), 30, 20).kernel;
    const ratio = bound / (1 / Math.sqrt(30));
    for (let i = 0; i < kernel.length; i += 37)
      assert.ok(Math.abs(kernel[i] - ratio * torch[i]) < 1e-5);
  });

  it('the split-mnist preset generates target weights of a usual initial scale', () => {
    // With PyTorch's default init in the chunked hypernetwork (10 -> 42,000 output layer, bias
    // U(-0.32, 0.32)) the generated weights had RMS ~0.19 in every layer (9x a usual init): first-step logits in
    // the hundreds (cross-entropy ~56) and a hypernetwork that forgot on Split Fashion-MNIST.
    const spec = resolveSpec({ preset: 'split-mnist', method: 'hnet' });
    const { inputSize, outputSize } = benchmarkShape(spec.benchmark);
    const learner = createLearner(
      spec,
      { inputSize, outputSize, numTasks: 5 },
      new Random(modelSeed(1)),
    );
    try {
      for (const task of [0, 4]) {
        const weights = learner.taskWeights(task);
        weights.forEach((w, i) => {
          const fanIn = w.shape.length === 2 ? w.shape[0] : weights[i - 1].shape[0];
          // PyTorch's default for a plain target layer has RMS 1/sqrt(3 fan_in); allow twice that.
          const limit = 2 / Math.sqrt(3 * fanIn);
          assert.ok(
            rms(w) < limit,
            `task ${task}, tensor ${i} ${JSON.stringify(w.shape)}: RMS ${rms(w)} >= ${limit}`,
          );
        });
        tf.dispose(weights);
      }
      const hnet = learner.hnet!;
      const head = hnet.weights[hnet.weights.length - 2];
      const headBias = hnet.weights[hnet.weights.length - 1];
      assert.ok(rms(headBias) === 0, 'output bias starts at zero');
      assert.ok(rms(head) < 0.02, `output layer RMS ${rms(head)}`);
    } finally {
      learner.dispose();
    }
  });

  it('hypermask keeps PyTorch-default init in its hypernetwork (method section 6.1)', () => {
    const spec = resolveSpec({ preset: 'split-mnist', method: 'hypermask' });
    const { inputSize, outputSize } = benchmarkShape(spec.benchmark);
    const learner = createLearner(
      spec,
      { inputSize, outputSize, numTasks: 5 },
      new Random(modelSeed(1)),
    );
    try {
      const biases = learner.hnet!.weights.filter((w) => w.shape.length === 1);
      assert.ok(
        biases.every((b) => rms(b) > 0),
        'biases are drawn, not zero',
      );
    } finally {
      learner.dispose();
    }
  });
});
