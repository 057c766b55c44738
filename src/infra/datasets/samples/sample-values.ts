/**
 * The sink every decoder writes sample values into. `keep` decides what it does with them:
 * decodeDataset keeps them (in chunks, so no single huge allocation has to grow), while
 * inspectDataset only counts them, which keeps its memory independent of the upload's size.
 * Decoders cannot tell the two apart, so both validate exactly the same way.
 */

/** Kept values are stored in chunks of about this many bytes (a whole number of samples each). */
const CHUNK_BYTES = 4 * 1024 * 1024;

export class SampleValues {
  private readonly chunkBytes: number;
  private chunks: Uint8Array[] = [];
  private current: Uint8Array | null = null;
  private filled = 0;
  private total = 0;

  /**
   * @param sampleBytes bytes of one sample (elements x element size), > 0.
   * @param keep store the values (decode) or only count them (inspect).
   */
  constructor(
    readonly sampleBytes: number,
    readonly keep: boolean,
  ) {
    this.chunkBytes = Math.max(1, Math.floor(CHUNK_BYTES / sampleBytes)) * sampleBytes;
  }

  /** Whole samples appended so far. */
  get count(): number {
    return Math.floor(this.total / this.sampleBytes);
  }

  /** Bytes appended so far (a multiple of `sampleBytes` once every sample is complete). */
  get bytes(): number {
    return this.total;
  }

  /**
   * Appends little-endian element bytes; a sample may be split across calls. The bytes are
   * copied, so the caller may reuse its buffer.
   */
  append(data: Uint8Array): void {
    this.total += data.length;
    if (!this.keep) return;
    let offset = 0;
    while (offset < data.length) {
      if (this.current === null) {
        this.current = new Uint8Array(this.chunkBytes);
        this.filled = 0;
      }
      const n = Math.min(data.length - offset, this.chunkBytes - this.filled);
      this.current.set(data.subarray(offset, offset + n), this.filled);
      this.filled += n;
      offset += n;
      if (this.filled === this.chunkBytes) {
        this.chunks.push(this.current);
        this.current = null;
      }
    }
  }

  /**
   * Hands the kept values over in order, each chunk a whole number of samples, and forgets each
   * chunk once handed over, so copying them into final arrays does not hold two copies. Once.
   */
  *take(): Generator<Uint8Array> {
    if (!this.keep) throw new Error('SampleValues.take: the values were not kept');
    if (this.current !== null) this.chunks.push(this.current.subarray(0, this.filled));
    this.current = null;
    const chunks = this.chunks;
    this.chunks = [];
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i];
      chunks[i] = EMPTY;
      yield chunk;
    }
  }
}

const EMPTY = new Uint8Array(0);
