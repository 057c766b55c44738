/**
 * `npm run train -- --spec S --continue-from CHECKPOINT` as a user runs it (a child process on the
 * cpu backend over a synthetic "mnist"): a run of 2 tasks continued with a third ends with the
 * weights and accuracies of one run of all 3.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { decodeSafetensors } from '../../src/core/index.js';
import { writeIdxDataset } from '../../src/infra/data/dataset-files.js';
import { makeRawDataset } from '../helpers/datasets.js';
import { ROOT, tinySpec } from '../helpers/service.js';

const run = promisify(execFile);

describe('CLI: --continue-from', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'retain-cli-continue-'));
    await writeIdxDataset(
      dir,
      'mnist',
      makeRawDataset({ trainCount: 600, testCount: 300, seed: 5, name: 'mnist' }),
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
        'cpu',
        '--data-dir',
        dir,
        ...extra,
      ],
      {
        cwd: ROOT,
        timeout: 300_000,
      },
    );
    return {
      result: JSON.parse(await readFile(path.join(out, 'result.json'), 'utf8')),
      checkpoint: path.join(out, 'checkpoint.safetensors'),
    };
  }

  it('continues a finished run with a new task, ending like one run of all tasks', async () => {
    const first = await train('first', tinySpec({ tasks: 2, iterationsPerTask: 20 }));
    const next = await train('next', { benchmark: { tasks: 1 } }, [
      '--continue-from',
      first.checkpoint,
    ]);
    const whole = await train('whole', tinySpec({ tasks: 3, iterationsPerTask: 20 }));
    assert.equal(next.result.spec.benchmark.tasks, 3);
    assert.deepEqual(next.result.accuracyMatrix, whole.result.accuracyMatrix);
    assert.deepEqual(next.result.accuracyMatrix.slice(0, 2), first.result.accuracyMatrix);
    const tensors = async (file: string) =>
      decodeSafetensors(new Uint8Array(await readFile(file))).tensors;
    assert.deepEqual(await tensors(next.checkpoint), await tensors(whole.checkpoint));
    await assert.rejects(
      train('bad', { method: 'hnet', benchmark: { tasks: 1 } }, [
        '--continue-from',
        first.checkpoint,
      ]),
      /method: "hnet" conflicts/,
    );
  });
});
