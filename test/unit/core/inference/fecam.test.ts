import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  inferTasksByEntropy,
  inferTasksByFecam,
} from '../../../../src/core/continual/evaluation.js';
import type { ContinualTask } from '../../../../src/core/data/types.js';
import {
  decodeFecam,
  encodeFecam,
  fecamCalibrated,
  fecamCovariance,
  FecamScorer,
  fecamStatistics,
  type FecamTaskStatistics,
  invertPositiveDefinite,
  normalizeCovariance,
  sampleCovariance,
  shrinkCovariance,
  unpackUpper,
} from '../../../../src/core/inference/fecam.js';
import type { Learner } from '../../../../src/core/methods/learner.js';
import { MlpTargetNetwork } from '../../../../src/core/target-network/mlp-target-network.js';
import { arraySource } from '../../../helpers/tasks.js';
import { expectArraysClose, useCpuBackend } from '../../../helpers/tensors.js';

before(useCpuBackend);

describe('FeCAM covariance', () => {
  it('shrinks as computed by hand: + mean(diag) I + mean(non-zero off-diagonal) (1 - I)', () => {
    // diag mean (4 + 2 + 6) / 3 = 4; off-diagonal non-zero entries 1, 1, -3, -3 -> mean -1
    // (the two zeros are not counted).
    const cov = Float64Array.of(4, 1, 0, 1, 2, -3, 0, -3, 6);
    assert.deepEqual(Array.from(shrinkCovariance(cov, 3)), [8, 0, -1, 0, 6, -4, -1, -4, 10]);
    // Twice: second step diag mean (8 + 6 + 10) / 3 = 8; non-zero off-diagonal -1, -1, -4, -4
    // -> mean -2.5.
    assert.deepEqual(
      Array.from(shrinkCovariance(shrinkCovariance(cov, 3), 3)),
      [16, -2.5, -3.5, -2.5, 14, -6.5, -3.5, -6.5, 18],
    );
  });

  it('normalises to a correlation matrix and inverts it', () => {
    const n = normalizeCovariance(Float64Array.of(4, 2, 2, 9), 2);
    expectArraysClose(Array.from(n), [1, 2 / 6, 2 / 6, 1], 1e-12);
    const inv = invertPositiveDefinite(n, 2);
    // [[1, r], [r, 1]]^-1 = [[1, -r], [-r, 1]] / (1 - r^2)
    const r = 1 / 3;
    const det = 1 - r * r;
    expectArraysClose(Array.from(inv), [1 / det, -r / det, -r / det, 1 / det], 1e-12);
  });

  it('computes the unbiased sample covariance, shrinks it twice and normalises it', () => {
    // Samples (0, 0), (2, 1), (4, 5): means (2, 2); covariance [[4, 5], [5, 7]] (divisor n - 1).
    const x = Float32Array.of(0, 0, 2, 1, 4, 5);
    const mean = Float64Array.of(2, 2);
    assert.deepEqual(Array.from(sampleCovariance(x, 3, 2, mean)), [4, 5, 5, 7]);
    // Shrink: diag mean 5.5, off mean 5 -> [[9.5, 10], [10, 12.5]]; again: diag mean 11, off 10
    // -> [[20.5, 20], [20, 23.5]]; normalised: off-diagonal 20 / sqrt(20.5 * 23.5).
    const c = fecamCovariance(x, 3, 2, mean);
    expectArraysClose(
      Array.from(c),
      [1, 20 / Math.sqrt(20.5 * 23.5), 20 / Math.sqrt(20.5 * 23.5), 1],
      1e-12,
    );
  });

  it('keeps per class the mean and the inverse, and round-trips them through a file', () => {
    const x = Float32Array.of(0, 0, 2, 1, 4, 5, 9, 9);
    const stats = fecamStatistics(x, Int32Array.of(0, 0, 0, 1), 2, 3);
    assert.equal(stats.classes.length, 3);
    assert.deepEqual(Array.from(stats.classes[0]!.mean), [2, 2]);
    assert.equal(stats.classes[0]!.count, 3);
    // One sample: the identity; no sample: no statistics.
    assert.deepEqual(Array.from(unpackUpper(stats.classes[1]!.precision, 2)), [1, 0, 0, 1]);
    assert.equal(stats.classes[2], null);
    const back = decodeFecam(encodeFecam(stats));
    assert.deepEqual(back.classes[0]!.precision, stats.classes[0]!.precision);
    assert.equal(back.classes[2] ?? null, null);
  });
});

/**
 * Two tasks sharing a target whose hidden layer is the identity on three non-negative features,
 * with their own output layers: task 0 separates features 1 and 2 with large weights (its softmax
 * is sure of itself on any input), task 1 separates feature 3 from an even mix with tiny ones
 * (its softmax is near uniform on any input). So entropy sends every sample to task 0, while
 * FeCAM sees that task 1's samples lie near task 1's class prototypes.
 */
