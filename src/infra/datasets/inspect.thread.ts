/** What the inspection thread does: decode and validate, and turn any failure into a reply. */
import { ServiceError } from '../../services/errors.js';
import type { DecodeOptions } from '../../services/datasets/dataset.types.js';
import { inspectDataset } from './index.js';
import type { InspectReply } from './thread-inspector.js';

export async function inspectInThread(path: string, decode: DecodeOptions): Promise<InspectReply> {
  try {
    return { ok: true, summary: await inspectDataset(path, decode) };
  } catch (err) {
    if (err instanceof ServiceError) return { ok: false, code: err.code, message: err.message };
    return { ok: false, code: null, message: (err as Error).stack ?? String(err) };
  }
}
