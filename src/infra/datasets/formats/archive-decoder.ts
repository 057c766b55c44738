import type { ArchiveEntry } from '../archive/archive-entry.js';
import type { CollectedSamples } from '../samples/collected.js';

/** A format read from an archive: fed every file, in archive order, then asked for the result. */
export interface ArchiveDecoder {
  entry(entry: ArchiveEntry): Promise<void>;
  /** After the last entry: cross-file checks, then what was collected. */
  finish(): Promise<CollectedSamples>;
}
