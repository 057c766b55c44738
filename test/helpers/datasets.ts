/**
 * Small synthetic image data sets in the shape of MNIST (IDX-style bytes), for tests that need
 * real task construction or tiny training runs without the real files.
 */
import type { ImageSet, RawDataset } from '../../src/core/data/types.js';
import { Random } from '../../src/core/random.js';

export interface ImageSetOptions {
  rows?: number;
  cols?: number;
  classes?: number;
  seed?: number;
}

const BACKGROUND_MAX = 40;
const BLOB_MIN = 190;

/**
 * `count` images whose label cycles 0, 1, ..., classes-1, 0, ... Class c is a bright block in
 * cell c of a ceil(sqrt(classes)) square grid over a dim noisy background, so every pair of
 * classes is linearly separable (a small MLP reaches ~100 % in a few dozen steps), yet the pixels
 * vary from sample to sample: the block edges jitter by a pixel and all intensities are noisy.
 */
export function makeImageSet(count: number, opts: ImageSetOptions = {}): ImageSet {
  const { rows = 28, cols = 28, classes = 10, seed = 1 } = opts;
  const grid = Math.ceil(Math.sqrt(classes));
  const cellH = Math.floor(rows / grid);
  const cellW = Math.floor(cols / grid);
  if (cellH < 1 || cellW < 1)
    throw new Error(`${rows}x${cols} images are too small for ${classes} classes`);
  const rng = new Random(seed);
  const images = new Uint8Array(count * rows * cols);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const label = i % classes;
    labels[i] = label;
    const top = Math.floor(label / grid) * cellH;
    const left = (label % grid) * cellW;
    // Jitter shrinks the block by at most a pixel on each side, never moving it out of its cell.
    const r0 = top + (cellH > 2 ? rng.int(2) : 0);
    const r1 = top + cellH - (cellH > 2 ? rng.int(2) : 0);
    const c0 = left + (cellW > 2 ? rng.int(2) : 0);
    const c1 = left + cellW - (cellW > 2 ? rng.int(2) : 0);
    const base = i * rows * cols;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const inBlob = r >= r0 && r < r1 && c >= c0 && c < c1;
        images[base + r * cols + c] = inBlob
          ? BLOB_MIN + rng.int(256 - BLOB_MIN)
          : rng.int(BACKGROUND_MAX + 1);
      }
    }
  }
  return { images, labels, count, rows, cols };
}

export interface RawDatasetOptions extends ImageSetOptions {
  trainCount?: number;
  testCount?: number;
  name?: string;
}

/** A synthetic train/test pair from `makeImageSet`; the test half uses a different seed. */
export function makeRawDataset(opts: RawDatasetOptions = {}): RawDataset {
  const {
    trainCount = 200,
    testCount = 100,
    name = 'synthetic',
    classes = 10,
    seed = 1,
    ...rest
  } = opts;
  return {
    name,
    numClasses: classes,
    train: makeImageSet(trainCount, { ...rest, classes, seed }),
    test: makeImageSet(testCount, { ...rest, classes, seed: seed + 1_000_003 }),
  };
}
