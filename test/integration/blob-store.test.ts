/**
 * The chunked blob store on real Postgres: content round-trips through chunks of the configured
 * size (written and read by binary COPY), a rolled-back write leaves nothing, damaged bytes are
 * detected on read, and readers hold no connection between batches.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  BlobIntegrityError,
  deleteBlob,
  readBlob,
  readBlobBytes,
  writeBlob,
} from '../../src/infra/blobs/pg-blob-store.js';
import { createTestService, type TestService } from '../helpers/service.js';

const CHUNK = 1000;

/** Yields `data` in pieces of the given sizes (cycled), as a network stream would. */
async function* pieces(data: Buffer, sizes: number[]): AsyncGenerator<Uint8Array> {
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = sizes[i % sizes.length];
    yield data.subarray(at, at + n);
    at += n;
  }
}

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of source) parts.push(p);
  return Buffer.concat(parts);
}

describe('pg blob store', () => {
  let svc: TestService;
  before(async () => {
    svc = await createTestService('blobs');
  });
  after(async () => svc?.close());

  async function inTransaction<T>(
    fn: (client: import('pg').PoolClient) => Promise<T>,
    commit = true,
  ): Promise<T> {
    const client = await svc.pool.connect();
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query(commit ? 'COMMIT' : 'ROLLBACK');
      return out;
    } finally {
      client.release();
    }
  }

  const count = async (sql: string, params: unknown[] = []) =>
    Number((await svc.pool.query<{ n: string }>(sql, params)).rows[0].n);

  for (const size of [
    0,
    1,
    CHUNK - 1,
    CHUNK,
    CHUNK + 1,
    7 * CHUNK + 123,
    8 * CHUNK,
    19 * CHUNK + 7,
  ]) {
    it(`round-trips ${size} bytes in chunks of at most ${CHUNK}`, async () => {
      const data = randomBytes(size);
      const blob = await inTransaction((c) =>
        writeBlob(c, pieces(data, [333, 1, 2048, 17]), CHUNK),
      );
      assert.equal(blob.size, size);
      const stored = await svc.pool.query<{ seq: number; n: number }>(
        'SELECT seq, length(data) AS n FROM blob_chunks WHERE blob_id = $1 ORDER BY seq',
        [blob.id],
      );
      assert.equal(stored.rows.length, Math.ceil(size / CHUNK));
      stored.rows.forEach((r, i) => {
        assert.equal(r.seq, i);
        assert.equal(r.n, i < stored.rows.length - 1 ? CHUNK : size - i * CHUNK);
      });
      assert.deepEqual(await collect(readBlob(svc.pool, blob.id)), data);
    });
  }

  it('writes one large piece as views of it, readable whole, also inside the writing transaction', async () => {
    const data = randomBytes(5 * CHUNK + 3);
    const blob = await inTransaction(async (c) => {
      const written = await writeBlob(c, [data], CHUNK);
      assert.deepEqual(
        Buffer.from(await readBlobBytes(c, written.id)),
        data,
        'the writer sees its uncommitted blob',
      );
      return written;
    });
    assert.deepEqual(Buffer.from(await readBlobBytes(svc.pool, blob.id)), data);
    assert.equal(blob.sha256, createHash('sha256').update(data).digest('hex'));
  });

  it('a reader that stops early holds no connection', async () => {
    const blob = await inTransaction((c) => writeBlob(c, [randomBytes(20 * CHUNK)], CHUNK));
    for await (const chunk of readBlob(svc.pool, blob.id)) {
      assert.equal(chunk.length, CHUNK);
      break;
    }
    assert.equal(svc.pool.idleCount, svc.pool.totalCount, 'every connection is back in the pool');
    assert.equal((await svc.pool.query('SELECT 1 AS one')).rows[0].one, 1);
  });

  it('leaves no blob and no chunk when the transaction rolls back', async () => {
    const before = await count('SELECT count(*) AS n FROM blob_chunks');
    const blob = await inTransaction(
      (c) => writeBlob(c, pieces(randomBytes(5 * CHUNK), [CHUNK]), CHUNK),
      false,
    );
    assert.equal(await count('SELECT count(*) AS n FROM blobs WHERE id = $1', [blob.id]), 0);
    assert.equal(await count('SELECT count(*) AS n FROM blob_chunks'), before);
  });

  it('a source that fails half way, rolled back, leaves nothing', async () => {
    const before = await count('SELECT count(*) AS n FROM blob_chunks');
    async function* failing() {
      yield randomBytes(3 * CHUNK);
      throw new Error('client went away');
    }
    await assert.rejects(
      inTransaction((c) =>
        writeBlob(c, failing(), CHUNK).catch(async (e: unknown) => {
          await c.query('ROLLBACK');
          throw e;
        }),
      ),
      /went away/,
    );
    assert.equal(await count('SELECT count(*) AS n FROM blob_chunks'), before);
  });

  it('detects damaged and missing chunks and missing blobs on read', async () => {
    const data = randomBytes(3 * CHUNK);
    const flipped = await inTransaction((c) => writeBlob(c, pieces(data, [CHUNK]), CHUNK));
    await svc.pool.query(
      'UPDATE blob_chunks SET data = set_byte(data, 4, get_byte(data, 4) # 255) WHERE blob_id = $1 AND seq = 1',
      [flipped.id],
    );
    await assert.rejects(collect(readBlob(svc.pool, flipped.id)), BlobIntegrityError);

    const short = await inTransaction((c) => writeBlob(c, pieces(data, [CHUNK]), CHUNK));
    await svc.pool.query('DELETE FROM blob_chunks WHERE blob_id = $1 AND seq = 2', [short.id]);
    await assert.rejects(collect(readBlob(svc.pool, short.id)), /read 2000 bytes/);

    const gap = await inTransaction((c) => writeBlob(c, pieces(data, [CHUNK]), CHUNK));
    await svc.pool.query('DELETE FROM blob_chunks WHERE blob_id = $1 AND seq = 1', [gap.id]);
    await assert.rejects(
      readBlobBytes(svc.pool, gap.id),
      /read 1000 bytes/,
      'a missing chunk in the middle ends the read there',
    );

    const extra = await inTransaction((c) => writeBlob(c, pieces(data, [CHUNK]), CHUNK));
    await svc.pool.query(`INSERT INTO blob_chunks (blob_id, seq, data) VALUES ($1, 3, '\\x00')`, [
      extra.id,
    ]);
    await assert.rejects(collect(readBlob(svc.pool, extra.id)), /read 3001 bytes/);
    await assert.rejects(readBlobBytes(svc.pool, extra.id), /more than the 3000 bytes written/);
    assert.equal(
      svc.pool.idleCount,
      svc.pool.totalCount,
      'failed reads gave their connections back',
    );

    await assert.rejects(
      collect(readBlob(svc.pool, '00000000-0000-0000-0000-000000000000')),
      /does not exist/,
    );
  });

  it('delete removes the blob and its chunks', async () => {
    const blob = await inTransaction((c) =>
      writeBlob(c, pieces(randomBytes(2 * CHUNK + 5), [CHUNK]), CHUNK),
    );
    await deleteBlob(svc.pool, blob.id);
    assert.equal(
      await count('SELECT count(*) AS n FROM blob_chunks WHERE blob_id = $1', [blob.id]),
      0,
    );
    assert.equal(await count('SELECT count(*) AS n FROM blobs WHERE id = $1', [blob.id]), 0);
  });
});
