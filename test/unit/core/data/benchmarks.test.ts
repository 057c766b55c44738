import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildTasks, NORMALIZE_MEAN, NORMALIZE_STD } from '../../../../src/core/data/benchmarks.js';
import type {
  ContinualTask,
  ImageSet,
  RawDataset,
  SampleSource,
} from '../../../../src/core/data/types.js';
import { EngineError } from '../../../../src/core/errors.js';
import { Random } from '../../../../src/core/random.js';
import type { JobSpec } from '../../../../src/core/spec.js';
import { makeRawDataset } from '../../../helpers/datasets.js';

type Benchmark = JobSpec['benchmark'];

function benchmark(over: Partial<Benchmark> = {}): Benchmark {
  return {
    kind: 'split',
    dataset: 'mnist',
    tasks: 5,
    datasets: null,
    classesPerTask: 2,
    padTo32: false,
    permuteFirstTask: true,
    validationSize: 0,
    trainLimit: null,
    testLimit: null,
    normalize: false,
    augment: false,
    sampleOrder: 'shuffled',
    ...over,
  };
}

const SIDE = 28;
const PIXELS = SIDE * SIDE;

/**
 * Images that carry their own sample index in pixels 0 and 1 (low and high byte, +1 so that it
 * differs from padding), so a gathered batch tells which raw samples it holds.
 */
function indexedSet(labels: number[]): ImageSet {
  const images = new Uint8Array(labels.length * PIXELS);
  labels.forEach((_, i) => {
    images[i * PIXELS] = (i + 1) & 255;
    images[i * PIXELS + 1] = (i + 1) >> 8;
    images[i * PIXELS + 100] = 255;
  });
  return { images, labels: Uint8Array.from(labels), count: labels.length, rows: SIDE, cols: SIDE };
}

function cyclingLabels(count: number, classes = 10): number[] {
  return Array.from({ length: count }, (_, i) => i % classes);
}

function indexedDataset(trainCount: number, testCount: number): RawDataset {
  return {
    name: 'indexed',
    numClasses: 10,
    train: indexedSet(cyclingLabels(trainCount)),
    test: indexedSet(cyclingLabels(testCount)),
  };
}

const all = (n: number) => Int32Array.from({ length: n }, (_, i) => i);

/** Raw sample indices held by a source (unpadded, unnormalised, unpermuted tasks only). */
function sampleIds(source: SampleSource): number[] {
  const batch = source.gather(all(source.size));
  const ids: number[] = [];
  for (let k = 0; k < batch.size; k++) {
    const lo = Math.round(batch.x[k * PIXELS] * 255);
    const hi = Math.round(batch.x[k * PIXELS + 1] * 255);
    ids.push(lo + 256 * hi - 1);
  }
  return ids;
}

/**
 * Recovers a task's pixel map from the two test images of `mapDataset`. Returns, for every
 * input, the raw pixel it shows (-1 for padding).
 */
function recoverMap(task: ContinualTask): number[] {
  const batch = task.test.gather([0, 1]);
  const n = task.inputSize;
  return Array.from(
    { length: n },
    (_, o) => Math.round(batch.x[o] * 255) + 256 * Math.round(batch.x[n + o] * 255) - 1,
  );
}

/** Test images whose pixel p holds the low (image 0) and high (image 1) byte of p + 1. */
function mapDataset(): RawDataset {
  const images = new Uint8Array(2 * PIXELS);
  for (let p = 0; p < PIXELS; p++) {
    images[p] = (p + 1) & 255;
    images[PIXELS + p] = (p + 1) >> 8;
  }
  const set: ImageSet = { images, labels: Uint8Array.of(0, 1), count: 2, rows: SIDE, cols: SIDE };
  const train = indexedSet(cyclingLabels(40));
  return { name: 'maps', numClasses: 10, train, test: set };
}

function isEngineError(code: string, pattern?: RegExp) {
  return (e: unknown) =>
    e instanceof EngineError && e.code === code && (!pattern || pattern.test(e.message));
}

