/**
 * The workers' reader of uploaded data sets against real Postgres: decode as uploaded, keep the
 * decoded copy in the sha256-named cache (never leaving a partial file), make a damaged cached
 * copy again, evict the least recently used copies over the byte limit, and fail with
 * DATA_NOT_FOUND / INVALID_DATA when the data set is gone or its bytes are damaged.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EngineError, type LabelledDataset } from '../../src/core/index.js';
import { CachedUploadedDatasets } from '../../src/infra/datasets/uploaded-datasets.js';
import { csv } from '../helpers/dataset-builders.js';
import { createTestService, type TestService } from '../helpers/service.js';

const rows = (n: number, classes: string[]) =>
  Array.from({ length: n }, (_, i) => [i, i / 4, classes[i % classes.length]]);

describe('CachedUploadedDatasets', () => {
  let svc: TestService;
  let auth: string;
  let cacheDir: string;
  let reader: CachedUploadedDatasets;

  before(async () => {
    svc = await createTestService('uploaded_datasets', { BLOB_CHUNK_BYTES: '1024' });
    auth = await svc.auth('acme');
    cacheDir = await mkdtemp(path.join(os.tmpdir(), 'retain-cache-test-'));
    reader = new CachedUploadedDatasets(svc.pool, {
      cacheDir,
      maxBytes: 1e9,
      maxExpandedBytes: 1e8,
    });
  });
  after(async () => {
    await svc?.close();
    await rm(cacheDir, { recursive: true, force: true });
  });

  async function upload(body: Buffer): Promise<{ id: string; sha256: string }> {
    const res = await svc.app.inject({
      method: 'POST',
      url: '/v1/datasets?testFraction=0.25&seed=3',
      headers: { authorization: auth, 'content-type': 'application/octet-stream' },
      payload: body,
    });
    assert.equal(res.statusCode, 201, res.body);
    return {
      id: res.json().id,
      sha256: (await svc.pool.query('SELECT sha256 FROM datasets WHERE id = $1', [res.json().id]))
        .rows[0].sha256,
    };
  }
  const isCode = (code: string) => (e: unknown) => e instanceof EngineError && e.code === code;

  const cached = async () => (await readdir(cacheDir)).sort();
  /** What the engine reads of a data set (the decoder also returns what the API shows). */
  const engineView = ({ inputShape, dtype, classNames, train, test }: LabelledDataset) => ({
    inputShape,
    dtype,
    classNames,
    train,
    test,
  });

  it('decodes with the stored options, caches the decoded data set under its sha256, and reads the cache next time', async () => {
    const body = csv(['a', 'b', 'label'], rows(400, ['x', 'y', 'z']));
    const { id, sha256 } = await upload(body);
    const data = engineView(await reader.load(id, sha256));
    assert.deepEqual(data.classNames, ['x', 'y', 'z']);
    assert.deepEqual(data.inputShape, [2]);
    assert.equal(data.dtype, 'float32');
    assert.equal(data.train.count + data.test.count, 400);
    const info = (
      await svc.app.inject({
        method: 'GET',
        url: `/v1/datasets/${id}`,
        headers: { authorization: auth },
      })
    ).json();
    assert.deepEqual(
      [data.train.count, data.test.count],
      [
        info.counts.train.reduce((a: number, b: number) => a + b),
        info.counts.test.reduce((a: number, b: number) => a + b),
      ],
    );
    const [entry, ...others] = await cached();
    assert.match(entry, new RegExp(`^${sha256}-[0-9a-f]{16}\\.decoded$`));
    assert.deepEqual(others, [], 'the download (or a temporary file) was left in the cache');

    // With the stored bytes gone, the cached decoded copy is all that is read, and it is the same data.
    const chunks = await svc.pool.query(
      'SELECT seq, data FROM blob_chunks WHERE blob_id = (SELECT blob_id FROM datasets WHERE id = $1)',
      [id],
    );
    await svc.pool.query(
      'DELETE FROM blob_chunks WHERE blob_id = (SELECT blob_id FROM datasets WHERE id = $1)',
      [id],
    );
    assert.deepEqual(engineView(await reader.load(id, sha256)), data);

    // A damaged cached copy is made again from the blob store (and not trained on).
    const file = path.join(cacheDir, entry);
    const damaged = await readFile(file);
    damaged[damaged.length - 3] ^= 0xff;
    await writeFile(file, damaged);
    await assert.rejects(
      reader.load(id, sha256),
      isCode('INVALID_DATA'),
      'the damaged copy was used',
    );
    for (const c of chunks.rows) {
      await svc.pool.query(
        'INSERT INTO blob_chunks (blob_id, seq, data) SELECT blob_id, $2, $3 FROM datasets WHERE id = $1',
        [id, c.seq, c.data],
      );
    }
    assert.deepEqual(engineView(await reader.load(id, sha256)), data);
    assert.deepEqual(await cached(), [entry]);
  });

  it('keeps the cache under its byte limit by deleting the least recently used copies, never the one in use', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'retain-cache-evict-'));
    try {
      const sets: { id: string; sha256: string }[] = [];
      for (let k = 0; k < 3; k++)
        sets.push(
          await upload(
            csv(
              ['a', 'b', 'label'],
              rows(300, ['p', 'q']).map(([i, v, c]) => [i, (v as number) + k, c]),
            ),
          ),
        );
      const first = new CachedUploadedDatasets(svc.pool, {
        cacheDir: dir,
        maxBytes: 1e9,
        maxExpandedBytes: 1e8,
      });
      await first.load(sets[0].id, sets[0].sha256);
      const [entry] = await readdir(dir);
      const size = (await stat(path.join(dir, entry))).size;
      const bounded = new CachedUploadedDatasets(svc.pool, {
        cacheDir: dir,
        maxBytes: Math.floor(2.5 * size),
        maxExpandedBytes: 1e8,
      });
      const step = async (k: number) => {
        await bounded.load(sets[k].id, sets[k].sha256);
        await new Promise((r) => setTimeout(r, 20)); // distinct modification times
      };
      await step(1);
      await step(0); // 0 is now more recently used than 1
      await step(2); // three do not fit: 1, the least recently used, goes
      assert.deepEqual(
        (await readdir(dir)).map((f) => f.slice(0, 64)).sort(),
        [sets[0].sha256, sets[2].sha256].sort(),
      );
      // An entry alone over the limit is kept while in use.
      const tiny = new CachedUploadedDatasets(svc.pool, {
        cacheDir: dir,
        maxBytes: 1,
        maxExpandedBytes: 1e8,
      });
      await tiny.load(sets[1].id, sets[1].sha256);
      assert.deepEqual(
        (await readdir(dir)).map((f) => f.slice(0, 64)),
        [sets[1].sha256],
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails with DATA_NOT_FOUND for a data set that no longer exists', async () => {
    await assert.rejects(
      reader.load('00000000-0000-4000-8000-000000000000', 'a'.repeat(64)),
      isCode('DATA_NOT_FOUND'),
    );
  });

  it('fails with INVALID_DATA when the bytes are damaged or not the upload the job was submitted for, leaving no partial file', async () => {
    const { id, sha256 } = await upload(csv(['a', 'b', 'label'], rows(300, ['p', 'q'])));
    await assert.rejects(reader.load(id, 'b'.repeat(64)), isCode('INVALID_DATA'));
    await svc.pool.query(
      `UPDATE blob_chunks SET data = overlay(data placing '\\x00'::bytea from 1 for 1) WHERE blob_id = (SELECT blob_id FROM datasets WHERE id = $1) AND seq = 1`,
      [id],
    );
    await assert.rejects(
      reader.load(id, sha256),
      (e: unknown) => isCode('INVALID_DATA')(e) && /damaged/.test((e as Error).message),
    );
    assert.deepEqual(
      (await readdir(cacheDir)).filter((f) => f.startsWith(sha256)),
      [],
      'a partial or damaged copy was left in the cache',
    );
  });
});
