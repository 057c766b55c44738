/**
 * Prediction latency through the real API process (loopback only): a split-mnist preset job
 * (HyperMask, 5 tasks, MLP 784-400-400-2) is trained by a real worker on Fashion-MNIST with few
 * iterations (latency does not depend on accuracy), then POST /v1/jobs/:id/predict is timed,
 * one request at a time: 1 input and 100 inputs, with a task id and without (entropy over all 5
 * task models). The first request (cold: models fetched from Postgres and built) is reported
 * apart. Writes bench/results/predict.json. Usage: npx tsx bench/predictions/predict.bench.ts
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadRawDataset, resolveDataDir } from '../../src/infra/data/dataset-files.js';
import { machine, ROOT as root, startBenchService } from '../harness.js';

const loadAverageAtStart = os.loadavg()[0];
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200);
const svc = await startBenchService({ port: Number(process.env.BENCH_PORT ?? 3919), worker: true });
const { base } = svc;

try {
  const headers = { ...svc.auth, 'content-type': 'application/json' };
  const job = await (
    await fetch(`${base}/v1/jobs`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        preset: 'split-mnist',
        training: { iterationsPerTask: 20 },
        evaluation: { taskInference: false },
      }),
    })
  ).json();
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    const j = await (await fetch(`${base}/v1/jobs/${job.id}`, { headers })).json();
    if (j.status === 'succeeded') break;
    if (j.status === 'failed' || Date.now() > deadline)
      throw new Error(`training did not succeed: ${JSON.stringify(j.error ?? j.status)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  const raw = await loadRawDataset('fashion-mnist', resolveDataDir(undefined));
  const pixels = raw.test.rows * raw.test.cols;
  const image = (i: number) => Array.from(raw.test.images.subarray(i * pixels, (i + 1) * pixels));
  const batch = Array.from({ length: 100 }, (_, i) => image(i));

  async function time(body: object): Promise<number> {
    const t0 = performance.now();
    const res = await fetch(`${base}/v1/jobs/${job.id}/predict`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
    });
    await res.json();
    if (res.status !== 200) throw new Error(`predict answered ${res.status}`);
    return performance.now() - t0;
  }
  const quantile = (xs: number[], q: number) =>
    xs[Math.min(xs.length - 1, Math.floor(q * xs.length))];
  const round = (x: number) => Math.round(x * 10) / 10;
  const cases = {
    '1 input, task given': { inputs: [image(0)], task: 2 },
    '1 input, task inferred': { inputs: [image(0)] },
    '100 inputs, task given': { inputs: batch, task: 2 },
    '100 inputs, task inferred': { inputs: batch },
  };
  const coldMs = round(await time(cases['1 input, task inferred']));
  const results: Record<string, { requests: number; p50Ms: number; p99Ms: number; maxMs: number }> =
    {};
  for (const [name, body] of Object.entries(cases)) {
    const ms: number[] = [];
    for (let i = 0; i < REQUESTS; i++)
      ms.push(
        await time({
          ...body,
          inputs: body.inputs.map((row, r) => (r === 0 ? image(i % 500) : row)),
        }),
      );
    ms.sort((a, b) => a - b);
    results[name] = {
      requests: REQUESTS,
      p50Ms: round(quantile(ms, 0.5)),
      p99Ms: round(quantile(ms, 0.99)),
      maxMs: round(ms[ms.length - 1]),
    };
    console.log(name, JSON.stringify(results[name]));
  }
  const result = {
    when: new Date().toISOString(),
    machine: machine(loadAverageAtStart),
    setup:
      'split-mnist preset, hypermask, 5 tasks, MLP 784-400-400-2, trained 20 iterations per task on Fashion-MNIST; prediction thread on wasm; sequential requests over loopback HTTP (JSON body of raw 0-255 pixels)',
    coldFirstRequestMs: coldMs,
    latency: results,
  };
  await writeFile(
    path.join(root, 'bench', 'results', 'predict.json'),
    `${JSON.stringify(result, null, 2)}\n`,
  );
  console.log('wrote bench/results/predict.json');
} finally {
  await svc.stop();
}
