/** A growable list of int32: per-sample bookkeeping (4 bytes a sample) without boxed numbers. */
export class IntList {
  private data = new Int32Array(1024);
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(value: number): void {
    if (this.size === this.data.length) {
      const grown = new Int32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.size++] = value;
  }

  /** A copy holding exactly the values pushed. */
  toArray(): Int32Array {
    return this.data.slice(0, this.size);
  }
}
