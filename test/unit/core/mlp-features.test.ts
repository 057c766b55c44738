import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { MlpTargetNetwork } from '../../../src/core/target-network/mlp-target-network.js';
import { Random } from '../../../src/core/random.js';
import { expectArraysClose, useCpuBackend } from '../../helpers/tensors.js';

before(useCpuBackend);

describe('MLP features()', () => {
  it('is the last hidden layer after its activation, computed by hand, with own and given weights', () => {
    const net = new MlpTargetNetwork({
      inputSize: 3,
      hidden: [4, 2],
      outputSize: 2,
      activation: 'relu',
      rng: new Random(5),
    });
    assert.equal(net.featureSize, 2);
    const x = [
      [0.5, -1, 2],
      [1, 1, -0.5],
    ];
    const w = net.weights!.map((v) => Array.from(v.dataSync()));
    const dense = (rows: number[][], k: number[], b: number[], out: number) =>
      rows.map((r) =>
        Array.from({ length: out }, (_, j) => r.reduce((a, v, i) => a + v * k[i * out + j], b[j])),
      );
    const relu = (rows: number[][]) => rows.map((r) => r.map((v) => Math.max(0, v)));
    const h2 = relu(dense(relu(dense(x, w[0], w[1], 4)), w[2], w[3], 2));
    const xt = tf.tensor2d(x);
    const before = tf.memory().numTensors;
    const f = net.features(xt);
    assert.equal(tf.memory().numTensors, before + 1, 'keeps only its result');
    expectArraysClose(f.dataSync(), h2.flat(), 1e-5, 'features');
    // forward = the output layer on the features.
    const logits = net.forward(xt);
    expectArraysClose(logits.dataSync(), dense(h2, w[4], w[5], 2).flat(), 1e-5, 'logits');
    const given = net.weights!.map((v) => tf.mul(v, 2));
    const g = net.features(xt, given);
    const wg = given.map((v) => Array.from(v.dataSync()));
    const expected = relu(dense(relu(dense(x, wg[0], wg[1], 4)), wg[2], wg[3], 2));
    expectArraysClose(g.dataSync(), expected.flat(), 1e-5, 'features with given weights');
    tf.dispose([xt, f, logits, g, ...given]);
    net.dispose();
  });

  it('of a linear model is the input itself', () => {
    const net = new MlpTargetNetwork({
      inputSize: 3,
      hidden: [],
      outputSize: 2,
      activation: 'relu',
      rng: new Random(1),
    });
    assert.equal(net.featureSize, 3);
    const x = tf.tensor2d([[1, 2, 3]]);
    const f = net.features(x);
    assert.deepEqual(Array.from(f.dataSync()), [1, 2, 3]);
    tf.dispose([x, f]);
    assert.equal(x.isDisposed, true);
    assert.equal(f.isDisposed, true);
    net.dispose();
  });
});