describe('buildTasks: split', () => {
  const raw = indexedDataset(200, 100);

  it('gives task t the classes tK..tK+K-1, re-indexed 0..K-1', () => {
    const tasks = buildTasks(benchmark({ validationSize: 3 }), raw, new Random(1));
    assert.equal(tasks.length, 5);
    assert.deepEqual(
      tasks.map((t) => t.name),
      ['classes 0-1', 'classes 2-3', 'classes 4-5', 'classes 6-7', 'classes 8-9'],
    );
    for (const task of tasks) {
      assert.equal(task.kind, 'classification');
      assert.equal(task.inputSize, 784);
      assert.equal(task.outputSize, 2);
      assert.deepEqual(task.globalLabels, [2 * task.index, 2 * task.index + 1]);
      for (const [source, set] of [
        [task.train, raw.train],
        [task.validation, raw.train],
        [task.test, raw.test],
      ] as const) {
        const ids = sampleIds(source);
        const y = Array.from(source.gather(all(source.size)).y);
        ids.forEach((id, k) => {
          assert.ok(
            task.globalLabels.includes(set.labels[id]),
            `sample ${id} of class ${set.labels[id]} in ${task.name}`,
          );
          assert.equal(task.globalLabels[y[k]], set.labels[id]);
        });
      }
      // Every sample of the task's classes is used exactly once across validation and train.
      assert.equal(task.train.size + task.validation.size, 40);
      assert.equal(task.test.size, 20);
    }
  });

  it('holds out the first validationSize samples, in data-set order', () => {
    const [task0, task1] = buildTasks(benchmark({ validationSize: 3 }), raw, new Random(1));
    assert.deepEqual(sampleIds(task0.validation), [0, 1, 10]);
    assert.deepEqual(sampleIds(task0.train).slice(0, 4), [11, 20, 21, 30]);
    assert.deepEqual(sampleIds(task1.validation), [2, 3, 12]);
    assert.deepEqual(sampleIds(task1.test).slice(0, 3), [2, 3, 12]);
  });

  it('applies trainLimit before the validation split and testLimit to the test set', () => {
    const [task0] = buildTasks(
      benchmark({ validationSize: 2, trainLimit: 6, testLimit: 3 }),
      raw,
      new Random(1),
    );
    assert.deepEqual(sampleIds(task0.validation), [0, 1]);
    assert.deepEqual(sampleIds(task0.train), [10, 11, 20, 21]);
    assert.deepEqual(sampleIds(task0.test), [0, 1, 10]);
  });

  it('supports other class counts per task', () => {
    const tasks = buildTasks(benchmark({ tasks: 2, classesPerTask: 5 }), raw, new Random(1));
    assert.deepEqual(tasks[1].globalLabels, [5, 6, 7, 8, 9]);
    assert.equal(tasks[1].name, 'classes 5-9');
    assert.deepEqual(Array.from(tasks[1].test.gather([0, 1, 2, 3, 4, 5]).y), [0, 1, 2, 3, 4, 0]);
  });

  it('does not consume the rng', () => {
    const rng = new Random(9);
    const before = rng.state();
    buildTasks(benchmark(), raw, rng);
    assert.deepEqual(rng.state(), before);
  });

  it('rejects too many classes, empty training splits and bad indices', () => {
    assert.throws(
      () => buildTasks(benchmark({ tasks: 6 }), raw, new Random(1)),
      isEngineError('INVALID_ARGUMENT', /12 classes/),
    );
    assert.throws(
      () => buildTasks(benchmark({ validationSize: 40 }), raw, new Random(1)),
      isEngineError('INVALID_DATA', /task 1 \(classes 0-1\) has 40 training samples/),
    );
    const [task] = buildTasks(benchmark(), raw, new Random(1));
    assert.throws(
      () => task.train.gather([task.train.size]),
      isEngineError('INVALID_ARGUMENT', /out of range/),
    );
    const badLabels = {
      ...raw,
      train: {
        ...raw.train,
        labels: Uint8Array.from(raw.train.labels, (l, i) => (i === 7 ? 12 : l)),
      },
    };
    assert.throws(
      () => buildTasks(benchmark(), badLabels, new Random(1)),
      isEngineError('INVALID_DATA', /sample 7 has label 12/),
    );
  });
});

