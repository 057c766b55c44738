/**
 * Runs predictions in a worker thread, so that a batch of inputs never blocks the API's event
 * loop. The thread keeps the models it was sent; this side mirrors which ones (an LRU of
 * `cacheModels` keys), sends a model's bytes only when the thread lacks it, and tells the thread
 * what to drop. Requests are answered in order, so both sides always agree on the cache.
 */
import { Worker } from 'node:worker_threads';
import { EngineError, type EngineErrorCode, type Prediction } from '../../core/index.js';
import { ServiceError } from '../../services/errors.js';
import type {
  ModelArtifact,
  PredictionBatch,
  Predictor,
  TaskModelSource,
} from '../../services/ports.js';
import { entryFile } from '../entry-file.js';

export interface PredictRequest {
  id: number;
  evict: string[];
  models: {
    key: string;
    artifact?: {
      modelJson: Record<string, unknown>;
      weights: Uint8Array;
      fecam: Uint8Array | null;
    };
  }[];
  inputs: number[][];
  task: number | null;
}

export type PredictReply =
  | { id: number; ok: true; predictions: Prediction[]; labels: PredictionBatch['labels'] }
  | { id: number; ok: false; code: EngineErrorCode | null; message: string };

const THREAD_ENTRY = entryFile(import.meta.url, './predict.thread.mjs', './predict.thread.js');

export class ThreadPredictor implements Predictor {
  private worker: Worker | null = null;
  private ready: Promise<void> | null = null;
  private readonly cached = new Map<string, true>();
  private readonly pending = new Map<
    number,
    { resolve: (r: PredictReply) => void; reject: (e: Error) => void }
  >();
  private nextId = 1;
  /** Requests run one at a time: the cache mirror must see them in the order the thread does. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: { backend: string; cacheModels: number; timeoutMs: number }) {}

  predict(
    models: TaskModelSource[],
    inputs: number[][],
    task: number | null,
  ): Promise<PredictionBatch> {
    const run = this.queue.then(() => this.run(models, inputs, task));
    this.queue = run.catch(() => {});
    return run;
  }

  /** Starts the thread (its backend and module loading take seconds) before the first request. */
  warm(): void {
    this.queue = this.queue.then(() => this.start()).catch(() => {});
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    this.ready = null;
    this.cached.clear();
    await w?.terminate();
  }

  private async run(
    models: TaskModelSource[],
    inputs: number[][],
    task: number | null,
  ): Promise<PredictionBatch> {
    await this.start();
    const sent: PredictRequest['models'] = [];
    for (const m of models) {
      if (this.cached.has(m.key)) {
        sent.push({ key: m.key });
      } else {
        const artifact: ModelArtifact = await m.load();
        sent.push({
          key: m.key,
          artifact: {
            modelJson: artifact.modelJson,
            weights: artifact.weights,
            fecam: artifact.fecam ?? null,
          },
        });
      }
    }
    // Only once every model is loaded does the mirror change (most recently used last): the
    // thread adds exactly what this request sends.
    for (const m of models) {
      this.cached.delete(m.key);
      this.cached.set(m.key, true);
    }
    const evict: string[] = [];
    const inUse = new Set(models.map((m) => m.key));
    for (const key of this.cached.keys()) {
      if (this.cached.size - evict.length <= this.opts.cacheModels) break;
      if (!inUse.has(key)) evict.push(key);
    }
    evict.forEach((k) => this.cached.delete(k));
    const reply = await this.send({ id: this.nextId++, evict, models: sent, inputs, task });
    if (!reply.ok) {
      if (reply.code === 'INVALID_ARGUMENT') throw new ServiceError('INVALID_INPUT', reply.message);
      // The thread's engine error, as it was thrown there; anything else is a failure of ours (a 500).
      throw reply.code ? new EngineError(reply.code, reply.message) : new Error(reply.message);
    }
    return { predictions: reply.predictions, labels: reply.labels };
  }

  private start(): Promise<void> {
    if (this.ready) return this.ready;
    const worker = new Worker(THREAD_ENTRY, { workerData: { backend: this.opts.backend } });
    this.worker = worker;
    this.ready = new Promise((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    worker.on('message', (msg: PredictReply | { ready: true }) => {
      if ('id' in msg) {
        this.pending.get(msg.id)?.resolve(msg);
        this.pending.delete(msg.id);
      }
    });
    const fail = (err: Error) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      // The next request starts a fresh thread with an empty cache.
      if (this.worker === worker) void this.close();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`prediction thread exited (${code})`)));
    worker.unref();
    return this.ready;
  }

  private send(req: PredictRequest): Promise<PredictReply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(req.id);
        void this.close();
        reject(
          new Error(`prediction took over ${this.opts.timeoutMs} ms; the thread was restarted`),
        );
      }, this.opts.timeoutMs);
      this.pending.set(req.id, {
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.worker!.postMessage(req);
    });
  }
}
