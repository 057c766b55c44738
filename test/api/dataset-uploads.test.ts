/**
 * Uploads of every format over HTTP, on files the test makes, and a table of bad uploads: each
 * must answer 4xx with the stable error shape and a message naming the problem, and leave nothing
 * behind (no record, no blob, no scratch file).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { createTestService, type TestService } from '../helpers/service.js';
import {
  csv,
  idxFiles,
  imageFolderFiles,
  makeImage,
  npy,
  npz,
  packTar,
  packTarGz,
  packZip,
  type IdxSplit,
} from '../helpers/dataset-builders.js';

const MAX_UPLOAD = 2 * 1024 * 1024;
const MAX_EXPANDED = 4 * 1024 * 1024;

/** `count` samples of a 4x4 single-channel image set over `classes` labels. */
function idxSplit(count: number, classes: number, seed: number): IdxSplit {
  const images = new Uint8Array(count * 16).map((_, i) => (i * 31 + seed * 7) % 256);
  const labels = new Uint8Array(count).map((_, i) => i % classes);
  return { images, labels, count, rows: 4, cols: 4 };
}

const labels = (n: number, classes: number) =>
  Array.from({ length: n }, (_, i) => BigInt(i % classes));

describe('dataset uploads over HTTP: every format, and bad uploads', () => {
  let svc: TestService;
  let auth: string;
  let uploadDir: string;

  before(async () => {
    uploadDir = await mkdtemp(path.join(os.tmpdir(), 'retain-uploads-test-'));
    svc = await createTestService('dataset_uploads', {
      UPLOAD_DIR: uploadDir,
      DATASET_MAX_UPLOAD_BYTES: String(MAX_UPLOAD),
      DATASET_MAX_EXPANDED_BYTES: String(MAX_EXPANDED),
    });
    auth = await svc.auth('acme');
  });
  after(async () => {
    await svc?.close();
    await rm(uploadDir, { recursive: true, force: true });
  });

  const upload = (body: Buffer, query = '') =>
    svc.app.inject({
      method: 'POST',
      url: `/v1/datasets${query}`,
      headers: { authorization: auth, 'content-type': 'application/octet-stream' },
      payload: body,
    });

  describe('every format', () => {
    const good: {
      name: string;
      make: () => Promise<Buffer>;
      query?: string;
      format: string;
      inputShape: number[];
      dtype: string;
      classNames: string[];
      train: number[];
      test: number[];
    }[] = [
      {
        name: 'ImageFolder .tar.gz of PNG, train/ and test/',
        make: async () =>
          packTarGz(
            (
              await imageFolderFiles({
                classes: ['cat', 'dog'],
                perClass: { train: 3, test: 2 },
                width: 8,
                height: 6,
              })
            ).files,
          ),
        format: 'imagefolder',
        inputShape: [6, 8, 3],
        dtype: 'uint8',
        classNames: ['cat', 'dog'],
        train: [3, 3],
        test: [2, 2],
      },
      {
        name: 'ImageFolder .tar of grey JPEG, <class>/ only (seeded test fraction)',
        make: async () =>
          packTar(
            (
              await imageFolderFiles({
                classes: ['a', 'b', 'c'],
                perClass: 5,
                channels: 1,
                format: 'jpeg',
                width: 8,
                height: 8,
              })
            ).files,
          ),
        query: '?testFraction=0.4&seed=2',
        format: 'imagefolder',
        inputShape: [8, 8, 1],
        dtype: 'uint8',
        classNames: ['a', 'b', 'c'],
        train: [3, 3, 3],
        test: [2, 2, 2],
      },
      {
        name: 'ImageFolder .zip under a top-level folder',
        make: async () =>
          packZip(
            (
              await imageFolderFiles({
                classes: ['x', 'y'],
                perClass: { train: 2, test: 1 },
                prefix: 'pets/',
              })
            ).files,
          ),
        format: 'imagefolder',
        inputShape: [9, 12, 3],
        dtype: 'uint8',
        classNames: ['x', 'y'],
        train: [2, 2],
        test: [1, 1],
      },
      {
        name: 'NumPy .npz (compressed) with x_test and y_test',
        make: async () =>
          npz(
            {
              x: npy({ descr: '|u1', shape: [6, 2, 2], data: new Uint8Array(24).map((_, i) => i) }),
              y: npy({ descr: '<i8', shape: [6], data: labels(6, 2) }),
              x_test: npy({ descr: '|u1', shape: [4, 2, 2], data: new Uint8Array(16) }),
              y_test: npy({ descr: '<i8', shape: [4], data: labels(4, 2) }),
            },
            { compressed: true },
          ),
        format: 'npz',
        inputShape: [2, 2],
        dtype: 'uint8',
        classNames: ['0', '1'],
        train: [3, 3],
        test: [2, 2],
      },
      {
        name: 'a tar of x.npy and y.npy (float32)',
        make: async () =>
          packTar([
            {
              name: 'x.npy',
              data: npy({
                descr: '<f4',
                shape: [10, 3],
                data: new Float32Array(30).map((_, i) => i / 7),
              }),
            },
            {
              name: 'y.npy',
              data: npy({
                descr: '<i4',
                shape: [10],
                data: Int32Array.from({ length: 10 }, (_, i) => (i % 2) * 5),
              }),
            },
          ]),
        query: '?testFraction=0.2',
        format: 'npz',
        inputShape: [3],
        dtype: 'float32',
        classNames: ['0', '5'],
        train: [4, 4],
        test: [1, 1],
      },
      {
        name: 'CSV with string labels and quoted fields',
        make: async () =>
          csv(
            ['a', 'b', 'label'],
            Array.from({ length: 10 }, (_, i) => [i, `${i}.5`, i % 2 ? 'yes, sure' : 'no']),
          ),
        query: '?testFraction=0.2&format=csv',
        format: 'csv',
        inputShape: [2],
        dtype: 'float32',
        classNames: ['no', 'yes, sure'],
        train: [4, 4],
        test: [1, 1],
      },
      {
        name: 'IDX: a tar.gz of the four gzipped files',
        make: async () =>
          packTarGz(idxFiles(idxSplit(12, 3, 1), idxSplit(6, 3, 2), { gzipFiles: true })),
        format: 'idx',
        inputShape: [4, 4, 1],
        dtype: 'uint8',
        classNames: ['0', '1', '2'],
        train: [4, 4, 4],
        test: [2, 2, 2],
      },
    ];
    for (const g of good) {
      it(g.name, async () => {
        const res = await upload(await g.make(), g.query);
        assert.equal(res.statusCode, 201, res.body);
        const d = res.json();
        assert.deepEqual(
          {
            format: d.format,
            inputShape: d.inputShape,
            dtype: d.dtype,
            classNames: d.classNames,
            counts: d.counts,
          },
          {
            format: g.format,
            inputShape: g.inputShape,
            dtype: g.dtype,
            classNames: g.classNames,
            counts: { train: g.train, test: g.test },
          },
        );
      });
    }
  });

  describe('bad uploads: 4xx naming the problem, nothing stored', () => {
    const png = () => makeImage({ width: 8, height: 8, channels: 3, classIndex: 0 });
    const okFolder = async () =>
      (
        await imageFolderFiles({
          classes: ['cat', 'dog'],
          perClass: { train: 2, test: 1 },
          width: 8,
          height: 8,
        })
      ).files;
    const x = (n: number) => npy({ descr: '|u1', shape: [n, 2], data: new Uint8Array(n * 2) });
    const y = (n: number, classes = 2) =>
      npy({ descr: '<i8', shape: [n], data: labels(n, classes) });
    const bad: {
      name: string;
      make: () => Promise<Buffer>;
      query?: string;
      status: number;
      code: string;
      mentions: RegExp;
    }[] = [
      {
        name: 'an empty body',
        make: async () => Buffer.alloc(0),
        status: 422,
        code: 'INVALID_DATASET',
        mentions: /empty/,
      },
      {
        name: 'random bytes',
        make: async () =>
          Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 7919 + 13) % 256)),
        status: 415,
        code: 'UNSUPPORTED_DATASET_FORMAT',
        mentions: /format/i,
      },
      {
        name: 'a single PNG, not an archive',
        make: png,
        status: 415,
        code: 'UNSUPPORTED_DATASET_FORMAT',
        mentions: /png|image|archive/i,
      },
      {
        name: 'a truncated tar.gz',
        make: async () => (await packTarGz(await okFolder())).subarray(0, 300),
        status: 422,
        code: 'INVALID_DATASET',
        mentions: /truncated|corrupt|end/i,
      },
      {
        name: 'a truncated zip',
        make: async () => packZip(await okFolder()).subarray(0, 500),
        status: 422,
        code: 'INVALID_DATASET',
        mentions: /zip|truncated|corrupt/i,
      },
      {
        name: 'images of two sizes',
        make: async () =>
          packTar([
            ...(await okFolder()),
            {
              name: 'train/dog/big.png',
              data: await makeImage({ width: 9, height: 8, channels: 3, classIndex: 1 }),
            },
          ]),
        status: 422,
        code: 'INVALID_DATASET',
        mentions: /train\/dog\/big\.png/,
      },
      {
        name: 'a non-image file in a class folder',
        make: async () =>
          packTar([
            ...(await okFolder()),
            { name: 'train/cat/notes.txt', data: Buffer.from('hello') },
          ]),
        status: 422,
        code: 'INVALID_DATASET',
        mentions: /notes\.txt/,
      },
      {
        name: 'a ../ entry',
        make: async () =>
          packTar([...(await okFolder()), { name: '../evil/x.png', data: await png() }]),
        status: 422,
        code: 'INVALID_DATASET',
        mentions: /\.\./,
      },
      {
        name: 'an absolute path',
        make: async () =>
          packTar([...(await okFolder()), { name: '/etc/x.png', data: await png() }]),
        status: 422,
        code: 'INVALID_DATASET',
        mentions: /\/etc\/x\.png/,
      },
      {
        name: 'a symlink entry',
        make: async () =>
          packTar([
            ...(await okFolder()),
            { name: 'train/cat/link.png', type: 'symlink', linkname: '/etc/passwd' },
          ]),
        status: 422,
        code: 'INVALID_DATASET',
        mentions: /link\.png/,
      },
      {
        name: 'one class only',
        make: async () =>
          packTar(
            (await imageFolderFiles({ classes: ['cat'], perClass: { train: 2, test: 1 } })).files,
          ),
        status: 422,
        code: 'INVALID_DATASET',
        mentions: /class/i,
      },
      {
        name: 'a class missing from test/',
        make: async () =>
          packTar((await okFolder()).filter((f) => !f.name.startsWith('test/dog/'))),
        status: 422,
        code: 'INVALID_DATASET',
        mentions: /dog/,
      },
      {
        name: 'a ragged CSV row',
        make: async () => Buffer.from('a,b,label\n1,2,x\n3,y\n4,5,y\n6,7,x\n'),
        status: 422,
        code: 'INVALID_DATASET',
        mentions: /row 3/,
      },
      {
        name: 'a non-numeric CSV cell',
        make: async () => Buffer.from('a,b,label\n1,2,x\n3,oops,y\n4,5,y\n6,7,x\n'),
        status: 422,
        code: 'INVALID_DATASET',
        mentions: /row 3.*(column|b)|oops/i,
      },
      {
        name: 'NaN in a CSV',
        make: async () => Buffer.from('a,b,label\n1,2,x\n3,NaN,y\n4,5,y\n6,7,x\n'),
        status: 422,
        code: 'INVALID_DATASET',
        mentions: /row 3|NaN/,
      },
      {
        name: 'a CSV without the label column',
        make: async () => Buffer.from('a,b,c\n1,2,3\n4,5,6\n'),
        status: 422,
        code: 'INVALID_DATASET',
        mentions: /label/,
      },
      {
        name: 'a CSV with over 1000 classes',
        make: async () =>
          csv(
            ['a', 'label'],
            Array.from({ length: 2004 }, (_, i) => [i, `c${i % 1002}`]),
          ),
        status: 422,
        code: 'INVALID_DATASET',
        mentions: /1000|1,000/,
      },
      {
        name: 'a class with a single sample (none left for testing)',
        make: async () => Buffer.from('a,label\n1,x\n2,x\n3,x\n4,y\n'),
        status: 422,
        code: 'INVALID_DATASET',
        mentions: /\by\b/,
      },
      {
        name: 'an .npz without y',
        make: async () => npz({ x: x(4) }),
        status: 422,
        code: 'INVALID_DATASET',
        mentions: /\by\b/,
      },
      {
        name: 'y shorter than x',
        make: async () => npz({ x: x(6), y: y(5) }),
        status: 422,
        code: 'INVALID_DATASET',
        mentions: /y.*5|6.*5/,
      },
      {
        name: 'float64 x',
        make: async () =>
          npz({ x: npy({ descr: '<f8', shape: [4, 2], data: new Float64Array(8) }), y: y(4) }),
        status: 422,
        code: 'INVALID_DATASET',
        mentions: /f8|float64/,
      },
      {
        name: 'fortran-ordered x',
        make: async () =>
          npz({
            x: npy({ descr: '|u1', shape: [4, 2], data: new Uint8Array(8), fortranOrder: true }),
            y: y(4),
          }),
        status: 422,
        code: 'INVALID_DATASET',
        mentions: /fortran/i,
      },
      {
        name: 'NaN in float32 x',
        make: async () =>
          npz({
            x: npy({
              descr: '<f4',
              shape: [6, 2],
              data: Float32Array.from([1, 2, 3, 4, 5, NaN, 7, 8, 9, 10, 11, 12]),
            }),
            y: y(6),
          }),
        status: 422,
        code: 'INVALID_DATASET',
        mentions: /NaN|not finite|index/i,
      },
      {
        name: 'an IDX tar missing a file',
        make: async () => packTar(idxFiles(idxSplit(6, 2, 1), idxSplit(4, 2, 2)).slice(0, 3)),
        status: 422,
        code: 'INVALID_DATASET',
        mentions: /t10k-labels/,
      },
      {
        name: 'IDX labels that do not match the images',
        make: async () => {
          const files = idxFiles(idxSplit(6, 2, 1), idxSplit(4, 2, 2));
          const wrong = idxFiles(idxSplit(5, 2, 1), idxSplit(4, 2, 2))[1];
          return packTar([files[0], wrong, files[2], files[3]]);
        },
        status: 422,
        code: 'INVALID_DATASET',
        mentions: /train-labels|6|5/,
      },
      {
        name: 'a declared format the content is not',
        make: async () => Buffer.from('a,label\n1,x\n2,y\n3,x\n4,y\n'),
        query: '?format=npz',
        status: 415,
        code: 'UNSUPPORTED_DATASET_FORMAT',
        mentions: /npz.*csv|csv.*npz/,
      },
      {
        name: 'a decompression bomb (tar.gz expanding past the limit)',
        make: async () =>
          gzipSync(
            await packTar([
              ...(await okFolder()),
              { name: 'train/cat/zeros.png', data: Buffer.alloc(MAX_EXPANDED + 1024 * 1024) },
            ]),
          ),
        status: 413,
        code: 'DATASET_TOO_LARGE',
        mentions: /expand|decompress|limit/i,
      },
      {
        name: 'an upload over the size limit',
        make: async () => Buffer.alloc(MAX_UPLOAD + 1, 65),
        status: 413,
        code: 'DATASET_TOO_LARGE',
        mentions: new RegExp(String(MAX_UPLOAD)),
      },
      {
        name: 'an unknown query parameter',
        make: async () => Buffer.from('a,label\n1,x\n'),
        query: '?colour=red',
        status: 400,
        code: 'INVALID_REQUEST',
        mentions: /colour/,
      },
      {
        name: 'a test fraction of 1',
        make: async () => Buffer.from('a,label\n1,x\n'),
        query: '?testFraction=1',
        status: 400,
        code: 'INVALID_REQUEST',
        mentions: /testFraction/,
      },
    ];

    it(`has at least 25 cases (${bad.length})`, () => assert.ok(bad.length >= 25));

    for (const b of bad) {
      it(b.name, async () => {
        const before = await Promise.all(
          ['datasets', 'blobs', 'blob_chunks'].map(
            async (t) => (await svc.pool.query(`SELECT count(*) AS n FROM ${t}`)).rows[0].n,
          ),
        );
        const res = await upload(await b.make(), b.query);
        assert.equal(res.statusCode, b.status, res.body);
        const { error } = res.json();
        assert.equal(error.code, b.code, error.message);
        assert.match(error.message, b.mentions);
        assert.ok(!/\n\s+at /.test(error.message), 'a stack trace reached the client');
        const afterCounts = await Promise.all(
          ['datasets', 'blobs', 'blob_chunks'].map(
            async (t) => (await svc.pool.query(`SELECT count(*) AS n FROM ${t}`)).rows[0].n,
          ),
        );
        assert.deepEqual(afterCounts, before, 'rows left behind');
        assert.deepEqual(await readdir(uploadDir), [], 'scratch files left behind');
      });
    }
  });
});
