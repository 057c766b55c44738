/**
 * Distinct labels as they are met, and the order class names take once all are known.
 */

/** Numbers as a CSV or a .npy spells them: decimal, optional sign, fraction and exponent. */
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;

/**
 * How class names sort: `lexicographic` (folder names, like torchvision's sorted(os.scandir)),
 * or `numeric-when-all-numbers` (labels: numerically when every one is a number, so "2" comes
 * before "10"; else lexicographically).
 */
export type ClassOrder = 'lexicographic' | 'numeric-when-all-numbers';

/** Labels in first-seen order, each with a dense id. */
export class LabelIndex {
  private readonly ids = new Map<string, number>();
  readonly names: string[] = [];

  get size(): number {
    return this.names.length;
  }

  idOf(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.ids.set(name, id);
      this.names.push(name);
    }
    return id;
  }
}

/** `names` sorted for class ids 0..K-1 (a new array). Ties between equal numbers ("1", "1.0") fall back to the text. */
export function sortClassNames(names: readonly string[], order: ClassOrder): string[] {
  const sorted = [...names];
  if (order === 'numeric-when-all-numbers' && names.every((n) => NUMBER.test(n))) {
    return sorted.sort((a, b) => compareNumbers(a, b) || compareText(a, b));
  }
  return sorted.sort(compareText);
}

/** By UTF-16 code units, not the locale: the same order on every machine. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareNumbers(a: string, b: string): number {
  // int64 labels beyond 2^53 would compare equal as doubles.
  if (INTEGER.test(a) && INTEGER.test(b)) {
    const d = BigInt(a) - BigInt(b);
    return d < 0n ? -1 : d > 0n ? 1 : 0;
  }
  return Number(a) - Number(b);
}