describe('buildTasks: geometry and values', () => {
  function singlePixel(r: number, c: number, value = 255): RawDataset {
    const set = (): ImageSet => {
      const images = new Uint8Array(20 * PIXELS);
      for (let i = 0; i < 20; i++) images[i * PIXELS + r * SIDE + c] = value;
      return {
        images,
        labels: Uint8Array.from(cyclingLabels(20)),
        count: 20,
        rows: SIDE,
        cols: SIDE,
      };
    };
    return { name: 'pixel', numClasses: 10, train: set(), test: set() };
  }

  it('pads 28x28 to 32x32 with 2 zeros per side', () => {
    const raw = singlePixel(5, 7);
    for (const kind of ['split', 'permuted'] as const) {
      const [task] = buildTasks(
        benchmark({ kind, padTo32: true, permuteFirstTask: false, tasks: 1 }),
        raw,
        new Random(1),
      );
      assert.equal(task.inputSize, 1024);
      const x = task.test.gather([0]).x;
      assert.equal(x.length, 1024);
      const bright = Array.from(x.keys()).filter((o) => x[o] !== 0);
      assert.deepEqual(bright, [(5 + 2) * 32 + (7 + 2)], kind);
      assert.equal(x[(5 + 2) * 32 + (7 + 2)], 1);
    }
  });

  it('scales bytes to [0, 1] and standardises after padding when normalize is set', () => {
    const raw = singlePixel(0, 0, 51);
    const [plain] = buildTasks(benchmark({ tasks: 1 }), raw, new Random(1));
    assert.ok(Math.abs(plain.test.gather([0]).x[0] - 0.2) < 1e-7);
    const [norm] = buildTasks(
      benchmark({ tasks: 1, normalize: true, padTo32: true }),
      raw,
      new Random(1),
    );
    const x = norm.test.gather([0]).x;
    const zero = -NORMALIZE_MEAN / NORMALIZE_STD;
    assert.ok(Math.abs(zero - -0.42421) < 1e-4);
    assert.ok(Math.abs(x[0] - zero) < 1e-6, `padding becomes ${x[0]}`);
    assert.ok(Math.abs(x[2 * 32 + 2] - (0.2 - NORMALIZE_MEAN) / NORMALIZE_STD) < 1e-6);
    assert.ok(Math.abs(x[2 * 32 + 3] - zero) < 1e-6);
    assert.deepEqual(plain.preprocessing!.normalize, null);
    assert.deepEqual(Array.from(plain.preprocessing!.inputMap), Array.from(all(784)));
    assert.deepEqual(norm.preprocessing!.normalize, { mean: NORMALIZE_MEAN, std: NORMALIZE_STD });
    const [unpadded] = buildTasks(
      benchmark({ tasks: 1, normalize: true }),
      singlePixel(3, 3),
      new Random(1),
    );
    assert.ok(Math.abs(unpadded.test.gather([0]).x[3 * 28 + 3] - (1 - 0.1307) / 0.3081) < 1e-6);
  });
});

