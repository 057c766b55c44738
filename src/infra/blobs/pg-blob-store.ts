/**
 * Large bytes in Postgres, which the API and every worker already reach from any machine: a blob
 * is a row in `blobs` and its content in ordered `blob_chunks` of at most `chunkBytes` each, so no
 * single value comes near Postgres's 1 GB limit, and a writer or a streaming reader holds no more
 * than a batch of chunks besides what it was given or asked for.
 *
 * Writes run on a client the caller holds inside its own transaction: the blob and the record
 * that points at it commit together or not at all (a crashed writer leaves nothing). Reads check
 * the size and SHA-256 recorded at write time, so a reader never trains on silently damaged data.
 *
 * Chunks travel by COPY in binary format both ways (pg-copy-streams): a write streams while the
 * server stores (one INSERT per chunk waits a round trip each), and a read gets raw bytes (node-
 * postgres has no binary result mode; its text form of bytea is twice the size and slow to parse).
 * Rates of each option: bench/results/blob-store.json.
 */
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';

/**
 * 1 MiB. Larger chunks gain nothing measurable with COPY, and every reader holds a batch of them
 * (bench/results/blob-store.json).
 */
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;

/** Chunks a reader fetches per COPY: what it holds in memory, and a pool connection only while fetching them. */
const READ_BATCH_CHUNKS = 8;

export interface StoredBlob {
  id: string;
  size: number;
  sha256: string;
}

type Db = pg.Pool | pg.PoolClient;

/** A binary COPY stream starts with a signature, a flags word and a header-extension length. */
const COPY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const COPY_HEADER = Buffer.concat([COPY_SIGNATURE, Buffer.alloc(8)]);
/** ... and ends with a field count of -1. */
const COPY_TRAILER = Buffer.from([0xff, 0xff]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Re-cuts a stream of arbitrary pieces into chunks of exactly `size` bytes (the last may be
 * shorter). A chunk that lies within one piece is a view of it, not a copy: a large checkpoint
 * goes out without a second copy in memory. Pieces must stay unchanged until the write returns.
 */
async function* rechunk(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  size: number,
): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let held = 0;
  for await (const piece of source) {
    let buf = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    while (held + buf.length >= size) {
      const take = size - held;
      if (held === 0) {
        yield buf.subarray(0, take);
      } else {
        parts.push(buf.subarray(0, take));
        yield Buffer.concat(parts, size);
        parts = [];
        held = 0;
      }
      buf = buf.subarray(take);
    }
    if (buf.length > 0) {
      // Copy: a source may hand out a view of a buffer it fills again for the next piece.
      parts.push(Buffer.from(buf));
      held += buf.length;
    }
  }
  if (held > 0) yield Buffer.concat(parts, held);
}

/** One row of the binary COPY into blob_chunks (blob_id uuid, seq int4, data bytea), without the data. */
function rowHeader(blobId: Buffer, seq: number, dataBytes: number): Buffer {
  const row = Buffer.allocUnsafe(2 + 4 + 16 + 4 + 4 + 4);
  let at = row.writeInt16BE(3, 0);
  at = row.writeInt32BE(16, at);
  at += blobId.copy(row, at);
  at = row.writeInt32BE(4, at);
  at = row.writeInt32BE(seq, at);
  row.writeInt32BE(dataBytes, at);
  return row;
}

/**
 * Writes `source` as a new blob on `client`, which must be inside a transaction the caller
 * commits (or rolls back, which removes every chunk written). When `source` throws, the COPY is
 * aborted and the error rethrown; the caller's transaction is then failed and must be rolled back.
 */
