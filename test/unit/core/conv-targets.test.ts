/**
 * The convolutional target networks: parameter lists as hypnettorch builds them, forward passes
 * against a plain-loop NCHW restatement (test/helpers/naive-conv.ts), masks on conv kernels,
 * gradients only through kept mask entries, dropout, no tensor left behind by a step, and the
 * output layer on the features equal to the forward pass (every kind of target).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { hyperMasks, applyMasks } from '../../../src/core/masks/masks.js';
import { createLearner } from '../../../src/core/methods/create-learner.js';
import { crossEntropy } from '../../../src/core/methods/learner.js';
import { Random } from '../../../src/core/random.js';
import { resolveSpec, type JobSpecInput } from '../../../src/core/spec.js';
import { MlpTargetNetwork } from '../../../src/core/target-network/mlp-target-network.js';
import { ResNet, resNetShapes } from '../../../src/core/target-network/resnet.js';
import {
  outputLayer,
  type BatchNormStats,
  type TargetNetwork,
} from '../../../src/core/target-network/target-network.js';
import { ZenkeNet, zenkeNetShapes } from '../../../src/core/target-network/zenke-net.js';
import * as naive from '../../helpers/naive-conv.js';
import { expectArraysClose, useCpuBackend } from '../../helpers/tensors.js';

before(useCpuBackend);

const numel = (shapes: number[][]) => shapes.reduce((a, s) => a + s.reduce((p, d) => p * d, 1), 0);

describe('parameter lists', () => {
  it("ZenkeNet: 1,250,858 weights for CIFAR (32x32x3, 10 outputs), hypnettorch's shapes; 175,301 for Tiny-ImageNet", () => {
    const cifar = zenkeNetShapes({
      inputShape: [32, 32, 3],
      channels: [32, 64],
      hidden: [512],
      outputSize: 10,
    });
    assert.equal(numel(cifar.shapes), 1_250_858);
    // hypnettorch's ZenkeNet._architectures["cifar"] ([out, in, kh, kw] kernels, [out, in] dense), in our layouts.
    assert.deepEqual(cifar.shapes, [
      [3, 3, 3, 32],
      [32],
      [3, 3, 32, 32],
      [32],
      [3, 3, 32, 64],
      [64],
      [3, 3, 64, 64],
      [64],
      [2304, 512],
      [512],
      [512, 10],
      [10],
    ]);
    assert.deepEqual(cifar.names.slice(0, 2), ['conv_1/kernel', 'conv_1/bias']);
    assert.equal(cifar.names.at(-1), 'dense_2/bias');
    const tiny = zenkeNetShapes({
      inputShape: [64, 64, 3],
      channels: [64, 64],
      hidden: [],
      outputSize: 5,
    });
    assert.equal(numel(tiny.shapes), 175_301);
    assert.deepEqual(tiny.shapes.at(-2), [12544, 5]);
  });

  it('ZenkeNet refuses images too small for its blocks', () => {
    assert.throws(
      () => zenkeNetShapes({ inputShape: [9, 9, 3], channels: [4, 4], hidden: [], outputSize: 2 }),
      /too small for 2 ZenkeNet blocks/,
    );
    assert.equal(
      zenkeNetShapes({
        inputShape: [10, 10, 3],
        channels: [4, 4],
        hidden: [],
        outputSize: 2,
      }).shapes.at(-2)![0],
      4,
    );
  });

  it('ResNet-20 (k = 2): 1,067,530 weights and 2,720 batch-norm parameters for CIFAR, as hypnettorch counts them', () => {
    const hypnettorchCount = (c: number, n: number, k: number, classes: number) => {
      const fs = [16, 16 * k, 32 * k, 64 * k];
      let kernels = c * fs[0];
      for (let i = 0; i < 3; i++) kernels += fs[i] * fs[i + 1] + (2 * n - 1) * fs[i + 1] ** 2;
      const biases = fs[0] + 2 * n * (fs[1] + fs[2] + fs[3]);
      return { weights: 9 * kernels + biases + fs[3] * classes + classes, batchNorm: 2 * biases };
    };
    for (const [shape, n, k, classes] of [
      [[32, 32, 3], 3, 2, 10],
      [[64, 64, 3], 3, 2, 5],
      [[8, 8, 1], 1, 1, 2],
      [[32, 32, 3], 5, 1, 10],
    ] as const) {
      const { params, batchNorm } = resNetShapes({
        inputShape: [...shape],
        n,
        k,
        outputSize: classes,
      });
      const expected = hypnettorchCount(shape[2], n, k, classes);
      assert.equal(numel(params.shapes), expected.weights, `weights of n=${n} k=${k}`);
      assert.equal(numel(batchNorm.shapes), expected.batchNorm, `batch norm of n=${n} k=${k}`);
      assert.equal(params.shapes.length, 2 * (6 * n + 2));
    }
    const resnet20 = resNetShapes({ inputShape: [32, 32, 3], n: 3, k: 2, outputSize: 10 });
    assert.equal(numel(resnet20.params.shapes), 1_067_530);
    assert.equal(numel(resnet20.batchNorm.shapes), 2_720);
    assert.deepEqual(resnet20.batchNorm.names.slice(0, 2), ['bn_1/gamma', 'bn_1/beta']);
    assert.deepEqual(resnet20.params.shapes.slice(-2), [[128, 10], [10]]);
  });
});

/** Random rows of HWC images. */
function images(n: number, shape: number[], seed: number): Float32Array {
  return new Random(seed).normalArray(n * shape.reduce((a, d) => a * d, 1));
}

