import { Type, type Static, type TSchema } from '@sinclair/typebox';
import {
  JobSpecInputSchema,
  JobSpecSchema,
  LIMITS,
  METHODS,
  PRESETS,
  presetSplit,
  resolveSpec,
  type DatasetFacts,
  type JobSpec,
} from '../../../core/index.js';
import { METADATA_MAX_BYTES } from '../../../services/jobs/job.service.js';
import { JOB_STATUSES } from '../../../services/ports.js';
import { Nullable, Uuid, WithDefault } from '../../schemas.js';

const statusSchema = Type.Union(
  JOB_STATUSES.map((s) => Type.Literal(s)),
  {
    description:
      'queued -> running -> succeeded | failed | cancelled (running jobs may go back to queued when a worker stops)',
  },
);

/** POST body: the job spec's fields, plus an optional name and metadata. Unknown fields are refused. */
export const CreateJobBody = Type.Object(
  {
    ...(JobSpecInputSchema.properties as Record<string, TSchema>),
    continueFrom: Type.Optional(
      Type.String({
        pattern: Uuid.pattern,
        description:
          'id of a succeeded job of yours to continue: the new job starts from its final checkpoint, keeps its tasks (re-evaluated on their test data after every new task) and trains only the tasks in benchmark.tasks (a count, or a list for uploaded data sets), which are appended to its own. Method, networks and every other setting come from that job; sending another value for one is refused. The job continued is left unchanged.',
      }),
    ),
    name: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'a label for the job' }),
    ),
    metadata: Type.Optional(
      Type.Record(Type.String({ maxLength: 100 }), Type.Unknown(), {
        maxProperties: 50,
        description: `free-form JSON kept with the job, at most ${METADATA_MAX_BYTES} bytes as JSON`,
      }),
    ),
  },
  {
    additionalProperties: false,
    description: `a job spec (every field optional; "preset" fills published hyperparameters) plus name and metadata. At most ${LIMITS.tasks} tasks.`,
    // @fastify/swagger makes these the request body's examples; validation ignores the keyword.
    'x-examples': presetExamples(),
  },
);

/**
 * The uploaded data set an image preset's example names (a CIFAR-100-like one: 100 classes of
 * 32x32x3 images, or 200 of 64x64x3 for Tiny-ImageNet), and what it holds; null for presets of
 * built-in benchmarks.
 */
export function presetExampleDataset(preset: (typeof PRESETS)[number]): {
  id: string;
  facts: DatasetFacts;
} | null {
  const split = presetSplit(preset);
  if (!split) return null;
  const classes = split.tasks * split.classesPerTask;
  const side = classes > 100 ? 64 : 32;
  return {
    id: '00000000-0000-4000-8000-000000000001',
    facts: {
      inputShape: [side, side, 3],
      dtype: 'uint8',
      sha256: '0'.repeat(64),
      classNames: Array.from({ length: classes }, (_, c) => `class_${c}`),
      counts: {
        train: new Array<number>(classes).fill(500),
        test: new Array<number>(classes).fill(50),
      },
    },
  };
}

/**
 * One example per preset and method: the whole spec the preset resolves to (sending
 * `{preset, method}` alone gives the same). The image presets train on an uploaded data set
 * (`presetExampleDataset`), which the example names in `benchmark.tasks`; the preset cuts it into
 * tasks.
 */
function presetExamples(): Record<string, { summary: string; value: JobSpec }> {
  return Object.fromEntries(
    PRESETS.flatMap((preset) =>
      METHODS.map((method) => {
        const dataset = presetExampleDataset(preset);
        const value = dataset
          ? resolveSpec(
              { preset, method, benchmark: { tasks: [{ dataset: dataset.id }] } },
              { datasets: new Map([[dataset.id, dataset.facts]]) },
            )
          : resolveSpec({ preset, method });
        const on = dataset ? ' on an uploaded data set (its id in benchmark.tasks)' : '';
        return [
          `${preset}-${method}`,
          {
            summary: `preset ${preset}, method ${method}${on}: every field the preset fills in`,
            value,
          },
        ];
      }),
    ),
  );
}
export type CreateJobBody = Static<typeof CreateJobBody>;

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      pattern: '^[\\x21-\\x7E]+$',
      description: 'printable ASCII without spaces',
    }),
  ),
});