export async function writeBlob(
  client: pg.PoolClient,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  chunkBytes = DEFAULT_CHUNK_BYTES,
): Promise<StoredBlob> {
  const id = randomUUID();
  const idBytes = Buffer.from(id.replaceAll('-', ''), 'hex');
  const hash = createHash('sha256');
  let size = 0;
  let seq = 0;
  await client.query(`INSERT INTO blobs (id, size, sha256) VALUES ($1, 0, '')`, [id]);
  const copy = client.query(
    copyFrom('COPY blob_chunks (blob_id, seq, data) FROM STDIN (FORMAT binary)'),
  );
  // Listens from the start, so an error while the source is being awaited is not unhandled.
  const done = finished(copy);
  done.catch(() => {});
  const write = async (buf: Buffer) => {
    if (!copy.write(buf)) await Promise.race([once(copy as Writable, 'drain'), done]);
  };
  try {
    await write(COPY_HEADER);
    for await (const chunk of rechunk(source, chunkBytes)) {
      hash.update(chunk);
      size += chunk.length;
      await write(rowHeader(idBytes, seq++, chunk.length));
      await write(chunk);
    }
    copy.end(COPY_TRAILER);
    await done;
  } catch (err) {
    // Sends CopyFail and waits for the server's answer, so the connection is usable for ROLLBACK.
    if (!copy.destroyed) copy.destroy(err as Error);
    await done.catch(() => {});
    throw err;
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

/** Reads exact byte counts from a stream of pieces (views where a read lies within one piece). */
class PieceReader {
  private readonly pieces: Buffer[] = [];
  private offset = 0;
  private available = 0;

  constructor(private readonly source: AsyncIterator<Buffer>) {}

  async read(n: number): Promise<Buffer> {
    while (this.available < n) {
      const next = await this.source.next();
      if (next.done) throw new Error('the COPY stream ended in the middle of a row');
      this.pieces.push(next.value);
      this.available += next.value.length;
    }
    this.available -= n;
    const first = this.pieces[0];
    if (first.length - this.offset >= n) {
      const out = first.subarray(this.offset, this.offset + n);
      this.advance(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    for (let filled = 0; filled < n;) {
      const piece = this.pieces[0];
      const k = Math.min(piece.length - this.offset, n - filled);
      piece.copy(out, filled, this.offset, this.offset + k);
      filled += k;
      this.advance(k);
    }
    return out;
  }

  /** Reads to the end of the source (the rest of the protocol exchange). */
  async drain(): Promise<void> {
    while (!(await this.source.next()).done);
  }

  private advance(k: number) {
    this.offset += k;
    if (this.offset === this.pieces[0].length) {
      this.pieces.shift();
      this.offset = 0;
    }
  }
}

/** Rows (seq int4, data bytea) of a binary COPY TO STDOUT. */
async function* copyRows(
  stream: AsyncIterable<Buffer>,
): AsyncGenerator<{ seq: number; data: Buffer }> {
  const reader = new PieceReader(stream[Symbol.asyncIterator]());
  const header = await reader.read(COPY_HEADER.length);
  if (!header.subarray(0, COPY_SIGNATURE.length).equals(COPY_SIGNATURE))
    throw new Error('not a binary COPY stream');
  const extension = header.readUInt32BE(COPY_SIGNATURE.length + 4);
  if (extension > 0) await reader.read(extension);
  for (;;) {
    const fields = (await reader.read(2)).readInt16BE(0);
    if (fields === -1) return reader.drain();
    if (fields !== 2 || (await reader.read(4)).readInt32BE(0) !== 4)
      throw new Error('unexpected row in the COPY stream');
    const seq = (await reader.read(4)).readInt32BE(0);
    const length = (await reader.read(4)).readInt32BE(0);
    yield { seq, data: await reader.read(length) };
  }
}

/**
 * Chunks of blob `id` from `from` on (`count` of them, or all), in order, streamed from one COPY.
 * A pooled connection is held until the last row is read; one left half read is discarded.
 */
async function* copyChunks(
  db: Db,
  id: string,
  from: number,
  count?: number,
): AsyncGenerator<{ seq: number; data: Buffer }> {
  // COPY takes no parameters: the id is checked to be a UUID, the bounds are integers.
  if (!UUID.test(id)) throw new BlobIntegrityError(`blob id ${JSON.stringify(id)} is not a UUID`);
  const upTo = count === undefined ? '' : ` AND seq < ${from + count}`;
  const sql = `COPY (SELECT seq, data FROM blob_chunks WHERE blob_id = '${id}' AND seq >= ${from}${upTo} ORDER BY seq) TO STDOUT (FORMAT binary)`;
  const pooled = db instanceof pg.Pool;
  const client = pooled ? await db.connect() : db;
  // A connection that breaks mid-COPY emits 'error' on the client; the stream fails anyway.
  const onError = () => {};
  client.on('error', onError);
  let broken: Error | undefined = new Error('COPY left before its end');
  try {
    yield* copyRows(client.query(copyTo(sql)));
    broken = undefined;
  } catch (err) {
    broken = err as Error;
    throw err;
  } finally {
    client.off('error', onError);
    if (pooled) client.release(broken);
  }
}

/** Checks what a reader saw against what was written. */
function verify(expected: StoredBlob, size: number, hash: Hash): void {
  const sha256 = hash.digest('hex');
  if (size !== expected.size || sha256 !== expected.sha256) {
    throw new BlobIntegrityError(
      `blob ${expected.id}: read ${size} bytes with sha256 ${sha256}, but ${expected.size} bytes with sha256 ${expected.sha256} were written`,
    );
  }
}

/** A blob's recorded size and SHA-256, or null when it does not exist. */
export async function blobInfo(db: Db, id: string): Promise<StoredBlob | null> {
  const { rows } = await db.query<{ size: string; sha256: string }>(
    'SELECT size, sha256 FROM blobs WHERE id = $1',
    [id],
  );
  return rows.length ? { id, size: Number(rows[0].size), sha256: rows[0].sha256 } : null;
}

/**
 * Streams a blob's content chunk by chunk, a batch of chunks per query, so memory stays at one
 * batch and a pooled connection is held only while a batch is fetched (a slow consumer, such as
 * an HTTP download, holds none). Throws BlobIntegrityError when the blob is missing, or, at the
 * end, when the bytes read differ from what was written (also when the blob was deleted while
 * it was being read).
 */
export async function* readBlob(db: Db, id: string): AsyncGenerator<Buffer> {
  const expected = await blobInfo(db, id);
  if (!expected) throw new BlobIntegrityError(`blob ${id} does not exist`);
  const hash = createHash('sha256');
  let size = 0;
  let seq = 0;
  reading: for (;;) {
    const rows = [];
    for await (const row of copyChunks(db, id, seq, READ_BATCH_CHUNKS)) rows.push(row);
    for (const row of rows) {
      if (row.seq !== seq) break reading;
      hash.update(row.data);
      size += row.data.length;
      seq++;
      yield row.data;
    }
    if (rows.length < READ_BATCH_CHUNKS) break;
  }
  verify(expected, size, hash);
}

/**
 * A blob's whole content in one array, for consumers that need it at once (the engine resuming
 * from a checkpoint): allocated once at the recorded size and filled straight from one COPY, so
 * the content is never held twice. Same checks as readBlob. A plain Uint8Array, not a Buffer,
 * whose `slice` would be a view where the engine expects a copy.
 */
export async function readBlobBytes(db: Db, id: string): Promise<Uint8Array> {
  const expected = await blobInfo(db, id);
  if (!expected) throw new BlobIntegrityError(`blob ${id} does not exist`);
  const out = new Uint8Array(Buffer.allocUnsafeSlow(expected.size).buffer, 0, expected.size);
  const hash = createHash('sha256');
  let size = 0;
  let seq = 0;
  // Past a missing chunk or the recorded size nothing more is kept, and the checks below fail.
  let stopped = false;
  for await (const row of copyChunks(db, id, 0)) {
    if (stopped || row.seq !== seq || size + row.data.length > out.length) {
      stopped = true;
      continue;
    }
    out.set(row.data, size);
    hash.update(row.data);
    size += row.data.length;
    seq++;
  }
  if (stopped && size === expected.size)
    throw new BlobIntegrityError(`blob ${id}: more than the ${expected.size} bytes written`);
  verify(expected, size, hash);
  return out;
}

/** Removes a blob and its chunks (on `db`, inside the caller's transaction if it has one). */
export async function deleteBlob(db: Pick<Db, 'query'>, id: string): Promise<void> {
  await db.query('DELETE FROM blobs WHERE id = $1', [id]);
}
