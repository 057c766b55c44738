import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeIdx, imageSetFromIdx, parseIdx } from '../../../../src/core/data/idx.js';
import { EngineError } from '../../../../src/core/errors.js';

function invalidData(pattern: RegExp) {
  return (e: unknown) =>
    e instanceof EngineError && e.code === 'INVALID_DATA' && pattern.test(e.message);
}

describe('IDX format', () => {
  it('encodes the header big-endian and round-trips', () => {
    const data = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => (i * 37) % 256);
    const bytes = encodeIdx([2, 3, 4], data);
    assert.deepEqual(
      Array.from(bytes.subarray(0, 16)),
      [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4],
    );
    assert.equal(bytes.length, 16 + 24);
    const parsed = parseIdx(bytes);
    assert.deepEqual(parsed.dims, [2, 3, 4]);
    assert.deepEqual(Array.from(parsed.data), Array.from(data));
  });

  it('reads dimensions above 255 and 65535 correctly', () => {
    const bytes = encodeIdx([70000], new Uint8Array(70000).fill(3));
    assert.deepEqual(Array.from(bytes.subarray(4, 8)), [0, 1, 0x11, 0x70]);
    assert.deepEqual(parseIdx(bytes).dims, [70000]);
  });

  it('parses a view into a larger buffer (byteOffset honoured)', () => {
    const file = encodeIdx([3], Uint8Array.of(7, 8, 9));
    const big = new Uint8Array(file.length + 10);
    big.set(file, 5);
    const parsed = parseIdx(big.subarray(5, 5 + file.length));
    assert.deepEqual(parsed.dims, [3]);
    assert.deepEqual(Array.from(parsed.data), [7, 8, 9]);
  });

  it('rejects a bad magic number', () => {
    const bytes = encodeIdx([1], Uint8Array.of(1));
    bytes[0] = 0x1f;
    assert.throws(() => parseIdx(bytes), invalidData(/magic/));
  });

  it('rejects types other than unsigned byte, naming the type', () => {
    const bytes = encodeIdx([1], Uint8Array.of(1));
    bytes[2] = 0x0d;
    assert.throws(() => parseIdx(bytes), invalidData(/0x0d \(float32\).*only 0x08/));
  });

  it('rejects truncated and oversized files with expected and actual byte counts', () => {
    const bytes = encodeIdx([2, 2, 2], new Uint8Array(8));
    assert.throws(
      () => parseIdx(bytes.subarray(0, 20)),
      invalidData(/truncated.*need 24 bytes.*got 20/),
    );
    const longer = new Uint8Array(30);
    longer.set(bytes);
    assert.throws(() => parseIdx(longer), invalidData(/trailing.*need 24 bytes.*got 30/));
    assert.throws(() => parseIdx(bytes.subarray(0, 10)), invalidData(/header.*16 bytes.*got 10/));
    assert.throws(() => parseIdx(bytes.subarray(0, 2)), invalidData(/too short/));
  });

  it('refuses to encode data that does not match the dims', () => {
    assert.throws(
      () => encodeIdx([2, 2], new Uint8Array(3)),
      (e: unknown) => e instanceof EngineError && e.code === 'INVALID_ARGUMENT',
    );
  });
});

describe('imageSetFromIdx', () => {
  it('pairs images with labels', () => {
    const images = Uint8Array.from({ length: 3 * 2 * 5 }, (_, i) => i);
    const set = imageSetFromIdx(
      encodeIdx([3, 2, 5], images),
      encodeIdx([3], Uint8Array.of(4, 0, 9)),
    );
    assert.equal(set.count, 3);
    assert.equal(set.rows, 2);
    assert.equal(set.cols, 5);
    assert.deepEqual(Array.from(set.labels), [4, 0, 9]);
    // image 2, row 1, col 3 of [3 x 2 x 5]
    assert.equal(set.images[2 * 10 + 1 * 5 + 3], 28);
  });

  it('rejects mismatched counts and wrong ranks', () => {
    const images = encodeIdx([3, 2, 2], new Uint8Array(12));
    assert.throws(
      () => imageSetFromIdx(images, encodeIdx([4], new Uint8Array(4))),
      invalidData(/3 images but label file holds 4/),
    );
    assert.throws(
      () =>
        imageSetFromIdx(encodeIdx([12], new Uint8Array(12)), encodeIdx([12], new Uint8Array(12))),
      invalidData(/3 dimensions/),
    );
    assert.throws(
      () => imageSetFromIdx(images, encodeIdx([3, 1], new Uint8Array(3))),
      invalidData(/1 dimension/),
    );
  });
});
