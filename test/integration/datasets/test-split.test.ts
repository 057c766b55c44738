import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { drawTestSamples } from '../../../src/infra/datasets/samples/test-split.js';
import { ServiceError } from '../../../src/services/errors.js';

describe('seeded held-out split', () => {
  const names = ['a', 'b', 'c'];

  it('holds out max(1, round(n * fraction)) of each class, keeping one for training', () => {
    // Classes interleaved unevenly: 3 of a, 7 of b, 40 of c.
    const classOf = Uint16Array.from(
      [...Array(3).fill(0), ...Array(7).fill(1), ...Array(40).fill(2)].map(
        (c, i, all) => all[(i * 17) % all.length],
      ),
    );
    for (const [fraction, expected] of [
      [0.2, [1, 1, 8]],
      [0.5, [2, 4, 20]],
      [0.01, [1, 1, 1]],
    ] as const) {
      const isTest = drawTestSamples(classOf, names, fraction, 0);
      const held = [0, 0, 0];
      classOf.forEach((c, i) => (held[c] += isTest[i]));
      assert.deepEqual(held, expected, `fraction ${fraction}`);
    }
  });

  it('is a function of the seed, and every sample is equally likely to be held out', () => {
    const two = names.slice(0, 2);
    const classOf = new Uint16Array(20).map((_, i) => i % 2);
    assert.deepEqual(
      drawTestSamples(classOf, two, 0.2, 11),
      drawTestSamples(classOf, two, 0.2, 11),
    );
    assert.notDeepEqual(
      drawTestSamples(classOf, two, 0.2, 11),
      drawTestSamples(classOf, two, 0.2, 12),
    );
    const picked = new Array(20).fill(0);
    const draws = 2000;
    for (let seed = 0; seed < draws; seed++)
      drawTestSamples(classOf, two, 0.2, seed).forEach((t, i) => (picked[i] += t));
    // Each sample: 2 of its class's 10 held out, so p = 0.2 (sd of the count ~ 18).
    for (const count of picked)
      assert.ok(Math.abs(count - 0.2 * draws) < 100, `picked ${count} times of ${draws}`);
  });

  it('names a class too small to split', () => {
    assert.throws(
      () => drawTestSamples(Uint16Array.from([0, 0, 1, 0]), names, 0.2, 0),
      (e: unknown) =>
        e instanceof ServiceError &&
        e.code === 'INVALID_DATASET' &&
        e.message.includes('class "b" has 1 sample'),
    );
  });
});
