/**
 * The bounds that protect the API from hostile uploads: a decompression bomb stops after about
 * the limit (not after expanding), and single files over the per-image bounds are refused by
 * name before they are decoded.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { ExpansionBudget } from '../../../src/infra/datasets/archive/budget.js';
import { gunzipChunks } from '../../../src/infra/datasets/archive/gunzip.js';
import { ReadPosition } from '../../../src/infra/datasets/archive/read-position.js';
import { decodeDataset, type DecodedDataset } from '../../../src/infra/datasets/index.js';
import { ServiceError } from '../../../src/services/errors.js';
import { rejectsBoth } from '../../helpers/dataset-assertions.js';
import { imageFolderFiles, packTar, packTarGz, uploadDir } from '../../helpers/dataset-builders.js';

describe('archive limits', () => {
  let up: Awaited<ReturnType<typeof uploadDir>>;
  before(async () => {
    up = await uploadDir();
  });
  after(async () => {
    await up.cleanup();
  });

  it('stops a gzip bomb after about the limit, having read only the start of it', async () => {
    // 512 gzip members of 1 MiB of zeros each: ~0.5 MB that would expand to 512 MiB.
    const member = gzipSync(Buffer.alloc(1024 * 1024));
    const members = 512;
    let consumed = 0;
    async function* source() {
      for (let i = 0; i < members; i++) {
        consumed += member.length;
        yield member;
      }
    }
    let expanded = 0;
    await assert.rejects(
      (async () => {
        for await (const chunk of gunzipChunks(
          Readable.from(source()),
          new ExpansionBudget(64 * 1024),
          new ReadPosition(),
        ))
          expanded += chunk.length;
      })(),
      (e: unknown) => e instanceof ServiceError && e.code === 'DATASET_TOO_LARGE',
    );
    assert.ok(expanded <= 64 * 1024, `handed on ${expanded} bytes`);
    // Stream buffering reads a little ahead; without the budget all of it would be read.
    assert.ok(
      consumed < (members * member.length) / 10,
      `read ${consumed} of ${members * member.length} compressed bytes`,
    );
  });

  it('refuses a tar.gz that expands past the limit even when every entry is small', async () => {
    // Uncompressed 64x64 RGB PNGs of about 12 KB each: 10 of them pass 64 KB.
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: 'gray' } })
      .png({ compressionLevel: 0 })
      .toBuffer();
    const files = Array.from({ length: 10 }, (_, i) => ({ name: `train/a/${i}.png`, data: png }));
    await rejectsBoth(
      await up.write('many.tar.gz', await packTarGz(files)),
      { maxExpandedBytes: 64 * 1024 },
      'DATASET_TOO_LARGE',
      'more than 65536 bytes',
    );
    // A plain tar counts its entries instead.
    await rejectsBoth(
      await up.write('many.tar', await packTar(files)),
      { maxExpandedBytes: 64 * 1024 },
      'DATASET_TOO_LARGE',
      'more than 65536 bytes',
      /"train\/a\/\d+\.png"/,
    );
  });

  it('refuses an image over the pixel limit by name, before decoding it', async () => {
    const { files } = await imageFolderFiles({
      classes: ['a', 'b'],
      perClass: { train: 1, test: 1 },
    });
    const huge = await sharp({
      create: { width: 2049, height: 2048, channels: 3, background: 'black' },
    })
      .png()
      .toBuffer();
    const path = await up.write(
      'huge.tar',
      await packTar([...files, { name: 'train/a/huge.png', data: huge }]),
    );
    await rejectsBoth(
      path,
      {},
      'INVALID_DATASET',
      '"train/a/huge.png" is 2049x2048 pixels',
      'at most 4194304 pixels',
    );
  });

  it('refuses an image file over the size limit by its declared size', async () => {
    const { files } = await imageFolderFiles({
      classes: ['a', 'b'],
      perClass: { train: 1, test: 1 },
    });
    const path = await up.write(
      'big-file.tar',
      await packTar([
        ...files,
        { name: 'test/b/big.png', data: Buffer.alloc(32 * 1024 * 1024 + 1) },
      ]),
    );
    await rejectsBoth(
      path,
      { maxExpandedBytes: 128 * 1024 * 1024 },
      'INVALID_DATASET',
      '"test/b/big.png" is over 33554432 bytes',
    );
  });

  it('gives the same results when reads run concurrently (no shared state)', async () => {
    const paths = await Promise.all(
      [1, 3].map(async (channels) => {
        const { files } = await imageFolderFiles({
          classes: ['a', 'b', 'c'],
          perClass: 6,
          channels: channels as 1 | 3,
        });
        return up.write(`concurrent-${channels}.tar.gz`, await packTarGz(files));
      }),
    );
    const opts = { maxExpandedBytes: 1 << 24, seed: 5 };
    const alone: DecodedDataset[] = [];
    for (const p of paths) alone.push(await decodeDataset(p, opts));
    const together = await Promise.all([...paths, ...paths].map((p) => decodeDataset(p, opts)));
    together.forEach((d, i) => assert.deepEqual(d, alone[i % 2]));
  });
});
