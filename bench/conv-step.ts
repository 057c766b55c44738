/**
 * Time of one training step with a convolutional target, per method: ZenkeNet and ResNet-20 (k = 2)
 * on 32x32x3 inputs, 10 outputs, batch 32, for task 1 and task 2 (from task 2 on, the output
 * regulariser, and for HyperMask the L1 drift, are active), on the selected backend.
 * usage: npx tsx bench/conv-step.ts [backend=wasm] [zenkenet|resnet ...]
 * Writes bench/results/conv-step-<backend>.json. CONV_STEP_REPS repetitions per measurement
 * (default 5) after one warm-up; median and minimum are reported (on a busy machine the minimum is
 * the least disturbed run).
 *
 * Settings are the published CIFAR ones (bench/specs/conv-settings.ts lists them).
 *
 * With TORCH_STEP=1 the PyTorch step script (../shared/tools/torch-conv-step.py, Debian's
 * python3-torch, one thread, jemalloc as in reference-results.md) runs right after each HyperMask
 * measurement, same target and task, so both are timed under the same load; its median is
 * `torchSameSessionMs`.
 *
 * Phases: the target's forward pass (with loss) and forward + backward (gradients of the loss with
 * respect to the task's weights, held as variables, and batch norm); the hypernetwork's forward
 * pass; Adam on every parameter the method trains; "rest" is the step minus those (hypernetwork
 * backward, masks, regularisers, gradient bookkeeping). Random inputs and labels, as the reference step script
 * (../shared/tools/torch-conv-step.py) uses.
 */
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { Adam } from '../src/core/continual/adam.js';
import { stackEmbeddings } from '../src/core/hypernetwork/hypernetwork.js';
import { createLearner } from '../src/core/methods/create-learner.js';
import { crossEntropy, type Learner } from '../src/core/methods/learner.js';
import { median } from '../src/core/metrics/metrics.js';
import { Random } from '../src/core/random.js';
import { parameterCounts, resolveSpec, type DatasetFacts } from '../src/core/spec.js';
import { selectBackend, type BackendChoice } from '../src/infra/tf-backend.js';
import { machine } from './harness.js';
import { convSettings, type ConvMethod, type ConvTarget } from './specs/conv-settings.js';

const backend = await selectBackend((process.argv[2] ?? 'wasm') as BackendChoice);
const targets = (process.argv.slice(3).length ? process.argv.slice(3) : ['zenkenet', 'resnet']) as (
  'zenkenet' | 'resnet'
)[];
const REPS = Number(process.env.CONV_STEP_REPS ?? 5);
const BATCH = 32;
const SHAPE = [32, 32, 3];
const CLASSES = 10;
const METHODS = ['finetune', 'hnet', 'hypermask'] as const;

/** The PyTorch HyperMask-style step on this machine kind, idle, one thread (../shared/docs/reference-results.md). */
const REFERENCE_MS = { zenkenet: [547, 679], resnet: [593, 765] };

const DATASET = '11111111-1111-4111-8111-111111111111';
const facts: DatasetFacts = {
  inputShape: SHAPE,
  dtype: 'uint8',
  sha256: '0'.repeat(64),
  classNames: Array.from({ length: CLASSES }, (_, c) => `c${c}`),
  counts: { train: new Array(CLASSES).fill(500), test: new Array(CLASSES).fill(100) },
};

function specFor(target: ConvTarget, method: ConvMethod) {
  const settings = convSettings(target, method);
  return resolveSpec(
    {
      ...settings,
      benchmark: { kind: 'datasets', tasks: [{ dataset: DATASET }, { dataset: DATASET }] },
      training: { ...settings.training, batchSize: BATCH },
    },
    { datasets: new Map([[DATASET, facts]]) },
  );
}

/** Median and minimum ms per step of the PyTorch script, or null when it is not asked for or fails. */
function torchStep(target: string, task: number): { median: number; min: number } | null {
  if (process.env.TORCH_STEP !== '1') return null;
  const run = spawnSync(
    '/usr/bin/python3',
    ['../shared/tools/torch-conv-step.py', target, String(task), String(BATCH), String(REPS)],
    {
      encoding: 'utf8',
      env: {
        ...process.env,
        OPENBLAS_NUM_THREADS: '1',
        LD_PRELOAD: '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2',
        MALLOC_CONF: 'dirty_decay_ms:-1,muzzy_decay_ms:-1',
      },
    },
  );
  const found = /median ([\d.]+) ms, min ([\d.]+) ms/.exec(run.stdout ?? '');
  if (!found) console.error(`torch step failed: ${run.stderr?.slice(-300)}`);
  return found ? { median: Number(found[1]), min: Number(found[2]) } : null;
}

/**
 * Median and minimum ms of `f` over REPS runs after a warm-up (on a shared machine the minimum is
 * the least disturbed run).
 */
