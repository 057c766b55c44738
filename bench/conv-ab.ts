/**
 * A/B of the convolution code (src/core/conv.ts) against an earlier commit's, in one process with
 * the two interleaved (base, new, base, new, ...) so that the load of a shared machine falls on
 * both alike: the time of ResNet-20's (k = 2) and ZenkeNet's forward + backward (gradients of the
 * cross-entropy with respect to every weight and batch-norm parameter) at batch 32 on 32x32x3,
 * 10 outputs, on the wasm backend.
 * usage: npx tsx bench/conv-ab.ts [base=main] [resnet|zenkenet ...]
 * CONV_AB_REPS pairs (default 9) after one warm-up of each. Then layer by layer, CONV_AB_LAYER_REPS
 * pairs (default 15): each convolution shape of ResNet-20, conv2d's forward + backward for a given
 * dy, and batch norm's. Writes bench/results/conv-ab-wasm.json with median and minimum ms of each
 * side, and the largest relative difference between the two sides' gradients of the whole network
 * (they must agree up to float rounding).
 *
 * The base's conv.ts is written next to the current one for the run (src/core/.conv-ab-base.ts,
 * removed at the end) and the networks are the engine's own (ResNet, ZenkeNet) with their
 * convolution module swapped by a forward pass copied from them (`resnetForward`,
 * `zenkeForward` below, checked against the engine's output before timing).
 */
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import * as current from '../src/core/conv.js';
import { linear } from '../src/core/linear.js';
import { crossEntropy } from '../src/core/methods/learner.js';
import { median } from '../src/core/metrics/metrics.js';
import { Random } from '../src/core/random.js';
import { ResNet } from '../src/core/target-network/resnet.js';
import { ZenkeNet } from '../src/core/target-network/zenke-net.js';
import { selectBackend } from '../src/infra/tf-backend.js';
import { machine, ROOT } from './harness.js';

type ConvModule = Pick<typeof current, 'conv2d' | 'conv2dOnData' | 'batchNorm'>;

const base = process.argv[2] ?? 'main';
const targets = (process.argv.slice(3).length ? process.argv.slice(3) : ['resnet', 'zenkenet']) as (
  'resnet' | 'zenkenet'
)[];
const REPS = Number(process.env.CONV_AB_REPS ?? 9);
const BATCH = 32;

await selectBackend('wasm');
const baseFile = `${ROOT}/src/core/.conv-ab-base.ts`;
const baseCommit = execFileSync('git', ['rev-parse', base], { cwd: ROOT, encoding: 'utf8' }).trim();
writeFileSync(
  baseFile,
  execFileSync('git', ['show', `${baseCommit}:src/core/conv.ts`], { cwd: ROOT, encoding: 'utf8' }),
);
let old: ConvModule;
try {
  old = (await import(baseFile)) as ConvModule;
} finally {
  rmSync(baseFile);
}

/** ResNet.forward (training mode) with the convolution module `m`. */
function resnetForward(m: ConvModule, net: ResNet, x: tf.Tensor2D): tf.Tensor2D {
  const w = net.weights!;
  const bn = net.batchNormWeights;
  const widths = [16, 32, 64, 128];
  let layer = 0;
  const convLayer = (h: tf.Tensor4D, stride: number, shortcut?: tf.Tensor4D) => {
    const op = layer === 0 ? m.conv2dOnData : m.conv2d;
    let out = m.batchNorm(
      op(h, w[2 * layer] as tf.Tensor4D, w[2 * layer + 1] as tf.Tensor1D, stride, 1),
      bn[2 * layer] as tf.Tensor1D,
      bn[2 * layer + 1] as tf.Tensor1D,
    );
    layer++;
    if (shortcut) out = tf.add(out, shortcut);
    return tf.relu(out);
  };
  let h = convLayer(tf.reshape<tf.Rank.R4>(x, [x.shape[0], 32, 32, 3]), 1);
  for (let g = 1; g <= 3; g++) {
    for (let j = 0; j < 3; j++) {
      const stride = g > 1 && j === 0 ? 2 : 1;
      let shortcut = h;
      if (j === 0 && widths[g] !== widths[g - 1]) {
        if (stride === 2) shortcut = tf.avgPool(shortcut, 1, 2, 'valid');
        const extra = widths[g] - widths[g - 1];
        shortcut = tf.pad(shortcut, [
          [0, 0],
          [0, 0],
          [0, 0],
          [Math.floor(extra / 2), Math.ceil(extra / 2)],
        ]);
      }
      h = convLayer(convLayer(h, stride), 1, shortcut);
    }
  }
  return linear(
    tf.mean<tf.Tensor2D>(h, [1, 2]),
    w[2 * layer] as tf.Tensor2D,
    w[2 * layer + 1] as tf.Tensor1D,
  );
}

