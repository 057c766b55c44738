/**
 * Runs `inspectDataset` in a worker thread, so that decoding an upload (seconds to minutes of CPU
 * for large ones) never blocks the API's event loop. At most `concurrency` inspections run at
 * once; further uploads wait their turn.
 */
import { Worker } from 'node:worker_threads';
import { ServiceError, type ServiceErrorCode } from '../../services/errors.js';
import type { DatasetInspector } from '../../services/ports.js';
import type { DatasetSummary, DecodeOptions } from '../../services/datasets/dataset.types.js';

export type InspectReply = { ok: true; summary: DatasetSummary } | { ok: false; code: ServiceErrorCode | null; message: string };

const THREAD_ENTRY = new URL('./inspect.thread.mjs', import.meta.url);

export class ThreadDatasetInspector implements DatasetInspector {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly opts: { concurrency: number; timeoutMs: number }) {}

  async inspect(path: string, decode: DecodeOptions): Promise<DatasetSummary> {
    await this.acquire();
    try {
      return await this.runThread(path, decode);
    } finally {
      this.release();
    }
  }

  private runThread(path: string, decode: DecodeOptions): Promise<DatasetSummary> {
    return new Promise((resolve, reject) => {
      const worker = new Worker(THREAD_ENTRY, { workerData: { path, decode } });
      const timer = setTimeout(() => {
        void worker.terminate();
        reject(new ServiceError('INVALID_DATASET', `the upload could not be read within ${Math.round(this.opts.timeoutMs / 1000)} s; send a smaller file`));
      }, this.opts.timeoutMs);
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      worker.once('message', (reply: InspectReply) =>
        settle(() => (reply.ok ? resolve(reply.summary) : reject(reply.code ? new ServiceError(reply.code, reply.message) : new Error(reply.message)))),
      );
      worker.once('error', (err) => settle(() => reject(err)));
      worker.once('exit', (code) => settle(() => reject(new Error(`dataset inspection thread exited (${code}) without an answer`))));
    });
  }

  private async acquire(): Promise<void> {
    if (this.running < this.opts.concurrency) {
      this.running++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }
}
