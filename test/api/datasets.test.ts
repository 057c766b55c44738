/**
 * The datasets resource over HTTP against real Postgres: upload (streamed, validated, stored in
 * chunks), read, list, delete, tenant isolation, idempotency, the size limit answered as soon as
 * it is passed, and uploads that fail or break off leaving nothing behind.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readBlob } from '../../src/infra/blobs/pg-blob-store.js';
import { createTestService, eventually, type TestService } from '../helpers/service.js';

/** A CSV of `rows` samples over `classes` string labels, 3 features each. */
function csv(rows: number, classes = ['cat', 'dog'], seed = 1): string {
  const lines = ['f1,f2,label,f3'];
  for (let i = 0; i < rows; i++)
    lines.push(`${(i * seed) % 7},${i / 10},${classes[i % classes.length]},-${i % 3}`);
  return `${lines.join('\n')}\n`;
}

const MAX_UPLOAD = 64 * 1024;

/** Sends raw bytes over a socket and returns the status line's code (the server may answer before all is sent). */
function rawRequest(
  port: number,
  head: string,
  body: Buffer | null,
  opts: { endEarly?: boolean } = {},
): Promise<{ status: number | null; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(
      () => (socket.destroy(), reject(new Error(`no answer within 10 s; got: ${text}`))),
      10_000,
    );
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : null, text });
    });
    socket.write(head);
    if (body) socket.write(body);
    if (opts.endEarly) setTimeout(() => socket.destroy(), 200);
  });
}

