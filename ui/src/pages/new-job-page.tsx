/**
 * Submit a job: the common spec fields as inputs, every other field as JSON. Fields left empty are
 * not sent (the preset or the default applies). Validation is the API's: a 400 names the field in
 * error.field, and its message is shown beside that input, or beside the JSON box when the field
 * is one of those, or above the form when it names none.
 */
import { useState } from 'preact/hooks';
import { ApiError, postJson } from '../api/client.js';
import type { Job } from '../api/types.js';

type Kind = 'text' | 'number' | 'choice';

interface FieldDef {
  /** Path in the request body, as the API names fields in errors. */
  path: string;
  label: string;
  kind: Kind;
  choices?: string[];
  hint?: string;
}

const FIELDS: FieldDef[] = [
  { path: 'name', label: 'Name', kind: 'text', hint: 'a label for the job' },
  { path: 'preset', label: 'Preset', kind: 'choice', choices: ['split-mnist', 'permuted-mnist'], hint: 'published hyperparameters for the method' },
  { path: 'method', label: 'Method', kind: 'choice', choices: ['hypermask', 'hnet', 'finetune'] },
  { path: 'benchmark.kind', label: 'Benchmark', kind: 'choice', choices: ['split', 'permuted', 'datasets'] },
  { path: 'benchmark.dataset', label: 'Data set', kind: 'choice', choices: ['mnist', 'fashion-mnist'], hint: 'built-in benchmarks' },
  { path: 'benchmark.tasks', label: 'Tasks', kind: 'number', hint: 'a number for built-in benchmarks; for uploaded data sets list them in the JSON below' },
  { path: 'benchmark.classesPerTask', label: 'Classes per task', kind: 'number' },
  { path: 'training.iterationsPerTask', label: 'Iterations per task', kind: 'number' },
  { path: 'training.seed', label: 'Seed', kind: 'number' },
  { path: 'regularization.sparsity', label: 'Mask sparsity (%)', kind: 'number', hint: 'hypermask' },
  { path: 'evaluation.taskInference', label: 'Task inference', kind: 'choice', choices: ['true', 'false'], hint: 'after the last task, infer the task by lowest entropy' },
];

const EXTRA = 'extra';

interface FieldError {
  /** A FieldDef path, EXTRA, or '' for the form as a whole. */
  at: string;
  message: string;
}

/** Sets `value` at a dotted path, creating the objects on the way. */
function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null || Array.isArray(node[key])) node[key] = {};
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
export function buildBody(values: Record<string, string>, extra: string): { body: Record<string, unknown> } | { error: FieldError } {
  let body: Record<string, unknown> = {};
  if (extra.trim()) {
    try {
      body = JSON.parse(extra);
    } catch (err) {
      return { error: { at: EXTRA, message: `not valid JSON: ${(err as Error).message}` } };
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return { error: { at: EXTRA, message: 'must be a JSON object, like {"network": {"hidden": [100]}}' } };
  }
  for (const def of FIELDS) {
    const text = values[def.path] ?? '';
    if (text !== '') setPath(body, def.path, fieldValue(def, text));
  }
  return { body };
}

/** Where the API's error goes: the input of its field (or of a field that contains it), else the JSON box, else the top. */
export function placeError(error: ApiError): FieldError {
  const field = error.field;
  if (!field || field === 'spec') return { at: '', message: error.message };
  const def = FIELDS.find((d) => field === d.path || field.startsWith(`${d.path}.`) || field.startsWith(`${d.path}[`));
  return { at: def?.path ?? EXTRA, message: error.message };
}

const inputId = (path: string) => `field-${path.replace(/\W/g, '-')}`;

export function NewJobPage({ dataset }: { dataset?: string }) {
  const [values, setValues] = useState<Record<string, string>>(dataset ? { 'benchmark.kind': 'datasets' } : {});
  const [extra, setExtra] = useState(dataset ? JSON.stringify({ benchmark: { tasks: [{ dataset }] } }, null, 2) : '');
  const [error, setError] = useState<FieldError | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const built = buildBody(values, extra);
    if ('error' in built) return setError(built.error);
    setBusy(true);
    setError(null);
    try {
      const job = await postJson<Job>('/v1/jobs', built.body);
      location.hash = `#/jobs/${job.id}`;
    } catch (err) {
      setError(err instanceof ApiError ? placeError(err) : { at: '', message: (err as Error).message });
    } finally {
      setBusy(false);
    }
  };

  const errorAt = (at: string) =>
    error?.at === at ? (
      <p class="field-error" id={`${inputId(at)}-error`} role="alert">
        {error.message}
      </p>
    ) : null;

  return (
    <section>
      <h1>New job</h1>
      <form class="card spec-form" onSubmit={submit} noValidate>
        {errorAt('')}
        {FIELDS.map((def) => {
          const id = inputId(def.path);
          const value = values[def.path] ?? '';
          const set = (e: Event) => setValues((v) => ({ ...v, [def.path]: (e.target as HTMLInputElement | HTMLSelectElement).value }));
          const invalid = error?.at === def.path;
          const common = { id, name: def.path, 'aria-invalid': invalid, 'aria-describedby': invalid ? `${id}-error` : undefined };
          return (
            <div class={invalid ? 'field invalid' : 'field'} data-field={def.path}>
              <label for={id}>
                {def.label} <code class="muted">{def.path}</code>
              </label>
              {def.kind === 'choice' ? (
                <select {...common} value={value} onChange={set}>
                  <option value="">(default)</option>
                  {def.choices!.map((c) => (
                    <option value={c}>{c}</option>
                  ))}
                </select>
              ) : (
                <input {...common} type="text" inputMode={def.kind === 'number' ? 'decimal' : undefined} value={value} onInput={set} />
              )}
              {def.hint && <span class="hint">{def.hint}</span>}
              {errorAt(def.path)}
            </div>
          );
        })}
        <div class={error?.at === EXTRA ? 'field invalid' : 'field'} data-field={EXTRA}>
          <label for={inputId(EXTRA)}>Other fields (JSON)</label>
          <textarea
            id={inputId(EXTRA)}
            name={EXTRA}
            rows={8}
            spellcheck={false}
            placeholder={'{"network": {"hidden": [100, 100]}, "benchmark": {"trainLimit": 1000}}'}
            value={extra}
            onInput={(e) => setExtra((e.target as HTMLTextAreaElement).value)}
          />
          <span class="hint">
            Any field of the spec (see <a href="/docs">/docs</a> or docs/job-spec.md); the inputs above win over the same field here.
          </span>
          {errorAt(EXTRA)}
        </div>
        <button type="submit" disabled={busy}>
          Submit job
        </button>
      </form>
    </section>
  );
}
