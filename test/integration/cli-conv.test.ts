/**
 * `npm run train` with convolutional targets as a user runs it (a child process on wasm over a
 * synthetic 28x28 "mnist"): a ZenkeNet run writes models that tfjs-layers loads from disk and that
 * take [28, 28, 1] images, a ResNet run writes masks, a model with running batch-norm statistics
 * and both evaluations, and a ResNet run continued with a task ends like one run of all tasks.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { decodeSafetensors } from '../../src/core/index.js';
import { writeIdxDataset } from '../../src/infra/data/dataset-files.js';
import { makeRawDataset } from '../helpers/datasets.js';
import { ROOT, tinySpec } from '../helpers/service.js';

const run = promisify(execFile);

describe('CLI: convolutional targets', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'retain-cli-conv-'));
    await writeIdxDataset(
      dir,
      'mnist',
      makeRawDataset({ trainCount: 400, testCount: 200, seed: 5, name: 'mnist' }),
    );
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  async function train(name: string, spec: object, extra: string[] = []) {
    const file = path.join(dir, `${name}.json`);
    await writeFile(file, JSON.stringify(spec));
    const out = path.join(dir, name);
    await run(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/train.ts',
        '--spec',
        file,
        '--out',
        out,
        '--backend',
        'wasm',
        '--data-dir',
        dir,
        ...extra,
      ],
      { cwd: ROOT, timeout: 300_000 },
    );
    return {
      out,
      result: JSON.parse(await readFile(path.join(out, 'result.json'), 'utf8')),
      checkpoint: path.join(out, 'checkpoint.safetensors'),
    };
  }
  const spec = (network: object, tasks = 2, method = 'hypermask') => ({
    ...tinySpec({ tasks, iterationsPerTask: 15, method }),
    network,
    regularization: { sparsity: 0 },
  });

  it('ZenkeNet: exports models that load from disk and take [28, 28, 1] images', async () => {
    const { result } = await train(
      'zenke',
      spec({ kind: 'zenkenet', channels: [4, 8], hidden: [16] }),
    );
    assert.equal(result.spec.network.kind, 'zenkenet');
    assert.equal(result.accuracyMatrix.length, 2);
    const file = result.exports['1'].model as string;
    const json = JSON.parse(await readFile(file, 'utf8'));
    const weights = await readFile(path.join(path.dirname(file), json.weightsManifest[0].paths[0]));
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0].weights,
        weightData: weights.buffer.slice(
          weights.byteOffset,
          weights.byteOffset + weights.byteLength,
        ),
      }),
    );
    assert.deepEqual(model.inputs[0].shape, [null, 28, 28, 1]);
    const out = model.predict(tf.zeros([3, 28, 28, 1])) as tf.Tensor;
    assert.deepEqual(out.shape, [3, 2]);
    tf.dispose(out);
    model.dispose();
  });

  it('ResNet: masks, checkpoint and a model with running statistics; continued with a task it ends like one run of all', async () => {
    const resnet = { kind: 'resnet', n: 1, k: 1 };
    const first = await train('resnet-2', spec(resnet));
    assert.ok(first.result.exports['0'].model, 'a TF.js model');
    assert.equal(first.result.runningStats.accuracyMatrix.length, 2);
    const mask = decodeSafetensors(new Uint8Array(await readFile(first.result.exports['0'].mask)));
    assert.deepEqual(mask.tensors[0].shape, [3, 3, 1, 16]);
    const next = await train('resnet-next', { benchmark: { tasks: 1 } }, [
      '--continue-from',
      first.checkpoint,
    ]);
    const whole = await train('resnet-3', spec(resnet, 3));
    assert.deepEqual(next.result.accuracyMatrix, whole.result.accuracyMatrix);
    assert.deepEqual(next.result.runningStats, whole.result.runningStats);
    const tensors = async (file: string) =>
      decodeSafetensors(new Uint8Array(await readFile(file))).tensors;
    assert.deepEqual(await tensors(next.checkpoint), await tensors(whole.checkpoint));
  });
});
