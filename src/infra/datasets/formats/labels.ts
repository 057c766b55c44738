import { invalidDataset } from '../errors.js';
import { LabelIndex } from '../samples/label-index.js';
import { MAX_CLASSES } from '../types.js';

/**
 * The label index of an array format, refusing the label that would make MAX_CLASSES + 1
 * classes as soon as it appears: an array of float-like or id-like values would otherwise grow
 * the index by one entry per sample.
 */
export class BoundedLabels {
  readonly index = new LabelIndex();

  /** @param where names the array and flat index, for the message. */
  idOf(label: string, where: () => string): number {
    const id = this.index.idOf(label);
    if (this.index.size > MAX_CLASSES) {
      throw invalidDataset(
        `${where()} is label number ${this.index.size}: more than ${MAX_CLASSES} distinct labels; at most ${MAX_CLASSES} classes are supported`,
      );
    }
    return id;
  }
}
