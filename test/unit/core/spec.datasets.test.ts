/** resolveSpec on benchmarks of kind "datasets": what it fills in, and the field each bad spec names. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  benchmarkShape,
  checkStoredSpec,
  parameterCounts,
  resolveSpec,
  taskCount,
  upgradeStoredSpec,
  type DatasetFacts,
} from '../../../src/core/spec.js';

const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';
const C = '33333333-3333-4333-8333-333333333333';
const D = '55555555-5555-4555-8555-555555555555';

const facts = (over: Partial<DatasetFacts> = {}): DatasetFacts => ({
  inputShape: [8, 8, 3],
  dtype: 'uint8',
  sha256: 'a'.repeat(64),
  classNames: ['cat', 'dog', 'ship', 'truck'],
  counts: { train: [10, 10, 10, 10], test: [3, 3, 3, 3] },
  ...over,
});
const datasets = new Map<string, DatasetFacts>([
  [A, facts()],
  [
    B,
    facts({
      sha256: 'b'.repeat(64),
      dtype: 'float32',
      classNames: ['x', 'y', 'z'],
      counts: { train: [5, 5, 5], test: [2, 2, 0] },
    }),
  ],
  [C, facts({ inputShape: [4, 4, 1], sha256: 'c'.repeat(64) })],
  [D, facts({ inputShape: [12], sha256: 'd'.repeat(64) })],
]);
const spec = (benchmark: Record<string, unknown>, rest: Record<string, unknown> = {}) => ({
  benchmark: { kind: 'datasets', ...benchmark },
  ...rest,
});

describe('resolveSpec with uploaded data sets', () => {
  it('fills classes, records each data set, and sizes the networks by the largest task', () => {
    const s = resolveSpec(
      spec({ tasks: [{ dataset: A, classes: ['ship', 'cat'] }, { dataset: B }] }),
      { datasets },
    );
    assert.deepEqual(s.benchmark.tasks, [
      { dataset: A, classes: ['ship', 'cat'] },
      { dataset: B, classes: ['x', 'y', 'z'] },
    ]);
    assert.deepEqual(s.benchmark.datasets, {
      [A]: { inputShape: [8, 8, 3], dtype: 'uint8', sha256: 'a'.repeat(64) },
      [B]: { inputShape: [8, 8, 3], dtype: 'float32', sha256: 'b'.repeat(64) },
    });
    assert.equal(taskCount(s.benchmark), 2);
    assert.deepEqual(benchmarkShape(s.benchmark), {
      inputSize: 192,
      outputSize: 3,
      imageShape: [8, 8, 3],
    });
    assert.equal(s.benchmark.validationSize, 0);
    assert.equal(s.benchmark.augment, false);
    assert.equal(s.benchmark.padTo32, false);
    const counts = parameterCounts(s);
    assert.equal(counts.target, 192 * 400 + 400 + 400 * 400 + 400 + 400 * 3 + 3);
  });

  it("keeps a preset's hyperparameters but not its MNIST benchmark", () => {
    const s = resolveSpec(
      { preset: 'split-mnist', benchmark: { kind: 'datasets', tasks: [{ dataset: A }] } },
      { datasets },
    );
    assert.equal(s.hypernetwork.embeddingDim, 128);
    assert.equal(s.regularization.sparsity, 30);
    assert.equal(s.benchmark.augment, false);
    assert.equal(s.benchmark.validationSize, 0);
  });

  it('is a fixed point: the resolved spec resolves to itself', () => {
    const s = resolveSpec(spec({ tasks: [{ dataset: A, classes: ['cat', 'dog'] }] }), { datasets });
    assert.deepEqual(resolveSpec(s, { datasets }), s);
  });

  it('takes samples in a shuffled order unless told "stored"; a spec stored before version 5 reads as "stored"', () => {
    const s = resolveSpec(spec({ tasks: [{ dataset: A }] }), { datasets });
    assert.equal(s.benchmark.sampleOrder, 'shuffled');
    const stored = resolveSpec(spec({ tasks: [{ dataset: A }], sampleOrder: 'stored' }), {
      datasets,
    });
    assert.equal(stored.benchmark.sampleOrder, 'stored');
    const { sampleOrder: _order, ...v4 } = s.benchmark;
    const old = { ...s, benchmark: v4 } as typeof s;
    assert.equal(checkStoredSpec(old, 4).benchmark.sampleOrder, 'stored');
    assert.equal(upgradeStoredSpec(s, 4), s, 'a spec that says it is unchanged');
    assert.throws(
      () => resolveSpec(spec({ tasks: [{ dataset: A }], sampleOrder: 'random' }), { datasets }),
      /benchmark\.sampleOrder/,
    );
  });

  it('replaces benchmark.datasets sent by the client with the facts', () => {
    const s = resolveSpec(
      spec({
        tasks: [{ dataset: A }],
        datasets: { [A]: { inputShape: [1], dtype: 'float32', sha256: 'f'.repeat(64) } },
      }),
      { datasets },
    );
    assert.equal(s.benchmark.datasets![A].sha256, 'a'.repeat(64));
  });

  it('keeps built-in benchmarks as they were', () => {
    const s = resolveSpec({ benchmark: { tasks: 3 } });
    assert.equal(s.benchmark.tasks, 3);
    assert.equal(s.benchmark.datasets, null);
  });

  const bad: [string, unknown, RegExp][] = [
    [
      'a count for kind datasets',
      spec({ tasks: 2 }),
      /^benchmark\.tasks: kind "datasets" takes a list/,
    ],
    [
      'a list for kind split',
      { benchmark: { tasks: [{ dataset: A }] } },
      /^benchmark\.tasks: kind "split" takes a number/,
    ],
    [
      'an id that is no uuid',
      spec({ tasks: [{ dataset: A }, { dataset: 'cifar' }] }),
      /^benchmark\.tasks\[1\]\.dataset: /,
    ],
    [
      'no dataset',
      spec({ tasks: [{ classes: ['cat', 'dog'] }] }),
      /^benchmark\.tasks\[0\]\.dataset: required/,
    ],
    [
      'an unknown data set',
      spec({ tasks: [{ dataset: A }, { dataset: '44444444-4444-4444-8444-444444444444' }] }),
      /^benchmark\.tasks\[1\]\.dataset: no data set 4444/,
    ],
    [
      'a class the data set lacks',
      spec({ tasks: [{ dataset: A }, { dataset: A, classes: ['cat', 'horse'] }] }),
      /^benchmark\.tasks\[1\]\.classes: data set .* has no class "horse"/,
    ],
    [
      'a class twice',
      spec({ tasks: [{ dataset: A, classes: ['cat', 'cat'] }] }),
      /^benchmark\.tasks\[0\]\.classes: class "cat" is listed twice/,
    ],
    [
      'one class',
      spec({ tasks: [{ dataset: A, classes: ['cat'] }] }),
      /^benchmark\.tasks\[0\]\.classes: /,
    ],
    [
      'an unknown task field',
      spec({ tasks: [{ dataset: A, labels: [1] }] }),
      /^benchmark\.tasks\[0\]\.labels: unknown field/,
    ],
    [
      'different input shapes',
      spec({ tasks: [{ dataset: A }, { dataset: C }] }),
      /^benchmark\.tasks\[1\]\.dataset: its samples have shape \[4,4,1\] but task 0's have \[8,8,3\]/,
    ],
    [
      'augmentation of samples that are not images',
      spec({ tasks: [{ dataset: D }], augment: true }),
      /^benchmark\.augment: augmentation needs images/,
    ],
    ['padding', spec({ tasks: [{ dataset: A }], padTo32: true }), /^benchmark\.padTo32: /],
    [
      'validation eating the task',
      spec({ tasks: [{ dataset: A, classes: ['cat', 'dog'] }], validationSize: 20 }),
      /^benchmark\.validationSize: task 0 has 20 training samples/,
    ],
  ];
  for (const [name, input, message] of bad) {
    it(`rejects: ${name}`, () => {
      assert.throws(
        () => resolveSpec(input, { datasets }),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, 'INVALID_SPEC');
          assert.match(err.message, message);
          return true;
        },
      );
    });
  }

  it('rejects a task whose classes have no test samples', () => {
    const noTest = new Map([
      [A, facts({ counts: { train: [10, 10, 10, 10], test: [3, 0, 0, 3] } })],
    ]);
    assert.throws(
      () =>
        resolveSpec(spec({ tasks: [{ dataset: A, classes: ['dog', 'ship'] }] }), {
          datasets: noTest,
        }),
      /benchmark\.tasks\[0\]\.classes: the data set has no test samples/,
    );
  });

  it('rejects every data set when no facts are given', () => {
    assert.throws(
      () => resolveSpec(spec({ tasks: [{ dataset: A }] })),
      /benchmark\.tasks\[0\]\.dataset: no data set/,
    );
  });
});
