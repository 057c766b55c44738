/**
 * A growable list of small ids (labels, folders: below 2^16, as MAX_CLASSES keeps them), two
 * bytes a sample: the per-sample bookkeeping that inspectDataset keeps for every sample.
 */
export class IdList {
  private data = new Uint16Array(1024);
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(id: number): void {
    if (!(id >= 0 && id <= 0xffff)) throw new RangeError(`IdList: id ${id} is out of range`);
    if (this.size === this.data.length) {
      const grown = new Uint16Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.size++] = id;
  }

  /** A copy holding exactly the ids pushed. */
  toArray(): Uint16Array {
    return this.data.slice(0, this.size);
  }
}