export const JobParams = Type.Object({ id: Uuid }, { additionalProperties: false });

export const ListJobsQuery = Type.Object(
  {
    status: Type.Optional(statusSchema),
    limit: WithDefault(
      Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'page size' }),
    ),
    cursor: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'nextCursor of the previous page' }),
    ),
  },
  { additionalProperties: false },
);
export type ListJobsQuery = Static<typeof ListJobsQuery>;

export const MetricsQuery = Type.Object(
  {
    curve: WithDefault(
      Type.Union([Type.Literal('loss'), Type.Literal('validation')], {
        default: 'loss',
        description: 'which curve to page through',
      }),
    ),
    task: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: LIMITS.tasks - 1,
        description: 'only this task (0-based)',
      }),
    ),
    limit: WithDefault(
      Type.Integer({ minimum: 1, maximum: 5000, default: 1000, description: 'points per page' }),
    ),
    cursor: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 30,
        description: 'curve.nextCursor of the previous page',
      }),
    ),
  },
  { additionalProperties: false },
);
export type MetricsQuery = Static<typeof MetricsQuery>;

const TaskLinks = Type.Object({
  task: Type.Integer({ description: '0-based task index' }),
  mask: Nullable(Type.String({ description: 'safetensors mask (hypermask only)' })),
  model: Type.String({
    description:
      'TF.js LayersModel: pass to tf.loadLayersModel with your key in requestInit.headers',
  }),
});

export const JobResource = Type.Object(
  {
    id: Uuid,
    name: Nullable(Type.String()),
    metadata: Nullable(Type.Record(Type.String(), Type.Unknown())),
    status: statusSchema,
    spec: JobSpecSchema,
    backend: Nullable(
      Type.String({
        description: 'TF.js backend that trained the job: tensorflow-gpu, tensorflow, wasm or cpu',
      }),
    ),
    progress: Type.Object({
      completedTasks: Type.Integer(),
      tasksTotal: Type.Integer(),
      currentTask: Nullable(Type.Integer({ description: 'task being trained (0-based)' })),
      iteration: Nullable(Type.Integer({ description: 'iterations done in the current task' })),
      iterationsPerTask: Type.Integer(),
      iterationsDone: Type.Integer(),
      iterationsTotal: Type.Integer(),
      fraction: Type.Number({ minimum: 0, maximum: 1 }),
      etaMs: Nullable(Type.Integer({ description: 'estimated time to the end of training' })),
    }),
    continueFrom: Nullable(Uuid),
    inheritedTasks: Type.Integer({
      description: 'tasks taken over from continueFrom (trained there; 0 for a job of its own)',
    }),
    attempts: Type.Integer({ description: 'times a worker started this job' }),
    error: Nullable(Type.Object({ code: Type.String(), message: Type.String() })),
    result: Nullable(
      Type.Object({
        averageAccuracy: Type.Number(),
        backwardTransfer: Nullable(Type.Number()),
        forgetting: Nullable(Type.Number()),
        runningStatsAverageAccuracy: Nullable(
          Type.Number({
            description:
              "targets with batch norm (ResNet): average accuracy with each task's running batch-norm statistics, " +
              'as a deployed model predicts one input at a time (averageAccuracy normalises each test batch by its own ' +
              'statistics, as the reference evaluates); null for other targets',
          }),
        ),
      }),
    ),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
    startedAt: Nullable(Type.String({ format: 'date-time' })),
    finishedAt: Nullable(Type.String({ format: 'date-time' })),
    checkpointRemovedAt: Nullable(
      Type.String({
        format: 'date-time',
        description:
          'when the checkpoint of this finished job was removed (retention); results and downloads remain, but it can no longer be continued',
      }),
    ),
    links: Type.Object({
      self: Type.String(),
      metrics: Type.String(),
      cancel: Type.String(),
      events: Type.String(),
      stream: Type.String({ description: 'live events (Server-Sent Events)' }),
      tasks: Type.Array(TaskLinks, { description: 'trained tasks and their downloads' }),
    }),
  },
  { $id: 'Job' },
);
export type JobResource = Static<typeof JobResource>;

