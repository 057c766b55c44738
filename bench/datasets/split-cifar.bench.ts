/**
 * Split CIFAR-10 on uploaded data, through the real API and a real worker (loopback only): upload
 * ../shared/datasets/cifar10-jpeg.tar.gz (60,000 JPEGs as users have them), then one job per
 * method of 5 tasks x 2 classes (airplane/automobile, bird/cat, ...) on the MLP target over the
 * 3,072 raw pixel inputs, with the split-mnist preset's hyperparameters. Records the upload
 * time, each job's accuracy matrix, average accuracy, backward transfer and wall time, and a
 * prediction without a task id on test images.
 *
 * Usage: BENCH_METHODS=hypermask,finetune BENCH_ITERATIONS=500 npx tsx bench/datasets/split-cifar.bench.ts
 * Writes bench/results/split-cifar10-<method>-<iterations>.json per method.
 */
import { createReadStream, existsSync } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { machine, ROOT as root, startBenchService } from '../harness.js';

const loadAverageAtStart = os.loadavg()[0];
const CIFAR = path.resolve(root, '..', 'shared', 'datasets', 'cifar10-jpeg.tar.gz');
const METHODS = (process.env.BENCH_METHODS ?? 'hypermask').split(',');
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 500);
const PAIRS = [['airplane', 'automobile'], ['bird', 'cat'], ['deer', 'dog'], ['frog', 'horse'], ['ship', 'truck']];
if (!existsSync(CIFAR)) throw new Error(`${CIFAR} not found (see ../shared/datasets/README.md)`);

const svc = await startBenchService({ port: Number(process.env.BENCH_PORT ?? 3920), worker: true });
const { base, auth } = svc;

try {
  const t0 = performance.now();
  const uploadRes = await fetch(`${base}/v1/datasets?name=cifar10`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/octet-stream', 'content-length': String((await stat(CIFAR)).size) },
    body: createReadStream(CIFAR) as unknown as BodyInit,
    duplex: 'half',
  } as RequestInit);
  const dataset = await uploadRes.json();
  const uploadMs = Math.round(performance.now() - t0);
  if (uploadRes.status !== 201) throw new Error(`upload answered ${uploadRes.status}: ${JSON.stringify(dataset)}`);
  console.log(`uploaded in ${uploadMs} ms: ${JSON.stringify(dataset.samples)}`);

  for (const method of METHODS) {
    const spec = {
      preset: 'split-mnist',
      method,
      benchmark: { kind: 'datasets', tasks: PAIRS.map((classes) => ({ dataset: dataset.id, classes })), validationSize: 500 },
      training: { iterationsPerTask: ITERATIONS },
    };
    const started = performance.now();
    const job = await (await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(spec) })).json();
    if (!job.id) throw new Error(`submission refused: ${JSON.stringify(job)}`);
    let last = '';
    for (;;) {
      const j = await (await fetch(`${base}/v1/jobs/${job.id}`, { headers: auth })).json();
      const line = `${method}: ${j.status} task ${j.progress.completedTasks}/${j.progress.tasksTotal}`;
      if (line !== last) console.log((last = line));
      if (j.status === 'succeeded') break;
      if (j.status === 'failed' || j.status === 'cancelled') throw new Error(`${method} job ${j.status}: ${JSON.stringify(j.error)}`);
      await new Promise((r) => setTimeout(r, 2000));
    }
    const wallMs = Math.round(performance.now() - started);
    const metrics = await (await fetch(`${base}/v1/jobs/${job.id}/metrics`, { headers: auth })).json();
    const result = {
      when: new Date().toISOString(),
      machine: machine(loadAverageAtStart),
      dataset: { file: 'cifar10-jpeg.tar.gz', uploadMs, inputShape: dataset.inputShape, samples: dataset.samples },
      spec: job.spec,
      wallMs,
      accuracyMatrix: metrics.accuracyMatrix,
      averageAccuracy: metrics.averageAccuracy,
      backwardTransfer: metrics.backwardTransfer,
      forgetting: metrics.forgetting,
      msPerIteration: metrics.msPerIteration,
    };
    const file = path.join(root, 'bench', 'results', `split-cifar10-${method}-${ITERATIONS}.json`);
    await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`${method}: average accuracy ${metrics.averageAccuracy}, BWT ${metrics.backwardTransfer}; wrote ${path.relative(root, file)}`);
  }
} finally {
  await svc.stop();
}
