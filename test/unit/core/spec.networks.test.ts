/** resolveSpec on network kinds: defaults per kind, what each refuses (naming the field), sizes, stored specs. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EngineError } from '../../../src/core/errors.js';
import {
  benchmarkShape,
  checkStoredSpec,
  parameterCounts,
  resolveSpec,
  SPEC_VERSION,
  upgradeStoredSpec,
  type DatasetFacts,
  type JobSpec,
} from '../../../src/core/spec.js';

const CIFAR = '11111111-1111-4111-8111-111111111111';
const SMALL = '22222222-2222-4222-8222-222222222222';
const TABLE = '33333333-3333-4333-8333-333333333333';
const GRAY = '44444444-4444-4444-8444-444444444444';

const classes = Array.from({ length: 10 }, (_, i) => `c${i}`);
const facts = (inputShape: number[], sha: string): DatasetFacts => ({
  inputShape,
  dtype: 'uint8',
  sha256: sha.repeat(64),
  classNames: classes,
  counts: { train: classes.map(() => 50), test: classes.map(() => 10) },
});
const datasets = new Map<string, DatasetFacts>([
  [CIFAR, facts([32, 32, 3], 'a')],
  [SMALL, facts([8, 8, 3], 'b')],
  [TABLE, facts([20], 'c')],
  [GRAY, facts([12, 12], 'd')],
]);
const onData = (id: string, rest: Record<string, unknown>) =>
  resolveSpec({ benchmark: { kind: 'datasets', tasks: [{ dataset: id }] }, ...rest }, { datasets });

describe('network kinds', () => {
  it("fills each kind's defaults; fields of other kinds are null", () => {
    assert.deepEqual(resolveSpec({}).network, {
      kind: 'mlp',
      hidden: [400, 400],
      activation: 'relu',
      channels: null,
      n: null,
      k: null,
      dropout: 0,
    });
    assert.deepEqual(resolveSpec({ network: { kind: 'zenkenet' } }).network, {
      kind: 'zenkenet',
      hidden: [512],
      activation: 'relu',
      channels: [32, 64],
      n: null,
      k: null,
      dropout: 0,
    });
    assert.deepEqual(resolveSpec({ network: { kind: 'resnet', n: 5 } }).network, {
      kind: 'resnet',
      hidden: [],
      activation: 'relu',
      channels: null,
      n: 5,
      k: 2,
      dropout: 0,
    });
  });

  it('HNET with a ZenkeNet target starts at learning rate 1e-4, everything else at 1e-3; a sent value wins', () => {
    const rate = (input: object) => resolveSpec(input).training.learningRate;
    assert.equal(rate({ method: 'hnet', network: { kind: 'zenkenet' } }), 1e-4);
    for (const method of ['hypermask', 'finetune'])
      assert.equal(rate({ method, network: { kind: 'zenkenet' } }), 1e-3);
    assert.equal(rate({ method: 'hnet', network: { kind: 'resnet' } }), 1e-3);
    assert.equal(rate({ method: 'hnet' }), 1e-3);
    assert.equal(
      rate({ method: 'hnet', network: { kind: 'zenkenet' }, training: { learningRate: 1e-3 } }),
      1e-3,
    );
  });

  it('a preset keeps its method settings but not its MLP for another kind', () => {
    const s = resolveSpec({ preset: 'split-mnist', network: { kind: 'zenkenet', dropout: 0.25 } });
    assert.deepEqual(s.network.hidden, [512]);
    assert.equal(s.network.dropout, 0.25);
    assert.equal(s.hypernetwork.embeddingDim, 128);
    assert.equal(s.regularization.sparsity, 30);
  });

  it("a preset's learning rate applies to its own network kind; another kind gets that kind's default", () => {
    const rate = (input: object) => resolveSpec(input).training.learningRate;
    // split-mnist's HNET rate is 1e-3 for its MLP; a ZenkeNet under HNET needs 1e-4.
    assert.equal(rate({ preset: 'split-mnist', method: 'hnet' }), 1e-3);
    assert.equal(
      rate({ preset: 'split-mnist', method: 'hnet', network: { kind: 'zenkenet' } }),
      1e-4,
    );
    // permuted-mnist's HNET 1e-4 is for its MLP; a ResNet under HNET (on images) defaults to 1e-3.
    const onImages = (network: object) =>
      onData(CIFAR, { preset: 'permuted-mnist', method: 'hnet', network }).training.learningRate;
    assert.equal(onImages({ kind: 'mlp' }), 1e-4);
    assert.equal(onImages({ kind: 'resnet' }), 1e-3);
    assert.equal(
      rate({
        preset: 'split-mnist',
        method: 'hnet',
        network: { kind: 'zenkenet' },
        training: { learningRate: 5e-4 },
      }),
      5e-4,
    );
  });

  it('built-in benchmarks are 28x28x1 images (32x32x1 padded); uploads are their own shape, [h, w] with one channel', () => {
    assert.deepEqual(
      benchmarkShape(resolveSpec({ network: { kind: 'resnet' } }).benchmark).imageShape,
      [28, 28, 1],
    );
    assert.deepEqual(
      benchmarkShape(
        resolveSpec({ network: { kind: 'resnet' }, benchmark: { padTo32: true, augment: false } })
          .benchmark,
      ).imageShape,
      [32, 32, 1],
    );
    assert.deepEqual(
      benchmarkShape(onData(CIFAR, { network: { kind: 'resnet' } }).benchmark).imageShape,
      [32, 32, 3],
    );
    assert.deepEqual(
      benchmarkShape(onData(GRAY, { network: { kind: 'zenkenet' } }).benchmark).imageShape,
      [12, 12, 1],
    );
    assert.equal(benchmarkShape(onData(TABLE, {}).benchmark).imageShape, null);
  });

  it('counts the parameters of the published CIFAR-100 setups (method section 6.2)', () => {
    const hypermask = { method: 'hypermask', hypernetwork: { hidden: [100], embeddingDim: 48 } };
    const resnet = parameterCounts(onData(CIFAR, { ...hypermask, network: { kind: 'resnet' } }));
    assert.deepEqual(resnet, { target: 1_067_530 + 2_720, hypernetwork: 107_825_430 + 48 });
    const zenke = parameterCounts(onData(CIFAR, { ...hypermask, network: { kind: 'zenkenet' } }));
    assert.deepEqual(zenke, { target: 1_250_858, hypernetwork: 126_341_558 + 48 });
    // HNET's target owns only batch norm; the hypernetwork generates everything else.
    const hnet = parameterCounts(
      onData(CIFAR, {
        method: 'hnet',
        hypernetwork: { hidden: [], embeddingDim: 32, chunkSize: 7000, chunkEmbeddingDim: 32 },
        network: { kind: 'resnet' },
      }),
    );
    assert.deepEqual(hnet, {
      target: 2_720,
      hypernetwork: 64 * 7000 + 7000 + Math.ceil(1_067_530 / 7000) * 32 + 32,
    });
    assert.deepEqual(
      parameterCounts(onData(CIFAR, { method: 'finetune', network: { kind: 'resnet' } })),
      { target: 1_070_250, hypernetwork: 0 },
    );
  });

  const bad: [string, () => unknown, RegExp][] = [
    [
      'unknown kind',
      () => resolveSpec({ network: { kind: 'vgg' } }),
      /^network\.kind: must be one of "mlp", "zenkenet", "resnet"/,
    ],
    [
      'n on a zenkenet',
      () => resolveSpec({ network: { kind: 'zenkenet', n: 3 } }),
      /^network\.n: applies to network kind "resnet" only/,
    ],
    [
      'channels on an mlp',
      () => resolveSpec({ network: { channels: [8] } }),
      /^network\.channels: applies to network kind "zenkenet" only/,
    ],
    [
      'dropout on a resnet',
      () => resolveSpec({ network: { kind: 'resnet', dropout: 0.1 } }),
      /^network\.dropout: applies to network kind "zenkenet" only/,
    ],
    [
      'dropout of 0.5',
      () => resolveSpec({ network: { kind: 'zenkenet', dropout: 0.5 } }),
      /^network\.dropout: must be a number between 0 and 0\.45/,
    ],
    [
      'hidden layers in a resnet',
      () => resolveSpec({ network: { kind: 'resnet', hidden: [10] } }),
      /^network\.hidden: a ResNet has no hidden dense layers/,
    ],
    [
      'sigmoid in a zenkenet',
      () => resolveSpec({ network: { kind: 'zenkenet', activation: 'sigmoid' } }),
      /^network\.activation: network kind "zenkenet" uses relu/,
    ],
    [
      'resnet depth 0',
      () => resolveSpec({ network: { kind: 'resnet', n: 0 } }),
      /^network\.n: must be an integer between 1 and 18/,
    ],
    [
      'a convolutional net on permuted pixels',
      () => resolveSpec({ benchmark: { kind: 'permuted' }, network: { kind: 'resnet' } }),
      /^network\.kind: a convolutional network needs the pixels in place/,
    ],
    [
      'a convolutional net on a table',
      () => onData(TABLE, { network: { kind: 'resnet' } }),
      /^network\.kind: network kind "resnet" needs images .* shape \[20\]/,
    ],
    [
      'a zenkenet on 8x8 images',
      () => onData(SMALL, { network: { kind: 'zenkenet' } }),
      /^network\.channels: a 8x8 image is too small for 2 ZenkeNet blocks/,
    ],
    [
      'too many zenkenet blocks',
      () => resolveSpec({ network: { kind: 'zenkenet', channels: [4, 4, 4, 4] } }),
      /^network\.channels: a 28x28 image is too small for 4 ZenkeNet blocks/,
    ],
  ];
  for (const [name, f, message] of bad) {
    it(`rejects: ${name}`, () => {
      assert.throws(f, (err: Error & { code?: string }) => {
        assert.equal(err.code, 'INVALID_SPEC');
        assert.match(err.message, message);
        return true;
      });
    });
  }

  it('a ResNet trains on 8x8 images (its strides only halve the size)', () => {
    assert.equal(onData(SMALL, { network: { kind: 'resnet', n: 1, k: 1 } }).network.kind, 'resnet');
  });
});

describe('stored specs', () => {
  it('a spec stored before network kinds existed reads back as the MLP it trained; current specs are unchanged', () => {
    const current = resolveSpec({ preset: 'split-mnist' });
    const { kind, channels, n, k, dropout, ...old } = current.network;
    assert.deepEqual([kind, channels, n, k, dropout], ['mlp', null, null, null, 0]);
    const stored = { ...current, network: old } as unknown as JobSpec;
    assert.deepEqual(upgradeStoredSpec(stored, 1), current);
    assert.equal(
      JSON.stringify(upgradeStoredSpec(stored, 1)),
      JSON.stringify(current),
      'same key order',
    );
    assert.equal(upgradeStoredSpec(current, SPEC_VERSION), current);
    assert.equal(upgradeStoredSpec(current, 1), current, 'upgrading twice changes nothing');
  });

  it('a worker reads version 1 specs as version 2 and refuses a version 2 spec without network.kind, or a version it does not know', () => {
    assert.equal(SPEC_VERSION, 5);
    const current = resolveSpec({ preset: 'split-mnist' });
    const { kind: _kind, channels: _c, n: _n, k: _k, dropout: _d, ...old } = current.network;
    const stored = { ...current, network: old };
    assert.deepEqual(checkStoredSpec(stored, 1), current);
    assert.deepEqual(checkStoredSpec(current, 2), current);
    assert.throws(
      () => checkStoredSpec(stored, 2),
      (e: EngineError) => e.code === 'INVALID_STORED_SPEC' && /network\.kind/.test(e.message),
    );
    assert.throws(
      () => checkStoredSpec(current, 6),
      (e: EngineError) => e.code === 'INVALID_STORED_SPEC' && /stored as version 6/.test(e.message),
    );
    assert.throws(
      () => checkStoredSpec(current, 0),
      (e: EngineError) => e.code === 'INVALID_STORED_SPEC',
    );
  });
});
