/**
 * Do the convolutional presets' HyperMask models (their hypernetworks generate every target weight:
 * 55-110 M parameters) train on the selected backend with what the epoch schedule adds, and at
 * what memory: the best epoch's copy of the whole model, and a checkpoint within the task (model,
 * Adam's moments, regularisation targets, best copy). A feasibility check, not a learning run:
 * random images of the preset's shape (CIFAR 32x32x3, Tiny-ImageNet 64x64x3), one task of the
 * preset's classes, 2 epochs over 64 training images, 32 validation images.
 * usage: npx tsx bench/conv-presets-check.ts [backend=wasm] [preset ...]
 * Writes bench/results/conv-presets-check-<backend>.json.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { runContinualLearning } from '../src/core/continual/run-continual-learning.js';
import { buildDatasetTasks } from '../src/core/data/dataset-tasks.js';
import type { LabelledDataset } from '../src/core/data/types.js';
import { median } from '../src/core/metrics/metrics.js';
import { Random } from '../src/core/random.js';
import { parameterCounts, PRESETS, resolveSpec, type DatasetFacts } from '../src/core/spec.js';
import { selectBackend, type BackendChoice } from '../src/infra/tf-backend.js';
import { machine } from './harness.js';

const backend = await selectBackend((process.argv[2] ?? 'wasm') as BackendChoice);
const presets = process.argv.slice(3).length
  ? process.argv.slice(3)
  : PRESETS.filter((p) => p.includes('cifar') || p.includes('tiny'));
const ID = '00000000-0000-4000-8000-000000000000';
const TRAIN = 96; // 32 of them held out for validation
const TEST = 20;

function images(shape: number[], classes: number): LabelledDataset {
  const rng = new Random(1);
  const size = shape.reduce((a, d) => a * d, 1);
  const split = (count: number) => ({
    x: Uint8Array.from({ length: count * size }, () => rng.int(256)),
    y: Int32Array.from({ length: count }, (_, i) => i % classes),
    count,
  });
  return {
    inputShape: shape,
    dtype: 'uint8',
    classNames: Array.from({ length: classes }, (_, c) => `c${c}`),
    train: split(TRAIN),
    test: split(TEST),
  };
}

const loadAtStart = os.loadavg()[0];
const runs = [];
for (const preset of presets) {
  const tiny = preset.startsWith('tiny');
  const classes = tiny ? 5 : 10;
  const data = images(tiny ? [64, 64, 3] : [32, 32, 3], classes);
  const facts: DatasetFacts = {
    inputShape: data.inputShape,
    dtype: 'uint8',
    sha256: '0'.repeat(64),
    classNames: data.classNames,
    counts: {
      train: Array.from({ length: classes }, () => TRAIN / classes),
      test: Array.from({ length: classes }, () => TEST / classes),
    },
  };
  const spec = resolveSpec(
    {
      preset,
      method: 'hypermask',
      benchmark: { kind: 'datasets', tasks: [{ dataset: ID }], validationSize: 32 },
      training: { epochsPerTask: 2 },
      evaluation: { taskInference: false },
    },
    { datasets: new Map([[ID, facts]]) },
  );
  const tasks = buildDatasetTasks(spec.benchmark, new Map([[ID, data]]));
  const stepMs: number[] = [];
  let checkpoint: { bytes: number; ms: number } | null = null;
  const started = performance.now();
  await runContinualLearning(spec, {
    tasks,
    callbacks: {
      onIteration: (e) => void stepMs.push(e.ms),
      onEpochEnd: (e) => {
        const t0 = performance.now();
        const bytes = e.checkpoint().byteLength;
        checkpoint = { bytes, ms: performance.now() - t0 };
      },
    },
  });
  const run = {
    preset,
    parameters: parameterCounts(spec),
    batchSize: spec.training.batchSize,
    iterations: stepMs.length,
    medianStepMs: median(stepMs),
    checkpointWithinTask: checkpoint,
    wallMs: performance.now() - started,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    tfjsBytesAfter: tf.memory().numBytes,
  };
  console.log(JSON.stringify(run));
  runs.push(run);
}
const file = `bench/results/conv-presets-check-${backend.name}.json`;
await writeFile(
  file,
  JSON.stringify(
    {
      name: 'conv-presets-check',
      purpose:
        "the convolutional presets' HyperMask models train with the epoch schedule's best copy and a checkpoint within a task; peak memory (RSS of the process so far, so cumulative over the presets in order)",
      backend,
      machine: machine(loadAtStart),
      runs,
    },
    null,
    2,
  ),
);
console.log(`wrote ${file}`);
