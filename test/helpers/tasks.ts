import type { Batch, ContinualTask, SampleSource } from '../../src/core/data/types.js';
import { Random } from '../../src/core/random.js';

/** A SampleSource over in-memory rows (no augmentation). */
export function arraySource(
  x: Float32Array,
  y: Int32Array | Float32Array,
  inputSize: number,
  outputSize = 1,
): SampleSource {
  const size = x.length / inputSize;
  const regression = y instanceof Float32Array;
  return {
    size,
    gather(indices: ArrayLike<number>): Batch {
      const n = indices.length;
      const bx = new Float32Array(n * inputSize);
      const by = regression ? new Float32Array(n * outputSize) : new Int32Array(n);
      for (let k = 0; k < n; k++) {
        const i = indices[k];
        bx.set(x.subarray(i * inputSize, (i + 1) * inputSize), k * inputSize);
        if (regression) by.set(y.subarray(i * outputSize, (i + 1) * outputSize), k * outputSize);
        else by[k] = y[i];
      }
      return { x: bx, y: by, size: n };
    },
  };
}

/**
 * Tiny classification tasks that conflict with each other: each task has `classes` Gaussian
 * clusters in `dim` dimensions, with cluster centres drawn per task, so a network trained on
 * task 2 alone forgets task 1 (the labels of the same region of input space differ).
 */
export function clusterTasks(opts: {
  tasks: number;
  classes?: number;
  dim?: number;
  perClass?: number;
  seed?: number;
  spread?: number;
}): ContinualTask[] {
  const { tasks, classes = 2, dim = 8, perClass = 60, seed = 7, spread = 0.35 } = opts;
  const rng = new Random(seed);
  const out: ContinualTask[] = [];
  for (let t = 0; t < tasks; t++) {
    const centres = Array.from({ length: classes }, () =>
      Array.from({ length: dim }, () => rng.uniform(-1, 1)),
    );
    const make = (n: number) => {
      const x = new Float32Array(n * classes * dim);
      const y = new Int32Array(n * classes);
      for (let i = 0; i < n * classes; i++) {
        const c = i % classes;
        y[i] = c;
        for (let d = 0; d < dim; d++) x[i * dim + d] = centres[c][d] + spread * rng.normal();
      }
      return arraySource(x, y, dim);
    };
    out.push({
      index: t,
      name: `clusters ${t}`,
      kind: 'classification',
      inputSize: dim,
      outputSize: classes,
      globalLabels: Array.from({ length: classes }, (_, c) => t * classes + c),
      train: make(perClass),
      validation: make(5),
      test: make(perClass / 2),
    });
  }
  return out;
}

/**
 * Tiny image tasks (rows HWC) that conflict: there are `tasks + 1` random image templates, and
 * task t tells template t (label 0) from template t + 1 (label 1), each sample a template plus
 * Gaussian noise. The next task labels template t + 1 the other way, so a network trained on it
 * alone gets task t's second class wrong.
 */
export function imageTasks(opts: {
  tasks: number;
  shape: number[];
  perClass?: number;
  seed?: number;
  spread?: number;
}): ContinualTask[] {
  const { tasks, shape, perClass = 40, seed = 11, spread = 0.6 } = opts;
  const dim = shape.reduce((a, d) => a * d, 1);
  const rng = new Random(seed);
  const templates = Array.from({ length: tasks + 1 }, () => rng.uniformArray(dim, -1, 1));
  return Array.from({ length: tasks }, (_, t): ContinualTask => {
    const make = (n: number) => {
      const x = new Float32Array(2 * n * dim);
      const y = new Int32Array(2 * n);
      for (let i = 0; i < 2 * n; i++) {
        y[i] = i % 2;
        const template = templates[t + y[i]];
        for (let d = 0; d < dim; d++) x[i * dim + d] = template[d] + spread * rng.normal();
      }
      return arraySource(x, y, dim);
    };
    return {
      index: t,
      name: `templates ${t}, ${t + 1}`,
      kind: 'classification',
      inputSize: dim,
      outputSize: 2,
      imageShape: [...shape],
      globalLabels: [2 * t, 2 * t + 1],
      train: make(perClass),
      validation: make(4),
      test: make(perClass / 2),
    };
  });
}
