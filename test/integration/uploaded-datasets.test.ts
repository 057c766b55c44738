/**
 * The workers' reader of uploaded data sets against real Postgres: decode as uploaded, download
 * once into the sha256-named cache (never leaving a partial file), replace a damaged cached copy,
 * and fail with DATA_NOT_FOUND / INVALID_DATA when the data set is gone or its bytes are damaged.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EngineError } from '../../src/core/index.js';
import { CachedUploadedDatasets } from '../../src/infra/datasets/uploaded-datasets.js';
import { csv } from '../helpers/dataset-builders.js';
import { createTestService, type TestService } from '../helpers/service.js';

const rows = (n: number, classes: string[]) => Array.from({ length: n }, (_, i) => [i, i / 4, classes[i % classes.length]]);

describe('CachedUploadedDatasets', () => {
  let svc: TestService;
  let auth: string;
  let cacheDir: string;
  let reader: CachedUploadedDatasets;

  before(async () => {
    svc = await createTestService('uploaded_datasets', { BLOB_CHUNK_BYTES: '1024' });
    auth = await svc.auth('acme');
    cacheDir = await mkdtemp(path.join(os.tmpdir(), 'retain-cache-test-'));
    reader = new CachedUploadedDatasets(svc.pool, { cacheDir, maxExpandedBytes: 1e8 });
  });
  after(async () => {
    await svc?.close();
    await rm(cacheDir, { recursive: true, force: true });
  });

  async function upload(body: Buffer): Promise<{ id: string; sha256: string }> {
    const res = await svc.app.inject({ method: 'POST', url: '/v1/datasets?testFraction=0.25&seed=3', headers: { authorization: auth, 'content-type': 'application/octet-stream' }, payload: body });
    assert.equal(res.statusCode, 201, res.body);
    return { id: res.json().id, sha256: (await svc.pool.query('SELECT sha256 FROM datasets WHERE id = $1', [res.json().id])).rows[0].sha256 };
  }
  const isCode = (code: string) => (e: unknown) => e instanceof EngineError && e.code === code;

  it('decodes with the stored options, caches the upload under its sha256, and reads the cache next time', async () => {
    const body = csv(['a', 'b', 'label'], rows(400, ['x', 'y', 'z']));
    const { id, sha256 } = await upload(body);
    const data = await reader.load(id, sha256);
    assert.deepEqual(data.classNames, ['x', 'y', 'z']);
    assert.deepEqual(data.inputShape, [2]);
    assert.equal(data.dtype, 'float32');
    assert.equal(data.train.count + data.test.count, 400);
    const info = (await svc.app.inject({ method: 'GET', url: `/v1/datasets/${id}`, headers: { authorization: auth } })).json();
    assert.deepEqual([data.train.count, data.test.count], [info.counts.train.reduce((a: number, b: number) => a + b), info.counts.test.reduce((a: number, b: number) => a + b)]);
    assert.deepEqual(await readdir(cacheDir), [`${sha256}.upload`]);
    assert.deepEqual(await readFile(path.join(cacheDir, `${sha256}.upload`)), body);

    // A damaged cached copy is replaced from the blob store.
    await writeFile(path.join(cacheDir, `${sha256}.upload`), 'garbage');
    assert.deepEqual((await reader.load(id, sha256)).train.y, data.train.y);
    assert.deepEqual(await readFile(path.join(cacheDir, `${sha256}.upload`)), body);

    // With the stored bytes gone, the verified cached copy is all that is read.
    await svc.pool.query('DELETE FROM blob_chunks WHERE blob_id = (SELECT blob_id FROM datasets WHERE id = $1)', [id]);
    assert.deepEqual((await reader.load(id, sha256)).test.x, data.test.x);
  });

  it('fails with DATA_NOT_FOUND for a data set that no longer exists', async () => {
    await assert.rejects(reader.load('00000000-0000-4000-8000-000000000000', 'a'.repeat(64)), isCode('DATA_NOT_FOUND'));
  });

  it('fails with INVALID_DATA when the bytes are damaged or not the upload the job was submitted for, leaving no partial file', async () => {
    const { id, sha256 } = await upload(csv(['a', 'b', 'label'], rows(300, ['p', 'q'])));
    await assert.rejects(reader.load(id, 'b'.repeat(64)), isCode('INVALID_DATA'));
    await svc.pool.query(`UPDATE blob_chunks SET data = overlay(data placing '\\x00'::bytea from 1 for 1) WHERE blob_id = (SELECT blob_id FROM datasets WHERE id = $1) AND seq = 1`, [id]);
    await assert.rejects(reader.load(id, sha256), (e: unknown) => isCode('INVALID_DATA')(e) && /damaged/.test((e as Error).message));
    assert.deepEqual((await readdir(cacheDir)).filter((f) => f.startsWith(sha256)), [], 'a partial or damaged copy was left in the cache');
  });
});
