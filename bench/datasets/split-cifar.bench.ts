/**
 * Split CIFAR-10 on uploaded data, through the real API and a real worker (loopback only): upload
 * ../shared/datasets/cifar10-jpeg.tar.gz (60,000 JPEGs as users have them), then one job per
 * method of 5 tasks x 2 classes (airplane/automobile, bird/cat, ...) on the MLP target over the
 * 3,072 raw pixel inputs, with the split-mnist preset's hyperparameters. Records the upload
 * time, each job's accuracy matrix, average accuracy, backward transfer, task inference without
 * the task id (entropy and FeCAM, the spec default "both") and wall time.
 *
 * With BENCH_CONTINUE=1, also trains tasks 1-3 as one job and continues it with tasks 4-5
 * (continueFrom), and compares the continued job's accuracy matrix with the five-task job's.
 *
 * With BENCH_NETWORK=zenkenet or resnet (ResNet-20, k = 2) the target is convolutional, on the
 * 32x32x3 images, with the published CIFAR settings of each method (bench/specs/conv-settings.ts);
 * the result then also holds the accuracy with each task's batch-norm running statistics (ResNet).
 *
 * Usage: BENCH_METHODS=hypermask,finetune BENCH_ITERATIONS=500 [BENCH_CONTINUE=1] npx tsx
 * bench/datasets/split-cifar.bench.ts
 * Writes bench/results/split-cifar10-[<network>-]<method>-<iterations>.json per method (no network
 * in the name for the MLP), and ...-continued.json with BENCH_CONTINUE=1.
 */
import { createReadStream, existsSync } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { machine, ROOT as root, startBenchService } from '../harness.js';
import { convSettings, type ConvMethod, type ConvTarget } from '../specs/conv-settings.js';

const loadAverageAtStart = os.loadavg()[0];
const CIFAR = path.resolve(root, '..', 'shared', 'datasets', 'cifar10-jpeg.tar.gz');
const METHODS = (process.env.BENCH_METHODS ?? 'hypermask').split(',');
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 500);
const CONTINUE = process.env.BENCH_CONTINUE === '1';
const NETWORK = (process.env.BENCH_NETWORK ?? 'mlp') as 'mlp' | ConvTarget;
const runName = (method: string) =>
  `split-cifar10-${NETWORK === 'mlp' ? '' : `${NETWORK}-`}${method}-${ITERATIONS}`;
const PAIRS = [
  ['airplane', 'automobile'],
  ['bird', 'cat'],
  ['deer', 'dog'],
  ['frog', 'horse'],
  ['ship', 'truck'],
];
if (!existsSync(CIFAR)) throw new Error(`${CIFAR} not found (see ../shared/datasets/README.md)`);

const svc = await startBenchService({ port: Number(process.env.BENCH_PORT ?? 3920), worker: true });
const { base, auth } = svc;

