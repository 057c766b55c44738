import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { TaskExport } from '../../src/core/continual/types.js';
import type { ContinualTask } from '../../src/core/data/types.js';
import { decodeFecam, type FecamTaskStatistics } from '../../src/core/inference/fecam.js';
import { TaskModel } from '../../src/core/inference/task-models.js';
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

/**
 * Asserts that a task's exported model, fed the task's training samples as a user would feed it
 * (the preprocessing undone: standardisation, then the scale to the upload's units), computes the
 * features its exported FeCAM statistics were taken from. Returns the classes checked.
 */
export function expectExportedPrototypes(task: ContinualTask, exported: TaskExport): number {
  const stats = decodeFecam(exported.fecam!);
  const model = TaskModel.fromExport(exported.model!.modelJson, exported.model!.weights);
  const batch = task.train.gather(Array.from({ length: task.train.size }, (_, i) => i));
  const { normalize, scale = 1 } = task.preprocessing!;
  const at = (v: number | number[], i: number) => (Array.isArray(v) ? v[i % v.length] : v);
  const raw = normalize
    ? batch.x.map((v, i) => (v * at(normalize.std, i) + at(normalize.mean, i)) / scale)
    : batch.x.map((v) => v / scale);
  const x = tf.tensor2d(raw, [batch.size, model.inputSize]);
  const features = model.features(x).arraySync();
  tf.dispose(x);
  model.dispose();
  return expectClassMeans(features, batch.y, stats, `task ${task.index}`);
}