const values = (ts: tf.Tensor[]) => ts.map((t) => t.dataSync() as Float32Array);

describe('forward passes and features equal a plain-loop NCHW computation', () => {
  it('ZenkeNet (10x11x2 images, two blocks, a hidden dense layer), with its own and with given weights', () => {
    const shape = [10, 11, 2];
    const net = new ZenkeNet({
      inputShape: shape,
      channels: [3, 4],
      hidden: [5],
      outputSize: 3,
      dropout: 0.25,
      rng: new Random(1),
    });
    const n = 4;
    const rows = images(n, shape, 2);
    const penultimate = (w: Float32Array[]) => {
      let h = naive.fromRows(rows, n, shape[0], shape[1], shape[2]);
      h = naive.relu(naive.conv(h, w[0], w[1], 3, 3, 1, 1));
      h = naive.maxPool2(naive.relu(naive.conv(h, w[2], w[3], 3, 3, 1, 0)));
      h = naive.relu(naive.conv(h, w[4], w[5], 3, 4, 1, 1));
      h = naive.maxPool2(naive.relu(naive.conv(h, w[6], w[7], 3, 4, 1, 0)));
      return naive
        .dense(naive.flattenHwc(h), w[8], w[9], 5)
        .map((r) => r.map((v) => Math.max(0, v)));
    };
    const expected = (w: Float32Array[]) =>
      naive.dense(penultimate(w), w[10], w[11], 3).flatMap((r) => Array.from(r));
    const x = tf.tensor2d(rows, [n, 220]);
    const own = net.forward(x);
    expectArraysClose(own.dataSync(), expected(values(net.weights!)), 1e-4, 'logits');
    // Given weights replace the network's own; inference has no dropout.
    const given = net.weights!.map((w, i) => tf.mul(w, 1 + 0.1 * i));
    const out = net.forward(x, given);
    expectArraysClose(out.dataSync(), expected(values(given)), 1e-4, 'logits with given weights');
    assert.deepEqual(net.forward(x, given).dataSync(), out.dataSync());
    // features(): the hidden dense layer's activations, what the output layer reads.
    assert.equal(net.featureSize, 5);
    const f = net.features(x, given);
    assert.deepEqual(f.shape, [n, 5]);
    const flat = (rs: Float64Array[]) => rs.flatMap((r) => Array.from(r));
    expectArraysClose(f.dataSync(), flat(penultimate(values(given))), 1e-4, 'features');
    tf.dispose([x, own, out, f, ...given]);
    net.dispose();
  });

  it('ResNet (n = 1, k = 1 on 7x6x2 images: stride-2 groups, padded shortcuts, batch norm on the batch)', () => {
    const shape = [7, 6, 2];
    const net = new ResNet({ inputShape: shape, n: 1, k: 1, outputSize: 3, rng: new Random(3) });
    // Batch norm starts at gamma 1, beta 0; other values check that they are applied.
    const bnRng = new Random(4);
    net.batchNormWeights.forEach((v, i) =>
      v.assign(
        tf.tensor1d(bnRng.uniformArray(v.size, i % 2 === 0 ? 0.5 : -0.5, i % 2 === 0 ? 1.5 : 0.5)),
      ),
    );
    const n = 5;
    const rows = images(n, shape, 5);
    const w = values(net.weights!);
    const bn = values(net.batchNormWeights);
    let layer = 0;
    const convLayer = (h: naive.Maps, cout: number, stride: number, shortcut?: naive.Maps) => {
      let out = naive.batchNorm(
        naive.conv(h, w[2 * layer], w[2 * layer + 1], 3, cout, stride, 1),
        bn[2 * layer],
        bn[2 * layer + 1],
      );
      layer++;
      if (shortcut) out = naive.add(out, shortcut);
      return naive.relu(out);
    };
    let h = convLayer(naive.fromRows(rows, n, shape[0], shape[1], shape[2]), 16, 1);
    // k = 1: group 1 keeps 16 channels (identity shortcut), groups 2 and 3 double them with stride 2.
    for (const [cout, stride] of [
      [16, 1],
      [32, 2],
      [64, 2],
    ]) {
      const shortcut = cout === h.c ? h : naive.padShortcut(h, cout, stride);
      h = convLayer(convLayer(h, cout, stride), cout, 1, shortcut);
    }
    assert.deepEqual([h.h, h.w], [2, 2]);
    const expected = naive
      .dense(naive.globalAverage(h), w[14], w[15], 3)
      .flatMap((r) => Array.from(r));
    const x = tf.tensor2d(rows, [n, 84]);
    const before = tf.memory().numTensors;
    const logits = net.forward(x);
    assert.equal(tf.memory().numTensors, before + 1, 'inference keeps only its result');
    expectArraysClose(logits.dataSync(), expected, 1e-4, 'logits');
    // features(): the globally average-pooled last block (64k channels).
    assert.equal(net.featureSize, 64);
    const f = net.features(x);
    assert.equal(tf.memory().numTensors, before + 2, 'features keeps only its result');
    const pooled = naive.globalAverage(h).flatMap((r) => Array.from(r));
    expectArraysClose(f.dataSync(), pooled, 1e-4, 'features');
    tf.dispose([x, logits, f]);
    net.dispose();
  });
});

