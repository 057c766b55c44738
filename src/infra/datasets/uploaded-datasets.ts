/**
 * Uploaded data sets for training processes: the record and blob in Postgres, decoded with the
 * format and options it was validated with at upload (so the samples and their train/test split
 * are the ones the API described), and kept decoded on local disk per SHA-256 and options, so a
 * worker downloads and decodes each upload once.
 *
 * The cache never holds a partial file under its final name: the upload is downloaded to a
 * temporary file, checked against its SHA-256, decoded, and the decoded copy is written under a
 * temporary name and renamed. A decoded copy is checked against its own SHA-256 when read, and
 * made again when it does not match (disk damage, tampering). The cache is bounded: after adding
 * an entry, the least recently used ones are deleted until it fits `maxBytes`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { EngineError, type LabelledDataset } from '../../core/index.js';
import type { DatasetFormat } from '../../services/datasets/dataset.types.js';
import type { DatasetReadOptions, UploadedDatasets } from '../../services/ports.js';
import { BlobIntegrityError, readBlob } from '../blobs/pg-blob-store.js';
import { evict, readDecoded, touch, writeDecoded } from './decoded-cache.js';
import { decodeDataset } from './index.js';

export interface UploadedDatasetsOptions {
  /** Directory of the cache (created if missing). */
  cacheDir: string;
  /** Most bytes the cache keeps (DATASET_CACHE_MAX_BYTES); the entry in use is kept even when larger. */
  maxBytes: number;
  /** Bound on bytes decompressed when decoding (DATASET_MAX_EXPANDED_BYTES). */
  maxExpandedBytes: number;
}

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

interface DatasetRow {
  blob_id: string;
  sha256: string;
  format: DatasetFormat;
  options: DatasetReadOptions;
}

export class CachedUploadedDatasets implements UploadedDatasets {
  /** @param pool the pg pool of the training process (createPgPool). */
  constructor(
    private readonly pool: pg.Pool,
    private readonly options: UploadedDatasetsOptions,
  ) {}

  async load(id: string, sha256: string): Promise<LabelledDataset> {
    const { rows } = await this.pool.query<DatasetRow>(
      'SELECT blob_id, sha256, format, options FROM datasets WHERE id = $1',
      [id],
    );
    if (rows.length === 0)
      throw new EngineError(
        'DATA_NOT_FOUND',
        `data set ${id} no longer exists (it was deleted after the job was submitted)`,
      );
    const row = rows[0];
    if (row.sha256 !== sha256) {
      throw new EngineError(
        'INVALID_DATA',
        `data set ${id} now has sha256 ${row.sha256}, but the job was submitted for ${sha256}`,
      );
    }
    const { cacheDir } = this.options;
    await mkdir(cacheDir, { recursive: true });
    // The same upload read with other options (label column, test split) is another entry.
    const readWith = createHash('sha256')
      .update(
        JSON.stringify([
          row.format,
          row.options.labelColumn,
          row.options.testFraction,
          row.options.seed,
        ]),
      )
      .digest('hex');
    const file = path.join(cacheDir, `${sha256}-${readWith.slice(0, 16)}.decoded`);
    let dataset = await readDecoded(file);
    if (dataset) {
      await touch(file);
      return dataset;
    }
    dataset = await this.download(id, row);
    const partial = `${file}.${randomUUID()}.part`;
    try {
      await writeDecoded(partial, dataset);
      await rename(partial, file);
    } finally {
      await rm(partial, { force: true });
    }
    await evict(cacheDir, this.options.maxBytes, file);
    return dataset;
  }

  /** Downloads the upload to a temporary file, checks it and decodes it; the file is then removed. */
  private async download(id: string, row: DatasetRow): Promise<LabelledDataset> {
    const upload = path.join(this.options.cacheDir, `${row.sha256}.${randomUUID()}.upload.part`);
    try {
      await pipeline(
        Readable.from(readBlob(this.pool, row.blob_id)),
        createWriteStream(upload, { flags: 'wx' }),
      );
      // readBlob checked the bytes it sent; this checks the bytes that reached the disk.
      const written = await sha256OfFile(upload);
      if (written !== row.sha256)
        throw new BlobIntegrityError(
          `the local copy has sha256 ${written}, expected ${row.sha256}`,
        );
      return await decodeDataset(upload, {
        format: row.format,
        labelColumn: row.options.labelColumn,
        testFraction: row.options.testFraction,
        seed: row.options.seed,
        maxExpandedBytes: this.options.maxExpandedBytes,
      }).catch((err: Error) => {
        throw new EngineError('INVALID_DATA', `data set ${id} no longer decodes: ${err.message}`);
      });
    } catch (err) {
      if (err instanceof BlobIntegrityError)
        throw new EngineError('INVALID_DATA', `data set ${id} is damaged: ${err.message}`);
      throw err;
    } finally {
      await rm(upload, { force: true });
    }
  }
}