try {
  const t0 = performance.now();
  const uploadRes = await fetch(`${base}/v1/datasets?name=cifar10`, {
    method: 'POST',
    headers: {
      ...auth,
      'content-type': 'application/octet-stream',
      'content-length': String((await stat(CIFAR)).size),
    },
    body: createReadStream(CIFAR) as unknown as BodyInit,
    duplex: 'half',
  } as RequestInit);
  const dataset = await uploadRes.json();
  const uploadMs = Math.round(performance.now() - t0);
  if (uploadRes.status !== 201)
    throw new Error(`upload answered ${uploadRes.status}: ${JSON.stringify(dataset)}`);
  console.log(`uploaded in ${uploadMs} ms: ${JSON.stringify(dataset.samples)}`);

  /** Submits a job body and polls it to its end: the job, its metrics and the wall time. */
  const runJob = async (label: string, body: object) => {
    const started = performance.now();
    const job = await (
      await fetch(`${base}/v1/jobs`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    ).json();
    if (!job.id) throw new Error(`${label}: submission refused: ${JSON.stringify(job)}`);
    let last = '';
    for (;;) {
      const j = await (await fetch(`${base}/v1/jobs/${job.id}`, { headers: auth })).json();
      const line = `${label}: ${j.status} task ${j.progress.completedTasks}/${j.progress.tasksTotal}`;
      if (line !== last) console.log((last = line));
      if (j.status === 'succeeded') break;
      if (j.status === 'failed' || j.status === 'cancelled')
        throw new Error(`${label} job ${j.status}: ${JSON.stringify(j.error)}`);
      await new Promise((r) => setTimeout(r, 2000));
    }
    const wallMs = Math.round(performance.now() - started);
    const metrics = await (
      await fetch(`${base}/v1/jobs/${job.id}/metrics`, { headers: auth })
    ).json();
    return { job, metrics, wallMs };
  };
  const tasksOf = (pairs: string[][]) => pairs.map((classes) => ({ dataset: dataset.id, classes }));
  const datasetInfo = {
    file: 'cifar10-jpeg.tar.gz',
    uploadMs,
    inputShape: dataset.inputShape,
    samples: dataset.samples,
  };
  const write = async (name: string, result: object) => {
    const file = path.join(root, 'bench', 'results', name);
    await writeFile(
      file,
      `${JSON.stringify({ when: new Date().toISOString(), machine: machine(loadAverageAtStart), dataset: datasetInfo, ...result }, null, 2)}\n`,
    );
    console.log(`wrote ${path.relative(root, file)}`);
  };

  for (const method of METHODS) {
    const benchmark = { kind: 'datasets', tasks: tasksOf(PAIRS), validationSize: 500 };
    const spec =
      NETWORK === 'mlp'
        ? { preset: 'split-mnist', method, benchmark, training: { iterationsPerTask: ITERATIONS } }
        : (() => {
            const settings = convSettings(NETWORK, method as ConvMethod);
            return {
              ...settings,
              benchmark,
              training: { ...settings.training, iterationsPerTask: ITERATIONS },
            };
          })();
    const all = await runJob(method, spec);
    const { metrics } = all;
    await write(`${runName(method)}.json`, {
      spec: all.job.spec,
      wallMs: all.wallMs,
      accuracyMatrix: metrics.accuracyMatrix,
      averageAccuracy: metrics.averageAccuracy,
      backwardTransfer: metrics.backwardTransfer,
      forgetting: metrics.forgetting,
      runningStats: metrics.runningStats ?? null,
      msPerIteration: metrics.msPerIteration,
      // Task inference without the task id (the spec's evaluation.taskInference, default "both").
      taskInference: metrics.taskInference,
      fecamTaskInference: metrics.fecamTaskInference,
    });
    console.log(
      `${method}: average accuracy ${metrics.averageAccuracy}, BWT ${metrics.backwardTransfer}`,
    );
    if (!CONTINUE) continue;

    // Tasks 1-3 now, tasks 4-5 later (continueFrom), against the five at once above.
    const first = await runJob(`${method} 1-3`, {
      ...spec,
      benchmark: { ...spec.benchmark, tasks: tasksOf(PAIRS.slice(0, 3)) },
    });
    const later = await runJob(`${method} +4-5`, {
      continueFrom: first.job.id,
      benchmark: { tasks: tasksOf(PAIRS.slice(3)) },
    });
    const a = all.metrics.accuracyMatrix as (number | null)[][];
    const b = later.metrics.accuracyMatrix as (number | null)[][];
    const maxAbsDifference = Math.max(
      ...a.flatMap((row, i) => row.map((v, j) => Math.abs((v ?? 0) - (b[i]?.[j] ?? Number.NaN)))),
    );
    await write(`${runName(method)}-continued.json`, {
      spec: later.job.spec,
      allAtOnce: {
        wallMs: all.wallMs,
        averageAccuracy: all.metrics.averageAccuracy,
        backwardTransfer: all.metrics.backwardTransfer,
        accuracyMatrix: a,
      },
      tasks1to3: {
        wallMs: first.wallMs,
        averageAccuracy: first.metrics.averageAccuracy,
        accuracyMatrix: first.metrics.accuracyMatrix,
      },
      continuedWith4and5: {
        wallMs: later.wallMs,
        averageAccuracy: later.metrics.averageAccuracy,
        backwardTransfer: later.metrics.backwardTransfer,
        forgetting: later.metrics.forgetting,
        accuracyMatrix: b,
      },
      sameMatrixAsAllAtOnce: maxAbsDifference === 0,
      maxAbsDifference,
    });
    console.log(
      `${method}: continued average ${later.metrics.averageAccuracy} vs all at once ${all.metrics.averageAccuracy} (max |difference| ${maxAbsDifference})`,
    );
  }
} finally {
  await svc.stop();
}
