/**
 * Data set uploads through the real API process (loopback only):
 *   1. a ~500 MB upload (a tar of x.npy uint8 [N, 3072] and y.npy): wall time, and the API
 *      process's resident memory before and at its peak while the file goes in (sampled from
 *      /proc every 20 ms), which must grow by less than 100 MB;
 *   2. CIFAR-10 as users have it (../shared/datasets/cifar10-jpeg.tar.gz, 60,000 JPEGs), when
 *      present: the same figures;
 *   3. the blob store alone: writing and reading 512 MB in chunks of BLOB_CHUNK_BYTES (default 1
 * MiB), and the table's size.
 * Writes bench/results/dataset-upload.json. Usage: npx tsx bench/datasets/upload.bench.ts
 * Uses a private Postgres schema, removed at the end.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { readBlob, writeBlob } from '../../src/infra/blobs/pg-blob-store.js';
import { machine, ROOT as root, startBenchService } from '../harness.js';

const loadAverageAtStart = os.loadavg()[0];
const CIFAR = path.resolve(root, '..', 'shared', 'datasets', 'cifar10-jpeg.tar.gz');
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 162_760); // x.npy of 162,760 x 3,072 bytes = 500 MB
const FEATURES = 3072;
const scratch = await mkdtemp(path.join(os.tmpdir(), 'retain-upload-bench-'));
const port = Number(process.env.BENCH_PORT ?? 3918);
const svc = await startBenchService({
  port,
  worker: false,
  env: { UPLOAD_DIR: path.join(scratch, 'uploads') },
});
const { key, pool } = svc;

async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/** A .npy header for `shape` of `descr` (format 1.0, padded to 64 bytes). */
function npyHeader(descr: string, shape: number[]): Buffer {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const prefix = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
  prefix.writeUInt16LE(header.length, 8);
  return Buffer.concat([prefix, Buffer.from(header, 'latin1')]);
}

/** Writes a tar of x.npy (uint8 [n, FEATURES]) and y.npy (int64 [n], 10 classes) to `file`, streaming. */
async function writeNpyTar(file: string, n: number): Promise<void> {
  const pack = tar.pack();
  const done = pipeline(pack, createWriteStream(file));
  const xHead = npyHeader('|u1', [n, FEATURES]);
  const x = pack.entry({ name: 'x.npy', size: xHead.length + n * FEATURES });
  x.write(xHead);
  const row = Buffer.alloc(FEATURES * 1024);
  for (let i = 0; i < n; i += 1024) {
    const rows = Math.min(1024, n - i);
    for (let j = 0; j < row.length; j++) row[j] = (i + j * 7) & 0xff;
    if (!x.write(row.subarray(0, rows * FEATURES)))
      await new Promise<void>((r) => x.once('drain', () => r()));
  }
  x.end(Buffer.alloc(0));
  const y = Buffer.alloc(n * 8);
  for (let i = 0; i < n; i++) y.writeBigInt64LE(BigInt(i % 10), i * 8);
  pack.entry({ name: 'y.npy' }, Buffer.concat([npyHeader('<i8', [n]), y]));
  pack.finalize();
  await done;
}

interface UploadFigures {
  file: string;
  bytes: number;
  status: number;
  wallMs: number;
  megabytesPerSecond: number;
  apiRssBeforeMb: number;
  apiRssPeakMb: number;
  apiRssGrowthMb: number;
  dataset: unknown;
}

/** POSTs `file` to /v1/datasets, streamed from disk, sampling the API's RSS meanwhile. */
async function upload(file: string, label: string): Promise<UploadFigures> {
  const bytes = (await stat(file)).size;
  const before = await rssBytes(svc.apiPid);
  let peak = before;
  const sampler = setInterval(
    () =>
      void rssBytes(svc.apiPid).then(
        (r) => (peak = Math.max(peak, r)),
        () => {},
      ),
    20,
  );
  const t0 = performance.now();
  const { status, body } = await new Promise<{ status: number; body: string }>(
    (resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: `/v1/datasets?name=${encodeURIComponent(label)}`,
          headers: {
            authorization: `Bearer ${key}`,
            'content-type': 'application/octet-stream',
            'content-length': bytes,
          },
        },
        (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode!, body: text }));
        },
      );
      req.on('error', reject);
      req.setTimeout(30 * 60_000, () => req.destroy(new Error('upload took over 30 min')));
      void pipeline(createReadStream(file), req).catch(reject);
    },
  );
  const wallMs = performance.now() - t0;
  clearInterval(sampler);
  peak = Math.max(peak, await rssBytes(svc.apiPid));
  const mb = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
  const d = JSON.parse(body);
  const figures = {
    file: label,
    bytes,
    status,
    wallMs: Math.round(wallMs),
    megabytesPerSecond: Math.round((bytes / 2 ** 20 / (wallMs / 1000)) * 10) / 10,
    apiRssBeforeMb: mb(before),
    apiRssPeakMb: mb(peak),
    apiRssGrowthMb: mb(peak - before),
    dataset:
      status < 300
        ? {
            format: d.format,
            inputShape: d.inputShape,
            classes: d.classNames.length,
            samples: d.samples,
          }
        : d,
  };
  console.log(JSON.stringify(figures));
  return figures;
}

async function blobStoreFigures(totalBytes: number) {
  const piece = randomBytes(1024 * 1024);
  async function* source() {
    for (let sent = 0; sent < totalBytes; sent += piece.length) yield piece;
  }
  const client = await pool.connect();
  let blobId: string;
  const t0 = performance.now();
  try {
    await client.query('BEGIN');
    blobId = (await writeBlob(client, source())).id;
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  const writeMs = performance.now() - t0;
  const t1 = performance.now();
  let read = 0;
  for await (const chunk of readBlob(pool, blobId)) read += chunk.length;
  const readMs = performance.now() - t1;
  const size = await pool.query<{ n: string }>(`SELECT pg_total_relation_size('blob_chunks') AS n`);
  const rate = (ms: number) => Math.round((totalBytes / 2 ** 20 / (ms / 1000)) * 10) / 10;
  const out = {
    bytes: totalBytes,
    writeMs: Math.round(writeMs),
    writeMegabytesPerSecond: rate(writeMs),
    readMs: Math.round(readMs),
    readMegabytesPerSecond: rate(readMs),
    readBytes: read,
    tableBytesAfter: Number(size.rows[0].n),
  };
  console.log(JSON.stringify(out));
  return out;
}

try {
  const npyTar = path.join(scratch, 'x-y-npy.tar');
  await writeNpyTar(npyTar, SAMPLES);
  const uploads = [await upload(npyTar, `npy tar, ${SAMPLES} x ${FEATURES} uint8`)];
  await rm(npyTar);
  if (existsSync(CIFAR)) uploads.push(await upload(CIFAR, 'cifar10-jpeg.tar.gz'));
  else console.log(`${CIFAR} not found: CIFAR-10 upload skipped`);
  const blobStore = await blobStoreFigures(512 * 2 ** 20);
  const result = {
    when: new Date().toISOString(),
    machine: machine(loadAverageAtStart),
    uploads,
    blobStore,
  };
  await writeFile(
    path.join(root, 'bench', 'results', 'dataset-upload.json'),
    `${JSON.stringify(result, null, 2)}\n`,
  );
  console.log('wrote bench/results/dataset-upload.json');
} finally {
  await svc.stop();
  await rm(scratch, { recursive: true, force: true });
}