describe('methods on convolutional targets', () => {
  const spec = (method: 'hypermask' | 'hnet' | 'finetune', network: JobSpecInput['network']) =>
    resolveSpec({
      method,
      network,
      hypernetwork: {
        hidden: [6],
        embeddingDim: 4,
        ...(method === 'hnet' ? { chunkSize: 500, chunkEmbeddingDim: 3 } : {}),
      },
      regularization: { sparsity: 40 },
      benchmark: { tasks: 3 },
    });
  type Network = NonNullable<JobSpecInput['network']>;
  const zenke: Network = { kind: 'zenkenet', channels: [3, 4], hidden: [6], dropout: 0.2 };
  const resnet: Network = { kind: 'resnet', n: 1, k: 1 };
  const imageShape = [10, 10, 2];
  const batch = (n: number, seed: number) => {
    const rng = new Random(seed);
    return {
      x: tf.tensor2d(images(n, imageShape, seed), [n, 200]),
      y: tf.oneHot(
        tf.tensor1d(
          Int32Array.from({ length: n }, () => rng.int(2)),
          'int32',
        ),
        2,
      ) as tf.Tensor2D,
    };
  };

  it('hypermask masks every conv kernel and bias but the output bias, p % of each', () => {
    const learner = createLearner(
      spec('hypermask', resnet),
      { inputSize: 200, outputSize: 2, imageShape, numTasks: 1 },
      new Random(1),
    );
    const masks = learner.taskMasks(0)!;
    assert.deepEqual(
      masks.map((m) => m.shape),
      learner.target.paramShapes.slice(0, -1),
    );
    assert.deepEqual(masks[0].shape, [3, 3, 2, 16]);
    for (const m of masks) {
      const zeros = m.dataSync().filter((v) => v === 0).length / m.size;
      // 40th percentile per tensor: 40 % zeroed up to rounding of small tensors.
      assert.ok(
        Math.abs(zeros - 0.4) <= 1 / m.size + 1e-9 || m.size < 10,
        `${zeros} of a ${m.shape} mask`,
      );
    }
    tf.dispose(masks);
    learner.dispose();
  });

  it('gradients reach theta only where the mask keeps it', () => {
    const learner = createLearner(
      spec('hypermask', zenke),
      { inputSize: 200, outputSize: 2, imageShape, numTasks: 1 },
      new Random(2),
    );
    const theta = learner.target.weights!;
    const masks = learner.taskMasks(0)!;
    const { x, y } = batch(6, 3);
    const { grads } = tf.variableGrads(
      () => crossEntropy(learner.target.forward(x, applyMasks(theta, masks)), y),
      theta,
    );
    masks.forEach((m, l) => {
      const g = grads[theta[l].name].dataSync();
      const kept = m.dataSync();
      let nonzero = 0;
      kept.forEach((v, i) => {
        if (v === 0)
          assert.ok(g[i] === 0, `tensor ${l} entry ${i}: masked out but has gradient ${g[i]}`);
        else if (g[i] !== 0) nonzero++;
      });
      assert.ok(nonzero > 0, `tensor ${l} gets some gradient`);
    });
    tf.dispose([x, y, ...masks, ...Object.values(grads)]);
    learner.dispose();
  });

  it('hyperMasks keeps the output bias unthresholded', () => {
    const h = [tf.tensor4d([0.1, -2, 3, 0.01], [1, 1, 1, 4]), tf.tensor1d([0.001, 0.002])];
    const [kernel, bias] = hyperMasks(h, 50);
    assert.equal(kernel.dataSync().filter((v) => v === 0).length, 2);
    assert.ok(bias.dataSync().every((v) => v > 0));
    tf.dispose([...h, kernel, bias]);
  });

  for (const method of ['hypermask', 'hnet', 'finetune'] as const) {
    for (const [name, network] of [
      ['zenkenet with dropout', zenke],
      ['resnet', resnet],
    ] as [string, Network][]) {
      it(`${method} on ${name}: a training step leaves no tensor behind and moves batch norm, if any`, () => {
        const learner = createLearner(
          spec(method, network),
          { inputSize: 200, outputSize: 2, imageShape, numTasks: 3 },
          new Random(1),
        );
        const { x, y } = batch(8, 4);
        const rng = new Random(9);
        const bnBefore = values(learner.target.batchNormWeights).map((v) => Float32Array.from(v));
        learner.beginTask(0, 5);
        learner.trainStep(0, 0, x, y, crossEntropy, rng);
        learner.endTask();
        if (network.kind === 'resnet')
          assert.notDeepEqual(
            values(learner.target.batchNormWeights),
            bnBefore,
            'batch norm is trained',
          );
        learner.beginTask(2, 5); // task 2: every regulariser active
        learner.trainStep(2, 0, x, y, crossEntropy, rng);
        const count = tf.memory().numTensors;
        for (let i = 1; i < 3; i++) learner.trainStep(2, i, x, y, crossEntropy, rng);
        assert.equal(tf.memory().numTensors, count);
        learner.endTask();
        tf.dispose([x, y]);
        learner.dispose();
      });
    }
  }

  it('ZenkeNet dropout acts only in training forward passes, drawn from the given stream', () => {
    const net = new ZenkeNet({
      inputShape: imageShape,
      channels: [3, 4],
      hidden: [6],
      outputSize: 2,
      dropout: 0.3,
      rng: new Random(1),
    });
    const { x, y } = batch(4, 5);
    const inference = net.forward(x).dataSync();
    const train = (seed: number) =>
      net.forward(x, undefined, { training: { rng: new Random(seed) } }).dataSync();
    assert.notDeepEqual(train(1), inference);
    assert.deepEqual(train(1), train(1));
    assert.notDeepEqual(train(1), train(2));
    assert.deepEqual(
      net.forward(x, undefined, { training: {} }).dataSync(),
      inference,
      'no stream, no dropout',
    );
    const plain = new ZenkeNet({
      inputShape: imageShape,
      channels: [3, 4],
      hidden: [6],
      outputSize: 2,
      dropout: 0,
      rng: new Random(1),
    });
    assert.deepEqual(
      plain.forward(x, undefined, { training: { rng: new Random(1) } }).dataSync(),
      inference,
    );
    tf.dispose([x, y]);
    net.dispose();
    plain.dispose();
  });
});

