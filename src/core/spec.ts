/**
 * The job spec: the one definition shared by the CLI (`npm run train -- --spec FILE`) and the
 * HTTP API (`POST /v1/jobs`). `JobSpecInput` is what a user writes (everything optional except
 * what no preset can guess); `resolveSpec` fills presets and defaults and checks the combination,
 * returning a fully populated `JobSpec` that is stored with the job and drives training.
 *
 * TypeBox is the one library the core uses besides TF.js: it builds plain JSON Schema objects
 * (Fastify validates requests with them) and checks values without any I/O.
 */
import { Type, type Static, type TLiteral, type TSchema, type TUnion } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { SpecError } from './errors.js';

export const METHODS = ['hypermask', 'hnet', 'finetune'] as const;
export const PRESETS = ['split-mnist', 'permuted-mnist'] as const;
export const DATASETS = ['mnist', 'fashion-mnist'] as const;
export const BENCHMARK_KINDS = ['split', 'permuted'] as const;
export const TARGET_ACTIVATIONS = ['relu', 'sigmoid'] as const;
export const HNET_ACTIVATIONS = ['elu', 'relu', 'sigmoid'] as const;

/** Classes in each supported data set. */
export const DATASET_CLASSES: Record<(typeof DATASETS)[number], number> = { mnist: 10, 'fashion-mnist': 10 };

/** Upper bounds that keep a single job within what one worker can hold. */
export const LIMITS = {
  tasks: 100,
  iterationsPerTask: 1_000_000,
  batchSize: 4096,
  layers: 8,
  layerWidth: 4096,
  embeddingDim: 1024,
  /** Trainable parameters of target plus hypernetwork. The permuted-mnist preset has 207.7 M. */
  parameters: 400_000_000,
} as const;

const literalUnion = <T extends readonly string[]>(values: T, description: string) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    { description },
  ) as unknown as TUnion<TLiteral<T[number]>[]>;

const int = (min: number, max: number, description: string) => Type.Integer({ minimum: min, maximum: max, description });
const num = (min: number, max: number, description: string) => Type.Number({ minimum: min, maximum: max, description });
const widths = (description: string) =>
  Type.Array(int(1, LIMITS.layerWidth, 'layer width'), { maxItems: LIMITS.layers, description });

const strict = <T extends Record<string, TSchema>>(props: T, description: string) =>
  Type.Object(props, { additionalProperties: false, description });

/** Every field, fully resolved. All fields are required here; see `JobSpecInputSchema`. */
export const JobSpecSchema = strict(
  {
    preset: Type.Union([literalUnion(PRESETS, 'published hyperparameters'), Type.Null()]),
    method: literalUnion(METHODS, 'continual-learning method'),
    benchmark: strict(
      {
        kind: literalUnion(BENCHMARK_KINDS, '"split": classes divided among tasks; "permuted": one pixel permutation per task'),
        dataset: literalUnion(DATASETS, 'data set name, resolved to IDX files in $RETAIN_DATA_DIR/<name>/'),
        tasks: int(1, LIMITS.tasks, 'number of tasks'),
        classesPerTask: int(2, 10, 'split: classes per task (labels re-indexed 0..K-1 within each task)'),
        padTo32: Type.Boolean({ description: 'zero-pad 28x28 images to 32x32 (1024 inputs)' }),
        permuteFirstTask: Type.Boolean({ description: 'permuted: also permute task 1 (HyperMask does)' }),
        validationSize: int(0, 60000, 'first N training samples of each task held out for validation'),
        trainLimit: Type.Union([int(1, 60000, 'use at most N training samples per task'), Type.Null()]),
        testLimit: Type.Union([int(1, 10000, 'evaluate on at most N test samples per task'), Type.Null()]),
        normalize: Type.Boolean({ description: 'standardise inputs with mean 0.1307, std 0.3081' }),
        augment: Type.Boolean({ description: 'random 28x28 crop after 4-pixel zero padding (training only)' }),
      },
      'which data, split into which tasks',
    ),
    network: strict(
      {
        hidden: widths('hidden layer widths of the target MLP'),
        activation: literalUnion(TARGET_ACTIVATIONS, 'hidden activation of the target MLP'),
      },
      'target network',
    ),
    hypernetwork: strict(
      {
        hidden: widths('hidden layer widths of the hypernetwork'),
        activation: literalUnion(HNET_ACTIVATIONS, 'hidden activation of the hypernetwork'),
        embeddingDim: int(1, LIMITS.embeddingDim, 'size of each task embedding'),
        chunkSize: Type.Union([int(1, 10_000_000, 'outputs per chunk (chunked hypernetwork)'), Type.Null()]),
        chunkEmbeddingDim: int(1, LIMITS.embeddingDim, 'size of each chunk embedding (chunked only)'),
      },
      'hypernetwork (hypermask and hnet)',
    ),
    training: strict(
      {
        iterationsPerTask: int(1, LIMITS.iterationsPerTask, 'training iterations per task'),
        batchSize: int(1, LIMITS.batchSize, 'mini-batch size'),
        learningRate: num(1e-8, 1, 'Adam learning rate'),
        embeddingLearningRate: Type.Union([num(1e-8, 1, 'hnet: Adam learning rate of the task embedding'), Type.Null()]),
        seed: int(0, 2 ** 31 - 1, 'seed of every random draw (data, initialisation, batches)'),
        validationEvery: int(1, LIMITS.iterationsPerTask, 'iterations between validation measurements'),
      },
      'optimisation',
    ),
    regularization: strict(
      {
        beta: num(0, 1e6, 'output-regulariser strength'),
        lambda: num(0, 1e6, 'hypermask: L1 strength on target-weight drift'),
        sparsity: num(0, 100, 'hypermask: percent of each mask tensor set to zero'),
        maskedL1: Type.Boolean({ description: 'hypermask: weight the L1 drift by the mask' }),
        lookahead: Type.Boolean({ description: 'hnet: regularise at the lookahead weights' }),
      },
      'forgetting protection',
    ),
    evaluation: strict(
      {
        taskInference: Type.Boolean({ description: 'after the last task, infer the task by lowest entropy' }),
      },
      'evaluation',
    ),
  },
  'a continual-learning job',
);
export type JobSpec = Static<typeof JobSpecSchema>;

