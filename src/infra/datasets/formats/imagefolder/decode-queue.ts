/**
 * Image decodes in flight while the archive reads on. sharp spends most of the time of a small
 * image on its per-call overhead (about 0.8 ms for a 32x32 JPEG) rather than on pixels, so a
 * few decodes overlap; how many is bounded by count and by bytes, so memory stays bounded
 * whatever the image size. Results are taken strictly in the order the decodes were added, so
 * the first failing image in archive order is the one reported, as with one decode at a time.
 */

/** Decodes in flight at most. */
const MAX_IN_FLIGHT = 8;
/** Encoded plus decoded bytes in flight at most (one image may exceed it on its own). */
const MAX_IN_FLIGHT_BYTES = 16 * 1024 * 1024;

interface Pending {
  result: Promise<Buffer>;
  bytes: number;
  onDone: (pixels: Buffer) => void;
}

export class DecodeQueue {
  private readonly pending: Pending[] = [];
  private bytes = 0;

  /**
   * Queues `result`; waits for the oldest decodes while the queue is over its bounds.
   * @param bytes what the decode holds in memory (encoded + decoded size).
   * @param onDone receives the pixels, in queue order.
   * @throws the rejection of the oldest decode that failed.
   */
  async add(
    result: Promise<Buffer>,
    bytes: number,
    onDone: (pixels: Buffer) => void,
  ): Promise<void> {
    // Marked handled at once: if the read stops before this decode is awaited, its failure must
    // not surface later as an unhandled rejection.
    result.catch(() => undefined);
    this.pending.push({ result, bytes, onDone });
    this.bytes += bytes;
    while (
      this.pending.length > MAX_IN_FLIGHT ||
      (this.bytes > MAX_IN_FLIGHT_BYTES && this.pending.length > 1)
    )
      await this.takeOldest();
  }

  /** Waits for every queued decode. @throws the rejection of the oldest that failed. */
  async drain(): Promise<void> {
    while (this.pending.length > 0) await this.takeOldest();
  }

  private async takeOldest(): Promise<void> {
    const oldest = this.pending.shift()!;
    this.bytes -= oldest.bytes;
    oldest.onDone(await oldest.result);
  }
}
