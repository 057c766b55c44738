import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alignByTask, mergePoints } from '../../../ui/src/live/curves.js';

describe('training curves', () => {
  it('merge points from the metrics endpoint and the stream once each, in task and iteration order', () => {
    const fromMetrics = [
      { task: 0, iteration: 0, value: 0.9 },
      { task: 0, iteration: 10, value: 0.5 },
    ];
    const fromStream = [
      { task: 1, iteration: 0, value: 0.8 },
      { task: 0, iteration: 10, value: 0.5 },
      { task: 0, iteration: 5, value: 0.7 },
    ];
    assert.deepEqual(mergePoints(fromMetrics, fromStream), [
      { task: 0, iteration: 0, value: 0.9 },
      { task: 0, iteration: 5, value: 0.7 },
      { task: 0, iteration: 10, value: 0.5 },
      { task: 1, iteration: 0, value: 0.8 },
    ]);
  });

  it('align tasks on the job-wide iteration, one column per task', () => {
    const points = [
      { task: 0, iteration: 0, value: 1 },
      { task: 0, iteration: 10, value: 2 },
      { task: 1, iteration: 0, value: 3 },
    ];
    assert.deepEqual(alignByTask(points, 20, 3), [
      [0, 10, 20],
      [1, 2, null],
      [null, null, 3],
      [null, null, null],
    ]);
  });
});