describe('datasets over HTTP', () => {
  let svc: TestService;
  let alice: string;
  let bob: string;
  let uploadDir: string;
  let port: number;

  before(async () => {
    uploadDir = await mkdtemp(path.join(os.tmpdir(), 'retain-uploads-test-'));
    svc = await createTestService('datasets', {
      UPLOAD_DIR: uploadDir,
      DATASET_MAX_UPLOAD_BYTES: String(MAX_UPLOAD),
      BLOB_CHUNK_BYTES: '1024',
    });
    alice = await svc.auth('alice');
    bob = await svc.auth('bob');
    await svc.app.listen({ port: 0, host: '127.0.0.1' });
    port = (svc.app.server.address() as net.AddressInfo).port;
  });
  after(async () => {
    await svc?.close();
    await rm(uploadDir, { recursive: true, force: true });
  });

  const upload = (
    body: string | Buffer,
    query = '',
    headers: Record<string, string> = {},
    auth = alice,
  ) =>
    svc.app.inject({
      method: 'POST',
      url: `/v1/datasets${query}`,
      headers: { authorization: auth, 'content-type': 'application/octet-stream', ...headers },
      payload: body,
    });
  const get = (url: string, auth = alice) =>
    svc.app.inject({ method: 'GET', url, headers: { authorization: auth } });
  const rowCount = async (table: string) =>
    Number((await svc.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);

  /** What nothing-left-behind means: no scratch file, and as many rows as before. */
  async function assertNothingLeft(before: { datasets: number; blobs: number; chunks: number }) {
    assert.deepEqual(await readdir(uploadDir), [], 'scratch files left behind');
    assert.equal(await rowCount('datasets'), before.datasets);
    assert.equal(await rowCount('blobs'), before.blobs);
    assert.equal(await rowCount('blob_chunks'), before.chunks);
  }
  const snapshot = async () => ({
    datasets: await rowCount('datasets'),
    blobs: await rowCount('blobs'),
    chunks: await rowCount('blob_chunks'),
  });

  it('uploads a CSV: 201 with shape, classes and counts; the bytes are stored in chunks, unchanged', async () => {
    const text = csv(50);
    const res = await upload(text, '?name=pets&testFraction=0.2&seed=4');
    assert.equal(res.statusCode, 201, res.body);
    const d = res.json();
    assert.equal(res.headers.location, `/v1/datasets/${d.id}`);
    assert.equal(d.name, 'pets');
    assert.equal(d.format, 'csv');
    assert.equal(d.status, 'ready');
    assert.equal(d.dtype, 'float32');
    assert.deepEqual(d.inputShape, [3]);
    assert.deepEqual(d.classNames, ['cat', 'dog']);
    assert.deepEqual(d.counts, { train: [20, 20], test: [5, 5] });
    assert.deepEqual(d.samples, { train: 40, test: 10 });
    assert.deepEqual(d.options, { labelColumn: 'label', testFraction: 0.2, seed: 4 });
    assert.equal(d.sizeBytes, Buffer.byteLength(text));
    assert.equal(d.sha256, createHash('sha256').update(text).digest('hex'));

    assert.deepEqual((await get(`/v1/datasets/${d.id}`)).json(), d);
    const { rows } = await svc.pool.query<{ blob_id: string }>(
      'SELECT blob_id FROM datasets WHERE id = $1',
      [d.id],
    );
    const chunks = Number(
      (
        await svc.pool.query<{ n: string }>(
          'SELECT count(*) AS n FROM blob_chunks WHERE blob_id = $1',
          [rows[0].blob_id],
        )
      ).rows[0].n,
    );
    assert.equal(chunks, Math.ceil(Buffer.byteLength(text) / 1024));
    const stored: Buffer[] = [];
    for await (const c of readBlob(svc.pool, rows[0].blob_id)) stored.push(c);
    assert.equal(Buffer.concat(stored).toString(), text);
    assert.deepEqual(await readdir(uploadDir), []);
  });

  it('lists data sets newest first with cursor pagination, each tenant only its own', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await upload(csv(20, ['a', 'b', 'c'], i + 2), '', {}, bob)).json().id);
    const first = (await get('/v1/datasets?limit=2', bob)).json();
    assert.deepEqual(
      first.items.map((d: { id: string }) => d.id),
      [ids[2], ids[1]],
    );
    assert.ok(first.nextCursor);
    const second = (await get(`/v1/datasets?limit=2&cursor=${first.nextCursor}`, bob)).json();
    assert.deepEqual(
      second.items.map((d: { id: string }) => d.id),
      [ids[0]],
    );
    assert.equal(second.nextCursor, null);
    const alices = (await get('/v1/datasets?limit=100'))
      .json()
      .items.map((d: { id: string }) => d.id);
    for (const id of ids) assert.ok(!alices.includes(id), "alice sees bob's data set");
    const bad = await get('/v1/datasets?cursor=bm9wZQ', bob);
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error.code, 'INVALID_CURSOR');
  });

  it("another tenant's data set answers 404 DATASET_NOT_FOUND on every route, like a missing one", async () => {
    const id = (await upload(csv(10))).json().id;
    for (const [method, url] of [
      ['GET', `/v1/datasets/${id}`],
      ['DELETE', `/v1/datasets/${id}`],
      ['GET', `/v1/datasets/${randomUUID()}`],
    ] as const) {
      const res = await svc.app.inject({ method, url, headers: { authorization: bob } });
      assert.equal(res.statusCode, 404, `${method} ${url}: ${res.body}`);
      assert.equal(res.json().error.code, 'DATASET_NOT_FOUND');
    }
    assert.equal((await get(`/v1/datasets/${id}`)).statusCode, 200, 'the owner still has it');
  });

  it('every route needs a key', async () => {
    for (const [method, url] of [
      ['POST', '/v1/datasets'],
      ['GET', '/v1/datasets'],
      ['GET', `/v1/datasets/${randomUUID()}`],
      ['DELETE', `/v1/datasets/${randomUUID()}`],
    ] as const) {
      const res = await svc.app.inject({
        method,
        url,
        payload: method === 'POST' ? csv(10) : undefined,
      });
      assert.equal(res.statusCode, 401, `${method} ${url}`);
    }
  });

  it('Idempotency-Key: the same upload returns the first data set (200); another file with the key is refused (409)', async () => {
    const key = `k-${randomUUID()}`;
    const first = await upload(csv(12), '', { 'idempotency-key': key });
    assert.equal(first.statusCode, 201);
    const again = await upload(csv(12), '', { 'idempotency-key': key });
    assert.equal(again.statusCode, 200);
    assert.equal(again.json().id, first.json().id);
    const before = await snapshot();
    const other = await upload(csv(14), '', { 'idempotency-key': key });
    assert.equal(other.statusCode, 409);
    assert.equal(other.json().error.code, 'IDEMPOTENCY_KEY_REUSED');
    await assertNothingLeft(before);
  });

  it('deletes a data set and its bytes (204); refuses while a queued job trains on it (409)', async () => {
    const id = (await upload(csv(10))).json().id;
    const { rows } = await svc.pool.query<{ blob_id: string; tenant_id: string }>(
      'SELECT blob_id, tenant_id FROM datasets WHERE id = $1',
      [id],
    );
    // A job as the jobs API will store one that trains on this data set.
    const jobId = randomUUID();
    await svc.pool.query(
      `INSERT INTO jobs (id, tenant_id, spec, status, tasks_total, iterations_per_task, updated_at) VALUES ($1, $2, $3, 'queued', 1, 1, now())`,
      [
        jobId,
        rows[0].tenant_id,
        JSON.stringify({ benchmark: { kind: 'datasets', tasks: [{ dataset: id }] } }),
      ],
    );
    const busy = await svc.app.inject({
      method: 'DELETE',
      url: `/v1/datasets/${id}`,
      headers: { authorization: alice },
    });
    assert.equal(busy.statusCode, 409);
    assert.equal(busy.json().error.code, 'DATASET_IN_USE');
    assert.match(busy.json().error.message, new RegExp(jobId));

    await svc.pool.query(`UPDATE jobs SET status = 'succeeded' WHERE id = $1`, [jobId]);
    const res = await svc.app.inject({
      method: 'DELETE',
      url: `/v1/datasets/${id}`,
      headers: { authorization: alice },
    });
    assert.equal(res.statusCode, 204, res.body);
    assert.equal((await get(`/v1/datasets/${id}`)).statusCode, 404);
    assert.equal(
      Number(
        (
          await svc.pool.query<{ n: string }>(
            'SELECT count(*) AS n FROM blob_chunks WHERE blob_id = $1',
            [rows[0].blob_id],
          )
        ).rows[0].n,
      ),
      0,
    );
  });

  it('an upload declared over the limit is refused with 413 before its body is read', async () => {
    const before = await snapshot();
    // Content-Length of 1 GB, then only a few bytes: an answer proves nothing waited for the rest.
    const res = await rawRequest(
      port,
      `POST /v1/datasets HTTP/1.1\r\nHost: x\r\nAuthorization: ${alice}\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000000\r\n\r\n`,
      Buffer.from('a,b,label\n'),
    );
    assert.equal(res.status, 413, res.text);
    assert.match(res.text, /DATASET_TOO_LARGE/);
    await assertNothingLeft(before);
  });

  it('a chunked upload is refused with 413 once it passes the limit, and nothing is kept', async () => {
    const before = await snapshot();
    const big = Buffer.from(csv(8000)).subarray(0, MAX_UPLOAD + 10_000);
    assert.equal(big.length, MAX_UPLOAD + 10_000);
    const res = await rawRequest(
      port,
      `POST /v1/datasets HTTP/1.1\r\nHost: x\r\nAuthorization: ${alice}\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`,
      Buffer.concat([
        Buffer.from(`${big.length.toString(16)}\r\n`),
        big,
        Buffer.from('\r\n0\r\n\r\n'),
      ]),
    );
    assert.equal(res.status, 413, res.text);
    await assertNothingLeft(before);
  });

  it('an upload that breaks off leaves nothing behind', async () => {
    const before = await snapshot();
    const part = Buffer.from(csv(500)).subarray(0, 5000);
    const res = await rawRequest(
      port,
      `POST /v1/datasets HTTP/1.1\r\nHost: x\r\nAuthorization: ${alice}\r\nContent-Type: application/octet-stream\r\nContent-Length: 60000\r\n\r\n`,
      part,
      { endEarly: true },
    );
    assert.equal(res.status, null, 'the server answered a request whose body never arrived');
    await eventually(
      async () => ((await readdir(uploadDir)).length === 0 ? true : undefined),
      50,
      5000,
    );
    await assertNothingLeft(before);
  });

  it('a multipart form is refused with a message saying how to send the file', async () => {
    const res = await upload(
      '--x\r\nContent-Disposition: form-data; name="file"\r\n\r\na,label\r\n--x--',
      '',
      { 'content-type': 'multipart/form-data; boundary=x' },
    );
    assert.equal(res.statusCode, 415);
    assert.match(res.json().error.message, /--data-binary/);
  });
});
