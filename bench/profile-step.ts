/**
 * Where the time of one HyperMask training step goes, per phase, on the selected backend.
 * usage: npx tsx bench/profile-step.ts [split-mnist|permuted-mnist] [backend] [tasksSoFar...]
 * Writes bench/results/profile-<preset>-<backend>.json. PROFILE_REPS sets the repetitions per
 * phase (default 20 for split-mnist, 4 for permuted-mnist; the median is reported).
 *
 * Phases are timed forward-only (hypernetwork, masks, target + loss, regularisers) and the
 * optimiser on its own; the backward pass is the full step minus those. wasm and cpu run ops
 * synchronously, so wall-clock timing per phase is meaningful there.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { Adam } from '../src/core/continual/adam.js';
import { driftL1, fixedTargetRegularizer } from '../src/core/continual/regularizers.js';
import { stackEmbeddings } from '../src/core/hypernetwork/hypernetwork.js';
import { applyMasks, hyperMasks } from '../src/core/masks/masks.js';
import { createLearner } from '../src/core/methods/create-learner.js';
import { crossEntropy } from '../src/core/methods/learner.js';
import { median } from '../src/core/metrics/metrics.js';
import { Random } from '../src/core/random.js';
import { benchmarkShape, resolveSpec, taskCount } from '../src/core/spec.js';
import { selectBackend, type BackendChoice } from '../src/infra/tf-backend.js';

const preset = (process.argv[2] ?? 'split-mnist') as 'split-mnist' | 'permuted-mnist';
const backend = await selectBackend((process.argv[3] ?? 'wasm') as BackendChoice);
const taskList = process.argv.slice(4).map(Number);
const tasksToProfile = taskList.length ? taskList : [0, 4];
const REPS = Number(process.env.PROFILE_REPS ?? (preset === 'split-mnist' ? 20 : 4));

const spec = resolveSpec({
  preset,
  benchmark: { tasks: Math.max(5, ...tasksToProfile.map((t) => t + 1)) },
});
const { inputSize, outputSize } = benchmarkShape(spec.benchmark);
const learner = createLearner(
  spec,
  { inputSize, outputSize, numTasks: taskCount(spec.benchmark) },
  new Random(1),
);
const hnet = learner.hnet!;
const theta = learner.target.weights!;
const shapes = learner.target.paramShapes;
const rng = new Random(2);
const x = tf.tensor2d(rng.uniformArray(spec.training.batchSize * inputSize, 0, 1), [
  spec.training.batchSize,
  inputSize,
]);
const y = tf.oneHot(
  tf.tensor1d(
    Int32Array.from({ length: spec.training.batchSize }, () => rng.int(outputSize)),
    'int32',
  ),
  outputSize,
) as tf.Tensor2D;

function time(f: () => void, reps = REPS): number {
  f();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    f();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

const rows = [];
for (const t of tasksToProfile) {
  learner.beginTask(t, 1000);
  const p = spec.regularization.sparsity;
  const rowsIn = () => stackEmbeddings(hnet, [t, ...Array.from({ length: t }, (_, j) => j)]);
  const hypernetwork = time(() =>
    tf.tidy(() => void hnet.forwardFlat(rowsIn()).map((o) => o.dataSync())),
  );
  const flat = tf.tidy(() => hnet.forwardFlat(rowsIn()));
  const current = tf.tidy(() =>
    flat.map((f, l) => tf.reshape(tf.slice(f, [0, 0], [1, -1]), shapes[l])),
  );
  const masks = time(() => tf.tidy(() => void hyperMasks(current, p).map((m) => m.dataSync())));
  const m = tf.tidy(() => hyperMasks(current, p));
  const target = time(() =>
    tf.tidy(() => void crossEntropy(learner.target.forward(x, applyMasks(theta, m)), y).dataSync()),
  );
  const regularizers =
    t === 0
      ? 0
      : time(() =>
          tf.tidy(() => {
            const old = flat.map((f) => tf.slice(f, [1, 0], [-1, -1]));
            fixedTargetRegularizer(
              old,
              old.map((o) => tf.add(o, 0.01)),
            ).dataSync();
            driftL1(
              theta,
              theta.map((w) => tf.add(w, 0.01)),
              m,
            ).dataSync();
          }),
        );
  const params = [...hnet.embeddings.slice(0, t + 1), ...hnet.weights, ...theta];
  // One full-size gradient set; a second transient copy would not fit the wasm heap on permuted-mnist.
  const grads = params.map((v) => tf.fill(v.shape, 1e-3));
  const adam = new Adam(params, { learningRate: 1e-9 });
  const optimizer = time(() => adam.step(grads));
  adam.dispose();
  tf.dispose([...grads, ...flat, ...current, ...m]);
  const step = time(() => void learner.trainStep(t, 10, x, y, crossEntropy));
  learner.endTask();
  const backward = step - hypernetwork - masks - target - regularizers - optimizer;
  const row = {
    task: t + 1,
    stepMs: step,
    hypernetworkMs: hypernetwork,
    masksMs: masks,
    targetMs: target,
    regularizersMs: regularizers,
    backwardMs: backward,
    optimizerMs: optimizer,
  };
  rows.push(row);
  console.log(JSON.stringify(row, (_, v) => (typeof v === 'number' ? Math.round(v * 10) / 10 : v)));
}
const out = {
  preset,
  backend: backend.name,
  batchSize: spec.training.batchSize,
  reps: REPS,
  loadAverage: os.loadavg(),
  rssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
  date: new Date().toISOString(),
  rows,
};
await writeFile(
  `bench/results/profile-${preset}-${backend.name}.json`,
  JSON.stringify(out, null, 2),
);
