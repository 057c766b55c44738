import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  averageAccuracy,
  backwardTransfer,
  forgetting,
  median,
} from '../../../src/core/metrics/metrics.js';
import { Random } from '../../../src/core/random.js';

describe('continual-learning metrics', () => {
  const a = [[0.9], [0.7, 0.8], [0.6, 0.75, 0.95]];
  it('average accuracy is the mean of the last row', () => {
    assert.ok(Math.abs(averageAccuracy(a) - (0.6 + 0.75 + 0.95) / 3) < 1e-12);
  });
  it('backward transfer compares the last row with the diagonal', () => {
    assert.ok(Math.abs(backwardTransfer(a)! - (0.6 - 0.9 + (0.75 - 0.8)) / 2) < 1e-12);
  });
  it('forgetting takes the best earlier accuracy of each task', () => {
    assert.ok(Math.abs(forgetting(a)! - (0.9 - 0.6 + (0.8 - 0.75)) / 2) < 1e-12);
  });
  it('is null for a single task', () => {
    assert.equal(backwardTransfer([[1]]), null);
    assert.equal(forgetting([[1]]), null);
  });
  it('median', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 2, 3]), 2.5);
  });
});

describe('Random', () => {
  it('is deterministic per seed and resumable from its state', () => {
    const a = new Random(5);
    const b = new Random(5);
    assert.deepEqual([a.next(), a.next()], [b.next(), b.next()]);
    const c = Random.fromState(a.state());
    assert.deepEqual([a.nextUint32(), a.normal()], [c.nextUint32(), c.normal()]);
    assert.notEqual(new Random(6).next(), new Random(5).next());
    const p = new Random(1).permutation(50);
    assert.deepEqual(
      [...p].sort((x, y) => x - y),
      Array.from({ length: 50 }, (_, i) => i),
    );
  });
});
