import { quote } from '../errors.js';

/**
 * Where a read has got to, for error messages: the archive entry being read, if any. A gzip
 * stream around a tar does not know which entry its bytes belong to; the tar reader does and
 * records it here. One per read.
 */
export class ReadPosition {
  entry: string | null = null;

  describe(): string {
    return this.entry === null ? 'the upload' : quote(this.entry);
  }
}
