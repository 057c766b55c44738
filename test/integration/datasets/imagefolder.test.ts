import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { DecodedDataset } from '../../../src/infra/datasets/index.js';
import { decodeBoth, sampleOf } from '../../helpers/dataset-assertions.js';
import {
  imageFolderFiles,
  packTar,
  packTarGz,
  packZip,
  uploadDir,
  type ArchiveFile,
  type ImageFolderSpec,
} from '../../helpers/dataset-builders.js';

type Upload = Awaited<ReturnType<typeof uploadDir>>;

/** The images of one split in archive order, with their class names. */
function splitFiles(
  files: ArchiveFile[],
  split: 'train/' | 'test/',
  prefix = '',
): { name: string; className: string }[] {
  return files
    .filter((f) => f.name.startsWith(`${prefix}${split}`))
    .map((f) => ({
      name: f.name,
      className: f.name.slice(prefix.length + split.length).split('/')[0],
    }));
}

/** Every decoded sample equals (PNG) or is within `tolerance` of (JPEG) the pixels written. */
function assertPixels(
  d: DecodedDataset,
  split: 'train' | 'test',
  expected: { name: string; className: string }[],
  pixels: Map<string, Uint8Array>,
  tolerance = 0,
) {
  const size = d.inputShape.reduce((a, b) => a * b, 1);
  assert.equal(d[split].count, expected.length);
  expected.forEach(({ name, className }, i) => {
    assert.equal(d[split].y[i], d.classNames.indexOf(className), `${name}: class`);
    const got = sampleOf(d[split].x, i, size);
    const want = Array.from(pixels.get(name)!);
    if (tolerance === 0) assert.deepEqual(got, want, name);
    else {
      const worst = Math.max(...got.map((v, k) => Math.abs(v - want[k])));
      assert.ok(worst <= tolerance, `${name}: JPEG differs by up to ${worst}`);
    }
  });
}

