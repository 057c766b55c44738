/**
 * Submit a job: the common spec fields as inputs, every other field as JSON (spec-form.ts says
 * how they become the request body and where the API's errors go).
 */
import { useState } from 'preact/hooks';
import { ApiError, postJson } from '../api/client.js';
import type { Job } from '../api/types.js';
import { buildBody, EXTRA, FIELDS, placeError, type FieldError } from './spec-form.js';

const inputId = (path: string) => `field-${path.replace(/\W/g, '-')}`;

export function NewJobPage({ dataset }: { dataset?: string }) {
  const [values, setValues] = useState<Record<string, string>>(
    dataset ? { 'benchmark.kind': 'datasets' } : {},
  );
  const [extra, setExtra] = useState(
    dataset ? JSON.stringify({ benchmark: { tasks: [{ dataset }] } }, null, 2) : '',
  );
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
      setError(
        err instanceof ApiError ? placeError(err) : { at: '', message: (err as Error).message },
      );
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
      <form class="card spec-form" onSubmit={(e) => void submit(e)} noValidate>
        {errorAt('')}
        {FIELDS.map((def) => {
          const id = inputId(def.path);
          const value = values[def.path] ?? '';
          const set = (e: Event) =>
            setValues((v) => ({
              ...v,
              [def.path]: (e.target as HTMLInputElement | HTMLSelectElement).value,
            }));
          const invalid = error?.at === def.path;
          const common = {
            id,
            name: def.path,
            'aria-invalid': invalid,
            'aria-describedby': invalid ? `${id}-error` : undefined,
          };
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
                <input
                  {...common}
                  type="text"
                  inputMode={def.kind === 'number' ? 'decimal' : undefined}
                  value={value}
                  onInput={set}
                />
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
            Any field of the spec (see <a href="/docs">/docs</a> or docs/job-spec.md); the inputs
            above win over the same field here.
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
