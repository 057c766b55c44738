/** A dataset inspection thread: decodes and validates one upload per request, answering each. */
import { parentPort } from 'node:worker_threads';
import { ServiceError } from '../../services/errors.js';
import { inspectDataset } from './index.js';
import type { InspectReply, InspectRequest } from './thread-inspector.js';

async function answer(req: InspectRequest): Promise<InspectReply> {
  try {
    return { ok: true, summary: await inspectDataset(req.path, req.decode) };
  } catch (err) {
    if (err instanceof ServiceError) return { ok: false, code: err.code, message: err.message };
    return { ok: false, code: null, message: (err as Error).stack ?? String(err) };
  }
}

parentPort!.on(
  'message',
  (req: InspectRequest) => void answer(req).then((reply) => parentPort!.postMessage(reply)),
);
