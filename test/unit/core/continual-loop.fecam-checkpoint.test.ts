import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { runContinualLearning } from '../../../src/core/continual/run-continual-learning.js';
import { readCheckpointFecam } from '../../../src/core/io/checkpoint.js';
import { decodeFecam } from '../../../src/core/inference/fecam.js';
import { decodeSafetensors } from '../../../src/core/io/safetensors.js';
import { resolveSpec } from '../../../src/core/spec.js';
import { buildTasks } from '../../../src/core/data/benchmarks.js';
import { Random } from '../../../src/core/random.js';
import { makeRawDataset } from '../../helpers/datasets.js';
import { expectExportedPrototypes } from '../../helpers/fecam.js';
import { clusterTasks } from '../../helpers/tasks.js';
import { useCpuBackend } from '../../helpers/tensors.js';

before(useCpuBackend);

const spec = (method: 'hypermask' | 'hnet') =>
  resolveSpec({
    method,
    network: { hidden: [12] },
    hypernetwork: { hidden: [6], embeddingDim: 4 },
    training: { iterationsPerTask: 25, batchSize: 16, learningRate: 5e-3 },
    benchmark: { tasks: 3 },
    regularization: { sparsity: 30 },
    evaluation: { taskInference: 'both' },
  });

describe('FeCAM statistics in checkpoints and exports', () => {
  for (const method of ['hypermask', 'hnet'] as const) {
    it(`${method}: survive a resume after task 1 bit for bit, and each task's export carries its own`, async () => {
      const s = spec(method);
      const checkpoints: Uint8Array[] = [];
      const exported: (Uint8Array | null | undefined)[] = [];
      const full = await runContinualLearning(s, {
        tasks: clusterTasks({ tasks: 3 }),
        callbacks: {
          onTaskEnd: (e) => {
            checkpoints.push(e.checkpoint);
            exported[e.task] = e.exportTask(e.task).fecam;
          },
        },
      });
      assert.equal(readCheckpointFecam(checkpoints[0]).length, 1, 'task 0 after task 0');
      const resumedCheckpoints: Uint8Array[] = [];
      const resumed = await runContinualLearning(s, {
        tasks: clusterTasks({ tasks: 3 }),
        resumeFrom: checkpoints[0],
        callbacks: { onTaskEnd: (e) => void resumedCheckpoints.push(e.checkpoint) },
      });
      const fecamTensors = (bytes: Uint8Array) =>
        decodeSafetensors(bytes, (n) => n.startsWith('fecam/')).tensors;
      const last = fecamTensors(checkpoints.at(-1)!);
      // 3 tasks x (2 classes x (mean, precision, count) + the distance scale).
      assert.equal(last.length, 21);
      assert.deepEqual(fecamTensors(resumedCheckpoints.at(-1)!), last);
      assert.ok(full.fecamTaskInference, 'FeCAM result reported');
      assert.ok(full.taskInference, 'entropy result reported too ("both")');
      assert.deepEqual(resumed.fecamTaskInference, full.fecamTaskInference);
      // Statistics are kept from the end of their task: the last checkpoint holds task 0's as
      // they were after task 0, and so does task 0's export.
      const final = readCheckpointFecam(checkpoints.at(-1)!);
      assert.deepEqual(final[0], readCheckpointFecam(checkpoints[0])[0]);
      for (let t = 0; t < 3; t++) {
        const fromExport = decodeFecam(exported[t]!);
        assert.deepEqual(fromExport.classes, final[t]!.classes);
        assert.equal(fromExport.featureSize, 12);
        assert.ok(fromExport.distanceScale! > 0);
        assert.equal(fromExport.distanceScale, final[t]!.distanceScale);
      }
    });
  }

  it("a checkpoint within a task holds the finished tasks' statistics, and a run resumed from it reports the same FeCAM figures", async () => {
    const s = resolveSpec({
      ...spec('hypermask'),
      training: { iterationsPerTask: null, epochsPerTask: 3, batchSize: 16, learningRate: 5e-3 },
    });
    const within: Uint8Array[] = [];
    const ends: Uint8Array[] = [];
    const full = await runContinualLearning(s, {
      tasks: clusterTasks({ tasks: 3 }),
      callbacks: {
        onEpochEnd: (e) => {
          if (e.task === 1 && e.epoch === 1) within.push(e.checkpoint());
        },
        onTaskEnd: (e) => void ends.push(e.checkpoint),
      },
    });
    assert.equal(within.length, 1);
    const held = readCheckpointFecam(within[0]);
    assert.equal(held.length, 1, "task 0's statistics (task 1's come at its end)");
    assert.deepEqual(held[0], readCheckpointFecam(ends[0])[0]);
    const resumed: Uint8Array[] = [];
    const again = await runContinualLearning(s, {
      tasks: clusterTasks({ tasks: 3 }),
      resumeFrom: within[0],
      callbacks: { onTaskEnd: (e) => void resumed.push(e.checkpoint) },
    });
    assert.ok(full.fecamTaskInference);
    assert.deepEqual(again.fecamTaskInference, full.fecamTaskInference);
    assert.deepEqual(
      decodeSafetensors(resumed.at(-1)!).tensors,
      decodeSafetensors(ends.at(-1)!).tensors,
    );
  });

  it("the exported model's features on raw pixels are those the statistics were computed from", async () => {
    // Normalised MNIST-like images: the export folds x / 255 and the standardisation into its
    // first layer, so its penultimate features must be the engine's.
    const s = resolveSpec({
      method: 'hypermask',
      benchmark: { kind: 'split', tasks: 2, normalize: true, augment: false, validationSize: 10 },
      network: { hidden: [10] },
      hypernetwork: { hidden: [6], embeddingDim: 4 },
      training: { iterationsPerTask: 10, batchSize: 16 },
      evaluation: { taskInference: 'fecam' },
    });
    const raw = makeRawDataset({ trainCount: 200, testCount: 60, rows: 12, cols: 12, seed: 3 });
    const tasks = buildTasks(s.benchmark, raw, new Random(1));
    await runContinualLearning(s, {
      tasks,
      callbacks: {
        onTaskEnd: (e) => {
          // Pixels / 255 are what the service feeds a model whose rawScale is 1 / 255.
          expectExportedPrototypes(tasks[e.task], e.exportTask(e.task));
        },
      },
    });
  });
});
