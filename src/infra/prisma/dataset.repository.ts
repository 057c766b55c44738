import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Dataset, PrismaClient } from '../../generated/prisma/client.js';
import type { Cursor } from '../../services/pagination.js';
import type {
  DatasetReadOptions,
  DatasetRecord,
  DatasetRepository,
  NewDataset,
} from '../../services/ports.js';
import type {
  DatasetFormat,
  DatasetSummary,
  SampleDtype,
} from '../../services/datasets/dataset.types.js';
import { deleteBlob, writeBlob } from '../blobs/pg-blob-store.js';
import { inTransaction } from './client.js';

function toRecord(row: Dataset): DatasetRecord {
  return {
    id: row.id,
    tenantId: row.tenantId,
    name: row.name,
    format: row.format as DatasetFormat,
    sha256: row.sha256,
    sizeBytes: Number(row.sizeBytes),
    inputShape: row.inputShape,
    dtype: row.dtype as SampleDtype,
    classNames: row.classNames as string[],
    counts: row.counts as unknown as DatasetSummary['counts'],
    options: row.options as unknown as DatasetReadOptions,
    status: 'ready',
    createdAt: row.createdAt,
  };
}

/**
 * Data sets and their bytes. The upload goes into the blob store on a pool connection inside the
 * same transaction as the record (see pg-blob-store.ts); reads go through Prisma. `pool` is the pg
 * pool behind `db` (createPgPool).
 */
export class PrismaDatasetRepository implements DatasetRepository {
  constructor(
    private readonly db: PrismaClient,
    private readonly pool: pg.Pool,
    private readonly chunkBytes?: number,
  ) {}

  async create(d: NewDataset, content: AsyncIterable<Uint8Array>) {
    const id = await inTransaction(this.pool, async (client, rollBack) => {
      const blob = await writeBlob(client, content, this.chunkBytes);
      if (blob.sha256 !== d.sha256 || blob.size !== d.sizeBytes) {
        throw new Error(
          `stored ${blob.size} bytes (sha256 ${blob.sha256}) but ${d.sizeBytes} (sha256 ${d.sha256}) were uploaded`,
        );
      }
      const { rows } = await client.query<{ id: string }>(
        `INSERT INTO datasets (id, tenant_id, name, format, blob_id, size_bytes, sha256, input_shape, dtype, class_names, counts, options,
                               idempotency_key, request_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (tenant_id, idempotency_key) DO NOTHING RETURNING id`,
        [
          randomUUID(),
          d.tenantId,
          d.name,
          d.format,
          blob.id,
          d.sizeBytes,
          d.sha256,
          d.inputShape,
          d.dtype,
          JSON.stringify(d.classNames),
          JSON.stringify(d.counts),
          JSON.stringify(d.options),
          d.idempotencyKey,
          d.requestHash,
        ],
      );
      if (rows.length === 0) {
        // A concurrent upload with the same idempotency key won; drop our copy of the bytes.
        rollBack();
        return null;
      }
      return rows[0].id;
    });
    if (id === null) {
      const existing = await this.findByIdempotencyKey(d.tenantId, d.idempotencyKey!);
      if (!existing) throw new Error('dataset insert conflicted but no data set holds the key');
      return { ...existing, created: false };
    }
    const dataset = await this.get(d.tenantId, id);
    return { dataset: dataset!, created: true, requestHash: d.requestHash };
  }

  async findByIdempotencyKey(tenantId: string, key: string) {
    const row = await this.db.dataset.findUnique({
      where: { tenantId_idempotencyKey: { tenantId, idempotencyKey: key } },
    });
    return row ? { dataset: toRecord(row), requestHash: row.requestHash } : null;
  }

  async get(tenantId: string, id: string): Promise<DatasetRecord | null> {
    const row = await this.db.dataset.findFirst({ where: { id, tenantId } });
    return row ? toRecord(row) : null;
  }

  async getMany(tenantId: string, ids: string[]): Promise<DatasetRecord[]> {
    const rows = await this.db.dataset.findMany({ where: { tenantId, id: { in: ids } } });
    return rows.map(toRecord);
  }

  async list(tenantId: string, opts: { limit: number; after?: Cursor }): Promise<DatasetRecord[]> {
    const after = opts.after;
    const rows = await this.db.dataset.findMany({
      where: {
        tenantId,
        ...(after
          ? {
              OR: [
                { createdAt: { lt: after.createdAt } },
                { createdAt: after.createdAt, id: { lt: after.id } },
              ],
            }
          : {}),
      },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: opts.limit,
    });
    return rows.map(toRecord);
  }

  async delete(tenantId: string, id: string): Promise<{ deleted: boolean; usedBy: string[] }> {
    return inTransaction(this.pool, async (client, rollBack) => {
      // The row lock makes "no job uses it" and the delete one step: a job submitted meanwhile
      // waits for this transaction and then finds the data set gone.
      const found = await client.query<{ blob_id: string }>(
        'SELECT blob_id FROM datasets WHERE id = $1 AND tenant_id = $2 FOR UPDATE',
        [id, tenantId],
      );
      if (found.rows.length === 0) {
        rollBack();
        return { deleted: false, usedBy: [] };
      }
      // Jobs name their data sets in spec.benchmark.tasks[].dataset.
      const users = await client.query<{ id: string }>(
        `SELECT id FROM jobs WHERE tenant_id = $1 AND status IN ('queued', 'running')
           AND spec -> 'benchmark' -> 'tasks' @> jsonb_build_array(jsonb_build_object('dataset', $2::text))
         ORDER BY created_at`,
        [tenantId, id],
      );
      if (users.rows.length > 0) {
        rollBack();
        return { deleted: false, usedBy: users.rows.map((r) => r.id) };
      }
      await client.query('DELETE FROM datasets WHERE id = $1', [id]);
      await deleteBlob(client, found.rows[0].blob_id);
      return { deleted: true, usedBy: [] };
    });
  }
}
