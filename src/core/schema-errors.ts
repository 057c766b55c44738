/**
 * One way to say what is wrong with a value a JSON schema refused, whichever validator found it:
 * Ajv (requests, src/http/validation.ts) or TypeBox (the spec checks in spec.ts). The sentence
 * names the field (`benchmark.tasks[1].classes`), says what is allowed and quotes what was sent;
 * it is built from the failing schema and the value, not from the validator's own wording, so
 * the API and the CLI say the same thing about the same mistake.
 */

type Schema = Record<string, unknown>;

/** A value a schema refused, as either validator reports it. */
export interface SchemaViolation {
  /** JSON pointer of the offending value ("" for the whole document); for a field, its own pointer. */
  pointer: string;
  /** A field the object does not declare, a required field that is absent, or a value that does not fit `schema`. */
  kind: 'unknown-field' | 'missing-field' | 'value';
  /** The schema the value failed (kind "value"). */
  schema?: Schema;
  value?: unknown;
  /** The validator's own sentence, for what the schema alone does not explain (a format, say). */
  fallback: string;
}

/** "/benchmark/tasks/1/classes" -> "benchmark.tasks[1].classes"; "" for the whole document. */
export function fieldName(pointer: string): string {
  return pointer
    .split('/')
    .filter(Boolean)
    .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`))
    .join('');
}

/**
 * The field and what is wrong with it, e.g. `training.batchSize` and `must be an integer between 1
 * and 4096 (got "128")`.
 */
export function describeViolation(v: SchemaViolation): { field: string; problem: string } {
  const field = fieldName(v.pointer);
  if (v.kind === 'unknown-field') return { field, problem: 'unknown field (remove it)' };
  if (v.kind === 'missing-field') return { field, problem: 'is required' };
  const got = v.value === undefined ? '' : ` (got ${JSON.stringify(v.value)?.slice(0, 60)})`;
  return { field, problem: `${(v.schema && allowed(v.schema, v.value)) ?? v.fallback}${got}` };
}

/**
 * The member of a union (anyOf) that `value` was meant for: the only one of its JSON type (a list
 * of tasks rather than a count), so that what is wrong inside it can be said. Undefined when
 * no member, or more than one, has that type; then the union's alternatives are listed.
 */
export function unionMemberFor(
  union: Schema,
  value: unknown,
): { index: number; schema: Schema } | undefined {
  const members = (union.anyOf as Schema[] | undefined) ?? [];
  const type = jsonType(value);
  const fits = members
    .map((schema, index) => ({ index, schema }))
    .filter(
      ({ schema }) =>
        schema.type === type ||
        (schema.type === 'number' && type === 'integer') ||
        (schema.type === 'integer' && type === 'number'),
    );
  return fits.length === 1 ? fits[0] : undefined;
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** What `schema` allows, as the part of a sentence after the field name; null when it cannot say. */
function allowed(schema: Schema, value: unknown): string | null {
  if (Array.isArray(schema.anyOf)) return `must be one of ${alternatives(schema).join(', ')}`;
  if (schema.const !== undefined) return `must be ${JSON.stringify(schema.const)}`;
  const type = jsonType(value);
  switch (schema.type) {
    case 'integer':
    case 'number':
      return `must be ${schema.type === 'integer' ? 'an integer' : 'a number'}${range(schema)}`;
    case 'string':
      if (type !== 'string') return 'must be of type string';
      if (outside((value as string).length, schema.minLength, schema.maxLength))
        return `must have ${count(schema.minLength, schema.maxLength, 'character')}`;
      if (typeof schema.pattern === 'string')
        return typeof schema.description === 'string'
          ? `must be ${article(schema.description)} ${schema.description}`
          : `must match ${schema.pattern}`;
      return null;
    case 'array':
      if (type !== 'array') return 'must be of type array';
      if (outside((value as unknown[]).length, schema.minItems, schema.maxItems))
        return `must have ${count(schema.minItems, schema.maxItems, 'item')}`;
      return null;
    case 'object':
      if (type !== 'object') return 'must be of type object';
      if (outside(Object.keys(value as object).length, schema.minProperties, schema.maxProperties))
        return `must have ${count(schema.minProperties, schema.maxProperties, 'field')}`;
      return null;
    case 'boolean':
    case 'null':
      return `must be of type ${schema.type}`;
    default:
      return null;
  }
}

/** Every literal or type a union accepts, nested unions included: `"split-mnist", "permuted-mnist", null`. */
function alternatives(union: Schema): string[] {
  return (union.anyOf as Schema[]).flatMap((o) =>
    Array.isArray(o.anyOf)
      ? alternatives(o)
      : [o.const !== undefined ? JSON.stringify(o.const) : String(o.type)],
  );
}

/** "a UUID", "an id of ...": good enough for the descriptions our schemas give their patterns. */
function article(noun: string): string {
  return /^[aeio]/i.test(noun) ? 'an' : 'a';
}

function range(s: Schema): string {
  const [minimum, maximum] = [numberOrUndefined(s.minimum), numberOrUndefined(s.maximum)];
  const min = minimum ?? numberOrUndefined(s.exclusiveMinimum);
  const max = maximum ?? numberOrUndefined(s.exclusiveMaximum);
  if (minimum !== undefined && maximum !== undefined) return ` between ${minimum} and ${maximum}`;
  const parts = [
    min === undefined ? '' : `${minimum !== undefined ? 'at least' : 'greater than'} ${min}`,
    max === undefined ? '' : `${maximum !== undefined ? 'at most' : 'less than'} ${max}`,
  ].filter(Boolean);
  return parts.length ? ` ${parts.join(' and ')}` : '';
}

function numberOrUndefined(v: unknown): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

function outside(n: number, min: unknown, max: unknown): boolean {
  return (typeof min === 'number' && n < min) || (typeof max === 'number' && n > max);
}

function count(min: unknown, max: unknown, unit: string): string {
  const plural = (n: unknown) => `${String(n)} ${unit}${n === 1 ? '' : 's'}`;
  if (typeof min === 'number' && typeof max === 'number') return `${min} to ${plural(max)}`;
  return typeof min === 'number' ? `at least ${plural(min)}` : `at most ${plural(max)}`;
}
