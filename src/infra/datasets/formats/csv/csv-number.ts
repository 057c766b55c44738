/**
 * Feature cells: decimal numbers only. `Number()` alone would also take "", " ", "0x1F" and
 * "Infinity", none of which a feature column should silently turn into a value.
 */
const DECIMAL = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;
const NOT_FINITE = /^\s*[+-]?(?:nan|inf|infinity)\s*$/i;

/** The cell as float32, or why it is not one (for the caller to put after row and column). */
export function parseFeature(cell: string): number | { problem: string } {
  if (DECIMAL.test(cell)) {
    const value = Math.fround(Number(cell));
    return Number.isFinite(value)
      ? value
      : { problem: `${cell.trim()} is outside the float32 range` };
  }
  if (cell.trim() === '') return { problem: 'empty cell; every feature needs a number' };
  if (NOT_FINITE.test(cell))
    return { problem: `${JSON.stringify(cell)} is not allowed; features must be finite numbers` };
  return {
    problem: `${JSON.stringify(cell.length > 40 ? `${cell.slice(0, 40)}...` : cell)} is not a number`,
  };
}
