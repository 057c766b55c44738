import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { compileKernel, kernelFiles } from '../../../scripts/build-kernels.js';
import { readFile } from 'node:fs/promises';
import { Adam, type AdamArgs } from '../../../src/core/continual/adam.js';
import { Random } from '../../../src/core/random.js';
import { expectNoLeakedTensors, useCpuBackend } from '../../helpers/tensors.js';

after(useCpuBackend);

/** Runs `steps` Adam steps (and one lookahead delta) on fixed data; returns every value read back. */
async function runAdam(
  backend: string,
  steps: number,
  args: Partial<AdamArgs> = {},
): Promise<{ params: Float32Array[]; deltas: Float32Array[] }> {
  await tf.setBackend(backend);
  const rng = new Random(7);
  // 4k+3 elements: the SIMD loop and the scalar tail both run.
  const shapes = [[5, 7], [3], [1, 1]];
  const params = shapes.map((s) =>
    tf.variable(tf.tensor(rng.normalArray(s.reduce((a, b) => a * b)), s)),
  );
  const grads = () => shapes.map((s) => tf.tensor(rng.normalArray(s.reduce((a, b) => a * b)), s));
  const adam = new Adam(params, { learningRate: 0.01, ...args });
  for (let i = 0; i < steps; i++) {
    const g = grads();
    adam.step(g);
    tf.dispose(g);
  }
  const g = grads();
  const delta = adam.delta(g);
  const out = {
    params: params.map((p) => p.dataSync() as Float32Array),
    deltas: delta.map((d) => d.dataSync() as Float32Array),
  };
  tf.dispose([...g, ...delta, ...params]);
  adam.dispose();
  return out;
}

describe('Adam kernel (kernels/adam.wat)', () => {
  it('gives exactly the cpu path values on wasm, steps and lookahead delta', async () => {
    const cpu = await runAdam('cpu', 5);
    const wasm = await runAdam('wasm', 5);
    cpu.params.forEach((p, i) =>
      assert.deepEqual(Array.from(wasm.params[i]), Array.from(p), `param ${i}`),
    );
    cpu.deltas.forEach((d, i) =>
      assert.deepEqual(Array.from(wasm.deltas[i]), Array.from(d), `delta ${i}`),
    );
    assert.notDeepEqual(Array.from(cpu.deltas[0]), new Array(35).fill(0));
  });

  it('gives the same values with moments staged through the heap in chunks (large models)', async () => {
    const cpu = await runAdam('cpu', 5);
    // 8-element chunks cut through the 35-element tensor and the 4-lane tail of every chunk.
    const staged = await runAdam('wasm', 5, { heapMomentsMaxElements: 10, stageElements: 8 });
    cpu.params.forEach((p, i) =>
      assert.deepEqual(Array.from(staged.params[i]), Array.from(p), `param ${i}`),
    );
    cpu.deltas.forEach((d, i) =>
      assert.deepEqual(Array.from(staged.deltas[i]), Array.from(d), `delta ${i}`),
    );
  });

  it('allocates nothing per step beyond the replaced parameters', async () => {
    await tf.setBackend('wasm');
    const p = tf.variable(tf.ones([1001]));
    const adam = new Adam([p], { learningRate: 0.1 });
    const g = tf.ones([1001]);
    await expectNoLeakedTensors(() => adam.step([g]));
    assert.ok(p.dataSync()[0] < 1);
    adam.dispose();
    tf.dispose([p, g]);
  });

  it('committed kernel bytes match their .wat source (npm run build:kernels)', async () => {
    for (const wat of await kernelFiles()) {
      const committed = await readFile(wat.replace(/\.wat$/, '.wasm.ts'), 'utf8');
      assert.equal(
        committed,
        await compileKernel(wat),
        `${wat} changed without npm run build:kernels`,
      );
    }
  });
});
