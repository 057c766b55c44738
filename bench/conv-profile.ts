/**
 * Where the time of ResNet-20's (k = 2) forward and backward pass goes at batch 32 on 32x32x3, 10
 * outputs, on the wasm backend, one thread.
 * usage: npx tsx bench/conv-profile.ts
 * Writes bench/results/conv-profile-wasm.json. CONV_PROFILE_REPS repetitions per measurement
 * (default 5) after one warm-up; median and minimum are reported (on a busy machine the minimum is
 * the least disturbed run).
 *
 * Two views:
 * - `layers`: each distinct layer shape of ResNet-20 (16/32/64/128 channels at 32/16/8 pixels,
 *   the stride-2 convolutions that open groups 2 and 3; the shortcuts are subsampling and zero
 *   channels, no 1x1 convolutions) timed op by op, as src/core/conv.ts computes them: the
 *   convolution's forward and backward and, of the backward, the input gradient (dx) and the
 *   filter gradient (dW) alone; batch norm's forward and backward; ReLU's forward and backward;
 *   the residual add. `count` is how often the shape occurs in the network; `totals` weighs by it.
 * - `network`: every TF.js kernel the whole forward + backward (cross-entropy, gradients for every
 *   weight and batch-norm parameter) runs, from tf.profile, summed by phase, kernel and input
 *   shapes; `outsideTfKernelsMs` is the wall time of the profiled pass minus the sum of its
 *   kernels: our own WebAssembly kernels (kernels/channels.wat, batch norm and biases), which
 *   tf.profile does not see, and JavaScript. Profiling adds some time of its own.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import {
  batchNorm,
  conv2d,
  conv2dOnData,
  filterGradient,
  inputGradient,
} from '../src/core/conv.js';
import { crossEntropy } from '../src/core/methods/learner.js';
import { median } from '../src/core/metrics/metrics.js';
import { Random } from '../src/core/random.js';
import { ResNet } from '../src/core/target-network/resnet.js';
import { selectBackend } from '../src/infra/tf-backend.js';
import { machine } from './harness.js';

const backend = await selectBackend('wasm');
const REPS = Number(process.env.CONV_PROFILE_REPS ?? 5);
const N = 32;

type Stats = { median: number; min: number };

/** Median and minimum ms of `f` (its tensors read back, then disposed) over REPS runs after a warm-up. */
function time(f: () => tf.Tensor | tf.Tensor[]): Stats {
  const run = () =>
    tf.tidy(() => {
      const out = f();
      (Array.isArray(out) ? out : [out]).forEach((t) => t.dataSync());
    });
  run();
  const ms: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    run();
    ms.push(performance.now() - t0);
  }
  return { median: median(ms), min: Math.min(...ms) };
}

/** b - a, of medians and of minima: the part of b that a does not cover. */
const minus = (b: Stats, a: Stats): Stats => ({
  median: b.median - a.median,
  min: b.min - a.min,
});

const rng = new Random(3);
const normal = (shape: number[]) =>
  tf.tensor(rng.normalArray(shape.reduce((a, d) => a * d, 1)), shape);

/** ResNet-20 (k = 2) on 32x32x3: the convolutions by shape, in order, with how often each occurs. */
const layerShapes = [
  { size: 32, cin: 3, cout: 16, stride: 1, count: 1, onData: true, residualAdds: 0 },
  { size: 32, cin: 16, cout: 32, stride: 1, count: 1, onData: false, residualAdds: 0 },
  { size: 32, cin: 32, cout: 32, stride: 1, count: 5, onData: false, residualAdds: 3 },
  { size: 32, cin: 32, cout: 64, stride: 2, count: 1, onData: false, residualAdds: 0 },
  { size: 16, cin: 64, cout: 64, stride: 1, count: 5, onData: false, residualAdds: 3 },
  { size: 16, cin: 64, cout: 128, stride: 2, count: 1, onData: false, residualAdds: 0 },
  { size: 8, cin: 128, cout: 128, stride: 1, count: 5, onData: false, residualAdds: 3 },
];

