/** Blobs written straight through the blob store, for tests that set up stored bytes by hand. */
import type pg from 'pg';
import { writeBlob } from '../../src/infra/blobs/pg-blob-store.js';

/** Stores `bytes` as a new blob in its own transaction; returns its id. */
export async function storeBlob(
  pool: pg.Pool,
  bytes: Uint8Array,
  chunkBytes?: number,
): Promise<string> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const blob = await writeBlob(client, [bytes], chunkBytes);
    await client.query('COMMIT');
    return blob.id;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
