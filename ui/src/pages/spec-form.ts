/**
 * The job form's fields and the two rules around them. Fields left empty are not sent (the preset
 * or the default applies); the JSON box holds any other field, and an input wins over the same
 * field there. Validation is the API's: a 400 names the field in error.field, and its message goes
 * beside that input, or beside the JSON box when no input holds the field, or above the form when
 * it names none.
 */
import type { operations } from '../../../clients/typescript/schema.js';

type Kind = 'text' | 'number' | 'choice';
type JobInput = operations['createJob']['requestBody']['content']['application/json'];

/**
 * A choice list that holds every value of the API's union `U` (from the generated types): a value
 * the API gains and the form lacks fails `tsc -p ui/tsconfig.json`, naming it.
 */
const allOf =
  <U extends string>() =>
  <const L extends readonly U[]>(
    list: L &
      ([Exclude<U, L[number]>] extends [never] ? unknown : { missing: Exclude<U, L[number]> }),
  ): string[] => [...list];

const PRESETS = allOf<NonNullable<JobInput['preset']>>()([
  'split-mnist',
  'permuted-mnist',
  'split-cifar100-resnet',
  'split-cifar100-zenkenet',
  'tinyimagenet-resnet',
  'tinyimagenet-zenkenet',
]);
const METHODS = allOf<NonNullable<JobInput['method']>>()(['hypermask', 'hnet', 'finetune']);
type Benchmark = NonNullable<JobInput['benchmark']>;
const BENCHMARK_KINDS = allOf<NonNullable<Benchmark['kind']>>()(['split', 'permuted', 'datasets']);
const DATASETS = allOf<NonNullable<Benchmark['dataset']>>()(['mnist', 'fashion-mnist']);
const NETWORKS = allOf<NonNullable<NonNullable<JobInput['network']>['kind']>>()([
  'mlp',
  'zenkenet',
  'resnet',
]);
const TASK_INFERENCE = allOf<
  Extract<NonNullable<NonNullable<JobInput['evaluation']>['taskInference']>, string>
>()(['both', 'fecam', 'entropy', 'none']);

export interface FieldDef {
  /** Path in the request body, as the API names fields in errors. */
  path: string;
  label: string;
  kind: Kind;
  choices?: string[];
  hint?: string;
}

export const FIELDS: FieldDef[] = [
  { path: 'name', label: 'Name', kind: 'text', hint: 'a label for the job' },
  {
    path: 'preset',
    label: 'Preset',
    kind: 'choice',
    choices: PRESETS,
    hint: 'published hyperparameters for the method; the CIFAR-100 and Tiny-ImageNet ones train a convolutional network on uploaded images (list the tasks in the JSON below)',
  },
  { path: 'method', label: 'Method', kind: 'choice', choices: METHODS },
  {
    path: 'benchmark.kind',
    label: 'Benchmark',
    kind: 'choice',
    choices: BENCHMARK_KINDS,
  },
  {
    path: 'benchmark.dataset',
    label: 'Data set',
    kind: 'choice',
    choices: DATASETS,
    hint: 'built-in benchmarks',
  },
  {
    path: 'benchmark.tasks',
    label: 'Tasks',
    kind: 'number',
    hint: 'a number for built-in benchmarks; for uploaded data sets list them in the JSON below',
  },
  { path: 'benchmark.classesPerTask', label: 'Classes per task', kind: 'number' },
  {
    path: 'network.kind',
    label: 'Network',
    kind: 'choice',
    choices: NETWORKS,
    hint: 'the target: fully connected, or convolutional (ZenkeNet, ResNet) on images',
  },
  { path: 'training.iterationsPerTask', label: 'Iterations per task', kind: 'number' },
  { path: 'training.seed', label: 'Seed', kind: 'number' },
  {
    path: 'regularization.sparsity',
    label: 'Mask sparsity (%)',
    kind: 'number',
    hint: 'hypermask',
  },
  {
    path: 'evaluation.taskInference',
    label: 'Task inference',
    kind: 'choice',
    choices: TASK_INFERENCE,
    hint: 'after the last task, infer the task without its id: FeCAM (nearest class prototype), lowest entropy, or both',
  },
];

export const EXTRA = 'extra';

export interface FieldError {
  /** A FieldDef path, EXTRA, or '' for the form as a whole. */
  at: string;
  message: string;
}

/** Sets `value` at a dotted path, creating the objects on the way. */
function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null || Array.isArray(node[key]))
      node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]] = value;
}

function fieldValue(def: FieldDef, text: string): unknown {
  if (def.kind === 'number') {
    // Anything that is not a number is sent as typed, so the API's message names the field.
    const n = Number(text);
    return text.trim() !== '' && Number.isFinite(n) ? n : text;
  }
  if (def.kind === 'choice' && (text === 'true' || text === 'false')) return text === 'true';
  return text;
}

/** The request body, or the error of the JSON box. */
export function buildBody(
  values: Record<string, string>,
  extra: string,
): { body: Record<string, unknown> } | { error: FieldError } {
  let body: Record<string, unknown> = {};
  if (extra.trim()) {
    try {
      body = JSON.parse(extra) as Record<string, unknown>;
    } catch (err) {
      return { error: { at: EXTRA, message: `not valid JSON: ${(err as Error).message}` } };
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      return {
        error: { at: EXTRA, message: 'must be a JSON object, like {"network": {"hidden": [100]}}' },
      };
  }
  for (const def of FIELDS) {
    const text = values[def.path] ?? '';
    if (text !== '') setPath(body, def.path, fieldValue(def, text));
  }
  return { body };
}

/**
 * Where the API's error goes: the input of its field (or of a field that contains it), else the
 * JSON box, else the top.
 */
export function placeError(error: { message: string; field?: string }): FieldError {
  const field = error.field;
  if (!field || field === 'spec') return { at: '', message: error.message };
  const def = FIELDS.find(
    (d) => field === d.path || field.startsWith(`${d.path}.`) || field.startsWith(`${d.path}[`),
  );
  return { at: def?.path ?? EXTRA, message: error.message };
}