/** ZenkeNet.forward without dropout (the reference's effective setting) with the module `m`. */
function zenkeForward(m: ConvModule, net: ZenkeNet, x: tf.Tensor2D): tf.Tensor2D {
  const w = net.weights!;
  const k = (i: number) => w[i] as tf.Tensor4D;
  const b = (i: number) => w[i] as tf.Tensor1D;
  let h = tf.reshape<tf.Rank.R4>(x, [x.shape[0], 32, 32, 3]);
  h = tf.relu(m.conv2dOnData(h, k(0), b(1), 1, 1));
  h = tf.relu(m.conv2d(h, k(2), b(3), 1, 0));
  h = tf.maxPool(h, 2, 2, 'valid');
  h = tf.relu(m.conv2d(h, k(4), b(5), 1, 1));
  h = tf.relu(m.conv2d(h, k(6), b(7), 1, 0));
  h = tf.maxPool(h, 2, 2, 'valid');
  const flat = tf.reshape<tf.Rank.R2>(h, [h.shape[0], -1]);
  const hidden = tf.relu(linear(flat, w[8] as tf.Tensor2D, b(9)));
  return linear(hidden, w[10] as tf.Tensor2D, b(11));
}

const rng = new Random(2);
const x = tf.tensor2d(rng.uniformArray(BATCH * 3072, 0, 1), [BATCH, 3072]);
const y = tf.oneHot(
  tf.tensor1d(
    Int32Array.from({ length: BATCH }, () => rng.int(10)),
    'int32',
  ),
  10,
) as tf.Tensor2D;

const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/**
 * Largest |a - b| of a tensor over its largest |b|, or over a thousandth of `floor` where that is
 * larger: ResNet's convolution biases feed batch norm, which removes them, so their exact
 * gradient is zero and what both sides compute for them is float noise.
 */
const maxRelativeDifference = (a: Float32Array, b: Float32Array, floor = 0) => {
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
  return diff / Math.max(maxAbs(b), floor / 1000) || 0;
};

