import type { Standardization } from '../data/types.js';
import { EngineError } from '../errors.js';

/** What `foldInputPreprocessing` folds: `InputPreprocessing` with the raw image flattened to `rawSize` inputs. */
export interface InputTransform {
  /** inputMap[i]: raw input that training input i reads, or -1 for a constant 0 (padding). */
  inputMap: ArrayLike<number>;
  /** Number of raw inputs (rows * cols of the raw image). */
  rawSize: number;
  /**
   * Standardisation applied after the map (to padding too), or null: scalars, or one mean and std
   * per channel, training input i being of channel i % channels (HWC images).
   */
  normalize: Standardization | null;
  /** Factor applied to each raw input before standardisation (default 1; 1/255 for models that take 0-255 pixels). */
  scale?: number;
}

/**
 * Folds an input transform into the first dense layer, so that the layer can be fed raw inputs.
 *
 * The layer was trained on z with z_i = (s * x[inputMap[i]] - mean_i) / std_i (x[-1] := 0; s =
 * scale, 1 by default; mean_i, std_i the standardisation of input i's channel, or the scalars;
 * mean = 0, std = 1 without normalisation) and computes z K + b. Since z is affine in x,
 *
 *   z K + b = x K' + b',  K'[r] = (s / std_r) * sum of K[i] over the i with inputMap[i] = r,
 *                         b'    = b - sum over channels c of (mean_c / std_c) * (sum of K's rows of c),
 *
 * which needs every input to read a raw value of its own channel (i % channels = r % channels).
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
  const means = normalize ? [normalize.mean].flat() : [0];
  const stds = normalize ? [normalize.std].flat() : [1];
  const channels = means.length;
  const scale = transform.scale ?? 1;
  for (const std of stds)
    if (!(std > 0)) throw new EngineError('INVALID_ARGUMENT', `std must be positive, got ${std}`);
  if (stds.length !== channels)
    throw new EngineError('INVALID_ARGUMENT', 'normalize needs as many means as deviations');
  if (!(scale > 0))
    throw new EngineError('INVALID_ARGUMENT', `scale must be positive, got ${scale}`);
  const rows = new Float64Array(rawSize * units);
  const columnSums = Array.from({ length: channels }, () => new Float64Array(units));
  for (let i = 0; i < inputs; i++) {
    const r = inputMap[i];
    if (!Number.isInteger(r) || r < -1 || r >= rawSize) {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `inputMap[${i}] = ${r} is outside -1..${rawSize - 1}`,
      );
    }
    const c = i % channels;
    if (r >= 0 && r % channels !== c)
      throw new EngineError(
        'INVALID_ARGUMENT',
        `inputMap[${i}] = ${r} reads another channel than input ${i}'s`,
      );
    for (let u = 0; u < units; u++) {
      const k = kernel[i * units + u];
      columnSums[c][u] += k;
      if (r >= 0) rows[r * units + u] += k;
    }
  }
  return {
    kernel: Float32Array.from(rows, (v, j) => (v * scale) / stds[Math.floor(j / units) % channels]),
    bias: Float32Array.from(bias, (b, u) =>
      columnSums.reduce((acc, sums, c) => acc - (means[c] / stds[c]) * sums[u], b),
    ),
  };
}
