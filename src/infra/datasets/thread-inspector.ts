/**
 * Runs `inspectDataset` in worker threads, so that decoding an upload (seconds to minutes of CPU
 * for large ones) never blocks the API's event loop. `concurrency` threads live as long as the
 * API: a fresh thread costs tens of MB and a second of module loading, which every upload would
 * otherwise pay. Each thread inspects one upload at a time; further uploads wait their turn. A
 * thread that times out or dies is replaced.
 */
import { Worker } from 'node:worker_threads';
import { ServiceError, type ServiceErrorCode } from '../../services/errors.js';
import type { DatasetInspector } from '../../services/ports.js';
import type { DatasetSummary, DecodeOptions } from '../../services/datasets/dataset.types.js';
import { entryFile } from '../entry-file.js';

export interface InspectRequest {
  path: string;
  decode: DecodeOptions;
}

export type InspectReply =
  | { ok: true; summary: DatasetSummary }
  | { ok: false; code: ServiceErrorCode | null; message: string };

const THREAD_ENTRY = entryFile(import.meta.url, './inspect.thread.mjs', './inspect.thread.js');

export class ThreadDatasetInspector implements DatasetInspector {
  private readonly idle: Worker[] = [];
  private started = 0;
  private readonly waiting: ((w: Worker) => void)[] = [];
  /** Threads that exited or were terminated (timed out): replaced, never reused. */
  private readonly dead = new WeakSet<Worker>();

  constructor(private readonly opts: { concurrency: number; timeoutMs: number }) {}

  /** Starts the threads now rather than at the first upload (the API does this at boot). */
  warm(): void {
    while (this.started < this.opts.concurrency) this.idle.push(this.spawn());
  }

  async inspect(path: string, decode: DecodeOptions): Promise<DatasetSummary> {
    const worker = await this.acquire();
    let healthy = false;
    try {
      const summary = await this.run(worker, { path, decode });
      healthy = true;
      return summary;
    } catch (err) {
      // A data set error is an answer; the thread is fine and goes back to the pool.
      healthy = err instanceof ServiceError && !this.dead.has(worker);
      throw err;
    } finally {
      this.release(worker, healthy);
    }
  }

  async close(): Promise<void> {
    const all = this.idle.splice(0);
    this.started -= all.length;
    await Promise.all(all.map((w) => w.terminate()));
  }

  private run(worker: Worker, req: InspectRequest): Promise<DatasetSummary> {
    return new Promise((resolve, reject) => {
      const done = (fn: () => void) => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        fn();
      };
      const onMessage = (reply: InspectReply) =>
        done(() =>
          reply.ok
            ? resolve(reply.summary)
            : reject(
                reply.code ? new ServiceError(reply.code, reply.message) : new Error(reply.message),
              ),
        );
      const onExit = (code: number) =>
        done(() =>
          reject(new Error(`dataset inspection thread exited (${code}) without an answer`)),
        );
      const timer = setTimeout(() => {
        this.dead.add(worker);
        void worker.terminate();
        done(() =>
          reject(
            new ServiceError(
              'INVALID_DATASET',
              `the upload could not be read within ${Math.round(this.opts.timeoutMs / 1000)} s; send a smaller file`,
            ),
          ),
        );
      }, this.opts.timeoutMs);
      worker.on('message', onMessage);
      worker.once('exit', onExit);
      worker.postMessage(req);
    });
  }

  private spawn(): Worker {
    this.started++;
    const worker = new Worker(THREAD_ENTRY);
    worker.unref();
    worker.on('error', () => {});
    worker.once('exit', () => this.dead.add(worker));
    return worker;
  }

  private acquire(): Promise<Worker> {
    const w = this.idle.pop();
    if (w) return Promise.resolve(w);
    if (this.started < this.opts.concurrency) return Promise.resolve(this.spawn());
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(worker: Worker, healthy: boolean): void {
    let next = worker;
    if (!healthy) {
      void worker.terminate();
      this.started--;
      next = this.spawn();
    }
    const waiter = this.waiting.shift();
    if (waiter) waiter(next);
    else this.idle.push(next);
  }
}