function time(f: () => void): { median: number; min: number } {
  f();
  const ms: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    f();
    ms.push(performance.now() - t0);
  }
  return { median: median(ms), min: Math.min(...ms) };
}

/** What the method's optimisers update at `task` (HyperMask: one Adam; HNET: three; finetune: one). */
function trainable(learner: Learner, method: string, task: number): tf.Variable[] {
  const bn = learner.target.batchNormWeights;
  const hnet = learner.hnet;
  if (!hnet) return [...learner.target.weights!, ...bn];
  if (method === 'hnet') return [...hnet.weights, hnet.embeddings[task], ...bn];
  return [
    ...hnet.embeddings.slice(0, task + 1),
    ...hnet.weights,
    ...learner.target.weights!,
    ...bn,
  ];
}

const rng = new Random(2);
const x = tf.tensor2d(rng.uniformArray(BATCH * 3072, 0, 1), [BATCH, 3072]);
const y = tf.oneHot(
  tf.tensor1d(
    Int32Array.from({ length: BATCH }, () => rng.int(CLASSES)),
    'int32',
  ),
  CLASSES,
) as tf.Tensor2D;
const loadBefore = os.loadavg()[0];
const rows = [];
for (const target of targets) {
  for (const method of METHODS) {
    const spec = specFor(target, method);
    const counts = parameterCounts(spec);
    const learner = createLearner(
      spec,
      { inputSize: 3072, outputSize: CLASSES, imageShape: SHAPE, numTasks: 2 },
      new Random(1),
    );
    for (const task of [0, 1]) {
      learner.beginTask(task, 1000);
      // The task's weights as variables: what finetune trains; HyperMask and HNET differentiate
      // through them into the hypernetwork, which the rest of the step covers.
      const weights = tf.tidy(() => learner.taskWeights(task).map((w) => tf.variable(w)));
      const targetForward = time(() =>
        tf.tidy(() => void crossEntropy(learner.target.forward(x, weights), y).dataSync()),
      );
      const targetForwardBackward = time(() =>
        tf.tidy(
          () =>
            void Object.values(
              tf.variableGrads(
                () => crossEntropy(learner.target.forward(x, weights, { training: {} }), y),
                [...weights, ...learner.target.batchNormWeights],
              ).grads,
            ).forEach((g) => g.dataSync()),
        ),
      );
      tf.dispose(weights);
      const hnet = learner.hnet;
      const hypernetworkForward = hnet
        ? time(() =>
            tf.tidy(
              () =>
                void hnet
                  .forwardFlat(
                    stackEmbeddings(
                      hnet,
                      method === 'hnet'
                        ? [task]
                        : Array.from({ length: task + 1 }, (_, j) => (j + task) % (task + 1)),
                    ),
                  )
                  .map((o) => o.dataSync()),
            ),
          )
        : { median: 0, min: 0 };
      const params = trainable(learner, method, task);
      const grads = params.map((v) => tf.fill(v.shape, 1e-3));
      const adam = new Adam(params, { learningRate: 1e-9 });
      const optimizer = time(() => adam.step(grads));
      adam.dispose();
      tf.dispose(grads);
      const step = time(() => void learner.trainStep(task, 10, x, y, crossEntropy, rng));
      learner.endTask();
      const row = {
        target,
        method,
        task: task + 1,
        targetParameters: counts.target,
        hypernetworkParameters: counts.hypernetwork,
        stepMs: step,
        targetForwardMs: targetForward,
        targetForwardBackwardMs: targetForwardBackward,
        hypernetworkForwardMs: hypernetworkForward,
        optimizerMs: optimizer,
        // From the minima, the least disturbed runs; negative when the machine's load swamps it.
        restMinMs: step.min - targetForwardBackward.min - hypernetworkForward.min - optimizer.min,
        referenceMs: method === 'hypermask' ? REFERENCE_MS[target][task] : null,
        torchSameSessionMs: method === 'hypermask' ? torchStep(target, task + 1) : null,
        loadAverage: os.loadavg()[0],
      };
      rows.push(row);
      console.log(
        JSON.stringify(row, (_, v) => (typeof v === 'number' ? Math.round(v * 10) / 10 : v)),
      );
    }
    learner.dispose();
  }
}
const out = {
  backend: backend.name,
  batchSize: BATCH,
  inputShape: SHAPE,
  reps: REPS,
  machine: machine(loadBefore),
  loadAverageAtEnd: os.loadavg()[0],
  rssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
  date: new Date().toISOString(),
  reference:
    'PyTorch 1.13, one thread, idle machine, HyperMask-style step (../shared/docs/reference-results.md)',
  rows,
};
await writeFile(`bench/results/conv-step-${backend.name}.json`, JSON.stringify(out, null, 2));