describe('the output layer on the features', () => {
  it('gives exactly what forward gives, for every kind of target (task inference reads both from one pass)', () => {
    const shape = [10, 11, 2];
    const resnet = new ResNet({ inputShape: shape, n: 1, k: 1, outputSize: 3, rng: new Random(3) });
    const targets: [string, TargetNetwork][] = [
      [
        'mlp',
        new MlpTargetNetwork({ inputSize: 220, hidden: [7, 5], outputSize: 3, activation: 'relu' }),
      ],
      [
        'linear mlp',
        new MlpTargetNetwork({ inputSize: 220, hidden: [], outputSize: 3, activation: 'relu' }),
      ],
      [
        'zenkenet',
        new ZenkeNet({
          inputShape: shape,
          channels: [3, 4],
          hidden: [6],
          outputSize: 3,
          dropout: 0.25,
          rng: new Random(2),
        }),
      ],
      ['resnet', resnet],
    ];
    const x = tf.tensor2d(images(4, shape, 9), [4, 220]);
    // Running statistics other than the batch's: they must reach both paths the same way.
    const stats: BatchNormStats = {
      mean: resnet.batchNormWeights
        .filter((_, i) => i % 2 === 0)
        .map((g) => new Float32Array(g.size).fill(0.1)),
      variance: resnet.batchNormWeights
        .filter((_, i) => i % 2 === 0)
        .map((g) => new Float32Array(g.size).fill(2)),
    };
    for (const [name, net] of targets) {
      const w = net.weights ?? net.paramShapes.map((s) => tf.randomNormal(s, 0, 0.3, 'float32', 5));
      for (const options of name === 'resnet' ? [{}, { batchNormStats: stats }] : [{}]) {
        const [viaFeatures, forward] = tf.tidy(() => [
          outputLayer(net.features(x, w, options), w).dataSync(),
          net.forward(x, w, options).dataSync(),
        ]);
        assert.deepEqual(
          Array.from(viaFeatures),
          Array.from(forward),
          `${name} ${JSON.stringify(Object.keys(options))}`,
        );
      }
      if (!net.weights) tf.dispose(w);
      net.dispose();
    }
    x.dispose();
  });
});
