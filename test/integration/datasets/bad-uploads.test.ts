/**
 * Uploads that must be refused, each with the code and the words that tell the user what and
 * where: both inspectDataset and decodeDataset must fail the same way.
 */
import { after, before, describe, it } from 'node:test';
import type { DecodeOptions } from '../../../src/infra/datasets/index.js';
import type { ServiceErrorCode } from '../../../src/services/errors.js';
import { rejectsBoth } from '../../helpers/dataset-assertions.js';
import {
  csv,
  encodeImage,
  idxFiles,
  imageFolderFiles,
  imagePixels,
  makeImage,
  npy,
  npz,
  packTar,
  packTarGz,
  packZip,
  uploadDir,
  type ArchiveFile,
  type IdxSplit,
} from '../../helpers/dataset-builders.js';

interface BadUpload {
  name: string;
  make: () => Promise<Buffer> | Buffer;
  opts?: Partial<DecodeOptions>;
  code: ServiceErrorCode;
  says: (string | RegExp)[];
}

/** Two classes, train 3 / test 2 each, RGB 12x9 PNG. */
async function folder(): Promise<ArchiveFile[]> {
  return (await imageFolderFiles({ classes: ['cat', 'dog'], perClass: { train: 3, test: 2 } }))
    .files;
}

const x6 = npy({ descr: '|u1', shape: [6, 2], data: Array.from({ length: 12 }, (_, i) => i) });
const y6 = npy({ descr: '<i8', shape: [6], data: [0, 1, 0, 1, 0, 1] });

function idxSplit(count: number): IdxSplit {
  return {
    images: new Uint8Array(count * 4).fill(7),
    labels: Uint8Array.from({ length: count }, (_, i) => i % 2),
    count,
    rows: 2,
    cols: 2,
  };
}

function withFile(files: ArchiveFile[], name: string, data: Buffer): ArchiveFile[] {
  return files.map((f) => (f.name === name ? { ...f, data } : f));
}