describe('ImageFolder uploads', () => {
  let up: Upload;
  before(async () => {
    up = await uploadDir();
  });
  after(async () => {
    await up.cleanup();
  });

  const variants: {
    label: string;
    spec: ImageFolderSpec;
    pack: (f: ArchiveFile[]) => Promise<Buffer> | Buffer;
    tolerance: number;
  }[] = [
    {
      label: 'tar, RGB PNG',
      spec: { classes: ['dog', 'cat'], perClass: { train: 3, test: 2 } },
      pack: packTar,
      tolerance: 0,
    },
    {
      label: 'tar.gz, grey PNG, top-level folder',
      spec: {
        classes: ['b', 'a', 'c'],
        perClass: { train: 2, test: 1 },
        channels: 1,
        prefix: 'mnistish/',
      },
      pack: packTarGz,
      tolerance: 0,
    },
    {
      label: 'zip (deflate), RGB JPEG',
      spec: { classes: ['x', 'y'], perClass: { train: 3, test: 2 }, format: 'jpeg' },
      pack: (f) => packZip(f),
      tolerance: 12,
    },
    {
      label: 'zip (stored), grey JPEG',
      spec: { classes: ['x', 'y'], perClass: { train: 2, test: 2 }, format: 'jpeg', channels: 1 },
      pack: (f) => packZip(f.map((e) => ({ ...e, method: 'store' }))),
      tolerance: 12,
    },
  ];
  for (const v of variants) {
    it(`decodes ${v.label} with its own train/test split`, async () => {
      const { files, pixels } = await imageFolderFiles(v.spec);
      const path = await up.write(`${v.label.replace(/\W+/g, '-')}.bin`, await v.pack(files));
      const d = await decodeBoth(path, { format: 'imagefolder' });
      const channels = v.spec.channels ?? 3;
      assert.equal(d.format, 'imagefolder');
      assert.equal(d.dtype, 'uint8');
      assert.deepEqual(d.inputShape, [9, 12, channels]);
      assert.deepEqual(d.classNames, [...v.spec.classes].sort());
      const perClass = v.spec.perClass as { train: number; test: number };
      assert.deepEqual(d.counts, {
        train: v.spec.classes.map(() => perClass.train),
        test: v.spec.classes.map(() => perClass.test),
      });
      const prefix = v.spec.prefix ?? '';
      assertPixels(d, 'train', splitFiles(files, 'train/', prefix), pixels, v.tolerance);
      assertPixels(d, 'test', splitFiles(files, 'test/', prefix), pixels, v.tolerance);
    });
  }

  it('holds out a seeded, stratified test split from <class>/ folders', async () => {
    const { files } = await imageFolderFiles({
      classes: ['c2', 'c0', 'c1'],
      perClass: 10,
      channels: 1,
    });
    const path = await up.write('classes-only.tar', await packTar(files));
    const a = await decodeBoth(path, { seed: 7 });
    assert.deepEqual(a.classNames, ['c0', 'c1', 'c2']);
    // round(10 * 0.2) = 2 test samples per class.
    assert.deepEqual(a.counts, { train: [8, 8, 8], test: [2, 2, 2] });
    const again = await decodeBoth(path, { seed: 7 });
    assert.deepEqual(Array.from(again.test.x), Array.from(a.test.x), 'same seed, same split');
    assert.deepEqual(Array.from(again.train.x), Array.from(a.train.x));
    const other = await decodeBoth(path, { seed: 8 });
    assert.notDeepEqual(
      Array.from(other.test.x),
      Array.from(a.test.x),
      'another seed, another split',
    );
    const half = await decodeBoth(path, { seed: 7, testFraction: 0.5 });
    assert.deepEqual(half.counts, { train: [5, 5, 5], test: [5, 5, 5] });
    // Every image lands in exactly one split: the multiset of samples is the same.
    const all = (d: DecodedDataset) =>
      [
        ...Array.from({ length: d.train.count }, (_, i) => sampleOf(d.train.x, i, 108).join()),
        ...Array.from({ length: d.test.count }, (_, i) => sampleOf(d.test.x, i, 108).join()),
      ].sort();
    assert.deepEqual(all(other), all(a));
  });

  it('ignores directories, hidden files and __MACOSX/, and sorts class names like torchvision', async () => {
    const { files, pixels } = await imageFolderFiles({
      classes: ['10', '2', 'Zebra'],
      perClass: { train: 1, test: 1 },
    });
    const junk: ArchiveFile[] = [
      { name: 'train/', type: 'directory' },
      { name: 'train/10/', type: 'directory' },
      { name: '.DS_Store', data: Buffer.from('junk') },
      { name: 'train/10/.hidden.png', data: Buffer.from('junk') },
      { name: '__MACOSX/train/10/._000.png', data: Buffer.from('junk') },
      { name: './.git/config', data: Buffer.from('junk') },
    ];
    for (const [name, pack] of [
      ['junk.tar', packTar],
      ['junk.zip', async (f: ArchiveFile[]) => packZip(f)],
    ] as const) {
      const path = await up.write(name, await pack([...junk, ...files]));
      const d = await decodeBoth(path);
      // Code-unit order, as Python's sorted(): digits before capitals.
      assert.deepEqual(d.classNames, ['10', '2', 'Zebra']);
      assertPixels(d, 'train', splitFiles(files, 'train/'), pixels);
    }
  });

  it('drops alpha: RGBA gives 3 channels, grey + alpha gives 1', async () => {
    for (const channels of [2, 4] as const) {
      const files: ArchiveFile[] = [];
      const expected = new Map<string, number[]>();
      for (const split of ['train', 'test']) {
        for (const cls of ['a', 'b']) {
          const raw = Buffer.alloc(4 * 3 * channels).map(
            (_, i) => (i * 7 + cls.charCodeAt(0)) % 256,
          );
          const name = `${split}/${cls}/img.png`;
          let image = sharp(raw, { raw: { width: 4, height: 3, channels } });
          if (channels === 2) image = image.toColourspace('b-w');
          files.push({ name, data: await image.png().toBuffer() });
          expected.set(
            name,
            Array.from(raw).filter((_, i) => i % channels !== channels - 1),
          );
        }
      }
      const d = await decodeBoth(await up.write(`alpha-${channels}.tar`, await packTar(files)));
      assert.deepEqual(d.inputShape, [3, 4, channels - 1]);
      assert.deepEqual(
        Array.from(d.train.x.subarray(0, 12 * (channels - 1))),
        expected.get('train/a/img.png'),
      );
      assert.deepEqual(
        Array.from(d.test.x.subarray(12 * (channels - 1))),
        expected.get('test/b/img.png'),
      );
    }
  });
});