describe('buildTasks: permuted', () => {
  const raw = mapDataset();
  const permuted = (over: Partial<Benchmark> = {}) =>
    benchmark({ kind: 'permuted', tasks: 3, padTo32: true, validationSize: 4, ...over });

  it('uses all classes with global labels t*10 + class', () => {
    const tasks = buildTasks(permuted(), raw, new Random(1));
    assert.deepEqual(
      tasks.map((t) => t.name),
      ['permutation 0', 'permutation 1', 'permutation 2'],
    );
    assert.equal(tasks[2].outputSize, 10);
    assert.deepEqual(tasks[2].globalLabels, [20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
    assert.equal(tasks[1].validation.size, 4);
    assert.equal(tasks[1].train.size, 36);
    assert.deepEqual(Array.from(tasks[1].train.gather([0, 1, 2]).y), [4, 5, 6]);
  });

  it('permutes the padded image by a bijection drawn from the rng in task order', () => {
    const tasks = buildTasks(permuted(), raw, new Random(42));
    const replay = new Random(42);
    for (const task of tasks) {
      const map = recoverMap(task);
      assert.equal(map.filter((m) => m === -1).length, 1024 - 784);
      assert.deepEqual(
        map.filter((m) => m >= 0).sort((a, b) => a - b),
        Array.from(all(784)),
      );
      // Output o shows padded pixel perm[o]; padded (r, c) is raw (r - 2, c - 2).
      const perm = replay.permutation(1024);
      const expected = Array.from(perm, (q) => {
        const r = Math.floor(q / 32) - 2;
        const c = (q % 32) - 2;
        return r >= 0 && r < 28 && c >= 0 && c < 28 ? r * 28 + c : -1;
      });
      assert.deepEqual(map, expected, task.name);
      // The task states the same map for exports.
      assert.deepEqual(
        Array.from(task.preprocessing!.inputMap),
        map,
        `${task.name}: preprocessing.inputMap`,
      );
      assert.deepEqual(
        [task.preprocessing!.rows, task.preprocessing!.cols, task.preprocessing!.normalize],
        [28, 28, null],
      );
    }
  });

  it('keeps task 0 unpermuted when permuteFirstTask is false, drawing nothing for it', () => {
    const tasks = buildTasks(
      permuted({ permuteFirstTask: false, padTo32: false }),
      raw,
      new Random(42),
    );
    assert.deepEqual(recoverMap(tasks[0]), Array.from(all(784)));
    const first = new Random(42).permutation(784);
    assert.deepEqual(recoverMap(tasks[1]), Array.from(first));
  });

  it('is seed-deterministic: same seed same tasks, different seed different tasks', () => {
    const maps = (seed: number) => buildTasks(permuted(), raw, new Random(seed)).map(recoverMap);
    assert.deepEqual(maps(7), maps(7));
    const [a, b] = [maps(7), maps(8)];
    for (let t = 0; t < 3; t++) assert.notDeepEqual(a[t], b[t]);
    assert.notDeepEqual(a[0], a[1]);
  });
});

describe('buildTasks: augmentation', () => {
  const R = 10;
  const C = 12;
  function raw(): RawDataset {
    const make = (n: number): ImageSet => {
      const images = new Uint8Array(n * PIXELS);
      for (let i = 0; i < n; i++) images[i * PIXELS + R * SIDE + C] = 255;
      return {
        images,
        labels: Uint8Array.from(cyclingLabels(n)),
        count: n,
        rows: SIDE,
        cols: SIDE,
      };
    };
    return { name: 'dot', numClasses: 10, train: make(400), test: make(100) };
  }
  const data = raw();
  const [task] = buildTasks(benchmark({ augment: true, validationSize: 5 }), data, new Random(1));
  const brightAt = (x: Float32Array, k: number) => {
    const row = x.subarray(k * PIXELS, (k + 1) * PIXELS);
    return Array.from(row.keys()).filter((o) => row[o] !== 0);
  };

  it('crops at offsets (dx, dy) drawn per sample in order from the gather rng', () => {
    const rng = new Random(3);
    const replay = Random.fromState(rng.state());
    const batch = task.train.gather(all(task.train.size), rng);
    let shifted = 0;
    for (let k = 0; k < batch.size; k++) {
      const dx = replay.int(9);
      const dy = replay.int(9);
      // Output (r, c) shows the image at (r + dy - 4, c + dx - 4).
      assert.deepEqual(brightAt(batch.x, k), [(R - dy + 4) * SIDE + (C - dx + 4)], `sample ${k}`);
      if (dx !== 4 || dy !== 4) shifted++;
    }
    assert.ok(shifted > batch.size / 2);
    assert.deepEqual(rng.state(), replay.state(), 'exactly two draws per sample');
  });

  it('fills with zeros where the crop leaves the image', () => {
    const corner = {
      ...data,
      train: { ...data.train, images: new Uint8Array(data.train.images.length) },
    };
    for (let i = 0; i < corner.train.count; i++) corner.train.images[i * PIXELS] = 255;
    const [t] = buildTasks(benchmark({ augment: true }), corner, new Random(1));
    const rng = new Random(11);
    const replay = Random.fromState(rng.state());
    const batch = t.train.gather(all(t.train.size), rng);
    for (let k = 0; k < batch.size; k++) {
      const dx = replay.int(9);
      const dy = replay.int(9);
      const expected = dx <= 4 && dy <= 4 ? [(4 - dy) * SIDE + (4 - dx)] : [];
      assert.deepEqual(brightAt(batch.x, k), expected);
    }
  });

  it('is deterministic for a given rng state and absent without an rng', () => {
    const idx = [0, 5, 9, 70];
    const state = new Random(5).state();
    assert.deepEqual(
      task.train.gather(idx, Random.fromState(state)).x,
      task.train.gather(idx, Random.fromState(state)).x,
    );
    const plain = task.train.gather(idx);
    for (let k = 0; k < idx.length; k++) assert.deepEqual(brightAt(plain.x, k), [R * SIDE + C]);
  });

  it('never augments validation or test samples', () => {
    const rng = new Random(5);
    const before = rng.state();
    for (const source of [task.validation, task.test]) {
      const batch = source.gather(all(source.size), rng);
      for (let k = 0; k < batch.size; k++) assert.deepEqual(brightAt(batch.x, k), [R * SIDE + C]);
    }
    assert.deepEqual(rng.state(), before);
  });

  it('does nothing when augment is off, even with an rng', () => {
    const [plainTask] = buildTasks(benchmark({ validationSize: 5 }), data, new Random(1));
    const batch = plainTask.train.gather(all(20), new Random(5));
    for (let k = 0; k < 20; k++) assert.deepEqual(brightAt(batch.x, k), [R * SIDE + C]);
  });
});

describe('test/helpers/datasets', () => {
  it('makes classes a nearest-centroid rule separates on held-out data', () => {
    const raw = makeRawDataset({ trainCount: 300, testCount: 200, seed: 4 });
    const tasks = buildTasks(benchmark({ normalize: true }), raw, new Random(1));
    for (const task of tasks) {
      const train = task.train.gather(all(task.train.size));
      const centroids = [new Float64Array(784), new Float64Array(784)];
      const counts = [0, 0];
      for (let k = 0; k < train.size; k++) {
        const c = train.y[k];
        counts[c]++;
        for (let p = 0; p < 784; p++) centroids[c][p] += train.x[k * 784 + p];
      }
      centroids.forEach((v, c) => v.forEach((s, p) => (v[p] = s / counts[c])));
      const test = task.test.gather(all(task.test.size));
      let correct = 0;
      for (let k = 0; k < test.size; k++) {
        const d = centroids.map((v) =>
          v.reduce((acc, m, p) => acc + (test.x[k * 784 + p] - m) ** 2, 0),
        );
        if ((d[0] < d[1] ? 0 : 1) === test.y[k]) correct++;
      }
      assert.equal(correct, test.size, task.name);
    }
  });

  it('is deterministic per seed', () => {
    assert.deepEqual(
      makeRawDataset({ seed: 2 }).train.images,
      makeRawDataset({ seed: 2 }).train.images,
    );
    assert.notDeepEqual(
      makeRawDataset({ seed: 2 }).train.images,
      makeRawDataset({ seed: 3 }).train.images,
    );
  });
});
