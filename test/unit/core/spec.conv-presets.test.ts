/**
 * The convolutional presets (issue 9's table of HyperMask's published settings, and the documented
 * HNET and finetune values), the epoch schedule's rules, and what the presets take from the data.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkStoredSpec,
  parameterCounts,
  resolveSpec,
  SPEC_VERSION,
  taskCount,
  upgradeStoredSpec,
  type DatasetFacts,
  type JobSpec,
} from '../../../src/core/spec.js';

const CIFAR = '11111111-1111-4111-8111-111111111111';
const TINY = '22222222-2222-4222-8222-222222222222';
const FEW = '33333333-3333-4333-8333-333333333333';
const TABLE = '44444444-4444-4444-8444-444444444444';

const facts = (shape: number[], classes: number, perClass: number): DatasetFacts => ({
  inputShape: shape,
  dtype: 'uint8',
  sha256: 'a'.repeat(64),
  classNames: Array.from({ length: classes }, (_, c) => `class${c}`),
  counts: {
    train: Array.from({ length: classes }, () => perClass),
    test: Array.from({ length: classes }, () => 100),
  },
});
const datasets = new Map<string, DatasetFacts>([
  [CIFAR, facts([32, 32, 3], 100, 500)],
  [TINY, facts([64, 64, 3], 200, 500)],
  [FEW, facts([32, 32, 3], 4, 600)],
  [TABLE, facts([20], 4, 600)],
]);

const onUpload = (
  preset: string,
  id: string,
  extra: Record<string, unknown> & { benchmark?: Record<string, unknown> } = {},
) =>
  resolveSpec(
    {
      preset,
      ...extra,
      benchmark: { kind: 'datasets', tasks: [{ dataset: id }], ...extra.benchmark },
    },
    { datasets },
  );

type Row = {
  preset: string;
  data: string;
  network: Partial<JobSpec['network']>;
  hypernetwork: Partial<JobSpec['hypernetwork']>;
  lr: number;
  batch: number;
  epochs: number;
  beta: number;
  lambda: number;
  sparsity: number;
  tasks: number;
  classes: number;
  validation: number;
  augment: boolean;
};

// Issue 9's table (HyperMask datasets.py @674bf9b, grid_search=False), column by column.
const HYPERMASK: Row[] = [
  {
    preset: 'split-cifar100-resnet',
    data: CIFAR,
    network: { kind: 'resnet', n: 3, k: 2 },
    hypernetwork: { embeddingDim: 48, hidden: [100] },
    lr: 1e-3,
    batch: 32,
    epochs: 200,
    beta: 0.01,
    lambda: 1,
    sparsity: 0,
    tasks: 10,
    classes: 10,
    validation: 500,
    augment: true,
  },
  {
    preset: 'split-cifar100-zenkenet',
    data: CIFAR,
    network: { kind: 'zenkenet', channels: [32, 64], hidden: [512], dropout: 0 },
    hypernetwork: { embeddingDim: 48, hidden: [100] },
    lr: 1e-3,
    batch: 32,
    epochs: 200,
    beta: 0.01,
    lambda: 0.01,
    sparsity: 0,
    tasks: 10,
    classes: 10,
    validation: 500,
    augment: true,
  },
  {
    preset: 'tinyimagenet-resnet',
    data: TINY,
    network: { kind: 'resnet', n: 3, k: 2 },
    hypernetwork: { embeddingDim: 96, hidden: [100, 100] },
    lr: 1e-4,
    batch: 16,
    epochs: 10,
    beta: 1,
    lambda: 0.1,
    sparsity: 0,
    tasks: 40,
    classes: 5,
    validation: 250,
    augment: false,
  },
  {
    preset: 'tinyimagenet-zenkenet',
    data: TINY,
    network: { kind: 'zenkenet', channels: [64, 64], hidden: [], dropout: 0 },
    hypernetwork: { embeddingDim: 96, hidden: [100, 100] },
    lr: 1e-3,
    batch: 16,
    epochs: 10,
    beta: 0.01,
    lambda: 1,
    sparsity: 50,
    tasks: 40,
    classes: 5,
    validation: 250,
    augment: false,
  },
];

describe('convolutional presets', () => {
  for (const row of HYPERMASK) {
    it(`${row.preset} (hypermask) resolves to the published settings`, () => {
      const s = onUpload(row.preset, row.data);
      assert.equal(s.method, 'hypermask');
      assert.equal(s.preset, row.preset);
      for (const [k, v] of Object.entries(row.network))
        assert.deepEqual(s.network[k as keyof JobSpec['network']], v, `network.${k}`);
      assert.deepEqual(s.hypernetwork.hidden, row.hypernetwork.hidden);
      assert.equal(s.hypernetwork.embeddingDim, row.hypernetwork.embeddingDim);
      assert.equal(s.hypernetwork.activation, 'elu');
      assert.equal(s.hypernetwork.chunkSize, null, 'no chunking');
      assert.equal(s.training.learningRate, row.lr);
      assert.equal(s.training.batchSize, row.batch);
      assert.equal(s.training.epochsPerTask, row.epochs);
      assert.equal(s.training.iterationsPerTask, null);
      assert.equal(s.training.lrSchedule, 'plateau');
      assert.equal(s.training.modelSelection, 'best-validation');
      assert.equal(s.regularization.beta, row.beta);
      assert.equal(s.regularization.lambda, row.lambda);
      assert.equal(s.regularization.sparsity, row.sparsity);
      assert.equal(s.regularization.maskedL1, false);
      assert.equal(s.benchmark.validationSize, row.validation);
      assert.equal(s.benchmark.augment, row.augment);
      assert.equal(s.benchmark.normalize, 'per-channel');
      // One data set named without classes: cut into the preset's tasks x classes.
      assert.equal(taskCount(s.benchmark), row.tasks);
      const tasks = s.benchmark.tasks as { classes: string[] }[];
      assert.ok(tasks.every((t) => t.classes.length === row.classes));
      assert.deepEqual(tasks[1].classes[0], `class${row.classes}`, 'classes in data-set order');
    });
  }

  it("hnet and finetune: the same protocol, with hypercl's hypernetworks for hnet", () => {
    for (const row of HYPERMASK) {
      for (const method of ['hnet', 'finetune'] as const) {
        const s = onUpload(row.preset, row.data, { method });
        assert.equal(s.training.epochsPerTask, row.epochs);
        assert.equal(s.training.batchSize, row.batch);
        assert.equal(s.training.lrSchedule, 'plateau');
        assert.equal(s.training.modelSelection, 'best-validation');
        assert.equal(s.benchmark.validationSize, row.validation);
        assert.equal(taskCount(s.benchmark), row.tasks);
        assert.equal(s.network.kind, row.network.kind);
        if (method === 'finetune') assert.equal(s.training.learningRate, row.lr);
      }
    }
    const resnet = onUpload('split-cifar100-resnet', CIFAR, { method: 'hnet' });
    assert.deepEqual(
      [
        resnet.hypernetwork.hidden,
        resnet.hypernetwork.embeddingDim,
        resnet.hypernetwork.chunkSize,
        resnet.hypernetwork.chunkEmbeddingDim,
        resnet.training.learningRate,
        resnet.regularization.beta,
        resnet.regularization.lookahead,
      ],
      [[], 32, 7000, 32, 1e-3, 0.05, true],
    );
    const zenke = onUpload('split-cifar100-zenkenet', CIFAR, { method: 'hnet' });
    assert.deepEqual(
      [
        zenke.hypernetwork.hidden,
        zenke.hypernetwork.embeddingDim,
        zenke.hypernetwork.chunkSize,
        zenke.hypernetwork.chunkEmbeddingDim,
        zenke.training.learningRate,
        zenke.regularization.beta,
        zenke.network.dropout,
      ],
      [[100, 150, 200], 48, 5500, 80, 1e-4, 0.01, 0.25],
    );
    // The ZenkeNet CIFAR target of the preset is the reference's: 1,250,858 weights with 10 outputs.
    assert.equal(
      parameterCounts(onUpload('split-cifar100-zenkenet', CIFAR, { method: 'finetune' })).target,
      1_250_858,
    );
  });

  it('any field overrides the preset; a length in iterations replaces its epochs', () => {
    const s = onUpload('split-cifar100-resnet', CIFAR, {
      training: { epochsPerTask: 1, batchSize: 8 },
      benchmark: { kind: 'datasets', tasks: [{ dataset: CIFAR }], validationSize: 20 },
    });
    assert.equal(s.training.epochsPerTask, 1);
    assert.equal(s.training.batchSize, 8);
    assert.equal(s.benchmark.validationSize, 20);
    const it = onUpload('split-cifar100-resnet', CIFAR, { training: { iterationsPerTask: 30 } });
    assert.equal(it.training.iterationsPerTask, 30);
    assert.equal(it.training.epochsPerTask, null);
    assert.equal(
      it.training.lrSchedule,
      'plateau',
      'the rule then looks at every full pass over the data',
    );
  });

  it("its learning rate is for its own network kind: on another kind that kind's default", () => {
    const rate = (extra: Record<string, unknown> = {}) =>
      onUpload('tinyimagenet-resnet', CIFAR, extra).training.learningRate;
    assert.equal(rate(), 1e-4);
    assert.equal(rate({ network: { kind: 'zenkenet' } }), 1e-3);
    assert.equal(rate({ method: 'hnet', network: { kind: 'zenkenet' } }), 1e-4);
    assert.equal(rate({ network: { kind: 'zenkenet' }, training: { learningRate: 3e-4 } }), 3e-4);
  });

  it('takes the tasks from the data: fewer classes make fewer tasks, listed tasks stay as sent', () => {
    const few = onUpload('split-cifar100-zenkenet', FEW);
    assert.deepEqual(few.benchmark.tasks, [
      { dataset: FEW, classes: ['class0', 'class1', 'class2', 'class3'] },
    ]);
    const listed = resolveSpec(
      {
        preset: 'split-cifar100-zenkenet',
        benchmark: {
          kind: 'datasets',
          tasks: [
            { dataset: FEW, classes: ['class0', 'class1'] },
            { dataset: FEW, classes: ['class2', 'class3'] },
          ],
        },
      },
      { datasets },
    );
    assert.equal(taskCount(listed.benchmark), 2);
    const tiny = onUpload('tinyimagenet-resnet', CIFAR);
    assert.equal(taskCount(tiny.benchmark), 20, '100 classes make 20 tasks of 5');
  });

  it('rejects what the presets cannot do: tables, or a plateau rule without validation', () => {
    assert.throws(
      () => onUpload('split-cifar100-resnet', TABLE),
      /network kind "resnet" needs images|augmentation needs images/,
    );
    assert.throws(
      () =>
        onUpload('split-cifar100-resnet', CIFAR, {
          benchmark: { kind: 'datasets', tasks: [{ dataset: CIFAR }], validationSize: 0 },
        }),
      /training\.lrSchedule: "plateau" watches validation accuracy/,
    );
  });
});

describe('task length', () => {
  it('exactly one of iterationsPerTask and epochsPerTask', () => {
    assert.equal(resolveSpec({}).training.iterationsPerTask, 2000);
    assert.equal(resolveSpec({}).training.epochsPerTask, null);
    const e = resolveSpec({ training: { epochsPerTask: 3 } });
    assert.deepEqual([e.training.iterationsPerTask, e.training.epochsPerTask], [null, 3]);
    assert.throws(
      () => resolveSpec({ training: { epochsPerTask: 3, iterationsPerTask: 10 } }),
      /training\.epochsPerTask: give either iterationsPerTask or epochsPerTask, not both/,
    );
    // null is "not set": both null leave the default.
    const none = resolveSpec({ training: { epochsPerTask: null, iterationsPerTask: null } });
    assert.equal(none.training.iterationsPerTask, 2000);
    // A resolved spec sent back as it is (a continued job's input) resolves to itself.
    assert.deepEqual(resolveSpec(e), e);
  });

  it('"per-channel" and the validation-watching options are checked', () => {
    assert.throws(
      () => resolveSpec({ benchmark: { normalize: 'per-channel' } }),
      /benchmark\.normalize: "per-channel" applies to uploaded images/,
    );
    assert.throws(
      () =>
        resolveSpec(
          {
            benchmark: { kind: 'datasets', tasks: [{ dataset: TABLE }], normalize: 'per-channel' },
          },
          { datasets },
        ),
      /benchmark\.normalize: "per-channel" needs images/,
    );
    assert.throws(
      () =>
        resolveSpec({
          benchmark: { validationSize: 0 },
          training: { modelSelection: 'best-validation' },
        }),
      /training\.modelSelection: "best-validation" watches validation accuracy/,
    );
  });

  it('a version 2 spec reads as iterations at a constant rate keeping the last model', () => {
    assert.equal(SPEC_VERSION, 5);
    const current = resolveSpec({ preset: 'split-mnist' });
    const { epochsPerTask: _e, lrSchedule: _l, modelSelection: _m, ...old } = current.training;
    const stored = { ...current, training: old } as unknown as JobSpec;
    assert.equal(JSON.stringify(upgradeStoredSpec(stored, 2)), JSON.stringify(current));
    assert.deepEqual(checkStoredSpec(stored, 2), current);
    assert.throws(() => checkStoredSpec(stored, 3), /INVALID_STORED_SPEC|no longer passes/);
  });
});
