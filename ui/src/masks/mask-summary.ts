/**
 * What a HyperMask mask file says at a glance: per masked tensor, the share of exact zeros (the
 * sparsity the spec asked for, per tensor) and a histogram of the other values. Mask values are
 * |tanh(h)|, so they lie in [0, 1]. The file is parsed here, in the browser, with the engine's own
 * safetensors reader: it is the same file the download button saves, and the API needs no second
 * representation of it.
 */
import { decodeSafetensors } from '../../../src/core/io/safetensors.js';

export const HISTOGRAM_BINS = 20;

export interface Histogram {
  /** Bin b counts non-zero values in [b / bins, (b + 1) / bins); the last bin includes 1. */
  counts: number[];
}

export interface LayerSummary {
  /** Target parameter name, e.g. "dense_1/kernel". */
  name: string;
  shape: number[];
  size: number;
  zeros: number;
  /** zeros / size. */
  sparsity: number;
  histogram: Histogram;
}

export interface MaskSummary {
  layers: LayerSummary[];
  /** All layers together. */
  total: Omit<LayerSummary, 'name' | 'shape'>;
}

function summarizeValues(
  values: Float32Array,
  bins: number,
): { zeros: number; histogram: Histogram } {
  const counts = new Array<number>(bins).fill(0);
  let zeros = 0;
  for (const v of values) {
    if (v === 0) zeros++;
    else counts[Math.min(bins - 1, Math.max(0, Math.floor(Math.abs(v) * bins)))]++;
  }
  return { zeros, histogram: { counts } };
}

export function summarizeMask(file: Uint8Array, bins = HISTOGRAM_BINS): MaskSummary {
  const { tensors } = decodeSafetensors(file);
  const layers = tensors.map(({ name, shape, data }) => {
    const { zeros, histogram } = summarizeValues(data, bins);
    return {
      name,
      shape,
      size: data.length,
      zeros,
      sparsity: data.length ? zeros / data.length : 0,
      histogram,
    };
  });
  const size = layers.reduce((n, l) => n + l.size, 0);
  const zeros = layers.reduce((n, l) => n + l.zeros, 0);
  const counts = new Array<number>(bins).fill(0);
  for (const l of layers) l.histogram.counts.forEach((c, b) => (counts[b] += c));
  return {
    layers,
    total: { size, zeros, sparsity: size ? zeros / size : 0, histogram: { counts } },
  };
}
