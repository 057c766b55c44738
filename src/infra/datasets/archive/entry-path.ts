/**
 * Names of archive entries: the safety rules every entry must pass and the entries that are
 * skipped. Entries are never written to disk, but a name that climbs out of the archive or is
 * absolute marks a crafted or broken upload, so it is refused rather than reinterpreted.
 */
import { invalidDataset, quote } from '../errors.js';

/**
 * The entry's path split into segments, without empty and `.` segments (`./train//a.png` ->
 * `['train', 'a.png']`). Backslashes count as separators, as Windows tools write them.
 *
 * @throws ServiceError INVALID_DATASET naming the entry when its path is absolute (`/x`,
 *   `C:x`, `\\server\x`) or has a `..` segment.
 */
export function entrySegments(rawName: string): string[] {
  if (/^[\\/]/.test(rawName) || /^[a-zA-Z]:/.test(rawName)) {
    throw invalidDataset(
      `the archive entry ${quote(rawName)} has an absolute path; entries must be relative to the archive`,
    );
  }
  const segments = rawName.split(/[\\/]/).filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) {
    throw invalidDataset(
      `the archive entry ${quote(rawName)} has a ".." segment; entries must stay inside the archive`,
    );
  }
  return segments;
}

/**
 * Entries that are not data: macOS resource forks (`__MACOSX/`) and hidden files or folders
 * (`.DS_Store`, `.git/...`, `._cat.png`).
 */
export function isIgnoredEntry(segments: readonly string[]): boolean {
  return (
    segments.length === 0 || segments[0] === '__MACOSX' || segments.some((s) => s.startsWith('.'))
  );
}
