/**
 * The held-out test samples of an upload without a test split of its own: stratified (every
 * class contributes max(1, round(n * fraction)) samples) and seeded, so the same file, fraction
 * and seed always hold out the same samples.
 */
import { Random } from '../../../core/random.js';
import { invalidDataset, quote } from '../errors.js';

/**
 * @param classOf class id of each sample (0..numClasses-1).
 * @returns 1 for each sample held out as test, 0 for training.
 * @throws ServiceError INVALID_DATASET naming a class whose samples are too few to keep one
 *   for training after holding out its test share.
 */
export function drawTestSamples(classOf: Int32Array, classNames: readonly string[], fraction: number, seed: number): Uint8Array {
  const numClasses = classNames.length;
  const counts = new Int32Array(numClasses);
  for (const c of classOf) counts[c]++;
  // Samples bucketed by class (a counting sort), in upload order within each class.
  const starts = new Int32Array(numClasses + 1);
  for (let c = 0; c < numClasses; c++) starts[c + 1] = starts[c] + counts[c];
  const next = starts.slice(0, numClasses);
  const byClass = new Int32Array(classOf.length);
  classOf.forEach((c, i) => {
    byClass[next[c]++] = i;
  });

  const isTest = new Uint8Array(classOf.length);
  const rng = new Random(seed);
  for (let c = 0; c < numClasses; c++) {
    const n = counts[c];
    const nTest = Math.max(1, Math.round(n * fraction));
    if (n - nTest < 1) {
      throw invalidDataset(
        `class ${quote(classNames[c])} has ${n} sample${n === 1 ? '' : 's'}: holding out ${nTest} for the test split ` +
          `(testFraction ${fraction}) leaves none for the training split; every class needs at least 2 samples`,
      );
    }
    const members = rng.shuffle(byClass.subarray(starts[c], starts[c + 1]));
    for (let k = 0; k < nTest; k++) isTest[members[k]] = 1;
  }
  return isTest;
}
