import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

/** Core tests run on the plain CPU backend: no native bindings, same numbers everywhere. */
export async function useCpuBackend(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
}

export function expectArraysClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol = 1e-5,
  what = 'values',
): void {
  assert.equal(
    actual.length,
    expected.length,
    `${what}: length ${actual.length} != ${expected.length}`,
  );
  for (let i = 0; i < actual.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tol,
      `${what}[${i}]: ${actual[i]} != ${expected[i]} (tol ${tol})`,
    );
  }
}

export function expectTensorsClose(
  actual: tf.Tensor,
  expected: tf.Tensor | number[],
  tol = 1e-5,
): void {
  if (!Array.isArray(expected)) assert.deepEqual(actual.shape, expected.shape, 'shapes differ');
  expectArraysClose(
    actual.dataSync(),
    Array.isArray(expected) ? expected : expected.dataSync(),
    tol,
  );
}

/** Runs `fn` and checks that it leaves exactly `expected` more tensors alive than before. */
export async function expectNoLeakedTensors<T>(fn: () => T | Promise<T>, expected = 0): Promise<T> {
  const before = tf.memory().numTensors;
  const out = await fn();
  assert.equal(tf.memory().numTensors - before, expected, 'tensor count changed');
  return out;
}
