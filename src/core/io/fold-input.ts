import { EngineError } from '../errors.js';

/** What `foldInputPreprocessing` folds: `InputPreprocessing` with the raw image flattened to `rawSize` inputs. */
export interface InputTransform {
  /** inputMap[i]: raw input that training input i reads, or -1 for a constant 0 (padding). */
  inputMap: ArrayLike<number>;
  /** Number of raw inputs (rows * cols of the raw image). */
  rawSize: number;
  /** Standardisation applied after the map (to padding too), or null. */
  normalize: { mean: number; std: number } | null;
  /** Factor applied to each raw input before standardisation (default 1; 1/255 for models that take 0-255 pixels). */
  scale?: number;
}

/**
 * Folds an input transform into the first dense layer, so that the layer can be fed raw inputs.
 *
 * The layer was trained on z with z_i = (s * x[inputMap[i]] - mean) / std (x[-1] := 0; s = scale,
 * 1 by default; mean = 0, std = 1 without normalisation) and computes z K + b. Since z is affine
 * in x,
 *
 *   z K + b = x K' + b',  K'[r] = (s / std) * sum of K[i] over the i with inputMap[i] = r,
 *                         b'    = b - (mean / std) * (sum of all rows of K).
 *
 * Rows of K at padding (-1) drop out of K' but still count in the bias (padding is standardised
 * too); a raw input that no training input reads gets a zero row. Sums run in float64.
 *
 * @param kernel K, row-major [inputMap.length x units].
 * @param bias b, [units].
 * @returns K' row-major [rawSize x units] and b' [units]; the arguments are not modified.
 * @throws EngineError INVALID_ARGUMENT when the sizes disagree or an entry of inputMap is outside
 *   -1..rawSize-1, or std is not positive.
 */
export function foldInputPreprocessing(
  kernel: Float32Array,
  bias: Float32Array,
  transform: InputTransform,
): { kernel: Float32Array; bias: Float32Array } {
  const { inputMap, rawSize, normalize } = transform;
  const units = bias.length;
  const inputs = inputMap.length;
  if (kernel.length !== inputs * units) {
    throw new EngineError(
      'INVALID_ARGUMENT',
      `kernel has ${kernel.length} values, expected ${inputs} x ${units}`,
    );
  }
  const mean = normalize?.mean ?? 0;
  const std = normalize?.std ?? 1;
  const scale = transform.scale ?? 1;
  if (!(std > 0)) throw new EngineError('INVALID_ARGUMENT', `std must be positive, got ${std}`);
  if (!(scale > 0))
    throw new EngineError('INVALID_ARGUMENT', `scale must be positive, got ${scale}`);
  const rows = new Float64Array(rawSize * units);
  const columnSums = new Float64Array(units);
  for (let i = 0; i < inputs; i++) {
    const r = inputMap[i];
    if (!Number.isInteger(r) || r < -1 || r >= rawSize) {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `inputMap[${i}] = ${r} is outside -1..${rawSize - 1}`,
      );
    }
    for (let u = 0; u < units; u++) {
      const k = kernel[i * units + u];
      columnSums[u] += k;
      if (r >= 0) rows[r * units + u] += k;
    }
  }
  return {
    kernel: Float32Array.from(rows, (v) => (v * scale) / std),
    bias: Float32Array.from(bias, (b, u) => b - (mean / std) * columnSums[u]),
  };
}
