import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeSafetensors } from '../../../src/core/io/safetensors.js';
import { summarizeMask } from '../../../ui/src/masks/mask-summary.js';

describe('summarizeMask', () => {
  it('counts zeros per tensor and bins the other values of [0, 1]', () => {
    const file = encodeSafetensors([
      { name: 'dense_1/kernel', shape: [2, 3], data: new Float32Array([0, 0.05, 0.5, 0, 0.99, 1]) },
      { name: 'dense_1/bias', shape: [3], data: new Float32Array([0, 0, 0.25]) },
    ]);
    const s = summarizeMask(file, 4);
    assert.deepEqual(
      s.layers.map((l) => [l.name, l.shape, l.size, l.zeros, l.sparsity, l.histogram.counts]),
      [
        // 1 lands in the last bin, not past it.
        ['dense_1/kernel', [2, 3], 6, 2, 2 / 6, [1, 0, 1, 2]],
        ['dense_1/bias', [3], 3, 2, 2 / 3, [0, 1, 0, 0]],
      ],
    );
    assert.deepEqual(s.total, {
      size: 9,
      zeros: 4,
      sparsity: 4 / 9,
      histogram: { counts: [1, 1, 1, 2] },
    });
  });
});
