/**
 * Task models rebuilt from exports on tfjs-core: the same logits as tfjs-layers loading the same
 * files, probabilities that are the softmax, and task inference by the lowest entropy.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { layersModel } from '../../../../src/core/io/export.js';
import { predict, TaskModel } from '../../../../src/core/inference/task-models.js';
import { Random } from '../../../../src/core/random.js';
import { MlpTargetNetwork } from '../../../../src/core/target-network/mlp-target-network.js';
import {
  expectArraysClose,
  expectNoLeakedTensors,
  useCpuBackend,
} from '../../../helpers/tensors.js';

const SIZES = [6, 5, 4, 3];
const NAMES = [
  'dense_1/kernel',
  'dense_1/bias',
  'dense_2/kernel',
  'dense_2/bias',
  'dense_3/kernel',
  'dense_3/bias',
];

/** An export of a random 6-5-4-3 MLP; `scale` sharpens or flattens its softmax. */
function randomExport(seed: number, scale = 1, activation = 'relu') {
  const rng = new Random(seed);
  const shapes: number[][] = [];
  const values: Float32Array[] = [];
  for (let l = 1; l < SIZES.length; l++) {
    shapes.push([SIZES[l - 1], SIZES[l]], [SIZES[l]]);
    values.push(
      Float32Array.from({ length: SIZES[l - 1] * SIZES[l] }, () => (rng.next() * 2 - 1) * scale),
    );
    values.push(Float32Array.from({ length: SIZES[l] }, () => rng.next() * 0.2 - 0.1));
  }
  const mlp = new MlpTargetNetwork({
    inputSize: SIZES[0],
    hidden: SIZES.slice(1, -1),
    outputSize: SIZES.at(-1)!,
    activation: activation as 'relu' | 'sigmoid',
  });
  return layersModel(mlp.exportLayers(shapes), [SIZES[0]], NAMES, shapes, values, {
    task: seed,
    method: 'hypermask',
    globalLabels: [0, 1, 2],
  });
}

function inputs(n: number, seed: number): Float32Array {
  const rng = new Random(seed);
  return Float32Array.from({ length: n * SIZES[0] }, () => rng.next());
}

