import { SpecError } from './errors.js';
import {
  benchmarkShape,
  checkSpecInput,
  taskCount,
  type JobSpec,
  type JobSpecInput,
} from './spec.js';

/**
 * Whether `spec` continues `earlier`: the same job with tasks appended. Everything but
 * `benchmark.tasks` and `benchmark.datasets` is identical; the tasks of `earlier` come first, in
 * order (a larger count for built-in benchmarks, a longer list with the same head for uploaded
 * data sets); every data set of `earlier` is recorded identically (same bytes); and the networks
 * keep their shapes (input size and output units), so `earlier`'s checkpoint fits.
 */
export function continuesSpec(spec: JobSpec, earlier: JobSpec): boolean {
  const a = spec.benchmark;
  const b = earlier.benchmark;
  if (taskCount(a) <= taskCount(b)) return false;
  const rest = (s: JobSpec) => ({
    ...s,
    benchmark: { ...s.benchmark, tasks: null, datasets: null },
  });
  if (!sameJson(rest(spec), rest(earlier))) return false;
  if (typeof a.tasks !== typeof b.tasks) return false;
  if (
    Array.isArray(a.tasks) &&
    Array.isArray(b.tasks) &&
    !sameJson(a.tasks.slice(0, b.tasks.length), b.tasks)
  )
    return false;
  for (const [id, info] of Object.entries(b.datasets ?? {})) {
    if (!sameJson(a.datasets?.[id], info)) return false;
  }
  return sameJson(benchmarkShape(a), benchmarkShape(b));
}

/** Deep equality of JSON values, whatever the key order (a spec read back from JSONB has another). */
export function sameJson(x: unknown, y: unknown): boolean {
  if (x === y) return true;
  if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
  if (Array.isArray(x) !== Array.isArray(y)) return false;
  const kx = Object.keys(x);
  const ky = Object.keys(y);
  if (kx.length !== ky.length) return false;
  return kx.every(
    (k) =>
      Object.prototype.hasOwnProperty.call(y, k) &&
      sameJson((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k]),
  );
}

/**
 * The spec input of a job that continues `source` with new tasks. `input` is what the client
 * sent besides `continueFrom`: `benchmark.tasks` holds the new tasks only (a count for built-in
 * benchmarks, a list for uploaded data sets) and is appended to the source's. Every other field
 * comes from the source: the method, networks and hyperparameters define the model the
 * checkpoint holds, and the training settings are kept so that continuing ends exactly like one
 * job of all the tasks. A field sent with another value than the source's is refused, naming it;
 * the same value is accepted. Throws `SpecError`.
 */
export function continuationInput(
  source: JobSpec,
  input: unknown,
  sourceLabel: string,
): JobSpecInput {
  const user = checkSpecInput(input);
  const added = user.benchmark?.tasks;
  if (added === undefined) {
    throw new SpecError(
      'benchmark.tasks',
      `required with continueFrom: the new tasks (${typeof source.benchmark.tasks === 'number' ? 'how many' : 'a list of {"dataset", "classes"}'}) to train after those of ${sourceLabel}`,
    );
  }
  const conflict = firstConflict(user, source, '');
  if (conflict) {
    throw new SpecError(
      conflict.path,
      `${JSON.stringify(conflict.sent)} conflicts with ${JSON.stringify(conflict.kept)} of ${sourceLabel}; a continued job keeps the method, networks and settings of the job it continues (leave the field out)`,
    );
  }
  const old = source.benchmark.tasks;
  let tasks: JobSpec['benchmark']['tasks'];
  if (typeof old === 'number') {
    if (typeof added !== 'number')
      throw new SpecError(
        'benchmark.tasks',
        `${sourceLabel} has ${old} built-in tasks; give the number of new tasks`,
      );
    tasks = old + added;
  } else {
    if (!Array.isArray(added))
      throw new SpecError(
        'benchmark.tasks',
        `${sourceLabel} trains on uploaded data sets; give the new tasks as a list of {"dataset", "classes"}`,
      );
    tasks = [...old, ...added];
  }
  return { ...source, benchmark: { ...source.benchmark, tasks, datasets: null } };
}

/** The first field of `sent` (other than the new tasks) whose value differs from `kept`'s. */
function firstConflict(
  sent: unknown,
  kept: unknown,
  path: string,
): { path: string; sent: unknown; kept: unknown } | null {
  if (path === 'benchmark.tasks' || path === 'benchmark.datasets') return null;
  if (isObject(sent) && isObject(kept)) {
    for (const [k, v] of Object.entries(sent)) {
      const found = firstConflict(v, kept[k], path ? `${path}.${k}` : k);
      if (found) return found;
    }
    return null;
  }
  return sameJson(sent, kept) ? null : { path, sent, kept: kept ?? null };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