const loadBefore = os.loadavg()[0];
const rows = [];
for (const target of targets) {
  const args = { inputShape: [32, 32, 3], outputSize: 10, rng: new Random(1) };
  const net =
    target === 'resnet'
      ? new ResNet({ ...args, n: 3, k: 2 })
      : new ZenkeNet({ ...args, channels: [32, 64], hidden: [512], dropout: 0 });
  const forward = (m: ConvModule) =>
    net instanceof ResNet ? resnetForward(m, net, x) : zenkeForward(m, net, x);
  const vars = [...net.weights!, ...net.batchNormWeights];
  const grads = (m: ConvModule) =>
    tf.tidy(() => {
      const g = tf.variableGrads(() => crossEntropy(forward(m), y), vars).grads;
      return vars.map((v) => g[v.name].dataSync() as Float32Array);
    });
  // The copied forward passes compute what the engine's networks compute.
  tf.tidy(() => {
    const engine = net.forward(x, undefined, { training: {} }).dataSync() as Float32Array;
    const copy = forward(current).dataSync() as Float32Array;
    const d = maxRelativeDifference(copy, engine);
    if (d > 1e-5) throw new Error(`${target}: copied forward differs from the engine's (${d})`);
  });
  const before = tf.memory().numTensors;
  const gOld = grads(old);
  const gNew = grads(current);
  const largest = Math.max(...gOld.map(maxAbs));
  const gradientDifference = Math.max(
    ...gNew.map((g, i) => maxRelativeDifference(g, gOld[i], largest)),
  );
  const ms: Record<'base' | 'new', number[]> = { base: [], new: [] };
  for (let r = 0; r < REPS; r++) {
    for (const side of ['base', 'new'] as const) {
      const t0 = performance.now();
      grads(side === 'base' ? old : current);
      ms[side].push(performance.now() - t0);
    }
  }
  const stats = (v: number[]) => ({ median: median(v), min: Math.min(...v) });
  const row = {
    target,
    forwardBackwardMs: { base: stats(ms.base), new: stats(ms.new) },
    speedupOfMedians: median(ms.base) / median(ms.new),
    speedupOfMinima: Math.min(...ms.base) / Math.min(...ms.new),
    gradientMaxRelativeDifference: gradientDifference,
    leakedTensors: tf.memory().numTensors - before,
    runsMs: ms,
    loadAverage: os.loadavg()[0],
  };
  rows.push(row);
  console.log(
    JSON.stringify(row, (_, v) => (typeof v === 'number' ? Math.round(v * 1000) / 1000 : v)),
  );
  net.dispose();
}
// Layer by layer: each of ResNet-20's convolution shapes (forward + backward of conv2d with a given
// dy, then of the batch norm after it), base and new interleaved.
const LAYER_REPS = Number(process.env.CONV_AB_LAYER_REPS ?? 15);
const layerShapes = [
  [32, 3, 16, 1],
  [32, 16, 32, 1],
  [32, 32, 32, 1],
  [32, 32, 64, 2],
  [16, 64, 64, 1],
  [16, 64, 128, 2],
  [8, 128, 128, 1],
];
const layers = [];
for (const [size, cin, cout, stride] of layerShapes) {
  const r = new Random(size + cin + cout);
  const t = (shape: number[], scale = 1) =>
    tf.tensor(
      r.normalArray(shape.reduce((a, d) => a * d, 1)).map((v) => v * scale),
      shape,
    );
  const out = size / stride;
  const [xs, w, b, dy] = [
    t([BATCH, size, size, cin]),
    t([3, 3, cin, cout], 0.1),
    t([cout]),
    t([BATCH, out, out, cout]),
  ];
  const [gamma, beta] = [t([cout], 0.1), t([cout])];
  const conv = (m: ConvModule) =>
    tf.tidy(() =>
      tf
        .grads((a: tf.Tensor, k: tf.Tensor, c: tf.Tensor) =>
          m.conv2d(a as tf.Tensor4D, k as tf.Tensor4D, c as tf.Tensor1D, stride, 1),
        )([xs, w, b], dy)
        .forEach((g) => g.dataSync()),
    );
  const norm = (m: ConvModule) =>
    tf.tidy(() =>
      tf
        .grads((a: tf.Tensor, g: tf.Tensor, c: tf.Tensor) =>
          m.batchNorm(a as tf.Tensor4D, g as tf.Tensor1D, c as tf.Tensor1D),
        )([dy, gamma, beta], dy)
        .forEach((g) => g.dataSync()),
    );
  const row: Record<string, unknown> = {
    layer: `${size}x${size}x${cin} -> ${out}x${out}x${cout}, stride ${stride}`,
  };
  for (const [what, f] of [
    ['convForwardBackwardMs', conv],
    ['batchNormForwardBackwardMs', norm],
  ] as const) {
    f(old);
    f(current);
    const ms: Record<'base' | 'new', number[]> = { base: [], new: [] };
    for (let i = 0; i < LAYER_REPS; i++) {
      for (const side of ['base', 'new'] as const) {
        const t0 = performance.now();
        f(side === 'base' ? old : current);
        ms[side].push(performance.now() - t0);
      }
    }
    row[what] = {
      base: { median: median(ms.base), min: Math.min(...ms.base) },
      new: { median: median(ms.new), min: Math.min(...ms.new) },
      speedupOfMedians: median(ms.base) / median(ms.new),
    };
  }
  layers.push(row);
  console.log(
    JSON.stringify(row, (_, v) => (typeof v === 'number' ? Math.round(v * 100) / 100 : v)),
  );
  tf.dispose([xs, w, b, dy, gamma, beta]);
}

await writeFile(
  'bench/results/conv-ab-wasm.json',
  JSON.stringify(
    {
      base: { ref: base, commit: baseCommit },
      batchSize: BATCH,
      inputShape: [32, 32, 3],
      reps: REPS,
      machine: machine(loadBefore),
      loadAverageAtEnd: os.loadavg()[0],
      date: new Date().toISOString(),
      rows,
      layerReps: LAYER_REPS,
      layers,
    },
    null,
    2,
  ),
);
