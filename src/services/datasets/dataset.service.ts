/**
 * Use cases of the datasets API: upload (streamed, validated, idempotent), read, list, delete.
 * Every call is scoped to the caller's tenant; another tenant's data set is "not found".
 *
 * An upload goes to local scratch space first (hashed and measured on the way, refused as soon as
 * it passes the size limit), is decoded and validated there, and only then is stored in Postgres
 * together with its record in one transaction. A failed or interrupted upload therefore leaves
 * nothing behind: no record, no bytes.
 */
import { createHash } from 'node:crypto';
import { ServiceError } from '../errors.js';
import { canonical, decodeCursor, page } from '../pagination.js';
import { isStorableText, UNSTORABLE_TEXT_MESSAGE } from '../text.js';
import type {
  DatasetInspector,
  DatasetReadOptions,
  DatasetRecord,
  DatasetRepository,
  UploadSpool,
} from '../ports.js';
import {
  DEFAULT_LABEL_COLUMN,
  DEFAULT_TEST_FRACTION,
  type DatasetFormat,
  type DatasetSummary,
} from './dataset.types.js';

export interface DatasetLimits {
  /** Largest upload accepted, in bytes. */
  maxUploadBytes: number;
  /** Largest amount an upload may expand to when decompressed, in bytes. */
  maxExpandedBytes: number;
}

export interface UploadInput {
  /** The request body, streamed. */
  body: AsyncIterable<Uint8Array>;
  /** Content-Length when the client sent one: an upload declared over the limit is refused before it is read. */
  declaredBytes: number | null;
  name: string | null;
  /** The declared format: checked against the content. */
  format?: DatasetFormat;
  labelColumn?: string;
  testFraction?: number;
  seed?: number;
  idempotencyKey: string | null;
}

/** Longest class name kept; longer folder names or labels are refused. */
export const MAX_CLASS_NAME_LENGTH = 200;

export class DatasetService {
  constructor(
    private readonly datasets: DatasetRepository,
    private readonly spool: UploadSpool,
    private readonly inspector: DatasetInspector,
    private readonly limits: DatasetLimits,
  ) {}

  async upload(
    tenantId: string,
    input: UploadInput,
  ): Promise<{ dataset: DatasetRecord; created: boolean }> {
    const { maxUploadBytes, maxExpandedBytes } = this.limits;
    if (input.declaredBytes !== null && input.declaredBytes > maxUploadBytes)
      throw uploadTooLarge(maxUploadBytes);
    if (input.name !== null && !isStorableText(input.name))
      throw new ServiceError('INVALID_INPUT', `query parameter name: ${UNSTORABLE_TEXT_MESSAGE}`);
    const options: DatasetReadOptions = {
      labelColumn: input.labelColumn ?? DEFAULT_LABEL_COLUMN,
      testFraction: input.testFraction ?? DEFAULT_TEST_FRACTION,
      seed: input.seed ?? 0,
    };
    const upload = await this.spool.receive(input.body, maxUploadBytes);
    try {
      const key = input.idempotencyKey;
      // The same file with the same settings is the same request, whatever order fields came in.
      const requestHash = key
        ? createHash('sha256')
            .update(
              canonical({
                name: input.name,
                format: input.format ?? null,
                options,
                sha256: upload.sha256,
              }),
            )
            .digest('hex')
        : null;
      if (key) {
        const existing = await this.datasets.findByIdempotencyKey(tenantId, key);
        if (existing) return { dataset: checkReplay(existing, requestHash), created: false };
      }
      const summary = await this.inspector.inspect(upload.path, {
        ...options,
        format: input.format,
        maxExpandedBytes,
      });
      checkClassNames(summary);
      const res = await this.datasets.create(
        {
          tenantId,
          name: input.name,
          ...summary,
          sha256: upload.sha256,
          sizeBytes: upload.sizeBytes,
          options,
          idempotencyKey: key,
          requestHash,
        },
        upload.read(),
      );
      if (!res.created) return { dataset: checkReplay(res, requestHash), created: false };
      return { dataset: res.dataset, created: true };
    } finally {
      await upload.discard();
    }
  }

  async get(tenantId: string, id: string): Promise<DatasetRecord> {
    const dataset = await this.datasets.get(tenantId, id);
    if (!dataset) throw new ServiceError('DATASET_NOT_FOUND', `data set ${id} does not exist`);
    return dataset;
  }

  async list(
    tenantId: string,
    opts: { limit: number; cursor?: string },
  ): Promise<{ items: DatasetRecord[]; nextCursor: string | null }> {
    const after = opts.cursor ? decodeCursor(opts.cursor) : undefined;
    return page(await this.datasets.list(tenantId, { limit: opts.limit + 1, after }), opts.limit);
  }

  /** Deletes the record and its bytes; refused while a queued or running job trains on it. */
  async delete(tenantId: string, id: string): Promise<void> {
    const { deleted, usedBy } = await this.datasets.delete(tenantId, id);
    if (usedBy.length > 0) {
      throw new ServiceError(
        'DATASET_IN_USE',
        `data set ${id} is used by queued or running job(s) ${usedBy.join(', ')}; cancel them or wait until they end`,
      );
    }
    if (!deleted) throw new ServiceError('DATASET_NOT_FOUND', `data set ${id} does not exist`);
  }
}

/** The error of an upload over the limit, whether its Content-Length says so or its bytes do. */
export function uploadTooLarge(maxBytes: number): ServiceError {
  return new ServiceError(
    'DATASET_TOO_LARGE',
    `the upload is larger than the limit of ${maxBytes} bytes (DATASET_MAX_UPLOAD_BYTES)`,
  );
}

function checkReplay(
  existing: { dataset: DatasetRecord; requestHash: string | null },
  requestHash: string | null,
): DatasetRecord {
  if (existing.requestHash !== requestHash) {
    throw new ServiceError(
      'IDEMPOTENCY_KEY_REUSED',
      `Idempotency-Key was already used for data set ${existing.dataset.id} with another file or other settings; use a new key for a new upload`,
    );
  }
  return existing.dataset;
}

/** Class names come from folder names and CSV labels: they must be text Postgres and JSON clients can hold. */
function checkClassNames(summary: DatasetSummary): void {
  for (const name of summary.classNames) {
    const bad = name.length === 0 || name.length > MAX_CLASS_NAME_LENGTH || !isStorableText(name);
    if (bad) {
      const shown = JSON.stringify(name.slice(0, 40));
      throw new ServiceError(
        'INVALID_DATASET',
        `class name ${shown} must be 1 to ${MAX_CLASS_NAME_LENGTH} characters of valid text without NUL bytes`,
      );
    }
  }
}
