import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { runContinualLearning } from '../../../src/core/continual/run-continual-learning.js';
import { readCheckpointFecam } from '../../../src/core/io/checkpoint.js';
import { decodeFecam } from '../../../src/core/inference/fecam.js';
import { decodeSafetensors } from '../../../src/core/io/safetensors.js';
import { resolveSpec } from '../../../src/core/spec.js';
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
      // 3 tasks x 2 classes x (mean, precision, count).
      assert.equal(last.length, 18);
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
      }
    });
  }
});
