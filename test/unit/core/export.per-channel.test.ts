/**
 * Exports of tasks on uploaded images standardised per channel take raw pixels and give the
 * engine's logits: folded into the MLP's first layer, a 1x1 depthwise layer in front of a ZenkeNet;
 * checked with tfjs-layers and with the service's TaskModel.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { buildDatasetTasks } from '../../../src/core/data/dataset-tasks.js';
import type { LabelledDataset } from '../../../src/core/data/types.js';
import { TaskModel } from '../../../src/core/inference/task-models.js';
import { exportTask } from '../../../src/core/io/export.js';
import { createLearner } from '../../../src/core/methods/create-learner.js';
import { Random } from '../../../src/core/random.js';
import { resolveSpec, type DatasetFacts, type JobSpecInput } from '../../../src/core/spec.js';
import { expectArraysClose, useCpuBackend } from '../../helpers/tensors.js';

before(useCpuBackend);

const ID = '11111111-1111-4111-8111-111111111111';

/** 2 classes of 8x8x3 uint8 images with channels of very different ranges. */
function images(): LabelledDataset {
  const rng = new Random(9);
  const split = (count: number) => {
    const x = new Uint8Array(count * 192);
    const y = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      y[i] = i % 2;
      for (let p = 0; p < 64; p++) {
        x[i * 192 + 3 * p] = rng.int(256);
        x[i * 192 + 3 * p + 1] = 100 + rng.int(20);
        x[i * 192 + 3 * p + 2] = rng.int(40);
      }
    }
    return { x, y, count };
  };
  return {
    inputShape: [8, 8, 3],
    dtype: 'uint8',
    classNames: ['a', 'b'],
    train: split(12),
    test: split(4),
  };
}

describe('exports with per-channel standardisation', () => {
  const networks: [string, JobSpecInput['network'], string][] = [
    ['mlp', { hidden: [6] }, 'Dense'],
    ['zenkenet', { kind: 'zenkenet', channels: [4], hidden: [6] }, 'DepthwiseConv2D'],
  ];
  for (const [name, network, first] of networks) {
    it(`${name}: raw pixels in, the engine's logits out`, async () => {
      const data = images();
      const facts: DatasetFacts = {
        inputShape: data.inputShape,
        dtype: 'uint8',
        sha256: 'a'.repeat(64),
        classNames: data.classNames,
        counts: { train: [6, 6], test: [2, 2] },
      };
      const s = resolveSpec(
        {
          method: 'finetune',
          network,
          // The upload's order: the test compares with its test images in that order.
          benchmark: {
            kind: 'datasets',
            tasks: [{ dataset: ID }],
            normalize: 'per-channel',
            sampleOrder: 'stored',
          },
        },
        { datasets: new Map([[ID, facts]]) },
      );
      const [task] = buildDatasetTasks(s.benchmark, new Map([[ID, data]]));
      const learner = createLearner(
        s,
        { inputSize: 192, outputSize: 2, imageShape: [8, 8, 3], numTasks: 1 },
        new Random(2),
      );
      const batch = task.test.gather([0, 1, 2, 3]);
      const weights = learner.taskWeights(0);
      const engine = tf.tidy(() => learner.target.forward(tf.tensor2d(batch.x, [4, 192]), weights));
      const exported = exportTask(learner, s, task);
      const json = exported.model!.modelJson as {
        modelTopology: { config: { layers: { class_name: string }[] } };
        weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[];
      };
      assert.equal(json.modelTopology.config.layers[0].class_name, first);
      const raw = Float32Array.from(data.test.x.subarray(0, 4 * 192));
      const shape = name === 'mlp' ? [4, 192] : [4, 8, 8, 3];
      const model = await tfl.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: json.modelTopology,
          weightSpecs: json.weightsManifest[0].weights,
          weightData: exported.model!.weights.slice().buffer,
        }),
      );
      const x = tf.tensor(raw, shape);
      const predicted = model.predict(x) as tf.Tensor;
      expectArraysClose(predicted.dataSync(), engine.dataSync(), 1e-4, 'tfjs-layers');
      const ours = TaskModel.fromExport(exported.model!.modelJson, exported.model!.weights);
      const rebuilt = ours.logits(tf.tensor2d(raw, [4, 192]));
      expectArraysClose(rebuilt.dataSync(), engine.dataSync(), 1e-4, 'TaskModel');
      tf.dispose([x, predicted, rebuilt, engine, ...weights]);
      model.dispose();
      ours.dispose();
      learner.dispose();
    });
  }
});
