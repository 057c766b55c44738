import assert from 'node:assert/strict';
import type { FecamTaskStatistics } from '../../src/core/inference/fecam.js';
import { expectArraysClose } from './tensors.js';

/**
 * Asserts that each class's prototype in `stats` is the mean of the `features` rows of that
 * class (`labels`, local), with as many samples as it counted. Returns the classes checked.
 */
export function expectClassMeans(
  features: number[][],
  labels: ArrayLike<number>,
  stats: FecamTaskStatistics,
  what: string,
): number {
  stats.classes.forEach((c, k) => {
    const rows = features.filter((_, i) => labels[i] === k);
    assert.equal(rows.length, c!.count, `${what} class ${k} count`);
    const mean = rows[0].map((_, j) => rows.reduce((a, r) => a + r[j], 0) / rows.length);
    expectArraysClose(mean, Array.from(c!.mean), 1e-4, `${what} class ${k} mean`);
  });
  return stats.classes.length;
}
