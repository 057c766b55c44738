import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkStoredSpec,
  resolveSpec,
  SPEC_VERSION,
  upgradeStoredSpec,
  type JobSpec,
} from '../../../src/core/spec.js';

describe('evaluation.taskInference', () => {
  it('takes "entropy", "fecam", "both" or "none", and defaults to "both"', () => {
    for (const rule of ['entropy', 'fecam', 'both', 'none'] as const)
      assert.equal(
        resolveSpec({ evaluation: { taskInference: rule } }).evaluation.taskInference,
        rule,
      );
    assert.equal(resolveSpec({}).evaluation.taskInference, 'both');
    assert.throws(
      () => resolveSpec({ evaluation: { taskInference: 'yes' } }),
      /evaluation\.taskInference/,
    );
  });

  it('refuses "fecam" alone for a network it cannot serve', () => {
    assert.throws(
      () => resolveSpec({ network: { hidden: [] }, evaluation: { taskInference: 'fecam' } }),
      /evaluation\.taskInference: FeCAM needs a hidden layer/,
    );
    assert.throws(
      () => resolveSpec({ network: { hidden: [4096] }, evaluation: { taskInference: 'fecam' } }),
      /at most 2048/,
    );
    // "both" runs entropy alone there.
    assert.equal(
      resolveSpec({ network: { hidden: [] }, evaluation: { taskInference: 'both' } }).evaluation
        .taskInference,
      'both',
    );
  });

  it('still takes the booleans of spec version 2: true is entropy, false none', () => {
    assert.equal(
      resolveSpec({ evaluation: { taskInference: true } }).evaluation.taskInference,
      'entropy',
    );
    assert.equal(
      resolveSpec({ evaluation: { taskInference: false } }).evaluation.taskInference,
      'none',
    );
  });

  it('reads a stored version 3 (and 2, 1) spec with true or false', () => {
    assert.equal(SPEC_VERSION, 5);
    const current = resolveSpec({ evaluation: { taskInference: 'entropy' } });
    const stored = (value: boolean) =>
      JSON.parse(JSON.stringify({ ...current, evaluation: { taskInference: value } })) as JobSpec;
    assert.deepEqual(checkStoredSpec(stored(true), 3), current);
    assert.equal(checkStoredSpec(stored(false), 3).evaluation.taskInference, 'none');
    assert.deepEqual(checkStoredSpec(stored(true), 2), current);
    // A version 2 spec also predates the epoch schedules: both upgrades chain.
    const { epochsPerTask: _e, lrSchedule: _l, modelSelection: _m, ...training } = current.training;
    const v2 = { ...stored(false), training } as unknown as JobSpec;
    const upgraded = checkStoredSpec(v2, 2);
    assert.equal(upgraded.evaluation.taskInference, 'none');
    assert.deepEqual(upgraded.training, current.training);
    const v1 = stored(true) as Partial<JobSpec>;
    const { kind: _kind, ...network } = current.network;
    const old = { ...v1, network } as JobSpec;
    assert.deepEqual(checkStoredSpec(old, 1), current);
    // Upgrading twice changes nothing more.
    assert.deepEqual(upgradeStoredSpec(upgradeStoredSpec(stored(true), 3), 3), current);
    // A version 4 spec holds no booleans.
    assert.throws(() => checkStoredSpec(stored(true), 4), /no longer passes validation/);
  });
});
