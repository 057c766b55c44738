import { Type, type Static } from '@sinclair/typebox';
import { LIMITS } from '../../../core/index.js';
import { Nullable, Uuid } from '../../schemas.js';

/** Most inputs in one request. */
export const MAX_PREDICT_INPUTS = 1000;
/** Largest JSON body of a predict request (1,000 inputs of 3,072 pixels fit). */
export const PREDICT_BODY_LIMIT = 32 * 1024 * 1024;

export const PredictParams = Type.Object({ id: Uuid }, { additionalProperties: false });

export const PredictBody = Type.Object(
  {
    inputs: Type.Array(Type.Array(Type.Number(), { minItems: 1, maxItems: 1_000_000 }), {
      minItems: 1,
      maxItems: MAX_PREDICT_INPUTS,
      description:
        'one array per input, row-major, in the units of the data: pixels 0-255 for images and IDX (the raw image, not normalised), values as uploaded for CSV and float arrays',
    }),
    task: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: LIMITS.tasks - 1,
        description:
          'the task (0-based) whose model answers; omit it to infer the task per input by lowest entropy',
      }),
    ),
  },
  { additionalProperties: false },
);
export type PredictBody = Static<typeof PredictBody>;

export const PredictQuery = Type.Object(
  {
    task: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: LIMITS.tasks - 1,
        description: 'image bodies only: the task whose model answers (omit to infer it)',
      }),
    ),
  },
  { additionalProperties: false },
);

export const PredictResponse = Type.Object({
  jobId: Uuid,
  tasksAvailable: Type.Integer({
    description: 'tasks trained so far; inference without a task id chooses among these',
  }),
  predictions: Type.Array(
    Type.Object({
      task: Type.Integer({ description: 'the task that answered' }),
      inferred: Type.Boolean({
        description: 'true when no task id was given and the task was inferred (see rule)',
      }),
      rule: Type.Union([Type.Literal('given'), Type.Literal('fecam'), Type.Literal('entropy')], {
        description:
          'what chose the task: "given" (the task id of the request), "fecam" (the nearest class prototype in Mahalanobis distance; used when the job kept FeCAM statistics, evaluation.taskInference "fecam" or "both") or "entropy" (lowest softmax entropy)',
      }),
      class: Type.Integer({
        description: "class index local to the task (the model's output index)",
      }),
      className: Type.String(),
      globalLabel: Nullable(
        Type.Integer({ description: 'the label in the original data set (built-in benchmarks)' }),
      ),
      probabilities: Type.Array(Type.Number(), {
        description: "softmax of the task model's outputs",
      }),
      entropies: Nullable(
        Type.Array(Type.Number(), {
          description:
            'softmax entropy of every trained task divided by ln(its class count), in [0, 1], by task index; the lowest wins (rule "entropy" only)',
        }),
      ),
      distances: Nullable(
        Type.Array(Type.Number(), {
          description:
            "every trained task's smallest squared Mahalanobis distance from the input's features to a class prototype, divided by that task's distance scale (the mean of its own training samples' smallest distances), by task index; the smallest wins and gives the class (rule \"fecam\" only)",
        }),
      ),
    }),
  ),
});
