/**
 * The optimiser's state out and back in (checkpoints within a task): on every kind of moment
 * storage (wasm heap, staged in JS memory, cpu host arrays), an Adam continued from another's
 * exported state steps exactly as the original does.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { Adam, type AdamArgs } from '../../../src/core/continual/adam.js';
import { Random } from '../../../src/core/random.js';
import { useCpuBackend } from '../../helpers/tensors.js';

after(useCpuBackend);

describe('Adam state export and import', () => {
  const kinds: [string, string, Partial<AdamArgs>][] = [
    ['cpu', 'host arrays', {}],
    ['wasm', 'moments in the heap', {}],
    ['wasm', 'staged moments', { heapMomentsMaxElements: 10, stageElements: 8 }],
  ];
  for (const [backend, name, extra] of kinds) {
    it(`${backend}, ${name}: a copy continued from the state steps like the original`, async () => {
      await tf.setBackend(backend);
      const rng = new Random(3);
      const shapes = [[5, 4], [4]];
      const init = shapes.map((s) => rng.normalArray(s[0] * (s[1] ?? 1)));
      const grads = Array.from({ length: 6 }, () =>
        shapes.map((s) => tf.tensor(rng.normalArray(s[0] * (s[1] ?? 1)), s)),
      );
      const make = () => {
        const params = shapes.map((s, i) => tf.variable(tf.tensor(init[i], s)));
        return { params, adam: new Adam(params, { learningRate: 0.01, ...extra }) };
      };
      const a = make();
      for (const g of grads.slice(0, 3)) a.adam.step(g);
      const b = make();
      b.params.forEach((p, i) => p.assign(a.params[i]));
      b.adam.importState(a.adam.exportState());
      for (const g of grads.slice(3)) {
        a.adam.step(g);
        b.adam.step(g);
      }
      a.params.forEach((p, i) =>
        assert.deepEqual(b.params[i].dataSync(), p.dataSync(), `parameter ${i}`),
      );
      for (const x of [a, b]) {
        x.adam.dispose();
        tf.dispose(x.params);
      }
      grads.forEach((g) => tf.dispose(g));
    });
  }
});
