/**
 * The checks and the assembly every format shares: class names and ids, the split, the rules
 * on classes (MIN_CLASSES..MAX_CLASSES, each in both splits), then the summary and, when the
 * values were kept, the arrays. inspectDataset and decodeDataset both end here, so they accept
 * and describe exactly the same uploads.
 */
import { invalidDataset, quote } from '../errors.js';
import {
  MAX_CLASSES,
  MIN_CLASSES,
  type DatasetSummary,
  type DecodedDataset,
  type SampleSplit,
} from '../types.js';
import { SPLIT_DRAW, SPLIT_TEST, type CollectedSamples } from './collected.js';
import { sortClassNames } from './label-index.js';
import { drawTestSamples } from './test-split.js';

export interface SplitOptions {
  testFraction: number;
  seed: number;
}

/** The summary, plus each sample's class id and split (1 = test), to assemble arrays from. */
export interface SplitPlan {
  summary: DatasetSummary;
  classOf: Uint16Array;
  isTest: Uint8Array;
}

/**
 * @throws ServiceError INVALID_DATASET when there are no samples, fewer than MIN_CLASSES or
 *   more than MAX_CLASSES classes, or a class without a training or a test sample (named).
 */
export function planSplits(collected: CollectedSamples, opts: SplitOptions): SplitPlan {
  const { labels, splits, labelNames } = collected;
  const n = labels.length;
  const valueCount = collected.values.reduce((sum, v) => sum + v.count, 0);
  if (valueCount !== n) throw new Error(`decoder bug: ${valueCount} samples but ${n} labels`);
  if (n === 0) throw invalidDataset('the data set has no samples');

  const classNames = sortClassNames(labelNames, collected.classOrder);
  if (classNames.length < MIN_CLASSES) {
    throw invalidDataset(
      `the data set has ${classNames.length} class (${quote(classNames[0])}); at least ${MIN_CLASSES} are needed`,
    );
  }
  if (classNames.length > MAX_CLASSES) {
    throw invalidDataset(
      `the data set has ${classNames.length} classes; at most ${MAX_CLASSES} are supported`,
    );
  }
  const rank = new Map(classNames.map((name, id) => [name, id]));
  const idOfLabel = Uint16Array.from(labelNames, (name) => rank.get(name)!);
  const classOf = labels.map((l) => idOfLabel[l]);

  const draws = splits.reduce((k, s) => k + (s === SPLIT_DRAW ? 1 : 0), 0);
  if (draws !== 0 && draws !== n)
    throw new Error('decoder bug: a data set mixes fixed and drawn splits');
  const isTest =
    draws === n
      ? drawTestSamples(classOf, classNames, opts.testFraction, opts.seed)
      : splits.map((s) => (s === SPLIT_TEST ? 1 : 0));

  const train = new Array<number>(classNames.length).fill(0);
  const test = new Array<number>(classNames.length).fill(0);
  for (let i = 0; i < n; i++) (isTest[i] ? test : train)[classOf[i]]++;
  classNames.forEach((name, c) => {
    for (const [split, counts] of [
      ['training', train],
      ['test', test],
    ] as const) {
      if (counts[c] === 0) {
        throw invalidDataset(
          `class ${quote(name)} has no ${split} samples; every class needs at least one training and one test sample`,
        );
      }
    }
  });

  const summary: DatasetSummary = {
    format: collected.format,
    inputShape: [...collected.inputShape],
    dtype: collected.dtype,
    classNames,
    counts: { train, test },
  };
  return { summary, classOf, isTest };
}

/**
 * Copies the kept values into one array per split, samples in upload order within each split.
 * Consumes `collected.values` (each chunk is released once copied).
 */
export function assembleDataset(collected: CollectedSamples, plan: SplitPlan): DecodedDataset {
  const { summary, classOf, isTest } = plan;
  const sampleBytes = collected.values[0].sampleBytes;
  const testCount = summary.counts.test.reduce((a, b) => a + b, 0);
  const train = emptySplit(collected.dtype, classOf.length - testCount, sampleBytes);
  const test = emptySplit(collected.dtype, testCount, sampleBytes);
  const trainBytes = bytesOf(train.x);
  const testBytes = bytesOf(test.x);
  let i = 0;
  let nTrain = 0;
  let nTest = 0;
  for (const part of collected.values) {
    for (const chunk of part.take()) {
      for (let offset = 0; offset < chunk.length; offset += sampleBytes, i++) {
        const sample = chunk.subarray(offset, offset + sampleBytes);
        if (isTest[i]) {
          testBytes.set(sample, nTest * sampleBytes);
          test.y[nTest++] = classOf[i];
        } else {
          trainBytes.set(sample, nTrain * sampleBytes);
          train.y[nTrain++] = classOf[i];
        }
      }
    }
  }
  return { ...summary, train, test };
}

function emptySplit(
  dtype: CollectedSamples['dtype'],
  count: number,
  sampleBytes: number,
): SampleSplit {
  const x =
    dtype === 'uint8'
      ? new Uint8Array(count * sampleBytes)
      : new Float32Array((count * sampleBytes) / 4);
  return { x, y: new Int32Array(count), count };
}

/**
 * The array's bytes; the decoders append little-endian values, which is the byte order of every
 * platform Node runs on here.
 */
function bytesOf(x: Uint8Array | Float32Array): Uint8Array {
  return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
}
