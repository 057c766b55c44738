/**
 * Assertions shared by the data-set decoder tests: both entry points run on every file, and
 * must agree (same summary, same error).
 */
import assert from 'node:assert/strict';
import {
  decodeDataset,
  inspectDataset,
  type DecodedDataset,
  type DecodeOptions,
} from '../../src/infra/datasets/index.js';
import { ServiceError, type ServiceErrorCode } from '../../src/services/errors.js';

/** Generous enough for every valid test upload; bombs set their own. */
export const TEST_LIMIT = 64 * 1024 * 1024;

/** Decodes `path` and checks that inspectDataset describes it exactly as decodeDataset does. */
export async function decodeBoth(
  path: string,
  opts: Partial<DecodeOptions> = {},
): Promise<DecodedDataset> {
  const options = { maxExpandedBytes: TEST_LIMIT, ...opts };
  const summary = await inspectDataset(path, options);
  const decoded = await decodeDataset(path, options);
  const { train, test, ...decodedSummary } = decoded;
  assert.deepEqual(decodedSummary, summary);
  assert.equal(train.count, sum(summary.counts.train));
  assert.equal(test.count, sum(summary.counts.test));
  const sampleSize = summary.inputShape.reduce((a, b) => a * b, 1);
  for (const split of [train, test]) {
    assert.equal(split.x.length, split.count * sampleSize);
    assert.equal(split.y.length, split.count);
    assert.ok(split.x instanceof (summary.dtype === 'uint8' ? Uint8Array : Float32Array));
  }
  return decoded;
}

/**
 * Both entry points reject `path` with `code` and a message holding every fragment (a string,
 * or a pattern).
 */
export async function rejectsBoth(
  path: string,
  opts: Partial<DecodeOptions>,
  code: ServiceErrorCode,
  ...fragments: (string | RegExp)[]
): Promise<string> {
  const options = { maxExpandedBytes: TEST_LIMIT, ...opts };
  const messages: string[] = [];
  for (const run of [inspectDataset, decodeDataset]) {
    await assert.rejects(run(path, options), (e: unknown) => {
      assert.ok(e instanceof ServiceError, `expected a ServiceError, got ${String(e)}`);
      assert.equal(e.code, code, e.message);
      for (const f of fragments) {
        if (typeof f === 'string')
          assert.ok(
            e.message.includes(f),
            `message should contain ${JSON.stringify(f)}: ${e.message}`,
          );
        else assert.match(e.message, f);
      }
      messages.push(e.message);
      return true;
    });
  }
  assert.equal(messages[0], messages[1], 'inspect and decode fail the same way');
  return messages[0];
}

export function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** Sample `i` of a split, as a plain array. */
export function sampleOf(x: Uint8Array | Float32Array, i: number, size: number): number[] {
  return Array.from(x.subarray(i * size, (i + 1) * size));
}
