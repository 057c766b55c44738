/**
 * Damaged uploads, made by flipping, cutting and overwriting bytes of valid ones (seeded, so
 * every run tries the same files): whatever the damage, a read must settle, either with a data
 * set or with one of the three data-set errors, never with a library's own exception.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Random } from '../../../src/core/random.js';
import { inspectDataset } from '../../../src/infra/datasets/index.js';
import { ServiceError } from '../../../src/services/errors.js';
import {
  csv,
  idxFiles,
  imageFolderFiles,
  npy,
  npz,
  packTar,
  packTarGz,
  packZip,
  uploadDir,
} from '../../helpers/dataset-builders.js';

const DAMAGES_PER_FILE = 40;

function damage(bytes: Buffer, rng: Random): Buffer {
  const out = Buffer.from(bytes);
  switch (rng.int(3)) {
    case 0: // flip a few bytes
      for (let k = 0; k < 1 + rng.int(4); k++) out[rng.int(out.length)] ^= 1 + rng.int(255);
      return out;
    case 1: // cut the end off
      return out.subarray(0, rng.int(out.length));
    default: {
      // overwrite a run with 0xff
      const at = rng.int(out.length);
      return out.fill(0xff, at, Math.min(out.length, at + 1 + rng.int(64)));
    }
  }
}

describe('damaged uploads', () => {
  let up: Awaited<ReturnType<typeof uploadDir>>;
  const originals: [string, Buffer][] = [];
  before(async () => {
    up = await uploadDir();
    const { files } = await imageFolderFiles({
      classes: ['a', 'b'],
      perClass: { train: 2, test: 1 },
      width: 6,
      height: 5,
    });
    const jpegs = (
      await imageFolderFiles({
        classes: ['a', 'b'],
        perClass: 3,
        width: 6,
        height: 5,
        format: 'jpeg',
        channels: 1,
      })
    ).files;
    const x = npy({
      descr: '<f4',
      shape: [6, 3],
      data: Array.from({ length: 18 }, (_, i) => i / 3),
    });
    const y = npy({ descr: '<i8', shape: [6], data: [0, 1, 2, 0, 1, 2] });
    const idxSplit = (count: number) => ({
      images: new Uint8Array(count * 4),
      labels: Uint8Array.from({ length: count }, (_, i) => i % 2),
      count,
      rows: 2,
      cols: 2,
    });
    originals.push(
      ['images.tar', await packTar(files)],
      ['images.tar.gz', await packTarGz(files)],
      ['jpegs.zip', packZip(jpegs)],
      ['stored.npz', npz({ x, y })],
      ['deflated.npz', npz({ x, y }, { compressed: true })],
      [
        'npy.tar',
        await packTar([
          { name: 'x.npy', data: x },
          { name: 'y.npy', data: y },
        ]),
      ],
      [
        'data.csv',
        csv(
          ['f1', 'f2', 'label'],
          Array.from({ length: 12 }, (_, i) => [i, -i, `c${i % 3}`]),
        ),
      ],
      [
        'data.csv.gz',
        gzipSync(
          csv(
            ['f1', 'label'],
            Array.from({ length: 12 }, (_, i) => [i, i % 2]),
          ),
        ),
      ],
      ['idx.tar', await packTar(idxFiles(idxSplit(4), idxSplit(2), { gzipFiles: true }))],
    );
  });
  after(async () => {
    await up.cleanup();
  });

  it('settles every read with a data set or a data-set error', async () => {
    const rng = new Random(2024);
    const outcomes = new Map<string, number>();
    for (const [name, bytes] of originals) {
      for (let k = 0; k < DAMAGES_PER_FILE; k++) {
        const path = await up.write(`${name}-${k}`, damage(bytes, rng));
        let outcome = 'ok';
        try {
          await inspectDataset(path, { maxExpandedBytes: 1 << 20 });
        } catch (e) {
          assert.ok(
            e instanceof ServiceError,
            `${name} damage ${k}: ${e instanceof Error ? e.stack : String(e)}`,
          );
          assert.ok(
            ['INVALID_DATASET', 'UNSUPPORTED_DATASET_FORMAT', 'DATASET_TOO_LARGE'].includes(e.code),
            e.code,
          );
          outcome = e.code;
        }
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
    }
    // Most damage must be noticed; a flip inside a sample value or padding may not be.
    assert.ok(
      (outcomes.get('INVALID_DATASET') ?? 0) > originals.length * DAMAGES_PER_FILE * 0.5,
      JSON.stringify([...outcomes]),
    );
  });
});