const loadBefore = os.loadavg()[0];
const layers = layerShapes.map((l) => {
  const x = normal([N, l.size, l.size, l.cin]) as tf.Tensor4D;
  const w = tf.mul<tf.Tensor4D>(normal([3, 3, l.cin, l.cout]), 0.1);
  const b = normal([l.cout]) as tf.Tensor1D;
  const out = l.size / l.stride;
  const dy = normal([N, out, out, l.cout]) as tf.Tensor4D;
  const y = normal([N, out, out, l.cout]) as tf.Tensor4D;
  const gamma = tf.add<tf.Tensor1D>(tf.mul(normal([l.cout]), 0.1), 1);
  const beta = normal([l.cout]) as tf.Tensor1D;
  const op = l.onData ? conv2dOnData : conv2d;
  const convForward = time(() => op(x, w, b, l.stride, 1));
  const convForwardBackward = time(() =>
    tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
      op(xx as tf.Tensor4D, ww as tf.Tensor4D, bb as tf.Tensor1D, l.stride, 1),
    )([x, w, b], dy),
  );
  const bnForward = time(() => batchNorm(y, gamma, beta));
  const bnForwardBackward = time(() =>
    tf.grads((yy: tf.Tensor, g: tf.Tensor, bb: tf.Tensor) =>
      batchNorm(yy as tf.Tensor4D, g as tf.Tensor1D, bb as tf.Tensor1D),
    )([y, gamma, beta], dy),
  );
  const relu = time(() => tf.relu(y));
  const reluForwardBackward = time(() => tf.grad((yy: tf.Tensor) => tf.relu(yy))(y, dy));
  const row = {
    layer: `${l.size}x${l.size}x${l.cin} -> ${out}x${out}x${l.cout}, stride ${l.stride}${l.onData ? ', input is data (no dx)' : ''}`,
    count: l.count,
    convForwardMs: convForward,
    convBackwardMs: minus(convForwardBackward, convForward),
    inputGradientMs: l.onData ? null : time(() => inputGradient(dy, w, x.shape, l.stride, 1)),
    filterGradientMs: time(() => filterGradient(x, dy, w.shape, l.stride, 1)),
    batchNormForwardMs: bnForward,
    batchNormBackwardMs: minus(bnForwardBackward, bnForward),
    reluForwardMs: relu,
    reluBackwardMs: minus(reluForwardBackward, relu),
    residualAdds: l.residualAdds,
    residualAddMs: time(() => tf.add(y, dy)),
  };
  console.log(JSON.stringify(row, (_, v) => (typeof v === 'number' ? Math.round(v * 10) / 10 : v)));
  tf.dispose([x, w, b, dy, y, gamma, beta]);
  return row;
});

/** Sum over the network's layers (by count) of one per-layer figure's medians and minima. */
const total = (
  pick: (r: (typeof layers)[number]) => Stats | null,
  count = (r: (typeof layers)[number]) => r.count,
) =>
  layers.reduce(
    (acc, r) => {
      const s = pick(r);
      return s
        ? { median: acc.median + count(r) * s.median, min: acc.min + count(r) * s.min }
        : acc;
    },
    { median: 0, min: 0 },
  );
const totals = {
  convForwardMs: total((r) => r.convForwardMs),
  convBackwardMs: total((r) => r.convBackwardMs),
  inputGradientMs: total((r) => r.inputGradientMs),
  filterGradientMs: total((r) => r.filterGradientMs),
  batchNormForwardMs: total((r) => r.batchNormForwardMs),
  batchNormBackwardMs: total((r) => r.batchNormBackwardMs),
  reluForwardMs: total((r) => r.reluForwardMs),
  reluBackwardMs: total((r) => r.reluBackwardMs),
  residualAddMs: total(
    (r) => r.residualAddMs,
    (r) => r.residualAdds,
  ),
};
console.log(JSON.stringify({ totals }, (_, v) => (typeof v === 'number' ? Math.round(v) : v)));