const cases: BadUpload[] = [
  // Archives
  {
    name: 'a truncated tar.gz',
    make: async () => {
      const gz = await packTarGz(await folder());
      return gz.subarray(0, Math.floor(gz.length * 0.6));
    },
    code: 'INVALID_DATASET',
    says: ['truncated or corrupt', /"(train|test)\/(cat|dog)\/\d+\.png"/],
  },
  {
    name: 'a truncated tar',
    make: async () => {
      const tar = await packTar(await folder());
      return tar.subarray(0, 512 * 5 + 100);
    },
    code: 'INVALID_DATASET',
    says: ['truncated or corrupt', /"train\/cat\/\d+\.png"/],
  },
  {
    name: 'a truncated zip',
    make: async () => {
      const zip = packZip(await folder());
      return zip.subarray(0, zip.length - 40);
    },
    code: 'INVALID_DATASET',
    says: ['zip archive is truncated or corrupt', 'central directory'],
  },
  {
    name: 'a zip entry whose data was altered (CRC-32)',
    make: async () => {
      const zip = packZip((await folder()).map((f) => ({ ...f, method: 'store' as const })));
      zip[30 + 'train/cat/000.png'.length + 40] ^= 0xff; // inside the first entry's data
      return zip;
    },
    code: 'INVALID_DATASET',
    says: ['"train/cat/000.png"', 'CRC-32'],
  },
  {
    name: 'an entry with a ../ path',
    make: async () =>
      packTar([
        {
          name: '../evil.png',
          data: await makeImage({ width: 4, height: 4, channels: 1, classIndex: 0 }),
        },
        ...(await folder()),
      ]),
    code: 'INVALID_DATASET',
    says: ['"../evil.png"', '".." segment'],
  },
  {
    name: 'an entry with an absolute path',
    make: async () =>
      packTar([...(await folder()), { name: '/etc/cron.d/evil', data: Buffer.from('x') }]),
    code: 'INVALID_DATASET',
    says: ['"/etc/cron.d/evil"', 'absolute path'],
  },
  {
    name: 'a symlink in a tar',
    make: async () =>
      packTar([
        ...(await folder()),
        { name: 'train/cat/link.png', type: 'symlink', linkname: '/etc/passwd' },
      ]),
    code: 'INVALID_DATASET',
    says: ['"train/cat/link.png"', 'symlink'],
  },
  {
    name: 'a hard link in a tar',
    make: async () =>
      packTar([
        ...(await folder()),
        { name: 'train/cat/hard.png', type: 'link', linkname: 'train/cat/000.png' },
      ]),
    code: 'INVALID_DATASET',
    says: ['"train/cat/hard.png"', 'is a link'],
  },
  {
    name: 'a symlink in a zip',
    make: async () =>
      packZip([
        ...(await folder()),
        { name: 'train/dog/link.png', type: 'symlink', linkname: '../../../etc/passwd' },
      ]),
    code: 'INVALID_DATASET',
    says: ['"train/dog/link.png"', 'symlink'],
  },
  {
    name: 'an empty tar.gz',
    make: () => packTarGz([]),
    code: 'INVALID_DATASET',
    says: ['archive holds no files'],
  },
  {
    name: 'an empty zip',
    make: () => packZip([]),
    code: 'INVALID_DATASET',
    says: ['zip archive holds no files'],
  },
  {
    name: 'an archive of hidden files only',
    make: () =>
      packZip([
        { name: '.DS_Store', data: Buffer.from('x') },
        { name: '__MACOSX/._a', data: Buffer.from('x') },
      ]),
    code: 'INVALID_DATASET',
    says: ['holds no files'],
  },
  {
    name: 'a gzip bomb (1 MB of zeros in a tar.gz, limit 64 KB)',
    make: () => packTarGz([{ name: 'train/a/big.png', data: Buffer.alloc(1024 * 1024) }]),
    opts: { maxExpandedBytes: 64 * 1024 },
    code: 'DATASET_TOO_LARGE',
    says: ['more than 65536 bytes', '"train/a/big.png"'],
  },
  {
    name: 'a zip bomb (1 MB of zeros deflated, limit 64 KB)',
    make: () =>
      packZip([
        {
          name: 'x.npy',
          data: npy({ descr: '|u1', shape: [1024, 1024], data: Buffer.alloc(1024 * 1024) }),
        },
      ]),
    opts: { maxExpandedBytes: 64 * 1024 },
    code: 'DATASET_TOO_LARGE',
    says: ['more than 65536 bytes', '"x.npy"'],
  },

  // Detection
  { name: 'an empty file', make: () => Buffer.alloc(0), code: 'INVALID_DATASET', says: ['empty'] },
  {
    name: 'random bytes',
    make: () => Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251)),
    code: 'UNSUPPORTED_DATASET_FORMAT',
    says: ['binary data of no supported format'],
  },
  {
    name: 'a text file that is not CSV',
    make: () => Buffer.from('Dear diary\nToday I trained a model.\n'),
    code: 'UNSUPPORTED_DATASET_FORMAT',
    says: ['text but not CSV', 'no comma'],
  },
  {
    name: 'a single PNG',
    make: () => makeImage({ width: 4, height: 4, channels: 3, classIndex: 0 }),
    code: 'UNSUPPORTED_DATASET_FORMAT',
    says: ['single PNG image'],
  },
  {
    name: 'an .npz declared as CSV',
    make: () => npz({ x: x6, y: y6 }),
    opts: { format: 'csv' },
    code: 'UNSUPPORTED_DATASET_FORMAT',
    says: ['declared "csv" but the upload is a zip archive holding .npy files (format "npz")'],
  },
  {
    name: 'CSV declared as ImageFolder',
    make: () => csv(['a', 'label'], [[1, 'x']]),
    opts: { format: 'imagefolder' },
    code: 'UNSUPPORTED_DATASET_FORMAT',
    says: ['declared "imagefolder" but the upload is CSV text (format "csv")'],
  },
  {
    name: 'an image tar.gz declared as IDX',
    make: async () => packTarGz(await folder()),
    opts: { format: 'idx' },
    code: 'UNSUPPORTED_DATASET_FORMAT',
    says: [
      'declared "idx" but the upload is a gzip-compressed tar archive whose first file is "train/cat/000.png" (format "imagefolder")',
    ],
  },

  // ImageFolder
  {
    name: 'images of mixed sizes',
    make: async () => {
      const files = await folder();
      const odd = await encodeImage(
        imagePixels({ width: 13, height: 9, channels: 3, classIndex: 1 }),
        { width: 13, height: 9, channels: 3 },
        'png',
      );
      return packTar(withFile(files, 'train/dog/001.png', odd));
    },
    code: 'INVALID_DATASET',
    says: ['"train/dog/001.png" is 13x9 pixels', '12x9', '"train/cat/000.png"'],
  },
  {
    name: 'train and test images of different sizes',
    make: async () => {
      const train = (
        await imageFolderFiles({ classes: ['cat', 'dog'], perClass: { train: 2, test: 0 } })
      ).files;
      const test = (
        await imageFolderFiles({
          classes: ['cat', 'dog'],
          perClass: { train: 0, test: 2 },
          width: 8,
          height: 8,
        })
      ).files;
      return packZip([...train, ...test]);
    },
    code: 'INVALID_DATASET',
    says: ['"test/cat/000.png" is 8x8 pixels', '12x9'],
  },
  {
    name: 'greyscale among colour images',
    make: async () => {
      const grey = await makeImage({ width: 12, height: 9, channels: 1, classIndex: 0 });
      return packTar(withFile(await folder(), 'test/dog/001.png', grey));
    },
    code: 'INVALID_DATASET',
    says: ['"test/dog/001.png" is greyscale', 'colour', '"train/cat/000.png"'],
  },
  {
    name: 'a text file in a class folder',
    make: async () =>
      packTar([
        ...(await folder()),
        { name: 'train/cat/notes.txt', data: Buffer.from('good cats') },
      ]),
    code: 'INVALID_DATASET',
    says: ['"train/cat/notes.txt" is not a PNG or JPEG image'],
  },
  {
    name: 'a truncated PNG',
    make: async () => {
      const files = await folder();
      const png = files.find((f) => f.name === 'train/cat/001.png')!.data!;
      return packTar(withFile(files, 'train/cat/001.png', png.subarray(0, png.length - 20)));
    },
    code: 'INVALID_DATASET',
    says: ['"train/cat/001.png" cannot be decoded as PNG'],
  },
  {
    name: 'a test split missing a class',
    make: async () => packTar((await folder()).filter((f) => !f.name.startsWith('test/dog/'))),
    code: 'INVALID_DATASET',
    says: ['test/ has no folder for class "dog"'],
  },
  {
    name: 'a train/ folder without test/',
    make: async () => packTar((await folder()).filter((f) => f.name.startsWith('train/'))),
    code: 'INVALID_DATASET',
    says: ['no test/ folder'],
  },
  {
    name: 'images at the top of the archive',
    make: async () =>
      packTar([
        {
          name: 'loose.png',
          data: await makeImage({ width: 12, height: 9, channels: 3, classIndex: 0 }),
        },
        ...(await folder()),
      ]),
    code: 'INVALID_DATASET',
    says: ['"loose.png" is not inside a class folder'],
  },
  {
    name: 'a single class folder',
    make: async () => packTarGz((await imageFolderFiles({ classes: ['only'], perClass: 4 })).files),
    code: 'INVALID_DATASET',
    says: ['1 class ("only")', 'at least 2'],
  },

  // NumPy
  {
    name: 'NaN in float32 x',
    make: () =>
      npz({
        x: npy({ descr: '<f4', shape: [6, 2], data: [0, 1, 2, 3, 4, 5, 6, NaN, 8, 9, 10, 11] }),
        y: y6,
      }),
    code: 'INVALID_DATASET',
    says: ['array "x" holds NaN at flat index 7 (sample 3)'],
  },
  {
    name: 'Inf in float32 x_test',
    make: () =>
      npz({
        x: npy({ descr: '<f4', shape: [6, 2], data: Array.from({ length: 12 }, (_, i) => i) }),
        y: y6,
        x_test: npy({ descr: '<f4', shape: [2, 2], data: [0, 1, -Infinity, 3] }),
        y_test: npy({ descr: '<i8', shape: [2], data: [0, 1] }),
      }),
    code: 'INVALID_DATASET',
    says: ['array "x_test" holds -Inf at flat index 2 (sample 1)'],
  },
  {
    name: 'an .npz without y',
    make: () => npz({ x: x6 }),
    code: 'INVALID_DATASET',
    says: ['no array "y"'],
  },
  {
    name: 'y shorter than x',
    make: () => npz({ x: x6, y: npy({ descr: '<i8', shape: [5], data: [0, 1, 0, 1, 0] }) }),
    code: 'INVALID_DATASET',
    says: ['y has 5 labels but x has 6 samples'],
  },
  {
    name: 'float64 x',
    make: () =>
      npz({
        x: npy({ descr: '<f8', shape: [6, 2], data: Array.from({ length: 12 }, (_, i) => i) }),
        y: y6,
      }),
    code: 'INVALID_DATASET',
    says: ['array "x" has dtype float64 ("<f8")', 'uint8 or float32'],
  },
  {
    name: 'x in Fortran order',
    make: () =>
      npz({
        x: npy({ descr: '|u1', shape: [6, 2], data: new Array(12).fill(0), fortranOrder: true }),
        y: y6,
      }),
    code: 'INVALID_DATASET',
    says: ['"x.npy" is stored in Fortran order'],
  },
  {
    name: 'big-endian y',
    make: () => npz({ x: x6, y: npy({ descr: '>i4', shape: [6], data: [0, 1, 0, 1, 0, 1] }) }),
    code: 'INVALID_DATASET',
    says: ['"y.npy" is big-endian (dtype ">i4"'],
  },
  {
    name: 'an object array',
    make: () => npz({ x: npy({ descr: '|O', shape: [6, 2], data: Buffer.alloc(0) }), y: y6 }),
    code: 'INVALID_DATASET',
    says: ['array "x" has dtype object ("|O")'],
  },
  {
    name: 'float labels',
    make: () => npz({ x: x6, y: npy({ descr: '<f4', shape: [6], data: [0, 1, 0, 1, 0, 1] }) }),
    code: 'INVALID_DATASET',
    says: ['array "y" has dtype float32 ("<f4")', 'labels must be integers'],
  },
  {
    name: "x_test's samples shaped unlike x's",
    make: () =>
      npz({
        x: x6,
        y: y6,
        x_test: npy({ descr: '|u1', shape: [2, 3], data: new Array(6).fill(1) }),
        y_test: npy({ descr: '<i8', shape: [2], data: [0, 1] }),
      }),
    code: 'INVALID_DATASET',
    says: ["x_test's samples have shape (3) but x's have (2)"],
  },
  {
    name: 'an array of another name',
    make: () => npz({ x: x6, y: y6, z: x6 }),
    code: 'INVALID_DATASET',
    says: ['"z.npy" is not one of the arrays'],
  },
  {
    name: 'a truncated x.npy in a tar',
    make: () =>
      packTar([
        { name: 'x.npy', data: x6.subarray(0, x6.length - 3) },
        { name: 'y.npy', data: y6 },
      ]),
    code: 'INVALID_DATASET',
    says: ['"x.npy" is truncated', '9 of the 12 data bytes'],
  },

  // CSV
  {
    name: 'a ragged CSV row',
    make: () => Buffer.from('f1,f2,label\n1,2,a\n3,4\n5,6,b\n'),
    code: 'INVALID_DATASET',
    says: ['row 3 has 2 fields but the header has 3', 'column 3 ("label")'],
  },
  {
    name: 'a non-numeric CSV cell',
    make: () => Buffer.from('f1,f2,label\n1,abc,a\n3,4,b\n'),
    code: 'INVALID_DATASET',
    says: ['row 2, column 2 ("f2"): "abc" is not a number'],
  },
  {
    name: 'NaN in CSV',
    make: () => Buffer.from('f1,f2,label\n1,2,a\n3,4,b\nNaN,6,a\n'),
    code: 'INVALID_DATASET',
    says: ['row 4, column 1 ("f1"): "NaN" is not allowed'],
  },
  {
    name: 'an empty CSV cell',
    make: () => Buffer.from('f1,f2,label\r\n1,2,a\r\n\r\n3,,b\r\n'),
    code: 'INVALID_DATASET',
    says: ['row 4, column 2 ("f2"): empty cell'],
  },
  {
    name: 'a CSV without the label column',
    make: () => Buffer.from('a,b,class\n1,2,x\n'),
    code: 'INVALID_DATASET',
    says: ['no label column "label"', 'its header is: "a", "b", "class"'],
  },
  {
    name: 'a CSV with a single class',
    make: () =>
      csv(
        ['f', 'label'],
        [
          [1, 'a'],
          [2, 'a'],
          [3, 'a'],
        ],
      ),
    code: 'INVALID_DATASET',
    says: ['1 class ("a")'],
  },
  {
    name: 'a class with one sample when splitting',
    make: () =>
      csv(
        ['f', 'label'],
        [
          [1, 'a'],
          [2, 'a'],
          [3, 'b'],
          [4, 'a'],
        ],
      ),
    code: 'INVALID_DATASET',
    says: ['class "b" has 1 sample', 'none for the training split'],
  },
  {
    name: 'over 1000 classes',
    make: () =>
      csv(
        ['f', 'label'],
        Array.from({ length: 1005 }, (_, i) => [i, `c${i}`]),
      ),
    code: 'INVALID_DATASET',
    says: ['row 1002, column 2 ("label")', 'label number 1001', 'at most 1000 classes'],
  },
  {
    name: 'a CSV that stops being UTF-8 after the first 64 KiB',
    make: () =>
      Buffer.concat([
        csv(
          ['f', 'label'],
          Array.from({ length: 12000 }, (_, i) => [i, i % 2 ? 'a' : 'b']),
        ),
        Buffer.from([0x31, 0x2c, 0xff, 0x0a]),
      ]),
    code: 'INVALID_DATASET',
    says: ['row 12002: the CSV is not valid UTF-8'],
  },
  {
    name: 'a CSV with an unclosed quote',
    make: () => Buffer.from('f,label\n1,a\n2,"b\n3,a\n'),
    code: 'INVALID_DATASET',
    says: ['row 3, column 2: a quoted field is never closed'],
  },

  // IDX
  {
    name: 'an IDX tar missing a file',
    make: () =>
      packTarGz(
        idxFiles(idxSplit(4), idxSplit(2)).filter((f) => !f.name.startsWith('t10k-labels')),
      ),
    code: 'INVALID_DATASET',
    says: ['no t10k-labels-idx1-ubyte'],
  },
  {
    name: 'IDX labels that do not match the images in count',
    make: () => {
      const files = idxFiles(idxSplit(4), idxSplit(2));
      const fewer = idxFiles(idxSplit(3), idxSplit(2))[1];
      return packTar(files.map((f) => (f.name === fewer.name ? fewer : f)));
    },
    code: 'INVALID_DATASET',
    says: ['"train-labels-idx1-ubyte" holds 3 labels but "train-images-idx3-ubyte" holds 4 images'],
  },
  {
    name: 'a truncated gzipped IDX file',
    make: () => {
      const files = idxFiles(idxSplit(4), idxSplit(2), { gzipFiles: true });
      return packTar(
        files.map((f) =>
          f.name.startsWith('t10k-images')
            ? { ...f, data: f.data!.subarray(0, f.data!.length - 12) }
            : f,
        ),
      );
    },
    code: 'INVALID_DATASET',
    says: ['"t10k-images-idx3-ubyte.gz"', 'truncated'],
  },
  {
    name: 'an IDX file of floats',
    make: () => {
      const files = idxFiles(idxSplit(4), idxSplit(2));
      const floats = Buffer.from(files[0].data!);
      floats[2] = 0x0d;
      return packTar([{ ...files[0], data: floats }, ...files.slice(1)]);
    },
    code: 'INVALID_DATASET',
    says: ['"train-images-idx3-ubyte" holds IDX type 0x0d'],
  },
  {
    name: 'an IDX tar with a stray file',
    make: () =>
      packTar([
        ...idxFiles(idxSplit(4), idxSplit(2)),
        { name: 'README', data: Buffer.from('mnist') },
      ]),
    code: 'INVALID_DATASET',
    says: ['"README" is not one of the files of an IDX upload'],
  },
];

describe('refused uploads', () => {
  let up: Awaited<ReturnType<typeof uploadDir>>;
  before(async () => {
    up = await uploadDir();
  });
  after(async () => {
    await up.cleanup();
  });

  cases.forEach((c, i) => {
    it(`refuses ${c.name}`, async () => {
      const path = await up.write(`bad-${i}.bin`, await c.make());
      await rejectsBoth(path, c.opts ?? {}, c.code, ...c.says);
    });
  });

  it('has a file for every refusal the contract lists', () => {
    // 25 kinds are required; the table holds more.
    if (cases.length < 25) throw new Error(`only ${cases.length} cases`);
  });
});
