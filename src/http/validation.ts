/**
 * Request validation. Bodies are validated strictly: unknown fields are rejected (the job spec
 * forbids them; silently dropping a misspelt field would train something the user did not ask
 * for), types are not coerced and every message names the field. Query strings, params and
 * headers arrive as strings and are coerced.
 */
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchema, FastifySchemaCompiler } from 'fastify';
import { describeViolation, unionMemberFor, type SchemaViolation } from '../core/index.js';

// A CJS package seen through NodeNext: the function is on `.default`.
const addFormats = (addFormatsModule as unknown as { default: (ajv: Ajv) => Ajv }).default;

function makeAjv(coerce: boolean) {
  const ajv = new Ajv({
    removeAdditional: false,
    useDefaults: true,
    coerceTypes: coerce ? 'array' : false,
    allErrors: false,
    verbose: true,
    strict: false,
  });
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
  return ajv.compile(schema as object);
};

const where: Record<string, string> = {
  querystring: 'query parameter',
  params: 'path parameter',
  headers: 'header',
};

/** One clear sentence for what Ajv refused (worded by core/schema-errors.ts, as the spec checks are). */
export function describeValidationError(
  errors: ErrorObject[],
  part: string,
): { field: string; message: string } {
  const e = reportedError(errors);
  const params = e.params as { additionalProperty?: string; missingProperty?: string };
  const violation: SchemaViolation =
    e.keyword === 'additionalProperties'
      ? {
          pointer: `${e.instancePath}/${params.additionalProperty}`,
          kind: 'unknown-field',
          fallback: e.message ?? '',
        }
      : e.keyword === 'required'
        ? {
            pointer: `${e.instancePath}/${params.missingProperty}`,
            kind: 'missing-field',
            fallback: e.message ?? '',
          }
        : {
            pointer: e.instancePath,
            kind: 'value',
            schema: e.parentSchema,
            value: e.data,
            fallback: e.message ?? 'is not valid',
          };
  const described = describeViolation(violation);
  const field = described.field || (part === 'body' ? 'spec' : part);
  const prefix = part === 'body' ? '' : `${where[part] ?? part} `;
  return { field, message: `${prefix}${field}: ${described.problem}` };
}

/**
 * The error to report. Without allErrors Ajv stops at the first failure, except that a union
 * (anyOf) collects its members' errors before its own, which comes last. When the value was
 * meant for one member (a list of tasks, not a count), report what is wrong inside it.
 */
function reportedError(errors: ErrorObject[]): ErrorObject {
  const last = errors[errors.length - 1];
  if (last.keyword !== 'anyOf') return last;
  const member = unionMemberFor(last.parentSchema ?? {}, last.data);
  const inside = member
    ? errors.filter((e) => e.schemaPath.startsWith(`${last.schemaPath}/${member.index}/`))
    : [];
  return inside.length ? reportedError(inside) : last;
}