describe('TaskModel and predict', () => {
  before(useCpuBackend);

  for (const activation of ['relu', 'sigmoid']) {
    it(`gives the logits tfjs-layers gives for the same export (${activation})`, async () => {
      const exp = randomExport(3, 1, activation);
      const ours = TaskModel.fromExport(exp.modelJson, exp.weights);
      const theirs = await tfl.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: exp.modelJson.modelTopology as object,
          weightSpecs: (
            exp.modelJson.weightsManifest as { weights: tf.io.WeightsManifestEntry[] }[]
          )[0].weights,
          weightData: exp.weights.slice().buffer,
        }),
      );
      const x = tf.tensor2d(inputs(7, 1), [7, SIZES[0]]);
      const a = ours.logits(x);
      const b = theirs.predict(x) as tf.Tensor;
      expectArraysClose(a.dataSync(), b.dataSync(), 1e-5, 'logits');
      tf.dispose([x, a, b]);
      theirs.dispose();
      ours.dispose();
    });
  }

  it('with a task: that task answers, probabilities are its softmax, class its argmax; nothing leaks', async () => {
    const models = [1, 2].map((s) =>
      TaskModel.fromExport(randomExport(s).modelJson, randomExport(s).weights),
    );
    const x = inputs(5, 9);
    const out = await expectNoLeakedTensors(() => predict(models, x, 5, 1));
    const logits = tf.tidy(() =>
      tf.softmax(models[1].logits(tf.tensor2d(x, [5, SIZES[0]]))).arraySync(),
    );
    out.forEach((p, i) => {
      assert.equal(p.task, 1);
      assert.equal(p.entropies, null);
      expectArraysClose(p.probabilities, logits[i], 1e-6, `probabilities of input ${i}`);
      assert.equal(p.class, logits[i].indexOf(Math.max(...logits[i])));
    });
    models.forEach((m) => m.dispose());
  });

  it('without a task: the task of lowest entropy, with every entropy reported', async () => {
    // Sharp weights give confident (low-entropy) outputs, flat weights uncertain ones.
    const exports = [randomExport(11, 0.05), randomExport(12, 8), randomExport(13, 0.5)];
    const models = exports.map((e) => TaskModel.fromExport(e.modelJson, e.weights));
    const n = 20;
    const x = inputs(n, 4);
    const out = await expectNoLeakedTensors(() => predict(models, x, n, null));
    const chosen = new Set<number>();
    out.forEach((p, i) => {
      const entropies = models.map((m) =>
        tf.tidy(() => {
          // In float64 from the logits, so that p log p stays finite where p underflows.
          const logits = Array.from(
            m
              .logits(tf.tensor2d(x.subarray(i * SIZES[0], (i + 1) * SIZES[0]), [1, SIZES[0]]))
              .dataSync(),
          );
          const max = Math.max(...logits);
          const lse = max + Math.log(logits.reduce((s, l) => s + Math.exp(l - max), 0));
          return (
            -logits.reduce((s, l) => s + Math.exp(l - lse) * (l - lse), 0) / Math.log(logits.length)
          );
        }),
      );
      expectArraysClose(p.entropies!, entropies, 1e-4, `entropies of input ${i}`);
      assert.equal(p.task, entropies.indexOf(Math.min(...entropies)), `input ${i}`);
      chosen.add(p.task);
    });
    assert.ok(
      chosen.has(1),
      'the confident model never won: the test data does not exercise the choice',
    );
    models.forEach((m) => m.dispose());
  });

  it('without a task: compares tasks of different class counts by entropy relative to its largest value, ln K', () => {
    // One Dense layer with zero kernel: the logits are the bias, whatever the input.
    const constant = (probabilities: number[]) => {
      const shapes = [[SIZES[0], probabilities.length], [probabilities.length]];
      const mlp = new MlpTargetNetwork({
        inputSize: SIZES[0],
        hidden: [],
        outputSize: probabilities.length,
        activation: 'relu',
      });
      const exp = layersModel(
        mlp.exportLayers(shapes),
        [SIZES[0]],
        NAMES.slice(0, 2),
        shapes,
        [
          new Float32Array(SIZES[0] * probabilities.length),
          Float32Array.from(probabilities, Math.log),
        ],
        {},
      );
      return TaskModel.fromExport(exp.modelJson, exp.weights);
    };
    // Raw entropies 0.500 (2 classes) and 0.588 (4 classes): the raw choice is task 0, though task 1
    // is far more certain for its class count (0.72 of ln 2 against 0.42 of ln 4).
    const models = [constant([0.8, 0.2]), constant([0.85, 0.05, 0.05, 0.05])];
    const [p] = predict(models, inputs(1, 2), 1, null);
    assert.equal(p.task, 1);
    expectArraysClose(
      p.entropies!,
      [0.5004 / Math.log(2), 0.5875 / Math.log(4)],
      1e-3,
      'normalised entropies',
    );
    models.forEach((m) => m.dispose());
  });

  it('refuses exports with layers it does not know, weights that do not fit, and inputs of the wrong size', () => {
    const exp = randomExport(5);
    const layers = (
      exp.modelJson.modelTopology as {
        config: { layers: { class_name: string; config: object }[] };
      }
    ).config.layers;
    const lstm = {
      ...exp.modelJson,
      modelTopology: {
        class_name: 'Sequential',
        config: { layers: [{ ...layers[0], class_name: 'LSTM' }, ...layers.slice(1)] },
      },
    };
    assert.throws(() => TaskModel.fromExport(lstm, exp.weights), /dense_1 is a LSTM/);
    const noInput = {
      ...exp.modelJson,
      modelTopology: { class_name: 'Sequential', config: { layers: layers.slice(1) } },
    };
    assert.throws(() => TaskModel.fromExport(noInput, exp.weights), /declares its input shape/);
    assert.throws(() => TaskModel.fromExport(exp.modelJson, exp.weights.subarray(0, 40)), /bytes/);
    const model = TaskModel.fromExport(exp.modelJson, exp.weights);
    assert.throws(() => predict([model], new Float32Array(5), 1, null), /expected 1 x 6/);
    assert.throws(() => predict([model], new Float32Array(6), 1, 3), /task 3/);
    model.dispose();
  });
});