// The whole network, kernel by kernel.
const net = new ResNet({ inputShape: [32, 32, 3], n: 3, k: 2, outputSize: 10, rng: new Random(1) });
const x = tf.tensor2d(rng.uniformArray(N * 3072, 0, 1), [N, 3072]);
const labels = tf.oneHot(
  tf.tensor1d(
    Int32Array.from({ length: N }, () => rng.int(10)),
    'int32',
  ),
  10,
) as tf.Tensor2D;
const vars = [...net.weights!, ...net.batchNormWeights];
const forward = () => crossEntropy(net.forward(x, undefined, { training: {} }), labels);
/** A kernel the network never runs, to mark where the forward pass ends in a kernel list. */
const SENTINEL = 'Sin';
const forwardBackward = () =>
  Object.values(
    tf.variableGrads(() => {
      const loss = forward();
      tf.sin(tf.scalar(0));
      return loss;
    }, vars).grads,
  );
const networkForward = time(forward);
const networkForwardBackward = time(forwardBackward);

/**
 * The kernels one run of `f` executes (tf.profile; scopes such as custom gradients left out,
 * their kernels are listed).
 */
async function kernelsOf(f: () => tf.Tensor | tf.Tensor[]) {
  let wall = 0;
  const info = await tf.profile(() =>
    tf.tidy(() => {
      const t0 = performance.now();
      const out = f();
      (Array.isArray(out) ? out : [out]).forEach((t) => t.dataSync());
      wall = performance.now() - t0;
    }),
  );
  // tf.profile returns one object that the next call reuses: copy what is needed now.
  const kernels = info.kernels
    .filter((k) => tf.getKernel(k.name, backend.name) !== undefined)
    .map((k) => ({
      name: k.name,
      shapes: k.inputShapes.map((s) => (s ? s.join('x') : '')).join(', '),
      ms: k.kernelTimeMs as number,
    }));
  return { kernels, wall };
}
tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', false);
await kernelsOf(forwardBackward);
const fb = await kernelsOf(forwardBackward);
const split = fb.kernels.findIndex((k) => k.name === SENTINEL);
const byKernel = new Map<
  string,
  { phase: string; kernel: string; inputShapes: string; calls: number; ms: number }
>();
fb.kernels.forEach((k, i) => {
  if (i === split) return;
  const phase = i < split ? 'forward' : 'backward';
  const key = `${phase}|${k.name}|${k.shapes}`;
  const entry = byKernel.get(key) ?? {
    phase,
    kernel: k.name,
    inputShapes: k.shapes,
    calls: 0,
    ms: 0,
  };
  entry.calls++;
  entry.ms += k.ms;
  byKernel.set(key, entry);
});
const sum = (ks: { ms: number }[]) => ks.reduce((a, k) => a + k.ms, 0);
const forwardKernelMs = sum(fb.kernels.slice(0, split));
const backwardKernelMs = sum(fb.kernels.slice(split + 1));
const byName = new Map<string, number>();
for (const e of byKernel.values()) {
  const key = `${e.phase} ${e.kernel}`;
  byName.set(key, (byName.get(key) ?? 0) + e.ms);
}
const network = {
  forwardMs: networkForward,
  forwardBackwardMs: networkForwardBackward,
  profiled: {
    wallMs: fb.wall,
    forwardKernelMs,
    backwardKernelMs,
    outsideTfKernelsMs: fb.wall - forwardKernelMs - backwardKernelMs,
  },
  byKernelName: [...byName]
    .sort((a, b) => b[1] - a[1])
    .map(([k, ms]) => ({ phaseAndKernel: k, ms })),
  byKernelAndShape: [...byKernel.values()].sort((a, b) => b.ms - a.ms),
};
console.log(
  JSON.stringify(
    {
      forwardMs: network.forwardMs,
      forwardBackwardMs: network.forwardBackwardMs,
      ...network.profiled,
    },
    (_, v) => (typeof v === 'number' ? Math.round(v) : v),
  ),
);
network.byKernelName
  .slice(0, 15)
  .forEach((k) => console.log(`${k.phaseAndKernel}: ${k.ms.toFixed(1)}`));
await writeFile(
  `bench/results/conv-profile-${backend.name}.json`,
  JSON.stringify(
    {
      backend: backend.name,
      batchSize: N,
      reps: REPS,
      machine: machine(loadBefore),
      loadAverageAtEnd: os.loadavg()[0],
      date: new Date().toISOString(),
      layers,
      totals,
      network,
    },
    null,
    2,
  ),
);
