/**
 * Per-process state of a training child: configuration, the TF.js backend (selected once per
 * process), one PrismaClient and a cache of loaded data sets.
 */
import os from 'node:os';
import path from 'node:path';
import { loadEnv, type Config } from '../../src/config/env.js';
import type { RawDataset } from '../../src/core/index.js';
import { loadRawDataset, resolveDataDir } from '../../src/infra/data/dataset-files.js';
import { CachedUploadedDatasets } from '../../src/infra/datasets/uploaded-datasets.js';
import { createPgPool, createPrismaClient } from '../../src/infra/prisma/client.js';
import { PrismaTrainingRepository } from '../../src/infra/prisma/training.repository.js';
import { selectBackend, type BackendChoice } from '../../src/infra/tf-backend.js';
import type { DatasetLoader, TrainingStore, UploadedDatasets } from '../../src/services/ports.js';

export interface Runtime {
  config: Config;
  backend: string;
  store: TrainingStore;
  loadDataset: DatasetLoader;
  uploadedDatasets: UploadedDatasets;
}

let runtime: Promise<Runtime> | null = null;

export function getRuntime(): Promise<Runtime> {
  runtime ??= (async () => {
    const config = loadEnv();
    const backend = await selectBackend(config.RETAIN_BACKEND as BackendChoice);
    // A transaction this process leaves idle (it hung) is ended when the queue gives its job to another worker.
    const options = {
      url: config.databaseUrl,
      schema: config.databaseSchema,
      poolSize: 2,
      idleInTransactionTimeoutMs: config.LOCK_DURATION_MS,
    };
    const pool = createPgPool(options);
    const db = createPrismaClient({ ...options, pool });
    const datasets = new Map<string, Promise<RawDataset>>();
    const dataDir = resolveDataDir(config.RETAIN_DATA_DIR);
    const loadDataset: DatasetLoader = (name) => {
      let p = datasets.get(name);
      if (!p) {
        p = loadRawDataset(name, dataDir);
        p.catch(() => datasets.delete(name));
        datasets.set(name, p);
      }
      return p;
    };
    const uploadedDatasets = new CachedUploadedDatasets(pool, {
      cacheDir: config.DATASET_CACHE_DIR || path.join(os.tmpdir(), 'retain-dataset-cache'),
      maxBytes: config.DATASET_CACHE_MAX_BYTES,
      maxExpandedBytes: config.DATASET_MAX_EXPANDED_BYTES,
    });
    return {
      config,
      backend: backend.name,
      store: new PrismaTrainingRepository(db, pool, config.BLOB_CHUNK_BYTES),
      loadDataset,
      uploadedDatasets,
    };
  })();
  runtime.catch(() => (runtime = null));
  return runtime;
}
