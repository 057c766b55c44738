/** Durations as the CLI and the demo print them: rounded before they are split (no "1m60s"). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration } from '../../../src/cli/duration.js';

describe('formatDuration', () => {
  const cases: [number, string][] = [
    [0, '0s'],
    [-5, '0s'],
    [42_400, '42s'],
    [59_600, '1m00s'],
    [119_600, '2m00s'],
    [185_000, '3m05s'],
    [3_599_600, '1h00m'],
    [3_629_000, '1h00m'],
    [7_170_000, '2h00m'],
    [7_620_000, '2h07m'],
  ];
  for (const [ms, text] of cases)
    it(`${ms} ms reads ${text}`, () => assert.equal(formatDuration(ms), text));
});
