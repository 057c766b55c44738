import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeBoth } from '../../helpers/dataset-assertions.js';
import {
  idxFiles,
  packTar,
  packTarGz,
  uploadDir,
  type IdxSplit,
} from '../../helpers/dataset-builders.js';

type Upload = Awaited<ReturnType<typeof uploadDir>>;

/** `count` 3x4 images; image i holds bytes (i * 12 + k) % 256; labels cycle through `labels`. */
function split(count: number, labels: number[], offset = 0): IdxSplit {
  return {
    images: Uint8Array.from({ length: count * 12 }, (_, k) => (offset + k) % 256),
    labels: Uint8Array.from({ length: count }, (_, i) => labels[i % labels.length]),
    count,
    rows: 3,
    cols: 4,
  };
}

describe('IDX uploads', () => {
  let up: Upload;
  before(async () => {
    up = await uploadDir();
  });
  after(async () => {
    await up.cleanup();
  });

  const train = split(9, [9, 0, 4]);
  const test = split(3, [4, 9, 0], 100);

  const variants = [
    { label: 'tar.gz of plain files', pack: () => packTarGz(idxFiles(train, test)) },
    {
      label: 'tar of gzipped files',
      pack: () => packTar(idxFiles(train, test, { gzipFiles: true })),
    },
    {
      label: "tar.gz of gzipped files with '.idx' names, in a folder",
      pack: () =>
        packTarGz(
          idxFiles(train, test, { gzipFiles: true }).map((f) => ({
            ...f,
            name: `mnist/${f.name.replace('-idx', '.idx')}`,
          })),
        ),
    },
  ];
  for (const v of variants) {
    it(`decodes a ${v.label}`, async () => {
      const d = await decodeBoth(
        await up.write(`${v.label.replace(/\W+/g, '-')}.tar`, await v.pack()),
        { format: 'idx' },
      );
      assert.equal(d.format, 'idx');
      assert.equal(d.dtype, 'uint8');
      assert.deepEqual(d.inputShape, [3, 4, 1]);
      assert.deepEqual(d.classNames, ['0', '4', '9']);
      assert.deepEqual(d.counts, { train: [3, 3, 3], test: [1, 1, 1] });
      assert.deepEqual(Array.from(d.train.x), Array.from(train.images));
      assert.deepEqual(Array.from(d.test.x), Array.from(test.images));
      assert.deepEqual(Array.from(d.train.y), [2, 0, 1, 2, 0, 1, 2, 0, 1]);
      assert.deepEqual(Array.from(d.test.y), [1, 2, 0]);
    });
  }
});
