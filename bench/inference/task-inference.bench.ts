/**
 * Task inference without the task id, entropy against FeCAM (method sections 7.2 and 7.3), on
 * Split Fashion-MNIST (5 tasks x 2 classes) with the engine alone: the split-mnist preset's
 * settings for the method (MLP 400-400, batch 128, ...) at a smaller iteration budget, and
 * `evaluation.taskInference: "both"`. Records the accuracy matrix, both task-inference results
 * (task and class accuracy, per task), the wall time and where it went.
 *
 * Also, from the task exports (each task's model at its end, and every task's final model), FeCAM
 * variants the product does not run, to see what limits it: `diagnostics.afterTask` is the
 * product's protocol recomputed here (statistics from each task's model at its end; must equal
 * `fecam`), `finalModel` takes the statistics from the final models instead (HyperMask's
 * FeCAM.py does; it needs every task's training data at the end, so it is not exemplar-free),
 * the `...Tukey` ones apply Tukey's transform (square root, the paper's lambda = 0.5) to the
 * features first, and the `...Uncalibrated` ones compare the tasks' distances as they are, as
 * the paper and HyperMask's code do (the product divides each task's by its distance scale,
 * src/core/inference/fecam.ts).
 *
 * Usage: nice -n 10 npx tsx bench/inference/task-inference.bench.ts
 *   BENCH_METHOD=hypermask|hnet (default hypermask), BENCH_ITERATIONS (default 500),
 *   BENCH_DATASET=fashion-mnist|mnist (default fashion-mnist), RETAIN_BACKEND (default wasm).
 * Writes bench/results/task-inference-split-<dataset>-<method>-<iterations>.json.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  buildTasks,
  dataSeed,
  Random,
  resolveSpec,
  runContinualLearning,
  TaskModel,
  type ContinualTask,
  type JobSpecInput,
  type TaskExport,
} from '../../src/core/index.js';
import { FecamScorer, fecamStatistics } from '../../src/core/inference/fecam.js';
import { loadRawDataset, resolveDataDir } from '../../src/infra/data/dataset-files.js';
import { selectBackend, type BackendChoice } from '../../src/infra/tf-backend.js';
import { machine, ROOT } from '../harness.js';

const loadAverage = os.loadavg()[0];
const method = (process.env.BENCH_METHOD ?? 'hypermask') as 'hypermask' | 'hnet';
const iterations = Number(process.env.BENCH_ITERATIONS ?? 500);
const dataset = (process.env.BENCH_DATASET ?? 'fashion-mnist') as 'fashion-mnist' | 'mnist';
const name = `task-inference-split-${dataset}-${method}-${iterations}`;

const input: JobSpecInput = {
  preset: 'split-mnist',
  method,
  benchmark: { kind: 'split', dataset, tasks: 5 },
  training: { iterationsPerTask: iterations, seed: 1 },
  evaluation: { taskInference: 'both' },
};
const spec = resolveSpec(input);
const backend = await selectBackend((process.env.RETAIN_BACKEND ?? 'wasm') as BackendChoice);
const raw = await loadRawDataset(dataset, resolveDataDir(process.env.RETAIN_DATA_DIR));
const tasks = buildTasks(spec.benchmark, raw, new Random(dataSeed(spec.training.seed)));

const started = performance.now();
const taskEnds: number[] = [];
const atTaskEnd: TaskExport[] = [];
const atLastEnd: TaskExport[] = [];
const result = await runContinualLearning(spec, {
  tasks,
  callbacks: {
    onTaskEnd: (e) => {
      taskEnds.push(performance.now() - started);
      atTaskEnd[e.task] = e.exportTask(e.task);
      if (e.task === e.tasks - 1) for (let k = 0; k < e.tasks; k++) atLastEnd[k] = e.exportTask(k);
      console.log(
        `task ${e.task} done in ${Math.round(e.durationMs)} ms: ${e.metrics.accuracyMatrix[e.task].map((a) => a.toFixed(3)).join(' ')}`,
      );
    },
  },
});
const wallMs = performance.now() - started;
const pct = (x: number | undefined) => (x === undefined ? 'n/a' : (100 * x).toFixed(2));
console.log(
  `task inference: entropy ${pct(result.taskInference?.taskAccuracy)} % (class ${pct(result.taskInference?.classAccuracy)} %), ` +
    `FeCAM ${pct(result.fecamTaskInference?.taskAccuracy)} % (class ${pct(result.fecamTaskInference?.classAccuracy)} %)`,
);

/** A split's samples as the exported model takes them: pixels / 255 (undoing the standardisation). */
function modelInput(
  task: ContinualTask,
  split: 'train' | 'test',
): { x: Float32Array; y: Int32Array } {
  const source = task[split];
  const batch = source.gather(Array.from({ length: source.size }, (_, i) => i));
  const norm = task.preprocessing?.normalize;
  // Scalars for the built-in benchmarks; per channel (HWC, input i of channel i % channels) else.
  const at = (v: number | number[], i: number) => (Array.isArray(v) ? v[i % v.length] : v);
  const x = norm ? batch.x.map((v, i) => v * at(norm.std, i) + at(norm.mean, i)) : batch.x;
  return { x, y: batch.y as Int32Array };
}