function handMadeTwoTasks(): { learner: Learner; tasks: ContinualTask[] } {
  const target = new MlpTargetNetwork({
    inputSize: 3,
    hidden: [3],
    outputSize: 2,
    activation: 'relu',
  });
  const eye = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const outputs = [
    { kernel: [20, -20, -20, 20, 0, 0], bias: [0, 0] },
    { kernel: [0.01, 0, 0.01, 0, 0, 0.01], bias: [0, 0] },
  ];
  const learner = {
    target,
    taskWeights: (t: number) => [
      tf.tensor2d(eye, [3, 3]),
      tf.zeros([3]),
      tf.tensor2d(outputs[t].kernel, [3, 2]),
      tf.tensor1d(outputs[t].bias),
    ],
  } as Partial<Learner> as Learner;
  const centres = [
    [
      [1, 0.1, 0.1],
      [0.1, 1, 0.1],
    ],
    [
      [0.1, 0.1, 1],
      [0.6, 0.6, 0.6],
    ],
  ];
  let seed = 1;
  const noise = () => {
    seed = (seed * 16807) % 2147483647;
    return (seed / 2147483647 - 0.5) * 0.1;
  };
  const split = (t: number, perClass: number) => {
    const x: number[] = [];
    const y: number[] = [];
    for (let i = 0; i < perClass; i++)
      for (let c = 0; c < 2; c++) {
        x.push(...centres[t][c].map((v) => v + noise()));
        y.push(c);
      }
    return arraySource(Float32Array.from(x), Int32Array.from(y), 3, 2);
  };
  const tasks = [0, 1].map((t): ContinualTask => ({
    index: t,
    name: `task ${t}`,
    kind: 'classification',
    inputSize: 3,
    outputSize: 2,
    globalLabels: [2 * t, 2 * t + 1],
    train: split(t, 30),
    validation: arraySource(new Float32Array(0), new Int32Array(0), 3, 2),
    test: split(t, 20),
  }));
  return { learner, tasks };
}

describe('FeCAM task inference', () => {
  it('picks the right task on a hand-made 2-task feature set where entropy picks the wrong one', () => {
    const { learner, tasks } = handMadeTwoTasks();
    const stats = tasks.map((task) => {
      const batch = task.train.gather(Array.from({ length: task.train.size }, (_, i) => i));
      return fecamStatistics(batch.x, batch.y as Int32Array, 3, 2);
    });
    const entropy = inferTasksByEntropy(learner, tasks);
    const fecam = inferTasksByFecam(learner, tasks, stats);
    assert.equal(entropy.perTask[1].taskAccuracy, 0, 'entropy sends task 1 samples to task 0');
    assert.equal(fecam.taskAccuracy, 1);
    assert.equal(fecam.classAccuracy, 1);
    learner.target.dispose();
  });
});

describe('FeCAM calibration: each task distance divided by its distance scale', () => {
  it("measures the scale as the mean smallest distance of the task's own training samples, and keeps it in the file", () => {
    let seed = 7;
    const noise = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const n = 50;
    const x = Float32Array.from({ length: n * 3 }, (_, i) => noise() + (i % 3 === i % 2 ? 1 : 0));
    const y = Int32Array.from({ length: n }, (_, i) => i % 2);
    const stats = fecamStatistics(x, y, 3, 2);
    const scorer = new FecamScorer(stats);
    const features = tf.tensor2d(x, [n, 3]);
    const { distance } = scorer.nearest(features);
    const mean = distance.reduce((a, v) => a + v, 0) / n;
    assert.ok(stats.distanceScale !== null && stats.distanceScale > 0);
    assert.ok(
      Math.abs(stats.distanceScale - mean) <= 1e-6 * mean,
      `${stats.distanceScale} vs ${mean}`,
    );
    // Calibrated, the training samples' mean smallest distance is 1.
    const calibrated = scorer.nearest(features, true).distance;
    expectArraysClose([calibrated.reduce((a, v) => a + v, 0) / n], [1], 1e-5);
    tf.dispose(features);
    scorer.dispose();
    // The file keeps it exactly (a float32 value); one written without it reads as null.
    assert.equal(decodeFecam(encodeFecam(stats)).distanceScale, stats.distanceScale);
    const old = decodeFecam(encodeFecam({ ...stats, distanceScale: null }));
    assert.equal(old.distanceScale, null);
    assert.equal(fecamCalibrated([stats, stats]), true);
    assert.equal(fecamCalibrated([stats, old]), false, 'one task without: no task is divided');
  });

  it('lets a task whose own samples lie far from its prototypes win at a distance that would lose raw', () => {
    // Two tasks of one class each, identity precision: for f at 60 degrees, raw squared distances
    // are 1 to task 0's prototype [1, 0] and 2 - sqrt(3) = 0.268 to task 1's [0, 1].
    const task = (mean: number[], distanceScale: number): FecamTaskStatistics => ({
      featureSize: 2,
      classes: [{ count: 10, mean: Float32Array.from(mean), precision: Float32Array.of(1, 0, 1) }],
      distanceScale,
    });
    const scorers = [new FecamScorer(task([1, 0], 4)), new FecamScorer(task([0, 1], 1))];
    const f = tf.tensor2d([[Math.cos(Math.PI / 3), Math.sin(Math.PI / 3)]]);
    const raw = scorers.map((s) => s.nearest(f).distance[0]);
    const calibrated = scorers.map((s) => s.nearest(f, true).distance[0]);
    expectArraysClose(raw, [1, 2 - Math.sqrt(3)], 1e-6);
    expectArraysClose(calibrated, [0.25, 2 - Math.sqrt(3)], 1e-6);
    assert.ok(raw[1] < raw[0] && calibrated[0] < calibrated[1]);
    tf.dispose(f);
    scorers.forEach((s) => s.dispose());
  });
});
