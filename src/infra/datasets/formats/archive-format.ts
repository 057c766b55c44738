/**
 * Which format an archive holds, from the name of its first file (hidden files and __MACOSX/
 * aside): .npy files make it NumPy, the IDX file names make it IDX, anything else ImageFolder.
 * The decoder chosen then checks every file by content.
 */
import type { ExpansionBudget } from '../archive/budget.js';
import type { ReadPosition } from '../archive/read-position.js';
import { quote } from '../errors.js';
import type { DatasetFormat } from '../types.js';
import type { ArchiveDecoder } from './archive-decoder.js';
import { IdxDecoder, isIdxFileName } from './idx/idx.js';
import { ImageFolderDecoder } from './imagefolder/imagefolder.js';
import { NpzDecoder } from './npz/npz.js';

export interface ArchiveFormat {
  format: Exclude<DatasetFormat, 'csv'>;
  /** What the archive holds, for a declared-format mismatch: `holding .npy files`. */
  holding: string;
}

export function archiveFormatOf(firstFile: string): ArchiveFormat {
  const base = firstFile.slice(firstFile.lastIndexOf('/') + 1);
  if (base.endsWith('.npy')) return { format: 'npz', holding: 'holding .npy files' };
  if (isIdxFileName(base)) return { format: 'idx', holding: 'holding IDX files' };
  return { format: 'imagefolder', holding: `whose first file is ${quote(firstFile)}` };
}

export interface DecoderContext {
  keep: boolean;
  budget: ExpansionBudget;
  position: ReadPosition;
}

export function createArchiveDecoder(
  format: ArchiveFormat['format'],
  ctx: DecoderContext,
): ArchiveDecoder {
  switch (format) {
    case 'npz':
      return new NpzDecoder(ctx.keep);
    case 'idx':
      return new IdxDecoder(ctx);
    case 'imagefolder':
      return new ImageFolderDecoder(ctx.keep);
  }
}
