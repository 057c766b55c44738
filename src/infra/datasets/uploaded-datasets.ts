/**
 * Uploaded data sets for training processes: the record and blob in Postgres, a local copy of the
 * upload per SHA-256 in a cache directory (so a worker downloads each upload once), decoded with
 * the format and options it was validated with at upload, so the samples and their train/test
 * split are the ones the API described.
 *
 * The cache never holds a partial file under its final name: a download goes to a unique temporary
 * name and is renamed only after the blob store verified size and SHA-256. A cached copy is
 * hashed again before use, and replaced when it does not match (disk damage, tampering).
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { EngineError, type LabelledDataset } from '../../core/index.js';
import type { DatasetFormat } from '../../services/datasets/dataset.types.js';
import type { DatasetReadOptions, UploadedDatasets } from '../../services/ports.js';
import { BlobIntegrityError, readBlob } from '../blobs/pg-blob-store.js';
import { decodeDataset } from './index.js';

export interface UploadedDatasetsOptions {
  /** Directory of cached uploads (created if missing), one file per SHA-256. */
  cacheDir: string;
  /** Bound on bytes decompressed when decoding (DATASET_MAX_EXPANDED_BYTES). */
  maxExpandedBytes: number;
}

async function sha256OfFile(file: string): Promise<string | null> {
  try {
    const hash = createHash('sha256');
    await pipeline(createReadStream(file), hash);
    return hash.digest('hex');
  } catch {
    return null;
  }
}

export class CachedUploadedDatasets implements UploadedDatasets {
  /** @param pool the pg pool of the training process (createPgPool). */
  constructor(
    private readonly pool: pg.Pool,
    private readonly options: UploadedDatasetsOptions,
  ) {}

  async load(id: string, sha256: string): Promise<LabelledDataset> {
    const { rows } = await this.pool.query<{ blob_id: string; sha256: string; format: string; options: DatasetReadOptions }>(
      'SELECT blob_id, sha256, format, options FROM datasets WHERE id = $1',
      [id],
    );
    if (rows.length === 0) throw new EngineError('DATA_NOT_FOUND', `data set ${id} no longer exists (it was deleted after the job was submitted)`);
    const row = rows[0];
    if (row.sha256 !== sha256) {
      throw new EngineError('INVALID_DATA', `data set ${id} now has sha256 ${row.sha256}, but the job was submitted for ${sha256}`);
    }
    const file = await this.cachedCopy(id, row.blob_id, sha256);
    try {
      return await decodeDataset(file, {
        format: row.format as DatasetFormat,
        labelColumn: row.options.labelColumn,
        testFraction: row.options.testFraction,
        seed: row.options.seed,
        maxExpandedBytes: this.options.maxExpandedBytes,
      });
    } catch (err) {
      throw new EngineError('INVALID_DATA', `data set ${id} no longer decodes: ${(err as Error).message}`);
    }
  }

  /** Path of a verified local copy of the upload, downloading it when missing or damaged. */
  private async cachedCopy(id: string, blobId: string, sha256: string): Promise<string> {
    await mkdir(this.options.cacheDir, { recursive: true });
    const file = path.join(this.options.cacheDir, `${sha256}.upload`);
    const present = await stat(file).then(() => true, () => false);
    if (present && (await sha256OfFile(file)) === sha256) return file;
    const partial = `${file}.${randomUUID()}.part`;
    try {
      await pipeline(Readable.from(readBlob(this.pool, blobId)), createWriteStream(partial, { flags: 'wx' }));
      // readBlob checked the bytes it sent; this checks the bytes that reached the disk.
      const written = await sha256OfFile(partial);
      if (written !== sha256) throw new BlobIntegrityError(`the local copy has sha256 ${written}, expected ${sha256}`);
      await rename(partial, file);
      return file;
    } catch (err) {
      await rm(partial, { force: true });
      if (err instanceof BlobIntegrityError) throw new EngineError('INVALID_DATA', `data set ${id} is damaged: ${err.message}`);
      throw err;
    }
  }
}