export const JobList = Type.Object({
  items: Type.Array(Type.Ref(JobResource)),
  nextCursor: Nullable(
    Type.String({ description: 'pass as ?cursor= for the next page; null on the last page' }),
  ),
});

const CurvePoint = Type.Object({
  task: Type.Integer(),
  iteration: Type.Integer(),
  value: Type.Number({
    description: 'loss (curve=loss) or validation accuracy (curve=validation)',
  }),
  taskLoss: Nullable(Type.Number()),
  outputReg: Nullable(Type.Number()),
  driftReg: Nullable(Type.Number()),
});

/** Task and class accuracy of task inference without the task id, by one rule. */
const TaskInferenceResult = (rule: string) =>
  Type.Object({
    taskAccuracy: Type.Number({
      description: `fraction of test samples whose task ${rule} inferred correctly, averaged over tasks`,
    }),
    classAccuracy: Type.Number({
      description:
        'fraction classified correctly on global labels with the inferred task, averaged over tasks',
    }),
    perTask: Type.Array(
      Type.Object({
        task: Type.Integer(),
        taskAccuracy: Type.Number(),
        classAccuracy: Type.Number(),
      }),
    ),
  });

export const JobMetrics = Type.Object({
  jobId: Uuid,
  status: statusSchema,
  accuracyMatrix: Type.Array(Type.Array(Type.Number()), {
    description: 'row k: test accuracy on tasks 0..k after training through task k',
  }),
  averageAccuracy: Nullable(Type.Number()),
  backwardTransfer: Nullable(Type.Number()),
  forgetting: Nullable(Type.Number()),
  taskDurationsMs: Type.Array(Type.Number()),
  msPerIteration: Type.Array(Type.Number({ description: 'median per task' })),
  runningStats: Nullable(
    Type.Object(
      {
        accuracyMatrix: Type.Array(Type.Array(Type.Number()), {
          description:
            "row k: test accuracy on tasks 0..k after training through task k, each task's batch norm using that task's running statistics (finetune, one network for all tasks: task k's)",
        }),
        averageAccuracy: Type.Number(),
        backwardTransfer: Nullable(Type.Number()),
        forgetting: Nullable(Type.Number()),
      },
      {
        description:
          "targets with batch norm (ResNet): the evaluation with each task's running batch-norm statistics (computed after the task " +
          'in one pass over its training data, and in its exported model): how the model predicts one input at a time. ' +
          'accuracyMatrix above normalises each test batch by its own statistics, as the reference does. Null for other targets',
      },
    ),
  ),
  taskInference: Type.Union(
    [TaskInferenceResult('lowest softmax entropy (method section 7.2)'), Type.Null()],
    {
      description:
        'task inference by lowest softmax entropy after the last task (evaluation.taskInference "entropy" or "both"); null when not run',
    },
  ),
  fecamTaskInference: Type.Union(
    [
      TaskInferenceResult(
        'FeCAM, the nearest class prototype in Mahalanobis distance (method section 7.3),',
      ),
      Type.Null(),
    ],
    {
      description:
        'task inference by FeCAM after the last task (evaluation.taskInference "fecam" or "both"); null when not run',
    },
  ),
  curve: Type.Object({
    kind: Type.Union([Type.Literal('loss'), Type.Literal('validation')]),
    points: Type.Array(CurvePoint),
    nextCursor: Nullable(Type.String()),
  }),
});
export type JobMetrics = Static<typeof JobMetrics>;

export const JobEvents = Type.Object({
  items: Type.Array(
    Type.Object({
      status: statusSchema,
      message: Nullable(Type.String()),
      at: Type.String({ format: 'date-time' }),
    }),
  ),
});