function featuresOf(model: TaskModel, x: Float32Array, tukey: boolean): tf.Tensor2D {
  return tf.tidy(() => {
    const f = model.features(tf.tensor2d(x, [x.length / model.inputSize, model.inputSize]));
    return tukey ? tf.sqrt(f) : f;
  });
}

/** FeCAM task and class accuracy with statistics from `statsModels`, tested under `testModels`. */
function fecamVariant(
  statsModels: TaskModel[],
  testModels: TaskModel[],
  { tukey = false, calibrated = true } = {},
) {
  const scorers = tasks.map((task, t) => {
    const { x, y } = modelInput(task, 'train');
    const f = featuresOf(statsModels[t], x, tukey);
    const stats = fecamStatistics(f.dataSync() as Float32Array, y, f.shape[1], 2);
    f.dispose();
    return new FecamScorer(stats);
  });
  const perTask = tasks.map((task) => {
    const { x, y } = modelInput(task, 'test');
    const n = y.length;
    const best = new Float32Array(n).fill(Infinity);
    const bestTask = new Int32Array(n);
    const bestClass = new Int32Array(n);
    testModels.forEach((m, k) => {
      const f = featuresOf(m, x, tukey);
      const { distance, cls } = scorers[k].nearest(f, calibrated);
      f.dispose();
      for (let i = 0; i < n; i++)
        if (distance[i] < best[i]) [best[i], bestTask[i], bestClass[i]] = [distance[i], k, cls[i]];
    });
    let taskHits = 0;
    let classHits = 0;
    for (let i = 0; i < n; i++) {
      if (bestTask[i] === task.index) taskHits++;
      if (tasks[bestTask[i]].globalLabels[bestClass[i]] === task.globalLabels[y[i]]) classHits++;
    }
    return { task: task.index, taskAccuracy: taskHits / n, classAccuracy: classHits / n };
  });
  scorers.forEach((s) => s.dispose());
  const mean = (f: (r: (typeof perTask)[number]) => number) =>
    perTask.reduce((a, r) => a + f(r), 0) / perTask.length;
  return {
    taskAccuracy: mean((r) => r.taskAccuracy),
    classAccuracy: mean((r) => r.classAccuracy),
    perTask,
  };
}

const load = (e: TaskExport) => TaskModel.fromExport(e.model!.modelJson, e.model!.weights);
const endModels = atTaskEnd.map(load);
const finalModels = atLastEnd.map(load);
const diagnosticsStart = performance.now();
const diagnostics = {
  afterTask: fecamVariant(endModels, finalModels),
  afterTaskUncalibrated: fecamVariant(endModels, finalModels, { calibrated: false }),
  afterTaskTukey: fecamVariant(endModels, finalModels, { tukey: true }),
  finalModel: fecamVariant(finalModels, finalModels),
  finalModelUncalibrated: fecamVariant(finalModels, finalModels, { calibrated: false }),
  finalModelTukey: fecamVariant(finalModels, finalModels, { tukey: true }),
};
const diagnosticsMs = Math.round(performance.now() - diagnosticsStart);
for (const [k, v] of Object.entries(diagnostics))
  console.log(`FeCAM ${k}: task ${pct(v.taskAccuracy)} %, class ${pct(v.classAccuracy)} %`);

const out = {
  name,
  command: `BENCH_METHOD=${method} BENCH_ITERATIONS=${iterations} BENCH_DATASET=${dataset} nice -n 10 npx tsx bench/inference/task-inference.bench.ts`,
  backend: backend.name,
  machine: machine(loadAverage),
  spec,
  testSamplesPerTask: tasks.map((t) => t.test.size),
  trainSamplesPerTask: tasks.map((t) => t.train.size),
  accuracyMatrix: result.accuracyMatrix,
  averageAccuracy: result.averageAccuracy,
  entropy: result.taskInference,
  fecam: result.fecamTaskInference,
  chance: 1 / tasks.length,
  wallMs: Math.round(wallMs),
  /** Each task's training, evaluation and (FeCAM) statistics. */
  taskDurationsMs: result.taskDurationsMs.map(Math.round),
  msPerIteration: result.msPerIteration.map((m) => Math.round(m * 10) / 10),
  /** Both task inferences after the last task. */
  inferenceMs: Math.round(wallMs - (taskEnds[taskEnds.length - 1] ?? 0)),
  /** FeCAM variants computed from the exports (see the header); not what the product runs, except afterTask. */
  diagnostics,
  diagnosticsMs,
};
await writeFile(
  path.join(ROOT, 'bench', 'results', `${name}.json`),
  JSON.stringify(out, null, 2) + '\n',
);
console.log(`wrote bench/results/${name}.json`);
