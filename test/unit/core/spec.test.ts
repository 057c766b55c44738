import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parameterCounts, resolveSpec } from '../../../src/core/spec.js';

describe('job spec', () => {
  it('accepts the documented example and fills the split-mnist preset', () => {
    const s = resolveSpec({
      preset: 'split-mnist',
      method: 'hypermask',
      benchmark: { kind: 'split', dataset: 'fashion-mnist', tasks: 5 },
      training: { iterationsPerTask: 500, seed: 1 },
    });
    assert.deepEqual(s.network.hidden, [400, 400]);
    assert.deepEqual(s.hypernetwork, {
      hidden: [25, 25],
      activation: 'elu',
      embeddingDim: 128,
      chunkSize: null,
      chunkEmbeddingDim: 8,
    });
    assert.equal(s.training.iterationsPerTask, 500);
    assert.equal(s.training.batchSize, 128);
    assert.deepEqual(s.regularization, {
      beta: 1e-3,
      lambda: 1e-3,
      sparsity: 30,
      maskedL1: true,
      lookahead: true,
    });
    assert.equal(s.benchmark.validationSize, 1000);
    assert.equal(s.benchmark.augment, true);
  });

  it('fills the permuted-mnist preset with the published sizes (205.6 M hypernetwork parameters)', () => {
    const s = resolveSpec({ preset: 'permuted-mnist' });
    assert.equal(s.benchmark.kind, 'permuted');
    assert.equal(s.benchmark.padTo32, true);
    assert.equal(s.regularization.sparsity, 0);
    const counts = parameterCounts(s);
    assert.equal(counts.target, 2_036_010);
    assert.equal(counts.hypernetwork, 205_649_610 + 10 * 24);
  });

  it('uses HNET settings for the hnet method', () => {
    const s = resolveSpec({ preset: 'split-mnist', method: 'hnet' });
    assert.equal(s.hypernetwork.chunkSize, 42000);
    assert.equal(s.regularization.beta, 0.01);
    // hypercl's split MNIST: raw x / 255, no crop augmentation (HyperMask's preset has both).
    assert.equal(s.benchmark.normalize, false);
    assert.equal(s.benchmark.augment, false);
  });

  const bad: [string, unknown, RegExp][] = [
    ['not an object', [], /spec: must be a JSON object/],
    [
      'unknown method',
      { method: 'ewc' },
      /^method: must be one of "hypermask", "hnet", "finetune"/,
    ],
    ['unknown field', { epochs: 3 }, /^epochs: unknown field/],
    ['unknown nested field', { training: { lr: 1 } }, /^training\.lr: unknown field/],
    [
      'unknown dataset',
      { benchmark: { dataset: 'cifar10' } },
      /^benchmark\.dataset: must be one of "mnist", "fashion-mnist"/,
    ],
    [
      'sparsity above 100',
      { regularization: { sparsity: 120 } },
      /^regularization\.sparsity: must be a number between 0 and 100/,
    ],
    ['negative sparsity', { regularization: { sparsity: -1 } }, /^regularization\.sparsity/],
    ['wrong type', { training: { batchSize: '128' } }, /^training\.batchSize: must be an integer/],
    [
      'fractional iterations',
      { training: { iterationsPerTask: 1.5 } },
      /^training\.iterationsPerTask: must be an integer/,
    ],
    [
      'too many tasks for the classes',
      { benchmark: { tasks: 6 } },
      /^benchmark\.tasks: 6 tasks x 2 classes need 12 classes/,
    ],
    [
      'absurd layer',
      { network: { hidden: [100000] } },
      /^network\.hidden\[0\]: must be an integer between 1 and 4096/,
    ],
    [
      'absurd hypernetwork',
      { preset: 'permuted-mnist', hypernetwork: { hidden: [400, 400] } },
      /^hypernetwork\.hidden: the networks would have/,
    ],
    [
      'crop on padded input',
      { benchmark: { padTo32: true, augment: true } },
      /^benchmark\.augment/,
    ],
    ['unknown preset', { preset: 'cifar' }, /^preset: must be one of/],
  ];
  for (const [name, input, message] of bad) {
    it(`rejects: ${name}`, () => {
      assert.throws(
        () => resolveSpec(input),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, 'INVALID_SPEC');
          assert.match(err.message, message);
          return true;
        },
      );
    });
  }
});
