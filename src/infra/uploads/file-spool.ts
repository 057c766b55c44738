/**
 * Receives an upload to a scratch file on local disk, hashing and counting on the way, so that the
 * API never holds an upload in memory and can decode archives that need random access (zip).
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { uploadTooLarge } from '../../services/datasets/dataset.service.js';
import { ServiceError } from '../../services/errors.js';
import type { SpooledUpload, UploadSpool } from '../../services/ports.js';

export class FileUploadSpool implements UploadSpool {
  /** @param dir scratch directory (created if missing); one file per upload in progress. */
  constructor(private readonly dir: string) {}

  async receive(body: AsyncIterable<Uint8Array>, maxBytes: number): Promise<SpooledUpload> {
    await mkdir(this.dir, { recursive: true });
    const file = path.join(this.dir, `upload-${randomUUID()}`);
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        // Refuse as soon as the limit is passed, not after reading the rest.
        if (size > maxBytes) return done(uploadTooLarge(maxBytes));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    const discard = () => rm(file, { force: true });
    try {
      await pipeline(body, meter, createWriteStream(file, { flags: 'wx' }));
    } catch (err) {
      await discard();
      if (err instanceof ServiceError) throw err;
      // The client went away or the disk failed: nothing is kept either way.
      throw new ServiceError(
        'UPLOAD_INCOMPLETE',
        `the upload did not arrive completely (${size} bytes received); send it again`,
      );
    }
    return {
      path: file,
      sizeBytes: size,
      sha256: hash.digest('hex'),
      read: () => createReadStream(file, { highWaterMark: 1024 * 1024 }),
      discard,
    };
  }
}