/** Makes every property optional, recursively, keeping `additionalProperties: false`. */
function partialDeep(schema: TSchema): TSchema {
  if (schema.type === 'object' && schema.properties) {
    const props: Record<string, TSchema> = {};
    for (const [k, v] of Object.entries(schema.properties as Record<string, TSchema>)) {
      props[k] = Type.Optional(partialDeep(v));
    }
    return Type.Object(props, { additionalProperties: false, description: schema.description });
  }
  return schema;
}

/** What a user may send: any subset of `JobSpec`; unknown fields are rejected. */
export const JobSpecInputSchema = partialDeep(JobSpecSchema);
export type JobSpecInput = DeepPartial<JobSpec>;
type DeepPartial<T> = T extends (infer U)[] ? U[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

type Method = JobSpec['method'];
type Preset = NonNullable<JobSpec['preset']>;

/**
 * Published hyperparameters. HyperMask: hypermask-method.md section 5; HNET: section 8.5 (the
 * HNET target has no own weights, so `lambda` and `sparsity` do not apply).
 */
const PRESET_VALUES: Record<Preset, Record<Method, JobSpecInput>> = {
  'split-mnist': {
    hypermask: {
      benchmark: { kind: 'split', tasks: 5, classesPerTask: 2, validationSize: 1000, normalize: true, augment: true },
      network: { hidden: [400, 400] },
      hypernetwork: { hidden: [25, 25], activation: 'elu', embeddingDim: 128 },
      training: { iterationsPerTask: 2000, batchSize: 128, learningRate: 1e-3 },
      regularization: { beta: 1e-3, lambda: 1e-3, sparsity: 30, maskedL1: true },
    },
    hnet: {
      // Data as in hypercl's split MNIST (method section 8.5 does not say): pixels x / 255 without
      // standardisation (data/mnist_data.py) and no augmentation (data/special/split_mnist.py).
      // hypercl holds out no validation set; we keep 1,000 for the validation curve.
      benchmark: { kind: 'split', tasks: 5, classesPerTask: 2, validationSize: 1000, normalize: false, augment: false },
      network: { hidden: [400, 400] },
      hypernetwork: { hidden: [10, 10], activation: 'relu', embeddingDim: 96, chunkSize: 42000, chunkEmbeddingDim: 96 },
      training: { iterationsPerTask: 2000, batchSize: 128, learningRate: 1e-3 },
      regularization: { beta: 0.01, lookahead: true },
    },
    finetune: {
      benchmark: { kind: 'split', tasks: 5, classesPerTask: 2, validationSize: 1000, normalize: true, augment: true },
      network: { hidden: [400, 400] },
      training: { iterationsPerTask: 2000, batchSize: 128, learningRate: 1e-3 },
    },
  },
  'permuted-mnist': {
    hypermask: {
      benchmark: { kind: 'permuted', tasks: 10, padTo32: true, permuteFirstTask: true, validationSize: 5000 },
      network: { hidden: [1000, 1000] },
      hypernetwork: { hidden: [100, 100], activation: 'elu', embeddingDim: 24 },
      training: { iterationsPerTask: 5000, batchSize: 128, learningRate: 1e-3 },
      regularization: { beta: 5e-4, lambda: 1e-3, sparsity: 0, maskedL1: true },
    },
    hnet: {
      benchmark: { kind: 'permuted', tasks: 10, padTo32: true, permuteFirstTask: true, validationSize: 5000 },
      network: { hidden: [1000, 1000] },
      hypernetwork: { hidden: [25, 25], activation: 'elu', embeddingDim: 24, chunkSize: 78000, chunkEmbeddingDim: 8 },
      training: { iterationsPerTask: 5000, batchSize: 128, learningRate: 1e-4 },
      regularization: { beta: 0.1, lookahead: true },
    },
    finetune: {
      benchmark: { kind: 'permuted', tasks: 10, padTo32: true, permuteFirstTask: true, validationSize: 5000 },
      network: { hidden: [1000, 1000] },
      training: { iterationsPerTask: 5000, batchSize: 128, learningRate: 1e-3 },
    },
  },
};

/** Defaults used when neither the user nor a preset sets a field. */
function baseDefaults(kind: JobSpec['benchmark']['kind']): JobSpec {
  const split = kind === 'split';
  return {
    preset: null,
    method: 'hypermask',
    benchmark: {
      kind,
      dataset: 'fashion-mnist',
      tasks: 5,
      classesPerTask: 2,
      padTo32: !split,
      permuteFirstTask: true,
      validationSize: split ? 1000 : 5000,
      trainLimit: null,
      testLimit: null,
      normalize: split,
      augment: split,
    },
    network: { hidden: [400, 400], activation: 'relu' },
    hypernetwork: { hidden: [25, 25], activation: 'elu', embeddingDim: 128, chunkSize: null, chunkEmbeddingDim: 8 },
    training: {
      iterationsPerTask: 2000,
      batchSize: 128,
      learningRate: 1e-3,
      embeddingLearningRate: null,
      seed: 1,
      validationEvery: 100,
    },
    regularization: { beta: 1e-3, lambda: 1e-3, sparsity: 30, maskedL1: true, lookahead: true },
    evaluation: { taskInference: true },
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function merge<T>(base: T, over: unknown): T {
  if (!isPlainObject(base) || !isPlainObject(over)) return (over === undefined ? base : over) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = merge((base as Record<string, unknown>)[k], v);
  return out as T;
}

/** Turns TypeBox's first error into a `SpecError` naming the field and what is allowed. */
function checkAgainst(schema: TSchema, value: unknown): void {
  const error = Value.Errors(schema, value).First();
  if (!error) return;
  const field = error.path === '' ? 'spec' : error.path.slice(1).replace(/\//g, '.');
  const s = error.schema as TSchema;
  let allowed = error.message;
  if (s.anyOf) {
    const literals = (s.anyOf as TSchema[]).map((o) => (o.const !== undefined ? JSON.stringify(o.const) : o.type));
    allowed = `must be one of ${literals.join(', ')}`;
  } else if (s.type === 'integer' || s.type === 'number') {
    const kind = s.type === 'integer' ? 'an integer' : 'a number';
    allowed = `must be ${kind} between ${s.minimum} and ${s.maximum}`;
  } else if (error.message.includes('Unexpected property')) {
    allowed = 'unknown field (remove it)';
  }
  const got = error.value === undefined ? '' : ` (got ${JSON.stringify(error.value)?.slice(0, 60)})`;
  throw new SpecError(field, `${allowed}${got}`);
}

/** Finds the first property the schema does not declare, for a message clearer than TypeBox's. */
function unknownField(schema: TSchema, value: unknown, path: string): string | null {
  if (!isPlainObject(value) || schema.type !== 'object') return null;
  const props = schema.properties as Record<string, TSchema>;
  for (const [k, v] of Object.entries(value)) {
    const p = path ? `${path}.${k}` : k;
    if (!(k in props)) return p;
    const nested = unknownField(props[k], v, p);
    if (nested) return nested;
  }
  return null;
}

/** Number of trainable parameters of an MLP with these layer sizes (weights and biases). */
export function mlpParameterCount(sizes: number[]): number {
  let n = 0;
  for (let i = 1; i < sizes.length; i++) n += sizes[i - 1] * sizes[i] + sizes[i];
  return n;
}

/** Input size and classes per task implied by the benchmark settings. */
export function benchmarkShape(b: JobSpec['benchmark']): { inputSize: number; outputSize: number } {
  const side = b.padTo32 ? 32 : 28;
  return { inputSize: side * side, outputSize: b.kind === 'split' ? b.classesPerTask : DATASET_CLASSES[b.dataset] };
}

/** Trainable parameter counts of the target and hypernetwork the spec describes. */
export function parameterCounts(spec: JobSpec): { target: number; hypernetwork: number } {
  const { inputSize, outputSize } = benchmarkShape(spec.benchmark);
  const target = mlpParameterCount([inputSize, ...spec.network.hidden, outputSize]);
  if (spec.method === 'finetune') return { target, hypernetwork: 0 };
  const h = spec.hypernetwork;
  const chunked = h.chunkSize !== null;
  const inDim = h.embeddingDim + (chunked ? h.chunkEmbeddingDim : 0);
  const outDim = chunked ? h.chunkSize! : target;
  const body = mlpParameterCount([inDim, ...h.hidden, outDim]);
  const chunkEmbeddings = chunked ? Math.ceil(target / h.chunkSize!) * h.chunkEmbeddingDim : 0;
  const embeddings = spec.benchmark.tasks * h.embeddingDim;
  return { target: spec.method === 'hnet' ? 0 : target, hypernetwork: body + chunkEmbeddings + embeddings };
}

/**
 * Validates a user spec, applies the preset and defaults, and checks the combination.
 * Throws `SpecError` (code INVALID_SPEC) naming the first offending field.
 */
export function resolveSpec(input: unknown): JobSpec {
  if (!isPlainObject(input)) throw new SpecError('spec', 'must be a JSON object');
  const unknown = unknownField(JobSpecInputSchema, input, '');
  if (unknown) throw new SpecError(unknown, 'unknown field (remove it)');
  checkAgainst(JobSpecInputSchema, input);
  const user = input as JobSpecInput;

  const method: Method = user.method ?? 'hypermask';
  const preset = user.preset ?? null;
  const presetValues = preset ? PRESET_VALUES[preset][method] : {};
  const kind = user.benchmark?.kind ?? presetValues.benchmark?.kind ?? 'split';
  let spec = merge(baseDefaults(kind), presetValues);
  spec = merge(spec, user);
  spec.method = method;
  spec.preset = preset;
  checkAgainst(JobSpecSchema, spec);

  const b = spec.benchmark;
  const classes = DATASET_CLASSES[b.dataset];
  if (b.kind === 'split' && b.tasks * b.classesPerTask > classes) {
    throw new SpecError(
      'benchmark.tasks',
      `${b.tasks} tasks x ${b.classesPerTask} classes need ${b.tasks * b.classesPerTask} classes but ${b.dataset} has ${classes}; use at most ${Math.floor(classes / b.classesPerTask)} tasks`,
    );
  }
  if (b.augment && b.padTo32) {
    throw new SpecError('benchmark.augment', 'random-crop augmentation works on 28x28 inputs; set padTo32 to false or augment to false');
  }
  const counts = parameterCounts(spec);
  const total = counts.target + counts.hypernetwork;
  if (total > LIMITS.parameters) {
    throw new SpecError(
      spec.method === 'finetune' ? 'network.hidden' : 'hypernetwork.hidden',
      `the networks would have ${total.toLocaleString('en-US')} parameters; the limit is ${LIMITS.parameters.toLocaleString('en-US')} (use smaller layers or hypernetwork.chunkSize)`,
    );
  }
  if (b.trainLimit !== null && b.trainLimit <= b.validationSize) {
    throw new SpecError('benchmark.trainLimit', `must be larger than benchmark.validationSize (${b.validationSize}) so some samples are left for training`);
  }
  return spec;
}
