/**
 * The held-out test samples of an upload without a test split of its own: stratified (every
 * class contributes max(1, round(n * fraction)) samples) and seeded, so the same file, fraction
 * and seed always hold out the same samples.
 *
 * One pass of selection sampling (Knuth's Algorithm S, run per class over the interleaved
 * samples): each sample of class c is held out with probability needed_c / remaining_c, which
 * picks exactly needed_c samples, every subset of that size equally likely, with no per-sample
 * memory beyond the result.
 */
import { Random } from '../../../core/random.js';
import { invalidDataset, quote } from '../errors.js';

/**
 * @param classOf class id of each sample (0..classNames.length-1), in upload order.
 * @returns 1 for each sample held out as test, 0 for training.
 * @throws ServiceError INVALID_DATASET naming a class whose samples are too few to keep one
 *   for training after holding out its test share.
 */
export function drawTestSamples(
  classOf: Uint16Array,
  classNames: readonly string[],
  fraction: number,
  seed: number,
): Uint8Array {
  const remaining = new Float64Array(classNames.length);
  for (const c of classOf) remaining[c]++;
  const needed = remaining.map((n, c) => {
    const nTest = Math.max(1, Math.round(n * fraction));
    if (n - nTest < 1) {
      throw invalidDataset(
        `class ${quote(classNames[c])} has ${n} sample${n === 1 ? '' : 's'}: holding out ${nTest} for the test split ` +
          `(testFraction ${fraction}) leaves none for the training split; every class needs at least 2 samples`,
      );
    }
    return nTest;
  });
  const rng = new Random(seed);
  const isTest = new Uint8Array(classOf.length);
  for (let i = 0; i < classOf.length; i++) {
    const c = classOf[i];
    if (rng.next() * remaining[c] < needed[c]) {
      isTest[i] = 1;
      needed[c]--;
    }
    remaining[c]--;
  }
  return isTest;
}
