/**
 * Large bytes in Postgres, which the API and every worker already reach from any machine: a blob
 * is a row in `blobs` and its content in ordered `blob_chunks` of at most `chunkBytes` each, so no
 * single value comes near Postgres's 1 GB limit and neither side ever holds the whole blob.
 *
 * Writes run on a client the caller holds inside its own transaction: the blob and the record
 * that points at it commit together or not at all (a crashed writer leaves nothing). Reads check
 * the size and SHA-256 recorded at write time, so a reader never trains on silently damaged data.
 *
 * Plain node-postgres, not Prisma: Buffers travel as binary parameters (see DEVELOPERS.md).
 */
import { createHash, randomUUID } from 'node:crypto';
import type pg from 'pg';

/**
 * 1 MiB. Larger chunks write a little faster, but node-postgres reads one large row far more
 * slowly than several small ones, and every reader holds only a chunk or two. Rates:
 * bench/results/dataset-upload.json ("blobStore").
 */
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;

export interface StoredBlob {
  id: string;
  size: number;
  sha256: string;
}

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/** Re-cuts a stream of arbitrary pieces into chunks of exactly `size` bytes (the last may be shorter). */
async function* rechunk(source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let held = 0;
  for await (const piece of source) {
    let buf = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    while (held + buf.length >= size) {
      const take = size - held;
      parts.push(buf.subarray(0, take));
      yield Buffer.concat(parts, size);
      parts = [];
      held = 0;
      buf = buf.subarray(take);
    }
    if (buf.length > 0) {
      // Copy: the source may reuse its buffer for the next piece.
      parts.push(Buffer.from(buf));
      held += buf.length;
    }
  }
  if (held > 0) yield Buffer.concat(parts, held);
}

/**
 * Writes `source` as a new blob on `client`, which must be inside a transaction the caller
 * commits (or rolls back, which removes every chunk written).
 */
export async function writeBlob(client: pg.PoolClient, source: AsyncIterable<Uint8Array>, chunkBytes = DEFAULT_CHUNK_BYTES): Promise<StoredBlob> {
  const id = randomUUID();
  const hash = createHash('sha256');
  let size = 0;
  let seq = 0;
  await client.query(`INSERT INTO blobs (id, size, sha256) VALUES ($1, 0, '')`, [id]);
  for await (const chunk of rechunk(source, chunkBytes)) {
    hash.update(chunk);
    size += chunk.length;
    await client.query('INSERT INTO blob_chunks (blob_id, seq, data) VALUES ($1, $2, $3)', [id, seq++, chunk]);
  }
  const sha256 = hash.digest('hex');
  await client.query('UPDATE blobs SET size = $2, sha256 = $3 WHERE id = $1', [id, size, sha256]);
  return { id, size, sha256 };
}

export class BlobIntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/**
 * Streams a blob's content chunk by chunk (one query each, so memory stays at one chunk).
 * Throws BlobIntegrityError when the blob is missing or its bytes differ from what was written.
 */
export async function* readBlob(db: Queryable, id: string): AsyncGenerator<Buffer> {
  const head = await db.query<{ size: string; sha256: string }>('SELECT size, sha256 FROM blobs WHERE id = $1', [id]);
  if (head.rows.length === 0) throw new BlobIntegrityError(`blob ${id} does not exist`);
  const expected = { size: Number(head.rows[0].size), sha256: head.rows[0].sha256 };
  const hash = createHash('sha256');
  let size = 0;
  for (let seq = 0; ; seq++) {
    // base64, not bytea's hex text form: fewer bytes on the wire and a faster decode.
    // node-postgres has no binary result mode.
    const { rows } = await db.query<{ data: string }>(`SELECT encode(data, 'base64') AS data FROM blob_chunks WHERE blob_id = $1 AND seq = $2`, [id, seq]);
    if (rows.length === 0) break;
    const data = Buffer.from(rows[0].data, 'base64');
    hash.update(data);
    size += data.length;
    yield data;
  }
  const sha256 = hash.digest('hex');
  if (size !== expected.size || sha256 !== expected.sha256) {
    throw new BlobIntegrityError(`blob ${id}: read ${size} bytes with sha256 ${sha256}, but ${expected.size} bytes with sha256 ${expected.sha256} were written`);
  }
}

/** Removes a blob and its chunks (on `db`, inside the caller's transaction if it has one). */
export async function deleteBlob(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM blobs WHERE id = $1', [id]);
}
