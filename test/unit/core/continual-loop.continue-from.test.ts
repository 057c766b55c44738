import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  modelSeed,
  runContinualLearning,
} from '../../../src/core/continual/run-continual-learning.js';
import { encodeCheckpoint, readCheckpointState } from '../../../src/core/io/checkpoint.js';
import { decodeSafetensors } from '../../../src/core/io/safetensors.js';
import { createLearner } from '../../../src/core/methods/create-learner.js';
import { Random } from '../../../src/core/random.js';
import { continuesSpec } from '../../../src/core/spec-continuation.js';
import { resolveSpec, type JobSpec } from '../../../src/core/spec.js';
import { clusterTasks } from '../../helpers/tasks.js';
import { useCpuBackend } from '../../helpers/tensors.js';

before(useCpuBackend);

const spec = (method: JobSpec['method'], tasks: number) =>
  resolveSpec({
    method,
    network: { hidden: [12] },
    hypernetwork: { hidden: [6], embeddingDim: 4 },
    training: { iterationsPerTask: 20, batchSize: 16, learningRate: 5e-3 },
    benchmark: { tasks },
    regularization: { sparsity: 30 },
  });

/** Runs `s` and returns its result and its checkpoint after every task. */
async function run(s: JobSpec, tasks: number, resumeFrom?: Uint8Array) {
  const checkpoints: Uint8Array[] = [];
  const result = await runContinualLearning(s, {
    tasks: clusterTasks({ tasks }),
    resumeFrom,
    callbacks: { onTaskEnd: (e) => void checkpoints.push(e.checkpoint) },
  });
  return { result, checkpoints };
}

describe('continuing a finished run with new tasks', () => {
  for (const method of ['hypermask', 'hnet', 'finetune'] as const) {
    it(`${method}: tasks 0-1, then continued with task 2, ends bit for bit like one run of tasks 0-2`, async () => {
      const first = await run(spec(method, 2), 2);
      const continued = await run(spec(method, 3), 3, first.checkpoints.at(-1));
      const whole = await run(spec(method, 3), 3);

      assert.equal(continued.checkpoints.length, 1, 'only the new task is trained');
      assert.deepEqual(continued.result.accuracyMatrix, whole.result.accuracyMatrix);
      assert.deepEqual(continued.result.accuracyMatrix.slice(0, 2), first.result.accuracyMatrix);
      assert.deepEqual(continued.result.taskInference, whole.result.taskInference);
      const weights = (bytes: Uint8Array) => decodeSafetensors(bytes).tensors;
      assert.deepEqual(weights(continued.checkpoints[0]), weights(whole.checkpoints[2]));
      // A chain: the continued run's checkpoint is continued again with task 3.
      const again = await run(spec(method, 4), 4, continued.checkpoints[0]);
      const whole4 = await run(spec(method, 4), 4);
      assert.deepEqual(again.result.accuracyMatrix, whole4.result.accuracyMatrix);
      assert.deepEqual(weights(again.checkpoints[0]), weights(whole4.checkpoints[3]));
      assert.equal(readCheckpointState(again.checkpoints[0]).completedTasks, 4);
    });
  }

  it('creates task embeddings as tasks begin, each independent of how many tasks follow', () => {
    const learner = createLearner(
      spec('hypermask', 2),
      { inputSize: 8, outputSize: 2 },
      new Random(5),
    );
    const other = createLearner(
      spec('hypermask', 2),
      { inputSize: 8, outputSize: 2, numTasks: 4 },
      new Random(5),
    );
    try {
      const hnet = learner.hnet!;
      assert.equal(hnet.embeddings.length, 0);
      learner.beginTask(0, 1);
      assert.equal(hnet.embeddings.length, 1);
      learner.beginTask(2, 1);
      assert.equal(hnet.embeddings.length, 3);
      learner.endTask();
      // Same values whether created one by one or all at once, and the shared weights too.
      hnet.embeddings.forEach((e, t) =>
        assert.deepEqual(e.dataSync(), other.hnet!.embeddings[t].dataSync()),
      );
      hnet.weights.forEach((w, i) =>
        assert.deepEqual(w.dataSync(), other.hnet!.weights[i].dataSync()),
      );
      assert.notDeepEqual(hnet.embeddings[0].dataSync(), hnet.embeddings[1].dataSync());
    } finally {
      learner.dispose();
      other.dispose();
    }
  });

  it('resumes a checkpoint that holds the embeddings of every task (written before they were created per task)', async () => {
    const s = spec('hypermask', 3);
    const learner = createLearner(
      s,
      { inputSize: 8, outputSize: 2, numTasks: 3 },
      new Random(modelSeed(s.training.seed)),
    );
    const old = encodeCheckpoint(learner, {
      completedTasks: 1,
      rngState: new Random(9).state(),
      spec: s,
      accuracyMatrix: [[0.5]],
      msPerIteration: [1],
      taskDurationsMs: [1],
    });
    learner.dispose();
    const { result } = await run(s, 3, old);
    assert.equal(result.accuracyMatrix.length, 3);
  });

  it('refuses to continue a checkpoint with another method, other settings or fewer tasks', async () => {
    const { checkpoints } = await run(spec('finetune', 2), 2);
    const changed = resolveSpec({
      ...spec('finetune', 3),
      training: { ...spec('finetune', 3).training, learningRate: 1e-3 },
    });
    await assert.rejects(
      runContinualLearning(changed, {
        tasks: clusterTasks({ tasks: 3 }),
        resumeFrom: checkpoints[1],
      }),
      /different spec/,
    );
    assert.equal(continuesSpec(spec('finetune', 3), spec('finetune', 2)), true);
    assert.equal(continuesSpec(spec('finetune', 2), spec('finetune', 2)), false);
    assert.equal(continuesSpec(spec('hnet', 3), spec('finetune', 2)), false);
  });
});
