import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildBody, EXTRA, placeError } from '../../../ui/src/pages/spec-form.js';

describe('the job form', () => {
  it('sends filled inputs at their paths over the JSON box, and leaves empty ones out', () => {
    const built = buildBody(
      {
        name: 'a',
        'training.iterationsPerTask': '40',
        'training.seed': '',
        'evaluation.taskInference': 'false',
        'benchmark.tasks': 'two',
      },
      '{"training": {"batchSize": 32, "iterationsPerTask": 7}, "network": {"hidden": [16]}}',
    );
    assert.deepEqual(built, {
      body: {
        name: 'a',
        // Not a number: sent as typed, for the API to name the field.
        benchmark: { tasks: 'two' },
        training: { batchSize: 32, iterationsPerTask: 40 },
        network: { hidden: [16] },
        evaluation: { taskInference: false },
      },
    });
  });

  it('refuses a JSON box that is not a JSON object, beside the box', () => {
    assert.equal((buildBody({}, '{"a": ') as { error: { at: string } }).error.at, EXTRA);
    assert.equal((buildBody({}, '[1]') as { error: { at: string } }).error.at, EXTRA);
  });

  it("puts the API's error beside the input holding its field, else beside the JSON box, else on top", () => {
    const at = (field?: string) => placeError({ message: 'm', field }).at;
    assert.equal(at('training.iterationsPerTask'), 'training.iterationsPerTask');
    assert.equal(at('benchmark.tasks[1].dataset'), 'benchmark.tasks');
    assert.equal(at('network.hidden[0]'), EXTRA);
    assert.equal(at('spec'), '');
    assert.equal(at(undefined), '');
  });
});
