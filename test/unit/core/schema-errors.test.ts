/**
 * One wording of schema errors: request validation (Ajv, src/http/validation.ts) and the spec
 * checks of the engine (TypeBox, resolveSpec, which the CLI and continuations use) describe the
 * same mistake in the same words.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Type } from '@sinclair/typebox';
import type { ErrorObject } from 'ajv';
import { resolveSpec } from '../../../src/core/index.js';
import { CreateJobBody } from '../../../src/http/routes/jobs/schemas.js';
import { describeValidationError, validatorCompiler } from '../../../src/http/validation.js';

const validate = validatorCompiler({
  schema: CreateJobBody,
  httpPart: 'body',
  url: '/v1/jobs',
  method: 'POST',
}) as unknown as {
  (data: unknown): boolean;
  errors: ErrorObject[];
};

function apiMessage(body: object): string {
  assert.equal(validate(structuredClone(body)), false, `the API accepted ${JSON.stringify(body)}`);
  return describeValidationError(validate.errors, 'body').message;
}

function engineMessage(spec: object): string {
  try {
    resolveSpec(structuredClone(spec));
  } catch (e) {
    return (e as Error).message;
  }
  assert.fail(`resolveSpec accepted ${JSON.stringify(spec)}`);
}

const DATASET = '00000000-0000-4000-8000-000000000000';
const cases: [object, string][] = [
  [{ method: 'ewc' }, 'method: must be one of "hypermask", "hnet", "finetune" (got "ewc")'],
  [{ training: { lr: 0.1 } }, 'training.lr: unknown field (remove it)'],
  [
    { training: { batchSize: '128' } },
    'training.batchSize: must be an integer between 1 and 4096 (got "128")',
  ],
  [{ network: { hidden: 16 } }, 'network.hidden: must be of type array (got 16)'],
  [
    { network: { hidden: [1, 2, 3, 4, 5, 6, 7, 8, 9] } },
    'network.hidden: must have at most 8 items (got [1,2,3,4,5,6,7,8,9])',
  ],
  [
    { evaluation: { taskInference: 'yes' } },
    'evaluation.taskInference: must be one of "none", "entropy", "fecam", "both", boolean (got "yes")',
  ],
  // Unions: the alternatives, nested ones included, or what is wrong inside the member the value was meant for.
  [
    { preset: 'cifar' },
    'preset: must be one of "split-mnist", "permuted-mnist", "split-cifar100-resnet", "split-cifar100-zenkenet", "tinyimagenet-resnet", "tinyimagenet-zenkenet", null (got "cifar")',
  ],
  [{ benchmark: { tasks: 'five' } }, 'benchmark.tasks: must be one of integer, array (got "five")'],
  [{ benchmark: { tasks: 0 } }, 'benchmark.tasks: must be an integer between 1 and 100 (got 0)'],
  [
    { benchmark: { trainLimit: 0 } },
    'benchmark.trainLimit: must be an integer between 1 and 60000 (got 0)',
  ],
  [
    { benchmark: { kind: 'datasets', tasks: [{ dataset: 'x' }] } },
    'benchmark.tasks[0].dataset: must be an id of an uploaded data set (POST /v1/datasets) (got "x")',
  ],
  [
    { benchmark: { kind: 'datasets', tasks: [{ dataset: DATASET, classes: ['a'] }] } },
    'benchmark.tasks[0].classes: must have 2 to 1000 items (got ["a"])',
  ],
];

describe('schema error messages', () => {
  for (const [spec, message] of cases) {
    it(`${JSON.stringify(spec)}: the API and the engine say "${message}"`, () => {
      assert.equal(apiMessage(spec), message);
      assert.equal(engineMessage(spec), message);
    });
  }

  it('names the part of the request outside the body', () => {
    const schema = Type.Object({
      id: Type.String({ pattern: '^[0-9a-f-]{36}$', description: 'UUID' }),
    });
    const params = validatorCompiler({
      schema,
      httpPart: 'params',
      url: '/',
      method: 'GET',
    }) as unknown as {
      (data: unknown): boolean;
      errors: ErrorObject[];
    };
    assert.equal(params({ id: '123' }), false);
    assert.deepEqual(describeValidationError(params.errors, 'params'), {
      field: 'id',
      message: 'path parameter id: must be a UUID (got "123")',
    });
  });
});
