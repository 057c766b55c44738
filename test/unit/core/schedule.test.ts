/** Epochs as iterations, and the plateau rule on hand-made validation sequences. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  iterationsPerEpoch,
  PLATEAU,
  PlateauScheduler,
  plannedTaskIterations,
  progressIterations,
  taskIterations,
} from '../../../src/core/continual/schedule.js';
import { resolveSpec, type DatasetFacts } from '../../../src/core/spec.js';

describe('epochs -> iterations', () => {
  it('an epoch is ceil(training samples / batch) iterations', () => {
    assert.equal(iterationsPerEpoch(4500, 32), 141); // Split CIFAR-100: 141 per epoch
    assert.equal(iterationsPerEpoch(2250, 16), 141); // Tiny-ImageNet (hypermask-method.md section 5)
    assert.equal(iterationsPerEpoch(64, 32), 2);
    assert.equal(iterationsPerEpoch(5, 32), 1);
    const training = resolveSpec({ training: { epochsPerTask: 200, batchSize: 32 } }).training;
    assert.equal(taskIterations(training, 4500), 28_200);
    const fixed = resolveSpec({ training: { iterationsPerTask: 70 } }).training;
    assert.equal(taskIterations(fixed, 4500), 70);
  });

  it('plans each task from its training split: classes, trainLimit and validation', () => {
    const A = '11111111-1111-4111-8111-111111111111';
    const facts: DatasetFacts = {
      inputShape: [8, 8, 3],
      dtype: 'uint8',
      sha256: 'a'.repeat(64),
      classNames: ['a', 'b', 'c'],
      counts: { train: [30, 50, 20], test: [5, 5, 5] },
    };
    const datasets = new Map([[A, facts]]);
    const spec = resolveSpec(
      {
        benchmark: {
          kind: 'datasets',
          validationSize: 10,
          tasks: [
            { dataset: A, classes: ['a', 'b'] },
            { dataset: A, classes: ['c', 'a'] },
          ],
        },
        training: { epochsPerTask: 3, batchSize: 16 },
      },
      { datasets },
    );
    // (80 - 10) / 16 -> 5 per epoch; (50 - 10) / 16 -> 3 per epoch.
    assert.deepEqual(plannedTaskIterations(spec, datasets), [15, 9]);
    assert.equal(progressIterations(spec, datasets), 12);
    // Split Fashion-MNIST: 12,000 per task less 1,000 validation, batch 128: 86 per epoch.
    const split = resolveSpec({ training: { epochsPerTask: 2 } });
    assert.deepEqual(plannedTaskIterations(split), [172, 172, 172, 172, 172]);
  });
});

describe('ReduceLROnPlateau (mode max)', () => {
  it('has the reference settings', () => {
    assert.equal(PLATEAU.factor, Math.sqrt(0.1));
    assert.equal(PLATEAU.patience, 5);
    assert.equal(PLATEAU.minLearningRate, 5e-7);
    assert.equal(PLATEAU.cooldown, 0);
    assert.equal(PLATEAU.threshold, 1e-4);
  });

  it('drops every rate by sqrt(0.1) at the sixth epoch in a row without improvement', () => {
    const s = new PlateauScheduler();
    let rates = [1e-3, 4e-4];
    const seen: number[][] = [];
    // Epoch 1 sets the best, epoch 2 improves it, epochs 3-7 tie (no improvement), 8 is worse.
    for (const acc of [0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.55]) {
      rates = s.step(acc, rates);
      seen.push(rates);
    }
    for (let e = 0; e < 7; e++) assert.deepEqual(seen[e], [1e-3, 4e-4], `epoch ${e + 1}`);
    assert.deepEqual(seen[7], [1e-3 * Math.sqrt(0.1), 4e-4 * Math.sqrt(0.1)]);
    // The count restarts: five more bad epochs keep the rate, the sixth drops it again.
    for (let e = 0; e < 5; e++) rates = s.step(0.59, rates);
    assert.deepEqual(rates, [1e-3 * Math.sqrt(0.1), 4e-4 * Math.sqrt(0.1)]);
    rates = s.step(0.59, rates);
    const f = Math.sqrt(0.1);
    assert.deepEqual(rates, [1e-3 * f * f, 4e-4 * f * f]);
  });

  it('an improvement must beat the best by a relative 1e-4; any improvement resets the count', () => {
    const s = new PlateauScheduler();
    let rates = [1e-3];
    rates = s.step(0.6, rates);
    // 0.60005 < 0.6 * 1.0001 = 0.60006: not better, so five of these and one more drop the rate.
    for (let e = 0; e < 5; e++) rates = s.step(0.60005, rates);
    assert.deepEqual(rates, [1e-3]);
    rates = s.step(0.6001, rates); // better: the count restarts
    for (let e = 0; e < 5; e++) rates = s.step(0.6001, rates);
    assert.deepEqual(rates, [1e-3]);
    rates = s.step(0.6001, rates);
    assert.deepEqual(rates, [1e-3 * Math.sqrt(0.1)]);
  });

  it('never goes below 5e-7, and a drop smaller than 1e-8 is not made', () => {
    const s = new PlateauScheduler();
    let rates = [1e-6, 5e-7];
    rates = s.step(0.9, rates);
    for (let e = 0; e < 6; e++) rates = s.step(0.1, rates);
    assert.deepEqual(rates, [5e-7, 5e-7]);
    for (let e = 0; e < 12; e++) rates = s.step(0.1, rates);
    assert.deepEqual(rates, [5e-7, 5e-7]);
    const t = new PlateauScheduler();
    let close = [5e-7 + 5e-9];
    close = t.step(0.5, close);
    for (let e = 0; e < 6; e++) close = t.step(0.4, close);
    assert.deepEqual(close, [5e-7 + 5e-9], 'the drop of 5e-9 is below eps');
  });
});
