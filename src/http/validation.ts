/**
 * Request validation. Bodies are validated strictly: unknown fields are rejected (the job spec
 * forbids them; silently dropping a misspelt field would train something the user did not ask
 * for), types are not coerced and every message names the field. Query strings, params and
 * headers arrive as strings and are coerced.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchema, FastifySchemaCompiler } from 'fastify';

// A CJS package seen through NodeNext: the function is on `.default`.
const addFormats = (addFormatsModule as unknown as { default: (ajv: Ajv) => Ajv }).default;

function makeAjv(coerce: boolean) {
  const ajv = new Ajv({ removeAdditional: false, useDefaults: true, coerceTypes: coerce ? 'array' : false, allErrors: false, verbose: true, strict: false });
  addFormats(ajv);
  return ajv;
}

const bodyAjv = makeAjv(false);
const stringAjv = makeAjv(true);

export function addSharedSchema(schema: { $id?: string }) {
  bodyAjv.addSchema(schema);
  stringAjv.addSchema(schema);
}

export const validatorCompiler: FastifySchemaCompiler<FastifySchema> = ({ schema, httpPart }) => {
  const ajv = httpPart === 'body' ? bodyAjv : stringAjv;
  return ajv.compile(schema as object) as ValidateFunction;
};

const where: Record<string, string> = { querystring: 'query parameter', params: 'path parameter', headers: 'header' };

/** One clear sentence for the first validation error: field, what is allowed, what was sent. */
export function describeValidationError(errors: ErrorObject[], part: string): { field: string; message: string } {
  // anyOf branches report first; the anyOf error itself carries the list of allowed literals.
  const first = errors[0];
  const anyOf = errors.find((e) => e.keyword === 'anyOf' && e.instancePath === first.instancePath);
  // A branch that got inside the value (a list of tasks) says more than "must be one of integer, array",
  // and so does a number branch that failed on the range ("between 1 and 18" rather than "integer, null").
  const inside = anyOf && errors.find((e) => e.instancePath.startsWith(`${anyOf.instancePath}/`));
  const range = anyOf && errors.find((e) => e.instancePath === anyOf.instancePath && ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'].includes(e.keyword));
  const e = inside ?? range ?? anyOf ?? first;
  let path = e.instancePath
    .slice(1)
    .split('/')
    .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`))
    .join('');
  let what: string;
  const parent = (e.parentSchema ?? {}) as Record<string, unknown>;
  const got = e.data === undefined ? '' : ` (got ${JSON.stringify(e.data)?.slice(0, 60)})`;
  switch (e.keyword) {
    case 'additionalProperties':
      path = path ? `${path}.${(e.params as { additionalProperty: string }).additionalProperty}` : (e.params as { additionalProperty: string }).additionalProperty;
      what = 'unknown field (remove it)';
      break;
    case 'required':
      path = path ? `${path}.${(e.params as { missingProperty: string }).missingProperty}` : (e.params as { missingProperty: string }).missingProperty;
      what = 'is required';
      break;
    case 'anyOf': {
      const options = ((parent.anyOf as Record<string, unknown>[]) ?? []).map((o) => (o.const !== undefined ? JSON.stringify(o.const) : String(o.type)));
      what = `must be one of ${options.join(', ')}${got}`;
      break;
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      what =
        parent.minimum !== undefined && parent.maximum !== undefined
          ? `must be ${parent.type === 'integer' ? 'an integer' : 'a number'} between ${parent.minimum} and ${parent.maximum}${got}`
          : `${e.message}${got}`;
      break;
    case 'type':
      what = `must be ${(e.params as { type: string }).type === 'integer' ? 'an integer' : `of type ${(e.params as { type: string }).type}`}${got}`;
      break;
    case 'pattern':
      what = `${parent.description ? `must be a ${parent.description}` : e.message}${got}`;
      break;
    default:
      what = `${e.message}${got}`;
  }
  const field = path || (part === 'body' ? 'spec' : part);
  const prefix = part === 'body' ? '' : `${where[part] ?? part} `;
  return { field, message: `${prefix}${field}: ${what}` };
}
